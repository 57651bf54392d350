package server

import (
	"fmt"
	"net/http"
	"testing"
)

// BenchmarkTenantGet measures one authenticated read through the whole HTTP
// stack: authentication, authorization, the store and JSON.
func BenchmarkTenantGet(b *testing.B) {
	ts := newTestServer(b)
	ts.createTenant(b, "acme")
	b.ReportAllocs()
	for b.Loop() {
		ts.mustCall(b, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme", nil)
	}
}

// BenchmarkTenantPatch measures one conditional, idempotent, audited write.
func BenchmarkTenantPatch(b *testing.B) {
	ts := newTestServer(b)
	ts.createTenant(b, "acme")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		ts.mustCall(b, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme",
			fmt.Sprintf(`{"display_name":"Acme %d"}`, i), "Idempotency-Key", fmt.Sprintf("k-%d", i))
	}
}

// BenchmarkTenantList measures a page of 50 out of 500 tenants.
func BenchmarkTenantList(b *testing.B) {
	ts := newTestServer(b)
	for i := range 500 {
		ts.createTenant(b, fmt.Sprintf("tenant-%03d", i))
	}
	b.ReportAllocs()
	for b.Loop() {
		ts.mustCall(b, http.StatusOK, ts.admin, "GET", "/v1/tenants?page_size=50&page_token=dGVuYW50LTIwMA", nil)
	}
}
