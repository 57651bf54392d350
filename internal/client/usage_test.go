package client_test

import (
	"net/http"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

func TestGetUsage(t *testing.T) {
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/tenants/acme/usage" {
			t.Errorf("request %s %s; want GET /v1/tenants/acme/usage", r.Method, r.URL.Path)
		}
		writeJSON(w, http.StatusOK, api.Usage{TenantID: "acme", APICalls: 10, APIErrors: 1, ErrorRate: 0.1, Users: 3})
	}))
	u, err := c.GetUsage(t.Context(), "acme")
	if err != nil || u.APICalls != 10 || u.ErrorRate != 0.1 || u.Users != 3 {
		t.Errorf("GetUsage = %+v, %v", u, err)
	}
}
