package server

import (
	"net/http"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

func TestTenantCreateAndGet(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	created := ts.createTenant(t, "acme")
	if created.Status != api.StatusActive || created.Revision != 1 || created.Timezone != "UTC" || *created.DeletionProtection || created.Labels != nil {
		t.Fatalf("created %+v", created)
	}
	r := ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme", nil)
	if r.header.Get("ETag") != `"1"` {
		t.Errorf("ETag %q", r.header.Get("ETag"))
	}
}
