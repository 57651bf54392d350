package client_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

func TestQuotaCalls(t *testing.T) {
	type seen struct{ method, path, query, ifMatch, body string }
	var got []seen
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("If-Match"), string(b)})
		switch {
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case strings.Contains(r.URL.Path, "staging"):
			writeError(w, http.StatusConflict, api.CodeConflict,
				"cpu_millicores: environment quotas add up to 6000 (production 4000, staging 2000), above the tenant quota of 5000", "cpu_millicores")
		default:
			limit := int64(4000)
			q := api.Quota{QuotaSpec: api.QuotaSpec{CPUMillicores: &limit}, TenantID: "acme", ID: "acme", Meta: api.Meta{Revision: 3}}
			if env, ok := strings.CutPrefix(r.URL.Path, "/v1/tenants/acme/environments/"); ok {
				env = strings.TrimSuffix(env, "/quota")
				q.Environment, q.ID = &env, "acme/"+env
			}
			writeJSON(w, http.StatusOK, q)
		}
	}))
	ctx := t.Context()
	limit := int64(4000)
	spec := api.QuotaSpec{CPUMillicores: &limit}

	if q, err := c.GetQuota(ctx, "acme", ""); err != nil || q.Revision != 3 {
		t.Errorf("GetQuota = %+v, %v", q, err)
	}
	if q, err := c.SetQuota(ctx, "acme", "production", spec, 2); err != nil || *q.CPUMillicores != 4000 {
		t.Errorf("SetQuota = %+v, %v", q, err)
	}
	if _, err := c.CheckQuota(ctx, "acme", "production", spec); err != nil {
		t.Errorf("CheckQuota: %v", err)
	}
	_, err := c.CheckQuota(ctx, "acme", "staging", spec)
	var apiErr *client.APIError
	if !errors.Is(err, client.ErrConflict) || !errors.As(err, &apiErr) || apiErr.Field != "cpu_millicores" ||
		!strings.Contains(err.Error(), "add up to 6000") {
		t.Errorf("CheckQuota that does not fit: %v; want ErrConflict with the numbers and the field", err)
	}
	if err := c.DeleteQuota(ctx, "acme", ""); err != nil {
		t.Errorf("DeleteQuota: %v", err)
	}

	want := []seen{
		{"GET", "/v1/tenants/acme/quota", "", "", ""},
		{"PUT", "/v1/tenants/acme/environments/production/quota", "", `"2"`, `{"cpu_millicores":4000}`},
		{"PUT", "/v1/tenants/acme/environments/production/quota", "dry_run=true", "", `{"cpu_millicores":4000}`},
		{"PUT", "/v1/tenants/acme/environments/staging/quota", "dry_run=true", "", `{"cpu_millicores":4000}`},
		{"DELETE", "/v1/tenants/acme/quota", "", "", ""},
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
