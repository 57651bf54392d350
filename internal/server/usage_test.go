package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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
	envSeed[api.User](t, ts, "acme", api.KindUser, "usr_1", api.User{UserSpec: api.UserSpec{Email: "a@example.com"}, TenantID: "acme", UserID: "usr_1"})
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
	replica, err := New(Config{Store: ts.store, Data: ts.srv.data})
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

	replica, err := New(Config{Store: ts.store, Now: clock.now, Data: ts.srv.data})
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

func TestRefill(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_700_000_000, 0)
	b := store.RateBucket{Tenant: "acme", Tokens: 0, Limit: 60, UpdatedAt: start}
	// A token a second at 60 a minute, never more than a minute's worth.
	if got := refill(b, 60, start.Add(1500*time.Millisecond)); got.Tokens != 1.5 || !got.UpdatedAt.Equal(start.Add(1500*time.Millisecond)) {
		t.Errorf("after 1.5s: %+v", got)
	}
	if got := refill(b, 60, start.Add(time.Hour)); got.Tokens != 60 {
		t.Errorf("after an hour the bucket holds %v; want 60", got.Tokens)
	}
	// Lowering the limit caps what is left; raising it adds the new room.
	full := store.RateBucket{Tenant: "acme", Tokens: 60, Limit: 60, UpdatedAt: start}
	if got := refill(full, 10, start); got.Tokens != 10 || got.Limit != 10 {
		t.Errorf("lowered to 10: %+v", got)
	}
	if got := refill(store.RateBucket{Tokens: 10, Limit: 10, UpdatedAt: start}, 15, start); got.Tokens != 15 {
		t.Errorf("raised to 15, the bucket holds %v", got.Tokens)
	}
	// A clock that goes back earns nothing, and keeps the later time.
	if got := refill(b, 60, start.Add(-time.Minute)); got.Tokens != 0 || !got.UpdatedAt.Equal(start) {
		t.Errorf("with the clock set back: %+v", got)
	}
	for limit, want := range map[int64]int64{0: 1, 3: 1, 250: 2, 6000: 20, 1_000_000: 20} {
		if got := batchSize(limit); got != want {
			t.Errorf("batchSize(%d) = %d, want %d", limit, got, want)
		}
	}
}

// TestRateLimitIsSharedByReplicas sends a burst through two replicas of one
// database (PostgreSQL, and a shared SQLite file) with the clock stopped:
// together they let through exactly the tenant's api_requests_per_minute,
// where each used to let through that many on its own; a tenant with no
// quota gets the default limit the same way.
func TestRateLimitIsSharedByReplicas(t *testing.T) {
	t.Parallel()
	for name, url := range replicaDatabases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := newStepClock() // Stopped: no token is earned during the burst.
			db := url(t)
			cfg := func(c *Config) { c.Now, c.DefaultRequestsPerMinute = clock.Now, 10 }
			rs := [2]*testServer{serveStore(t, openStore(t, db), cfg), serveStore(t, openStore(t, db), cfg)}
			rs[0].createTenant(t, "acme")
			rs[0].createTenant(t, "quiet")
			rs[0].mustCall(t, http.StatusCreated, rs[0].admin, "PUT", quotaTenantPath, `{"api_requests_per_minute": 20}`)
			tokens := map[string]string{"acme": rs[0].token(t, "acme", api.RoleTenantViewer), "quiet": rs[0].token(t, "quiet", api.RoleTenantViewer)}

			for tenant, want := range map[string]int{"acme": 20, "quiet": 10} {
				const burst = 60
				statuses := make([]int, burst)
				var wg sync.WaitGroup
				for i := range burst {
					wg.Go(func() {
						r := rs[i%2].call(t, tokens[tenant], "GET", "/v1/tenants/"+tenant, nil)
						statuses[i] = r.status
						if r.status == http.StatusTooManyRequests && r.header.Get("Retry-After") == "" {
							t.Errorf("a 429 without Retry-After: %s", r.body)
						}
					})
				}
				wg.Wait()
				ok := 0
				for _, st := range statuses {
					switch st {
					case http.StatusOK:
						ok++
					case http.StatusTooManyRequests:
					default:
						t.Errorf("%s: status %d", tenant, st)
					}
				}
				if ok != want {
					t.Errorf("%s: %d of %d requests through two replicas let through; want exactly the limit, %d", tenant, ok, burst, want)
				}
			}
			// A minute later the bucket is full again, for both replicas.
			clock.Advance(time.Minute)
			for _, r := range rs {
				r.mustCall(t, http.StatusOK, tokens["acme"], "GET", "/v1/tenants/acme", nil)
			}
		})
	}
}

// TestTenantConcurrencyIsCapped holds a tenant's requests in progress at
// the cap: its next one is refused with 429 and Retry-After, while another
// tenant and platform tokens go through; when one ends, the next is let in.
func TestTenantConcurrencyIsCapped(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *Config) { c.MaxTenantConcurrency = 2 })
	ts.createTenant(t, "acme")
	ts.createTenant(t, "globex")
	r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/v1/tenants/acme", nil)
	acme, globex := &principal{TokenID: "tok_a", Name: "a", Tenant: "acme", Role: api.RoleTenantViewer},
		&principal{TokenID: "tok_g", Name: "g", Tenant: "globex", Role: api.RoleTenantViewer}
	var held []func()
	for range 2 {
		release, err := ts.srv.admit(nil, r, acme)
		if err != nil {
			t.Fatalf("under the cap: %v", err)
		}
		held = append(held, release)
	}
	_, err := ts.srv.admit(nil, r, acme)
	if ae := toAPIError(err); ae == nil || ae.status != http.StatusTooManyRequests || ae.header.Get("Retry-After") != "1" ||
		!strings.Contains(ae.message, "2 requests in progress") {
		t.Errorf("over the cap: %v; want 429 with Retry-After 1", err)
	}
	for _, p := range []*principal{globex, {TokenID: "tok_p", Name: "ops", Role: api.RolePlatformAdmin}} {
		release, err := ts.srv.admit(nil, r, p)
		if err != nil {
			t.Errorf("%s held back by acme: %v", p.Name, err)
		}
		release()
	}
	held[0]()
	release, err := ts.srv.admit(nil, r, acme)
	if err != nil {
		t.Errorf("after one ended: %v", err)
	}
	release()
	held[1]()
}
