package client_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

type recordedCall struct{ method, path, contentType, ifMatch, body string }

// recorder answers like tenancyd would and remembers every call.
func recorder(calls *[]recordedCall, answer func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*calls = append(*calls, recordedCall{r.Method, r.URL.EscapedPath(), r.Header.Get("Content-Type"), r.Header.Get("If-Match"), string(b)})
		answer(w, r)
	}
}

func checkCalls(t *testing.T, got, want []recordedCall) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("calls %+v; want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("call %d: %+v; want %+v", i, got[i], want[i])
		}
	}
}

func TestFeatureFlagCalls(t *testing.T) {
	var calls []recordedCall
	flag := api.FeatureFlag{FeatureFlagSpec: api.FeatureFlagSpec{Key: "new-billing"}, TenantID: "acme", ID: "acme/new-billing", Meta: api.Meta{Revision: 2}}
	c := newClient(t, recorder(&calls, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodGet && r.URL.Path == "/v1/tenants/acme/feature-flags":
			writeJSON(w, http.StatusOK, api.List[api.FeatureFlag]{Items: []api.FeatureFlag{flag}})
		case r.Method == http.MethodGet && r.URL.Path != "/v1/tenants/acme/feature-flags/new-billing":
			writeError(w, http.StatusNotFound, api.CodeNotFound, "feature flag not found", "")
		case r.Method == http.MethodPost:
			writeError(w, http.StatusUnprocessableEntity, api.CodeInvalid, `tenant "acme" has no environment "prod"`, "environments.prod")
		default:
			writeJSON(w, http.StatusOK, flag)
		}
	}))
	ctx := t.Context()
	_, err := c.CreateFeatureFlag(ctx, "acme", api.FeatureFlagSpec{Key: "x", Environments: map[string]api.FlagEnvironment{"prod": {Enabled: true, RolloutPercentage: 5}}})
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Field != "environments.prod" || !errors.Is(err, client.ErrInvalid) {
		t.Errorf("CreateFeatureFlag error %v; want a 422 naming environments.prod", err)
	}
	if f, err := c.GetFeatureFlag(ctx, "acme", "new-billing"); err != nil || f.Revision != 2 {
		t.Errorf("GetFeatureFlag = %+v, %v", f, err)
	}
	if _, err := c.GetFeatureFlag(ctx, "acme", "../x"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("GetFeatureFlag of a hostile key: %v; want ErrNotFound", err)
	}
	if got, err := c.ListFeatureFlags(ctx, "acme"); err != nil || len(got) != 1 || got[0].Key != "new-billing" {
		t.Errorf("ListFeatureFlags = %+v, %v", got, err)
	}
	if _, err := c.UpdateFeatureFlag(ctx, "acme", "new-billing", json.RawMessage(`{"environments":{"production":null}}`), 2); err != nil {
		t.Errorf("UpdateFeatureFlag: %v", err)
	}
	if err := c.DeleteFeatureFlag(ctx, "acme", "new-billing"); err != nil {
		t.Errorf("DeleteFeatureFlag: %v", err)
	}
	checkCalls(t, calls, []recordedCall{
		{"POST", "/v1/tenants/acme/feature-flags", "application/json", "", `{"key":"x","description":"","environments":{"prod":{"enabled":true,"rollout_percentage":5}}}`},
		{"GET", "/v1/tenants/acme/feature-flags/new-billing", "", "", ""},
		{"GET", "/v1/tenants/acme/feature-flags/..%2Fx", "", "", ""},
		{"GET", "/v1/tenants/acme/feature-flags", "", "", ""},
		{"PATCH", "/v1/tenants/acme/feature-flags/new-billing", "application/merge-patch+json", `"2"`, `{"environments":{"production":null}}`},
		{"DELETE", "/v1/tenants/acme/feature-flags/new-billing", "", "", ""},
	})
}
