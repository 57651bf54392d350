package client_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

func TestEnvironmentCalls(t *testing.T) {
	type seen struct{ method, path, query, ifMatch, contentType, body string }
	var got []seen
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("If-Match"), r.Header.Get("Content-Type"), string(b)})
		switch {
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case r.URL.Path == "/v1/tenants/acme/environments/gone":
			writeError(w, http.StatusNotFound, api.CodeNotFound, `environment "gone" not found in tenant "acme"`, "")
		case r.Method == http.MethodGet && r.URL.Path == "/v1/tenants/acme/environments":
			writeJSON(w, http.StatusOK, api.List[api.Environment]{Items: []api.Environment{{ID: "acme/production", TenantID: "acme"}}})
		default:
			writeJSON(w, http.StatusOK, api.Environment{EnvironmentSpec: api.EnvironmentSpec{Name: "staging"}, TenantID: "acme", ID: "acme/staging", Meta: api.Meta{Revision: 2}})
		}
	}))
	ctx := t.Context()
	spec := api.EnvironmentSpec{Name: "staging", Type: "staging", Settings: map[string]string{"log_level": "info"}}

	if e, err := c.CreateEnvironment(ctx, "acme", spec); err != nil || e.ID != "acme/staging" {
		t.Errorf("CreateEnvironment = %+v, %v", e, err)
	}
	if e, err := c.CheckEnvironment(ctx, "acme", spec); err != nil || e.ID != "acme/staging" {
		t.Errorf("CheckEnvironment = %+v, %v", e, err)
	}
	if e, err := c.GetEnvironment(ctx, "acme", "staging"); err != nil || e.Revision != 2 {
		t.Errorf("GetEnvironment = %+v, %v", e, err)
	}
	if _, err := c.GetEnvironment(ctx, "acme", "gone"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("GetEnvironment of a missing environment: %v; want ErrNotFound", err)
	}
	if list, err := c.ListEnvironments(ctx, "acme", url.Values{"type": {"production"}}); err != nil || len(list) != 1 {
		t.Errorf("ListEnvironments = %+v, %v", list, err)
	}
	if _, err := c.UpdateEnvironment(ctx, "acme", "staging", json.RawMessage(`{"settings":{"log_level":null}}`), 1); err != nil {
		t.Errorf("UpdateEnvironment: %v", err)
	}
	if err := c.DeleteEnvironment(ctx, "acme", "a/b"); err != nil {
		t.Errorf("DeleteEnvironment: %v", err)
	}

	body, _ := json.Marshal(spec)
	want := []seen{
		{"POST", "/v1/tenants/acme/environments", "", "", "application/json", string(body)},
		{"POST", "/v1/tenants/acme/environments", "dry_run=true", "", "application/json", string(body)},
		{"GET", "/v1/tenants/acme/environments/staging", "", "", "", ""},
		{"GET", "/v1/tenants/acme/environments/gone", "", "", "", ""},
		{"GET", "/v1/tenants/acme/environments", "page_size=500&type=production", "", "", ""},
		{"PATCH", "/v1/tenants/acme/environments/staging", "", `"1"`, "application/merge-patch+json", `{"settings":{"log_level":null}}`},
		{"DELETE", "/v1/tenants/acme/environments/a%2Fb", "", "", "", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("requests %+v; want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d: %+v; want %+v", i, got[i], want[i])
		}
	}
}
