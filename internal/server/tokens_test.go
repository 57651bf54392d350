package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

// tokenWatch is a test server that keeps every answer and log line, so a
// test can show where a token's secret was seen.
type tokenWatch struct {
	*testServer
	mu      sync.Mutex
	answers []string
	log     bytes.Buffer
}

func (w *tokenWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.log.Write(p)
}

func newTokenWatch(t *testing.T, cfg ...func(*Config)) *tokenWatch {
	w := &tokenWatch{}
	logger := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w.testServer = newTestServer(t, append(cfg, func(c *Config) { c.Logger = logger })...)
	return w
}

// do is call, keeping the answer.
func (w *tokenWatch) do(t *testing.T, want int, token, method, path string, body any, headers ...string) response {
	t.Helper()
	r := w.call(t, token, method, path, body, headers...)
	var hdr strings.Builder
	for k, v := range r.header {
		fmt.Fprintf(&hdr, "%s: %s\n", k, strings.Join(v, ", "))
	}
	w.mu.Lock()
	w.answers = append(w.answers, fmt.Sprintf("%s %s -> %d\n%s%s", method, path, r.status, hdr.String(), r.body))
	w.mu.Unlock()
	if want != 0 && r.status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

// mint creates a token with the given token and returns it.
func (w *tokenWatch) mint(t *testing.T, want int, as string, req api.TokenRequest) api.Token {
	t.Helper()
	var tok api.Token
	r := w.do(t, want, as, "POST", "/v1/tokens", req)
	if want == http.StatusCreated {
		r.json(t, &tok)
	}
	return tok
}

func TestTokenMintingRules(t *testing.T) {
	t.Parallel()
	w := newTokenWatch(t)
	w.createTenant(t, "acme")
	w.createTenant(t, "zeta")
	tokens := map[string]string{}
	for _, role := range api.TenantRoles {
		tokens[role] = w.mint(t, http.StatusCreated, w.admin, api.TokenRequest{Name: role, Tenant: "acme", Role: role}).Token
	}

	for _, tc := range []struct {
		as     string
		req    api.TokenRequest
		status int
		field  string
	}{
		// A platform admin mints anything.
		{api.RolePlatformAdmin, api.TokenRequest{Name: "p", Role: api.RolePlatformAdmin}, 201, ""},
		{api.RolePlatformAdmin, api.TokenRequest{Name: "z", Tenant: "zeta", Role: api.RoleTenantAdmin}, 201, ""},
		// A tenant admin mints up to its own role, in its own tenant.
		{api.RoleTenantAdmin, api.TokenRequest{Name: "a", Tenant: "acme", Role: api.RoleTenantAdmin}, 201, ""},
		{api.RoleTenantAdmin, api.TokenRequest{Name: "u", Tenant: "acme", Role: api.RoleTenantUser}, 201, ""},
		{api.RoleTenantAdmin, api.TokenRequest{Name: "v", Tenant: "acme", Role: api.RoleTenantViewer}, 201, ""},
		{api.RoleTenantAdmin, api.TokenRequest{Name: "p", Role: api.RolePlatformAdmin}, 403, "role"},
		{api.RoleTenantAdmin, api.TokenRequest{Name: "z", Tenant: "zeta", Role: api.RoleTenantViewer}, 404, ""},
		{api.RoleTenantAdmin, api.TokenRequest{Name: "n", Tenant: "nowhere", Role: api.RoleTenantViewer}, 404, ""},
		// Nobody below tenant_admin mints, not even a token weaker than its own.
		{api.RoleTenantUser, api.TokenRequest{Name: "v", Tenant: "acme", Role: api.RoleTenantViewer}, 403, "role"},
		{api.RoleTenantUser, api.TokenRequest{Name: "u", Tenant: "acme", Role: api.RoleTenantUser}, 403, "role"},
		{api.RoleTenantViewer, api.TokenRequest{Name: "v", Tenant: "acme", Role: api.RoleTenantViewer}, 403, "role"},
		{api.RoleTenantViewer, api.TokenRequest{Name: "a", Tenant: "acme", Role: api.RoleTenantAdmin}, 403, "role"},
		// Malformed requests name their field.
		{api.RolePlatformAdmin, api.TokenRequest{Name: "x", Tenant: "acme", Role: "root"}, 422, "role"},
		{api.RolePlatformAdmin, api.TokenRequest{Name: "x", Tenant: "acme", Role: api.RolePlatformAdmin}, 422, "tenant"},
		{api.RolePlatformAdmin, api.TokenRequest{Name: "x", Role: api.RoleTenantAdmin}, 422, "tenant"},
		{api.RolePlatformAdmin, api.TokenRequest{Name: " ", Tenant: "acme", Role: api.RoleTenantViewer}, 422, "name"},
		{api.RolePlatformAdmin, api.TokenRequest{Name: "x", Tenant: "acme", Role: api.RoleTenantViewer, TTLSeconds: 59}, 422, "ttl_seconds"},
		{api.RolePlatformAdmin, api.TokenRequest{Name: "x", Tenant: "acme", Role: api.RoleTenantViewer, TTLSeconds: 366 * 86400}, 422, "ttl_seconds"},
	} {
		as := w.admin
		if tc.as != api.RolePlatformAdmin {
			as = tokens[tc.as]
		}
		r := w.do(t, 0, as, "POST", "/v1/tokens", tc.req)
		if r.status != tc.status || (tc.field != "" && r.apiError(t).Field != tc.field) {
			t.Errorf("%s mints %+v: %d %s, want %d naming %q", tc.as, tc.req, r.status, r.body, tc.status, tc.field)
		}
	}

	// A minted token acts with the role it was given, in its tenant only.
	viewer := w.mint(t, http.StatusCreated, tokens[api.RoleTenantAdmin], api.TokenRequest{Name: "ro", Tenant: "acme", Role: api.RoleTenantViewer})
	if viewer.Tenant != "acme" || viewer.Role != api.RoleTenantViewer || !strings.HasPrefix(viewer.Token, "tny_") || viewer.ID == "" {
		t.Errorf("minted %+v", viewer)
	}
	w.do(t, http.StatusOK, viewer.Token, "GET", "/v1/tenants/acme", nil)
	w.do(t, http.StatusForbidden, viewer.Token, "PATCH", "/v1/tenants/acme", map[string]any{"display_name": "x"})
	w.do(t, http.StatusNotFound, viewer.Token, "GET", "/v1/tenants/zeta", nil)

	// Minting is audited, without the secret.
	var minted []string
	for _, e := range auditOf(t, w.testServer, "acme", "&object_kind=token") {
		minted = append(minted, e.Actor+" "+e.Action+" "+e.Detail)
	}
	if len(minted) == 0 || minted[len(minted)-1] != "tenant_admin token.create name ro, role tenant_viewer" {
		t.Errorf("token audit events %q", minted)
	}
}

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	clock := newStepClock()
	w := newTokenWatch(t, withClock(clock))
	w.createTenant(t, "acme")
	short := w.mint(t, http.StatusCreated, w.admin, api.TokenRequest{Name: "short", Tenant: "acme", Role: api.RoleTenantViewer, TTLSeconds: 3600})
	long := w.mint(t, http.StatusCreated, w.admin, api.TokenRequest{Name: "default", Tenant: "acme", Role: api.RoleTenantViewer})
	if got := short.ExpiresAt.Sub(clock.Now()); got.Abs()-time.Hour > time.Millisecond {
		t.Errorf("expires in %v, want 1h", got)
	}
	if got := long.ExpiresAt.Sub(clock.Now()); (got - 30*24*time.Hour).Abs() > time.Millisecond {
		t.Errorf("the default token expires in %v, want 30 days", got)
	}

	clock.Advance(time.Hour - time.Second)
	w.do(t, http.StatusOK, short.Token, "GET", "/v1/tenants/acme", nil)
	clock.Advance(time.Second)
	r := w.do(t, http.StatusUnauthorized, short.Token, "GET", "/v1/tenants/acme", nil)
	expectError(t, r, http.StatusUnauthorized, "", "expired")
	if r.header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	w.do(t, http.StatusOK, long.Token, "GET", "/v1/tenants/acme", nil)
	clock.Advance(30 * 24 * time.Hour)
	w.do(t, http.StatusUnauthorized, long.Token, "GET", "/v1/tenants/acme", nil)
	// The bootstrap token never expires.
	w.do(t, http.StatusOK, w.admin, "GET", "/v1/tenants/acme", nil)
}

func TestTokenRevocation(t *testing.T) {
	t.Parallel()
	w := newTokenWatch(t)
	w.createTenant(t, "acme")
	w.createTenant(t, "zeta")
	admin := w.mint(t, http.StatusCreated, w.admin, api.TokenRequest{Name: "admin", Tenant: "acme", Role: api.RoleTenantAdmin})
	viewer := w.mint(t, http.StatusCreated, w.admin, api.TokenRequest{Name: "viewer", Tenant: "acme", Role: api.RoleTenantViewer})
	self := w.mint(t, http.StatusCreated, w.admin, api.TokenRequest{Name: "self", Tenant: "acme", Role: api.RoleTenantViewer})
	zeta := w.mint(t, http.StatusCreated, w.admin, api.TokenRequest{Name: "zeta", Tenant: "zeta", Role: api.RoleTenantViewer})
	platform := w.mint(t, http.StatusCreated, w.admin, api.TokenRequest{Name: "platform", Role: api.RolePlatformAdmin})

	// Who may revoke what: a viewer only itself; an admin its tenant's
	// tokens up to its role; nobody another tenant's, which is not found.
	w.do(t, http.StatusForbidden, viewer.Token, "DELETE", "/v1/tokens/"+admin.ID, nil)
	w.do(t, http.StatusNotFound, admin.Token, "DELETE", "/v1/tokens/"+zeta.ID, nil)
	w.do(t, http.StatusNotFound, admin.Token, "DELETE", "/v1/tokens/"+platform.ID, nil)
	w.do(t, http.StatusNotFound, admin.Token, "DELETE", "/v1/tokens/tok_00000000000000000000", nil)
	w.do(t, http.StatusNoContent, self.Token, "DELETE", "/v1/tokens/"+self.ID, nil)
	expectError(t, w.do(t, 0, self.Token, "GET", "/v1/tenants/acme", nil), http.StatusUnauthorized, "", "revoked")

	w.do(t, http.StatusNoContent, admin.Token, "DELETE", "/v1/tokens/"+viewer.ID, nil)
	w.do(t, http.StatusUnauthorized, viewer.Token, "GET", "/v1/tenants/acme", nil)
	// Revoking again changes nothing and is not audited twice.
	w.do(t, http.StatusNoContent, w.admin, "DELETE", "/v1/tokens/"+viewer.ID, nil)
	revocations := 0
	for _, e := range auditOf(t, w.testServer, "acme", "&object_kind=token") {
		if e.Action == "token.revoke" && e.ObjectKey == viewer.ID {
			revocations++
		}
	}
	if revocations != 1 {
		t.Errorf("%d revocation events for one token, want 1", revocations)
	}
	w.do(t, http.StatusNoContent, w.admin, "DELETE", "/v1/tokens/"+platform.ID, nil)
	w.do(t, http.StatusUnauthorized, platform.Token, "GET", "/v1/tenants", nil)
	w.do(t, http.StatusOK, zeta.Token, "GET", "/v1/tenants/zeta", nil)
}

func TestTokensDieWithTheirTenant(t *testing.T) {
	t.Parallel()
	w := newTokenWatch(t)
	w.createTenant(t, "acme")
	w.createTenant(t, "zeta")
	tok := w.mint(t, http.StatusCreated, w.admin, api.TokenRequest{Name: "ci", Tenant: "acme", Role: api.RoleTenantAdmin})
	other := w.mint(t, http.StatusCreated, w.admin, api.TokenRequest{Name: "ci", Tenant: "zeta", Role: api.RoleTenantAdmin})
	w.do(t, http.StatusOK, w.admin, "DELETE", "/v1/tenants/acme", nil)
	expectError(t, w.do(t, 0, tok.Token, "GET", "/v1/tenants", nil), http.StatusUnauthorized, "", "revoked")
	// A tenant created again under the slug does not inherit them.
	w.createTenant(t, "acme")
	w.do(t, http.StatusUnauthorized, tok.Token, "GET", "/v1/tenants/acme", nil)
	w.do(t, http.StatusOK, other.Token, "GET", "/v1/tenants/zeta", nil)
}

// TestTokenSecretIsShownOnce goes through a token's life and checks that
// its secret is in the answer to its creation and nowhere else: not in any
// other answer, header, audit event, log line or stored row.
func TestTokenSecretIsShownOnce(t *testing.T) {
	t.Parallel()
	w := newTokenWatch(t)
	w.createTenant(t, "acme")
	tok := w.mint(t, http.StatusCreated, w.admin, api.TokenRequest{Name: "ci", Tenant: "acme", Role: api.RoleTenantAdmin})
	creation := len(w.answers) - 1
	// Its life: it mints, reads, writes, fails, is replayed, is revoked.
	key := []string{api.HeaderIdempotencyKey, "mint-1"}
	child := w.mint(t, http.StatusCreated, tok.Token, api.TokenRequest{Name: "child", Tenant: "acme", Role: api.RoleTenantViewer})
	first := w.do(t, http.StatusCreated, tok.Token, "POST", "/v1/tokens", api.TokenRequest{Name: "k", Tenant: "acme", Role: api.RoleTenantViewer}, key...)
	replay := w.do(t, http.StatusConflict, tok.Token, "POST", "/v1/tokens", api.TokenRequest{Name: "k", Tenant: "acme", Role: api.RoleTenantViewer}, key...)
	w.do(t, http.StatusOK, tok.Token, "GET", "/v1/tenants/acme", nil)
	w.do(t, http.StatusOK, tok.Token, "PATCH", "/v1/tenants/acme", map[string]any{"display_name": "Acme"})
	w.do(t, http.StatusBadRequest, tok.Token, "PATCH", "/v1/tenants/acme", map[string]any{"token": tok.Token})
	w.do(t, http.StatusOK, tok.Token, "GET", "/v1/tenants/acme/audit-events", nil)
	w.do(t, http.StatusOK, tok.Token, "GET", "/v1/tokens", nil)
	w.do(t, http.StatusOK, w.admin, "GET", "/v1/tokens?page_size=1", nil)
	w.do(t, http.StatusOK, w.admin, "GET", "/v1/audit-events", nil)
	w.do(t, http.StatusOK, w.admin, "GET", "/openapi.json", nil)
	w.do(t, http.StatusNoContent, tok.Token, "DELETE", "/v1/tokens/"+child.ID, nil)
	w.do(t, http.StatusNoContent, tok.Token, "DELETE", "/v1/tokens/"+tok.ID, nil)
	w.do(t, http.StatusUnauthorized, tok.Token, "GET", "/v1/tenants/acme", nil)
	w.do(t, http.StatusUnauthorized, "", "GET", "/v1/tenants/acme", nil, "Authorization", "Basic "+tok.Token)
	w.do(t, http.StatusOK, w.admin, "GET", "/v1/tenants/acme/audit-events", nil)

	for i, a := range w.answers {
		if i != creation && strings.Contains(a, tok.Token) {
			t.Errorf("the secret is in an answer other than its creation:\n%s", a)
		}
	}
	// A replayed creation does not repeat the secret, which is stored
	// nowhere, not even in the idempotency record: it names the token, so
	// a caller that lost the first answer can revoke it and mint another.
	var minted api.Token
	first.json(t, &minted)
	if minted.Token == "" || strings.Contains(string(replay.body), minted.Token) ||
		!strings.Contains(string(replay.body), minted.ID) || replay.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replayed creation %s", replay.body)
	}
	err := w.store.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
		rec, err := tx.Idempotency(ctx, tok.ID, "mint-1")
		if err != nil {
			return err
		}
		if bytes.Contains(rec.Body, []byte(minted.Token)) {
			t.Errorf("the idempotency record keeps the secret: %s", rec.Body)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = w.store.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
		events, err := tx.ListAudit(ctx, store.AuditQuery{All: true})
		if err != nil {
			return err
		}
		for _, e := range events {
			if strings.Contains(fmt.Sprintf("%+v", e), tok.Token) || strings.Contains(fmt.Sprintf("%+v", e), child.Token) {
				t.Errorf("the secret is in audit event %+v", e)
			}
		}
		rec, err := tx.Token(ctx, tok.ID)
		if err != nil {
			return err
		}
		if bytes.Contains(rec.Hash, []byte(tok.Token)) || rec.RevokedAt == nil {
			t.Errorf("stored token %+v", rec)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if snap := storeSnapshot(t, w.store); strings.Contains(snap, tok.Token) {
		t.Error("the secret is in the store's objects")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, secret := range []string{tok.Token, child.Token, w.admin} {
		if strings.Contains(w.log.String(), secret) {
			t.Errorf("a secret is in the server log:\n%s", w.log.String())
		}
	}
	if !strings.Contains(w.log.String(), `"status":401`) {
		t.Errorf("the log does not have the requests it should:\n%.2000s", w.log.String())
	}
}

// TestTokenNeverOutlivesItsMinter checks that a child token's expiry is
// capped at its parent's, whatever ttl_seconds asks for.
func TestTokenNeverOutlivesItsMinter(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	var parent, child api.Token
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tokens",
		api.TokenRequest{Name: "short", Tenant: "acme", Role: api.RoleTenantAdmin, TTLSeconds: 120}).json(t, &parent)
	ts.mustCall(t, http.StatusCreated, parent.Token, "POST", "/v1/tokens",
		api.TokenRequest{Name: "long", Tenant: "acme", Role: api.RoleTenantViewer, TTLSeconds: 365 * 24 * 3600}).json(t, &child)
	if child.ExpiresAt == nil || parent.ExpiresAt == nil || child.ExpiresAt.After(*parent.ExpiresAt) {
		t.Fatalf("child expires at %v, after its parent's %v", child.ExpiresAt, parent.ExpiresAt)
	}
}

// TestTokenRevocationCascades mints a tree of tokens, each from the last,
// and revokes one in the middle: it and every token minted from it,
// directly or not, stop working at once, each with an audit event naming
// the revoker's token; the tokens above and beside it keep working. A
// token that revokes itself takes its descendants with it.
func TestTokenRevocationCascades(t *testing.T) {
	t.Parallel()
	w := newTokenWatch(t)
	w.createTenant(t, "acme")
	// platform -> a (admin) -> b (admin) -> c (viewer); a -> d (viewer); platform -> e.
	platform := w.mint(t, http.StatusCreated, w.admin, api.TokenRequest{Name: "ops", Role: api.RolePlatformAdmin})
	a := w.mint(t, http.StatusCreated, platform.Token, api.TokenRequest{Name: "a", Tenant: "acme", Role: api.RoleTenantAdmin})
	b := w.mint(t, http.StatusCreated, a.Token, api.TokenRequest{Name: "b", Tenant: "acme", Role: api.RoleTenantAdmin})
	c := w.mint(t, http.StatusCreated, b.Token, api.TokenRequest{Name: "c", Tenant: "acme", Role: api.RoleTenantViewer})
	d := w.mint(t, http.StatusCreated, a.Token, api.TokenRequest{Name: "d", Tenant: "acme", Role: api.RoleTenantViewer})
	e := w.mint(t, http.StatusCreated, platform.Token, api.TokenRequest{Name: "e", Tenant: "acme", Role: api.RoleTenantViewer})
	if b.CreatedByID != a.ID || c.CreatedByID != b.ID || a.CreatedByID != platform.ID {
		t.Fatalf("lineage not recorded: a by %q, b by %q, c by %q", a.CreatedByID, b.CreatedByID, c.CreatedByID)
	}

	w.do(t, http.StatusNoContent, platform.Token, "DELETE", "/v1/tokens/"+a.ID, nil)
	for _, tok := range []api.Token{a, b, c, d} {
		expectError(t, w.do(t, 0, tok.Token, "GET", "/v1/tenants/acme", nil), http.StatusUnauthorized, "", "revoked")
	}
	for _, tok := range []api.Token{platform, e} {
		w.do(t, http.StatusOK, tok.Token, "GET", "/v1/tenants/acme", nil)
	}
	revoked := map[string]api.AuditEvent{}
	for _, ev := range auditOf(t, w.testServer, "acme", "&object_kind=token") {
		if ev.Action == "token.revoke" {
			revoked[ev.ObjectKey] = ev
		}
	}
	for _, tok := range []api.Token{a, b, c, d} {
		ev, ok := revoked[tok.ID]
		if !ok || ev.ActorTokenID != platform.ID || ev.Actor != "ops" {
			t.Errorf("revocation of %s (%s): event %+v; want one by token %s", tok.Name, tok.ID, ev, platform.ID)
		}
	}
	if len(revoked) != 4 || !strings.Contains(revoked[b.ID].Detail, a.ID) {
		t.Errorf("revocation events %+v", revoked)
	}

	// Self-revocation cascades too.
	f := w.mint(t, http.StatusCreated, w.admin, api.TokenRequest{Name: "f", Tenant: "acme", Role: api.RoleTenantAdmin})
	g := w.mint(t, http.StatusCreated, f.Token, api.TokenRequest{Name: "g", Tenant: "acme", Role: api.RoleTenantViewer})
	w.do(t, http.StatusNoContent, f.Token, "DELETE", "/v1/tokens/"+f.ID, nil)
	w.do(t, http.StatusUnauthorized, g.Token, "GET", "/v1/tenants/acme", nil)
}

// TestListTokens lists tokens as each caller may: a platform admin every
// token, page by page, or one tenant's; a tenant admin its own tenant's; a
// viewer none; another tenant's as a missing tenant. No answer holds a
// secret or a hash.
func TestListTokens(t *testing.T) {
	t.Parallel()
	w := newTokenWatch(t)
	w.createTenant(t, "acme")
	w.createTenant(t, "zeta")
	admin := w.mint(t, http.StatusCreated, w.admin, api.TokenRequest{Name: "admin", Tenant: "acme", Role: api.RoleTenantAdmin})
	viewer := w.mint(t, http.StatusCreated, admin.Token, api.TokenRequest{Name: "viewer", Tenant: "acme", Role: api.RoleTenantViewer})
	zeta := w.mint(t, http.StatusCreated, w.admin, api.TokenRequest{Name: "zeta", Tenant: "zeta", Role: api.RoleTenantAdmin})
	w.do(t, http.StatusNoContent, admin.Token, "DELETE", "/v1/tokens/"+viewer.ID, nil)

	list := func(token, query string) []api.Token {
		t.Helper()
		var all []api.Token
		next := ""
		for range 10 {
			q := query
			if next != "" {
				q += "&page_token=" + next
			}
			var page api.List[api.Token]
			w.do(t, http.StatusOK, token, "GET", "/v1/tokens?page_size=2"+q, nil).json(t, &page)
			all = append(all, page.Items...)
			if next = page.NextPageToken; next == "" {
				return all
			}
		}
		t.Fatal("the pages do not end")
		return nil
	}
	ids := func(tokens []api.Token) []string {
		out := []string{}
		for _, tok := range tokens {
			out = append(out, tok.ID)
		}
		return out
	}
	everyone := list(w.admin, "")
	if len(everyone) != 4 || !slices.IsSorted(ids(everyone)) {
		t.Errorf("a platform admin lists %v; want the 4 tokens in id order", ids(everyone))
	}
	acme := list(admin.Token, "")
	if got := ids(acme); !slices.Equal(got, ids(list(w.admin, "&tenant=acme"))) || len(got) != 2 || !slices.Contains(got, viewer.ID) {
		t.Errorf("acme's admin lists %v", got)
	}
	for _, tok := range acme {
		if tok.Tenant != "acme" || tok.Token != "" {
			t.Errorf("acme's admin sees %+v", tok)
		}
		if tok.ID == viewer.ID && (tok.RevokedAt == nil || tok.CreatedByID != admin.ID || tok.CreatedBy != "admin") {
			t.Errorf("the revoked viewer is listed as %+v", tok)
		}
	}
	expectError(t, w.do(t, 0, admin.Token, "GET", "/v1/tokens?tenant=zeta", nil), http.StatusNotFound, "", `tenant "zeta" not found`)
	expectError(t, w.do(t, 0, admin.Token, "GET", "/v1/tokens?tenant=ghost", nil), http.StatusNotFound, "", `tenant "ghost" not found`)
	expectError(t, w.do(t, 0, zeta.Token, "GET", "/v1/tokens?tenant=..", nil), http.StatusBadRequest, "tenant", "")
	other := w.mint(t, http.StatusCreated, w.admin, api.TokenRequest{Name: "reader", Tenant: "acme", Role: api.RoleTenantUser})
	expectError(t, w.do(t, 0, other.Token, "GET", "/v1/tokens", nil), http.StatusForbidden, "", "tenant_admin")

	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.answers {
		if strings.Contains(a, "GET /v1/tokens") && (strings.Contains(a, `"token":`) || strings.Contains(a, `"hash"`) ||
			strings.Contains(a, admin.Token) || strings.Contains(a, viewer.Token)) {
			t.Errorf("a token list shows a secret or hash:\n%s", a)
		}
	}
}

// TestAuditNamesTheActingToken checks that an audit event names the token
// that acted and the token that minted it, by id, which a token's name
// cannot fake; that names that could pass for tenancyd's own, or hide
// characters, are refused; and that platform-level events are readable by
// a platform admin only.
func TestAuditNamesTheActingToken(t *testing.T) {
	t.Parallel()
	w := newTokenWatch(t)
	w.createTenant(t, "acme")
	var bootstrap store.TokenRecord
	err := w.store.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		all, err := tx.ListTokens(ctx, store.TokenQuery{All: true})
		if len(all) > 0 {
			bootstrap = all[0]
		}
		return err
	})
	if err != nil || bootstrap.Name != "bootstrap" {
		t.Fatalf("bootstrap token %+v, %v", bootstrap, err)
	}
	admin := w.mint(t, http.StatusCreated, w.admin, api.TokenRequest{Name: "admin", Tenant: "acme", Role: api.RoleTenantAdmin})

	for _, name := range []string{"bootstrap", "Bootstrap", "TENANCYD", "system", "tenancyd  ", " bootstrap", "boot\u200bstrap",
		"ci\x1b[31m", "ci\u202eyolp", "ci\ndeploy", "", strings.Repeat("n", 101)} {
		expectError(t, w.do(t, 0, admin.Token, "POST", "/v1/tokens", api.TokenRequest{Name: name, Tenant: "acme", Role: api.RoleTenantViewer}),
			http.StatusUnprocessableEntity, "name", "name")
	}
	for _, name := range []string{"bootstrap-ci", "ci deploy", "déploiement 🚀", "tenancyd's friend"} {
		w.mint(t, http.StatusCreated, admin.Token, api.TokenRequest{Name: name, Tenant: "acme", Role: api.RoleTenantViewer})
	}

	w.do(t, http.StatusOK, admin.Token, "PATCH", "/v1/tenants/acme", map[string]any{"display_name": "Acme Corp"})
	var update api.AuditEvent
	for _, ev := range auditOf(t, w.testServer, "acme", "&object_kind=tenant") {
		if ev.Action == "tenant.update" {
			update = ev
		}
	}
	if update.Actor != "admin" || update.ActorTokenID != admin.ID || update.ActorTokenCreatedByID != bootstrap.ID {
		t.Errorf("tenant.update event %+v; want actor admin, token %s minted by %s", update, admin.ID, bootstrap.ID)
	}
	// tenancyd's own work names no token.
	for _, ev := range auditOf(t, w.testServer, "acme", "&object_kind=tenant") {
		if ev.Action == "tenant.create" && (ev.ActorTokenID != bootstrap.ID || ev.Actor != "bootstrap") {
			t.Errorf("tenant.create event %+v", ev)
		}
	}

	// Platform-level events: a platform token's minting, by its minter.
	ops := w.mint(t, http.StatusCreated, w.admin, api.TokenRequest{Name: "ops", Role: api.RolePlatformAdmin})
	var platform api.List[api.AuditEvent]
	w.do(t, http.StatusOK, w.admin, "GET", "/v1/audit-events?object_kind=token&order=desc", nil).json(t, &platform)
	if len(platform.Items) == 0 || platform.Items[0].ObjectKey != ops.ID || platform.Items[0].Action != "token.create" ||
		platform.Items[0].ActorTokenID != bootstrap.ID || platform.Items[0].Tenant != "" {
		t.Errorf("platform audit events %+v; want the minting of %s first", platform.Items, ops.ID)
	}
	for _, ev := range platform.Items {
		if ev.Tenant != "" {
			t.Errorf("the platform log holds a tenant's event %+v", ev)
		}
	}
	w.do(t, http.StatusForbidden, admin.Token, "GET", "/v1/audit-events", nil)
}

// TestTokenSelf checks that GET /v1/tokens/self tells any valid token what
// it may reach, its tenant and role, without its secret; and that a path the
// API does not have (an endpoint ending in /v1) answers no_route, never the
// not_found of an object.
func TestTokenSelf(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	var platform api.TokenInfo
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tokens/self", nil).json(t, &platform)
	if platform.Role != api.RolePlatformAdmin || platform.Tenant != "" || platform.ID == "" || platform.Name != "bootstrap" {
		t.Errorf("the bootstrap token describes itself as %+v", platform)
	}
	for _, role := range api.TenantRoles {
		secret := ts.token(t, "acme", role)
		r := ts.mustCall(t, http.StatusOK, secret, "GET", "/v1/tokens/self", nil)
		var info api.TokenInfo
		r.json(t, &info)
		if info.Tenant != "acme" || info.Role != role || info.ExpiresAt == nil || info.ID == "" {
			t.Errorf("a %s token of acme describes itself as %+v", role, info)
		}
		if strings.Contains(string(r.body), secret) || strings.Contains(string(r.body), `"token"`) {
			t.Errorf("GET /v1/tokens/self shows the secret: %s", r.body)
		}
	}
	ts.mustCall(t, http.StatusUnauthorized, "tny_not_a_token", "GET", "/v1/tokens/self", nil)

	for _, path := range []string{"/v1/v1/tokens/self", "/v1/v1/tenants/acme", "/api/v1/tenants"} {
		e := ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", path, nil).apiError(t)
		if e.Code != api.CodeNoRoute || !strings.Contains(e.Message, "without /v1") {
			t.Errorf("GET %s: %q %q, want code %q and a message about the root URL", path, e.Code, e.Message, api.CodeNoRoute)
		}
	}
	if e := ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/ghost", nil).apiError(t); e.Code != api.CodeNotFound {
		t.Errorf("a missing tenant answers code %q, want %q", e.Code, api.CodeNotFound)
	}
}
