package reliability_test

import (
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/reliability"
)

// TestReplicasShareRateLimits sends a burst of a tenant's requests through
// three replicas behind a round-robin proxy: the tenant's
// api_requests_per_minute holds for the platform as a whole, not for each
// replica, so no more than a minute's worth (and what refilled meanwhile)
// is let through, and the rest is answered 429 with Retry-After.
func TestReplicasShareRateLimits(t *testing.T) {
	needTerraform(t)
	t.Parallel()
	fig := reliability.Record(t, "replicas",
		"a burst of one tenant's requests through three replicas: api_requests_per_minute holds across them")
	rs := startReplicas(t, 3)
	ctx := t.Context()
	admin := apiClient(t, rs.URL, rs.token, 3)
	const perMinute = 30
	if _, err := admin.CreateTenant(ctx, api.TenantSpec{Slug: "rate-limited", DisplayName: "Rate limited", Region: "eu-west"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.SetQuota(ctx, "rate-limited", "", api.QuotaSpec{APIRequestsPerMinute: ptr(int64(perMinute))}, 0); err != nil {
		t.Fatal(err)
	}
	tok, err := admin.CreateToken(ctx, api.TokenRequest{Name: "burst", Tenant: "rate-limited", Role: api.RoleTenantViewer, TTLSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}

	burst := reliability.Pick(3, 6) * perMinute
	var ok, limited, other int64
	start := time.Now()
	for range burst {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, rs.URL+"/v1/tenants/rate-limited", nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			ok++
		case resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "":
			limited++
		default:
			other++
			t.Errorf("status %d", resp.StatusCode)
		}
	}
	elapsed := time.Since(start)
	// A full bucket holds a minute's worth; it refills at perMinute/60 a
	// second.
	allowed := int64(perMinute + math.Ceil(elapsed.Seconds()*perMinute/60))
	fig.Set("requests in the burst (3 replicas)", int64(burst))
	fig.Set("let through", ok)
	fig.Set("answered 429 with Retry-After", limited)
	fig.Set("let through beyond the tenant's limit", max(ok-allowed, 0), "= 0")
	if ok > allowed {
		t.Errorf("%d of %d requests let through in %v with api_requests_per_minute = %d; at most %d may be: the limit is per replica, not shared",
			ok, burst, elapsed.Round(time.Millisecond), perMinute, allowed)
	}
	if limited == 0 || other != 0 {
		t.Errorf("%d answered 429 and %d otherwise; want the rest 429", limited, other)
	}
}
