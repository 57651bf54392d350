package server

import (
	"context"
	"crypto/sha256"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store/pgtest"
)

// cached reports whether a server would authenticate secret from its cache.
func cached(ts *testServer, secret string) bool {
	_, ok := ts.srv.tokens.get(sha256.Sum256([]byte(secret)))
	return ok
}

// useCached calls the API with each token until the server serves it from
// its cache, so that what follows tests the cache and not the database.
func useCached(t *testing.T, ts *testServer, tokens ...api.Token) {
	t.Helper()
	for _, tok := range tokens {
		ts.mustCall(t, http.StatusOK, tok.Token, "GET", "/v1/tokens/self", nil)
		if !cached(ts, tok.Token) {
			t.Fatalf("token %s is not cached after a request", tok.Name)
		}
		ts.mustCall(t, http.StatusOK, tok.Token, "GET", "/v1/tokens/self", nil)
	}
}

// TestTokenCacheRefusesRevokedTokensAtOnce revokes tokens that the server
// holds in its cache, every way a token is revoked, and expects the very
// next request to be refused.
func TestTokenCacheRefusesRevokedTokensAtOnce(t *testing.T) {
	t.Parallel()
	clock := newStepClock()
	w := newTokenWatch(t, withClock(clock))
	w.createTenant(t, "acme")
	w.createTenant(t, "zeta")
	mint := func(as string, req api.TokenRequest) api.Token {
		return w.mint(t, http.StatusCreated, as, req)
	}

	// Revoked through the API.
	viewer := mint(w.admin, api.TokenRequest{Name: "viewer", Tenant: "acme", Role: api.RoleTenantViewer})
	useCached(t, w.testServer, viewer)
	w.do(t, http.StatusNoContent, w.admin, "DELETE", "/v1/tokens/"+viewer.ID, nil)
	expectError(t, w.do(t, 0, viewer.Token, "GET", "/v1/tokens/self", nil), http.StatusUnauthorized, "", "revoked")

	// With every token minted from it, directly or not.
	a := mint(w.admin, api.TokenRequest{Name: "a", Tenant: "acme", Role: api.RoleTenantAdmin})
	b := mint(a.Token, api.TokenRequest{Name: "b", Tenant: "acme", Role: api.RoleTenantAdmin})
	c := mint(b.Token, api.TokenRequest{Name: "c", Tenant: "acme", Role: api.RoleTenantViewer})
	other := mint(w.admin, api.TokenRequest{Name: "other", Tenant: "acme", Role: api.RoleTenantViewer})
	useCached(t, w.testServer, a, b, c, other)
	w.do(t, http.StatusNoContent, w.admin, "DELETE", "/v1/tokens/"+a.ID, nil)
	for _, tok := range []api.Token{a, b, c} {
		expectError(t, w.do(t, 0, tok.Token, "GET", "/v1/tokens/self", nil), http.StatusUnauthorized, "", "revoked")
	}
	w.do(t, http.StatusOK, other.Token, "GET", "/v1/tokens/self", nil)

	// With its tenant.
	z := mint(w.admin, api.TokenRequest{Name: "z", Tenant: "zeta", Role: api.RoleTenantAdmin})
	useCached(t, w.testServer, z)
	w.do(t, http.StatusOK, w.admin, "DELETE", "/v1/tenants/zeta", nil)
	expectError(t, w.do(t, 0, z.Token, "GET", "/v1/tokens/self", nil), http.StatusUnauthorized, "", "revoked")

	// Through the store, as any other code path would.
	s := mint(w.admin, api.TokenRequest{Name: "s", Tenant: "acme", Role: api.RoleTenantViewer})
	useCached(t, w.testServer, s)
	if err := w.store.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.RevokeToken(ctx, s.ID, time.Time{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	expectError(t, w.do(t, 0, s.Token, "GET", "/v1/tokens/self", nil), http.StatusUnauthorized, "", "revoked")

	// Expiry is checked against the cached expires_at on every request.
	short := mint(w.admin, api.TokenRequest{Name: "short", Tenant: "acme", Role: api.RoleTenantViewer, TTLSeconds: 60})
	useCached(t, w.testServer, short)
	clock.Advance(time.Minute)
	if !cached(w.testServer, short.Token) {
		t.Fatal("the expired token left the cache before the request; the test would not test the cache")
	}
	expectError(t, w.do(t, 0, short.Token, "GET", "/v1/tokens/self", nil), http.StatusUnauthorized, "", "expired")
}

func TestTokenCache(t *testing.T) {
	t.Parallel()
	hash := sha256.Sum256([]byte("tny_secret"))
	entry := cachedToken{p: principal{TokenID: "tok_1", Name: "ci"}, read: time.Now()}

	t.Run("a lookup under way when the cache empties stores nothing", func(t *testing.T) {
		c := newTokenCache(time.Minute, false)
		epoch := c.begin()
		c.forget()
		c.put(hash, entry, epoch)
		if _, ok := c.get(hash); ok {
			t.Error("served what a lookup read before the cache was emptied")
		}
		c.put(hash, entry, c.begin())
		if _, ok := c.get(hash); !ok {
			t.Error("a lookup after the cache was emptied is not stored")
		}
	})
	t.Run("entries expire after the maximum age", func(t *testing.T) {
		c := newTokenCache(time.Minute, false)
		age := 59 * time.Second
		c.since = func(time.Time) time.Duration { return age }
		c.put(hash, entry, c.begin())
		if _, ok := c.get(hash); !ok {
			t.Fatal("an entry younger than the maximum age is not served")
		}
		age = time.Minute
		if _, ok := c.get(hash); ok {
			t.Error("an entry as old as the maximum age is served")
		}
	})
	t.Run("a cache that waits for its listener serves nothing until it listens, and nothing once it stops", func(t *testing.T) {
		c := newTokenCache(time.Minute, true)
		c.put(hash, entry, c.begin())
		if _, ok := c.get(hash); ok {
			t.Fatal("served before the listener listened")
		}
		epoch := c.begin()
		c.setLive(true)
		c.put(hash, entry, epoch)
		if _, ok := c.get(hash); ok {
			t.Fatal("stored what was read before the listener listened")
		}
		c.put(hash, entry, c.begin())
		if _, ok := c.get(hash); !ok {
			t.Fatal("not served while listening")
		}
		c.setLive(false)
		if _, ok := c.get(hash); ok {
			t.Error("served after the listener stopped")
		}
	})
	t.Run("a negative maximum age turns the cache off", func(t *testing.T) {
		c := newTokenCache(-1, false)
		c.setLive(true)
		c.put(hash, entry, c.begin())
		if _, ok := c.get(hash); ok {
			t.Error("a cache that is off served an entry")
		}
	})
	t.Run("the cache holds at most maxCachedTokens", func(t *testing.T) {
		c := newTokenCache(time.Minute, false)
		for i := range maxCachedTokens + 10 {
			c.put(sha256.Sum256([]byte{byte(i), byte(i >> 8)}), entry, c.begin())
		}
		if n := len(c.entries); n != maxCachedTokens {
			t.Errorf("%d entries, want %d", n, maxCachedTokens)
		}
	})
}

// revocationBound is how soon a replica must refuse a token that another
// replica revoked.
const revocationBound = 2 * time.Second

// refusedWithin polls ts with each token until it is refused, and fails
// when one is still accepted after revocationBound.
func refusedWithin(t *testing.T, ts *testServer, tokens ...api.Token) {
	t.Helper()
	start := time.Now()
	for _, tok := range tokens {
		for {
			r := ts.call(t, tok.Token, "GET", "/v1/tokens/self", nil)
			if r.status == http.StatusUnauthorized {
				break
			}
			if r.status != http.StatusOK {
				t.Fatalf("token %s: status %d: %s", tok.Name, r.status, r.body)
			}
			if time.Since(start) > revocationBound {
				t.Fatalf("token %s is still accepted %s after it was revoked on another replica", tok.Name, time.Since(start).Round(time.Millisecond))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Logf("refused after %s", time.Since(start).Round(time.Millisecond))
}

// waitLive waits until a replica's token cache is on (want) or off.
func waitLive(t *testing.T, ts *testServer, want bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for ts.srv.tokens.isLive() != want {
		if time.Now().After(deadline) {
			t.Fatalf("the token cache is not %v after 10s", map[bool]string{true: "on", false: "off"}[want])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReplicasTokenRevocation revokes, on one replica, tokens that another
// replica on the same PostgreSQL database holds in its cache: the other
// refuses them within revocationBound, whether revoked alone, with the
// tokens minted from them, or after the other's listener lost its
// connection, during which its cache is off.
func TestReplicasTokenRevocation(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	replicas := replicaPair(t, url)
	a, b := replicas[0], replicas[1]
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	for _, r := range replicas {
		if r.srv.tokens.isLive() {
			t.Fatal("the token cache is on before its listener listens")
		}
		go r.srv.Run(ctx)
	}
	waitLive(t, a, true)
	waitLive(t, b, true)
	a.createTenant(t, "acme")
	mint := func(as string, req api.TokenRequest) api.Token {
		var tok api.Token
		a.mustCall(t, http.StatusCreated, as, "POST", "/v1/tokens", req).json(t, &tok)
		return tok
	}

	alone := mint(a.admin, api.TokenRequest{Name: "alone", Tenant: "acme", Role: api.RoleTenantViewer})
	useCached(t, b, alone)
	a.mustCall(t, http.StatusNoContent, a.admin, "DELETE", "/v1/tokens/"+alone.ID, nil)
	refusedWithin(t, b, alone)

	parent := mint(a.admin, api.TokenRequest{Name: "parent", Tenant: "acme", Role: api.RoleTenantAdmin})
	child := mint(parent.Token, api.TokenRequest{Name: "child", Tenant: "acme", Role: api.RoleTenantAdmin})
	grandchild := mint(child.Token, api.TokenRequest{Name: "grandchild", Tenant: "acme", Role: api.RoleTenantViewer})
	useCached(t, b, parent, child, grandchild)
	a.mustCall(t, http.StatusNoContent, a.admin, "DELETE", "/v1/tokens/"+parent.ID, nil)
	refusedWithin(t, b, parent, child, grandchild)

	// The listener's connection dies: the cache turns off and forgets,
	// then the listener reconnects and the cache works again.
	kept := mint(a.admin, api.TokenRequest{Name: "kept", Tenant: "acme", Role: api.RoleTenantViewer})
	useCached(t, b, kept)
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(t.Context())) }()
	var killed int
	if err := conn.QueryRow(t.Context(),
		"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN tenancy_token_revocations'",
	).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 2 {
		t.Fatalf("ended %d listener connections, want 2 (one per replica)", killed)
	}
	waitLive(t, b, false)
	if cached(b, kept.Token) {
		t.Error("a token is served from the cache while the listener is down")
	}
	waitLive(t, b, true)
	later := mint(a.admin, api.TokenRequest{Name: "later", Tenant: "acme", Role: api.RoleTenantViewer})
	useCached(t, b, kept, later)
	a.mustCall(t, http.StatusNoContent, a.admin, "DELETE", "/v1/tokens/"+later.ID, nil)
	refusedWithin(t, b, later)
	b.mustCall(t, http.StatusOK, kept.Token, "GET", "/v1/tokens/self", nil)
}
