package provider

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

// TestLookupsAreMadeOnce: resources that ask for the regions or a tenant's
// quota at the same time, as Terraform's parallel walk has them do, wait for
// one request, and later ones ask none.
func TestLookupsAreMadeOnce(t *testing.T) {
	var regions, quotas atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Slow enough that the parallel askers meet.
		time.Sleep(50 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/v1/regions":
			regions.Add(1)
			_, _ = w.Write([]byte(`{"items":[{"name":"us-east"},{"name":"eu-west"}]}`))
		case strings.HasSuffix(r.URL.Path, "/quota"):
			quotas.Add(1)
			_, _ = w.Write([]byte(`{"tenant_id":"acme","id":"acme","max_users":5,"revision":1}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, err := client.New(client.Config{Endpoint: srv.URL, Token: "tny_test_0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	d := &providerData{client: c}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if r, err := d.platformRegions(t.Context()); err != nil || len(r) != 2 {
				t.Errorf("regions: %v %v", r, err)
			}
			if q, err := d.platformTenantQuota(t.Context(), "acme"); err != nil || q == nil || *q.MaxUsers != 5 {
				t.Errorf("quota: %v %v", q, err)
			}
		})
	}
	wg.Wait()
	if _, err := d.platformRegions(t.Context()); err != nil {
		t.Fatal(err)
	}
	if regions.Load() != 1 || quotas.Load() != 1 {
		t.Errorf("%d requests for the regions and %d for the quota; want one each", regions.Load(), quotas.Load())
	}
}
