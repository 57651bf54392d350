package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

// usageClock is a clock that tests move by hand.
type usageClock struct{ offset atomic.Int64 }

func (c *usageClock) now() time.Time            { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *usageClock) advance(d time.Duration)   { c.offset.Add(int64(d)) }
func (c *usageClock) config() func(cfg *Config) { return func(cfg *Config) { cfg.Now = c.now } }

func (ts *testServer) usageOf(t testing.TB, tenant string) api.Usage {
	t.Helper()
	var u api.Usage
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/"+tenant+"/usage", nil).json(t, &u)
	return u
}

func TestUsageCountsCallsAndErrors(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	tn := ts.createTenant(t, "acme")
	ts.createTenant(t, "globex")
	viewer := ts.token(t, "acme", api.RoleTenantViewer)

	ts.mustCall(t, http.StatusOK, viewer, "GET", "/v1/tenants/acme", nil)
	ts.mustCall(t, http.StatusOK, viewer, "GET", "/v1/tenants/acme/environments", nil)
	ts.mustCall(t, http.StatusNotFound, viewer, "GET", "/v1/tenants/acme/environments/nope", nil)
	// A tenant token's call on another tenant's path is its own tenant's call.
	ts.mustCall(t, http.StatusNotFound, viewer, "GET", "/v1/tenants/globex", nil)
	// Unauthenticated calls belong to nobody.
	ts.mustCall(t, http.StatusUnauthorized, "", "GET", "/v1/tenants/acme", nil)

	u := ts.usageOf(t, "acme")
	if u.TenantID != "acme" || u.APICalls != 4 || u.APIErrors != 2 || u.ErrorRate != 0.5 {
		t.Errorf("usage %+v; want 4 calls, 2 errors, error rate 0.5", u)
	}
	if !u.WindowStartedAt.Equal(tn.CreatedAt) {
		t.Errorf("window started at %s; want the tenant's creation, %s", u.WindowStartedAt, tn.CreatedAt)
	}
	// The platform admin's usage read was on acme's path: it counts for acme.
	// A request is counted once answered, so the first read of globex sees nothing.
	if g := ts.usageOf(t, "globex"); g.APICalls != 0 || g.APIErrors != 0 || g.ErrorRate != 0 {
		t.Errorf("globex usage %+v; want nothing counted", g)
	}

	// Flushed counts are the same counts, now in the store.
	if err := ts.srv.flushUsage(t.Context()); err != nil {
		t.Fatal(err)
	}
	if u = ts.usageOf(t, "acme"); u.APICalls != 5 || u.APIErrors != 2 {
		t.Errorf("after a flush: %+v; want 5 calls, 2 errors", u)
	}
	var c usageCounters
	err := ts.store.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		o, err := tx.Get(ctx, "acme", kindUsage, usageKey)
		if err == nil {
			c, err = fromObject[usageCounters](o)
		}
		return err
	})
	if err != nil || c.APICalls != 5 || c.APIErrors != 2 {
		t.Errorf("stored counters %+v, %v; want 5 calls, 2 errors", c, err)
	}
}

func TestUsageCountsWhatTheTenantHolds(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	before := ts.usageOf(t, "acme")
	if before.Users != 0 || before.Environments != 0 || before.StorageBytes <= 0 {
		t.Errorf("usage of a new tenant %+v; want no users or environments and the tenant's own bytes", before)
	}
	ts.envCreate(t, "acme", "production", "production")
	ts.envCreate(t, "acme", "staging", "staging")
	envSeed[api.User](t, ts, "acme", store.KindUser, "usr_1", api.User{UserSpec: api.UserSpec{Email: "a@example.com"}, TenantID: "acme", UserID: "usr_1"})
	if err := ts.srv.flushUsage(t.Context()); err != nil {
		t.Fatal(err)
	}
	after := ts.usageOf(t, "acme")
	if after.Users != 1 || after.Environments != 2 || after.StorageBytes <= before.StorageBytes {
		t.Errorf("usage %+v; want 1 user, 2 environments and more bytes than %d", after, before.StorageBytes)
	}
	// The counters themselves are not the tenant's data.
	if err := ts.srv.flushUsage(t.Context()); err != nil {
		t.Fatal(err)
	}
	if again := ts.usageOf(t, "acme"); again.StorageBytes != after.StorageBytes {
		t.Errorf("storage_bytes moved from %d to %d with the counters alone", after.StorageBytes, again.StorageBytes)
	}
	ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/nope/usage", nil)
}

// TestUsageFlushesAddUpAcrossReplicas runs two servers on one database:
// each adds what it counted, neither overwrites the other.
func TestUsageFlushesAddUpAcrossReplicas(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	replica, err := New(Config{Store: ts.store})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(replica.Handler())
	t.Cleanup(hs.Close)
	other := &testServer{Server: hs, srv: replica, store: ts.store, admin: ts.admin}
	viewer := ts.token(t, "acme", api.RoleTenantViewer)

	for range 3 {
		ts.mustCall(t, http.StatusOK, viewer, "GET", "/v1/tenants/acme", nil)
		other.mustCall(t, http.StatusNotFound, viewer, "GET", "/v1/tenants/acme/environments/nope", nil)
	}
	// The second round adds the first usage read, and nothing twice.
	for _, want := range []int64{6, 7} {
		for _, s := range []*Server{ts.srv, replica} {
			if err := s.flushUsage(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if u := ts.usageOf(t, "acme"); u.APICalls != want || u.APIErrors != 3 {
			t.Fatalf("usage %+v; want %d calls and 3 errors from both replicas", u, want)
		}
	}
}

func TestUsageOfADeletedTenantIsDropped(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme", nil)
	ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/never-was", nil)
	ts.mustCall(t, http.StatusOK, ts.admin, "DELETE", "/v1/tenants/acme", nil)
	if err := ts.srv.flushUsage(t.Context()); err != nil {
		t.Fatalf("flush: %v", err)
	}
	u := ts.srv.usageState
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.pending) != 0 {
		t.Errorf("counts kept for tenants that do not exist: %v", u.pending)
	}
}

func TestUsageRunFlushesOnShutdown(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ts.srv.usageLoop(ctx)
	}()
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme", nil)
	cancel()
	<-done
	err := ts.store.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Get(ctx, "acme", kindUsage, usageKey)
		return err
	})
	if err != nil {
		t.Errorf("no counters stored on shutdown: %v", err)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	clock := &usageClock{}
	ts := newTestServer(t, clock.config())
	ts.createTenant(t, "acme")
	ts.createTenant(t, "globex")
	ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", quotaTenantPath, `{"api_requests_per_minute": 3}`)
	viewer := ts.token(t, "acme", api.RoleTenantViewer)
	neighbour := ts.token(t, "globex", api.RoleTenantViewer)

	for range 3 {
		ts.mustCall(t, http.StatusOK, viewer, "GET", "/v1/tenants/acme", nil)
	}
	r := ts.call(t, viewer, "GET", "/v1/tenants/acme", nil)
	envWantError(t, r, http.StatusTooManyRequests, "api_requests_per_minute",
		`tenant "acme" is over its quota of api_requests_per_minute = 3; retry after 20 seconds`)
	if r.apiError(t).Code != api.CodeRateLimited || r.header.Get("Retry-After") != "20" {
		t.Errorf("429 with code %q and Retry-After %q; want rate_limited and 20", r.apiError(t).Code, r.header.Get("Retry-After"))
	}
	// Platform tokens and other tenants are not held back.
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme", nil)
	ts.mustCall(t, http.StatusOK, neighbour, "GET", "/v1/tenants/globex", nil)

	// A token is earned every 20 seconds.
	clock.advance(19 * time.Second)
	if r = ts.call(t, viewer, "GET", "/v1/tenants/acme", nil); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "1" {
		t.Errorf("after 19s: %d, Retry-After %q; want 429 and 1", r.status, r.header.Get("Retry-After"))
	}
	clock.advance(time.Second)
	ts.mustCall(t, http.StatusOK, viewer, "GET", "/v1/tenants/acme", nil)
	ts.mustCall(t, http.StatusTooManyRequests, viewer, "GET", "/v1/tenants/acme", nil)

	// Raising the quota through this replica applies at once, with the new room.
	ts.mustCall(t, http.StatusOK, ts.admin, "PUT", quotaTenantPath, `{"api_requests_per_minute": 5}`)
	ts.mustCall(t, http.StatusOK, viewer, "GET", "/v1/tenants/acme", nil)
	ts.mustCall(t, http.StatusOK, viewer, "GET", "/v1/tenants/acme", nil)
	ts.mustCall(t, http.StatusTooManyRequests, viewer, "GET", "/v1/tenants/acme", nil)

	// A limit of 0 shuts the tenant's tokens out; lifting the quota lets them back in.
	ts.mustCall(t, http.StatusOK, ts.admin, "PUT", quotaTenantPath, `{"api_requests_per_minute": 0}`)
	clock.advance(time.Hour / 2)
	r = ts.call(t, viewer, "GET", "/v1/tenants/acme", nil)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "60" {
		t.Errorf("with a limit of 0: %d, Retry-After %q; want 429 and 60", r.status, r.header.Get("Retry-After"))
	}
	ts.mustCall(t, http.StatusNoContent, ts.admin, "DELETE", quotaTenantPath, nil)
	for range 10 {
		ts.mustCall(t, http.StatusOK, viewer, "GET", "/v1/tenants/acme", nil)
	}

	// Refused calls are counted as errors.
	if u := ts.usageOf(t, "acme"); u.APIErrors != 5 {
		t.Errorf("usage %+v; want the 5 refusals as errors", u)
	}
}

// TestRateLimitFollowsOtherReplicas changes the quota through one replica
// and sees the other apply it within the refresh interval.
func TestRateLimitFollowsOtherReplicas(t *testing.T) {
	t.Parallel()
	clock := &usageClock{}
	ts := newTestServer(t, clock.config())
	ts.createTenant(t, "acme")
	viewer := ts.token(t, "acme", api.RoleTenantViewer)
	ts.mustCall(t, http.StatusOK, viewer, "GET", "/v1/tenants/acme", nil)

	replica, err := New(Config{Store: ts.store, Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(replica.Handler())
	t.Cleanup(hs.Close)
	other := &testServer{Server: hs, srv: replica, store: ts.store, admin: ts.admin}
	other.mustCall(t, http.StatusCreated, ts.admin, "PUT", quotaTenantPath, `{"api_requests_per_minute": 1}`)

	// Still unlimited here until the copy of the quota is refreshed.
	for range 3 {
		ts.mustCall(t, http.StatusOK, viewer, "GET", "/v1/tenants/acme", nil)
	}
	clock.advance(rateLimitRefresh)
	ts.mustCall(t, http.StatusOK, viewer, "GET", "/v1/tenants/acme", nil)
	r := ts.call(t, viewer, "GET", "/v1/tenants/acme", nil)
	if r.status != http.StatusTooManyRequests || !strings.Contains(string(r.body), "api_requests_per_minute = 1") {
		t.Errorf("after the refresh: %d %s; want 429", r.status, r.body)
	}
}

func TestBucket(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_700_000_000, 0)
	limit := func(n int64) *int64 { return &n }
	b := &bucket{updated: start}
	b.setLimit(nil, start)
	for range 100 {
		if ok, _ := b.take(start); !ok {
			t.Fatal("an unlimited bucket refused")
		}
	}
	b.setLimit(limit(60), start)
	for i := range 60 {
		if ok, _ := b.take(start); !ok {
			t.Fatalf("refused call %d of a full bucket of 60", i+1)
		}
	}
	if ok, wait := b.take(start); ok || wait != time.Second {
		t.Errorf("empty bucket: %v, wait %s; want a refusal for 1s", ok, wait)
	}
	// It never holds more than a minute's worth.
	later := start.Add(time.Hour)
	b.setLimit(limit(60), later)
	if b.tokens != 60 {
		t.Errorf("after an hour the bucket holds %v; want 60", b.tokens)
	}
	// Lowering the limit caps what is left; raising it adds the new room.
	b.setLimit(limit(10), later)
	if b.tokens != 10 {
		t.Errorf("lowered to 10, the bucket holds %v", b.tokens)
	}
	b.setLimit(limit(15), later)
	if b.tokens != 15 {
		t.Errorf("raised to 15, the bucket holds %v", b.tokens)
	}
	// A clock that goes back earns nothing.
	b.take(later.Add(-time.Minute))
	if b.tokens != 14 {
		t.Errorf("after one call with the clock set back the bucket holds %v; want 14", b.tokens)
	}
}
