package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
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

// serveDirect calls the handler in process, without a socket, so that the
// benchmark measures tenancyd's own work: middleware, authentication, the
// store and JSON.
func (ts *testServer) serveDirect(b *testing.B, want int, token, method, path, body string, headers ...string) {
	req := httptest.NewRequestWithContext(b.Context(), method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	ts.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s: %d, want %d: %s", method, path, rec.Code, want, rec.Body)
	}
}

// flagTenant makes tenant acme with a staging environment and n flags.
func flagTenant(b *testing.B, n int) *testServer {
	ts := newTestServer(b)
	ts.createTenant(b, "acme")
	ts.mustCall(b, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/environments", `{"name":"staging","type":"staging"}`)
	for i := range n {
		ts.mustCall(b, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/feature-flags",
			fmt.Sprintf(`{"key":"flag-%04d","description":"A flag","environments":{"staging":{"enabled":true,"rollout_percentage":50}}}`, i))
	}
	return ts
}

// BenchmarkFlagGet is the GET a refresh of one flag makes.
func BenchmarkFlagGet(b *testing.B) {
	ts := flagTenant(b, 100)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		ts.serveDirect(b, http.StatusOK, ts.admin, "GET", fmt.Sprintf("/v1/tenants/acme/feature-flags/flag-%04d", i%100), "")
	}
}

// BenchmarkFlagGetTenantToken is the same GET with a tenant's token, which
// also goes through the tenant's rate limit and usage counters.
func BenchmarkFlagGetTenantToken(b *testing.B) {
	ts := flagTenant(b, 100)
	tok := ts.token(b, "acme", "tenant_viewer")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		ts.serveDirect(b, http.StatusOK, tok, "GET", fmt.Sprintf("/v1/tenants/acme/feature-flags/flag-%04d", i%100), "")
	}
}

// BenchmarkFlagGetMissing is the GET of a flag deleted behind Terraform's
// back: the flag and then its tenant are read, in one snapshot.
func BenchmarkFlagGetMissing(b *testing.B) {
	ts := flagTenant(b, 1)
	b.ReportAllocs()
	for b.Loop() {
		ts.serveDirect(b, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/acme/feature-flags/gone", "")
	}
}

// BenchmarkFlagGetUncachedToken is BenchmarkFlagGet with the token cache
// off, every request reading its token from the database.
func BenchmarkFlagGetUncachedToken(b *testing.B) {
	ts := flagTenant(b, 100)
	ts.srv.tokens.setLive(false)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		ts.serveDirect(b, http.StatusOK, ts.admin, "GET", fmt.Sprintf("/v1/tenants/acme/feature-flags/flag-%04d", i%100), "")
	}
}

// BenchmarkFlagGetParallel is ten GETs at a time, as Terraform's default
// parallelism makes them.
func BenchmarkFlagGetParallel(b *testing.B) {
	ts := flagTenant(b, 100)
	b.ReportAllocs()
	b.SetParallelism(10)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			req := httptest.NewRequest("GET", fmt.Sprintf("/v1/tenants/acme/feature-flags/flag-%04d", i%100), nil)
			req.Header.Set("Authorization", "Bearer "+ts.admin)
			rec := httptest.NewRecorder()
			ts.srv.Handler().ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("GET: %d: %s", rec.Code, rec.Body)
				return
			}
		}
	})
}

// BenchmarkFlagList is one page of the maximum size of a tenant's 1000
// flags: what a batched refresh asks for.
func BenchmarkFlagList(b *testing.B) {
	ts := flagTenant(b, 1000)
	b.ReportAllocs()
	for b.Loop() {
		ts.serveDirect(b, http.StatusOK, ts.admin, "GET", fmt.Sprintf("/v1/tenants/acme/feature-flags?page_size=%d", api.MaxPageSize), "")
	}
}

// BenchmarkFlagPatch is the conditional, idempotent, audited write an
// update of a flag makes.
func BenchmarkFlagPatch(b *testing.B) {
	ts := flagTenant(b, 1)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		ts.serveDirect(b, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme/feature-flags/flag-0000",
			fmt.Sprintf(`{"description":"A flag, version %d"}`, i), "Content-Type", "application/merge-patch+json", "Idempotency-Key", fmt.Sprintf("k-%d", i))
	}
}

// BenchmarkFlagCreate is the create an apply makes for each new flag.
func BenchmarkFlagCreate(b *testing.B) {
	ts := flagTenant(b, 0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		ts.serveDirect(b, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/feature-flags",
			fmt.Sprintf(`{"key":"flag-%07d","description":"A flag","environments":{"staging":{"enabled":true,"rollout_percentage":50}}}`, i),
			"Content-Type", "application/json", "Idempotency-Key", fmt.Sprintf("k-%d", i))
	}
}
