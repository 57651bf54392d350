package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/reliability"
)

// The tests in this file, crosstenant_test.go and badinput_test.go walk the
// route table itself, so a route added to it is covered without a line here.
// They build their objects through the API, from whatever create routes the
// table has.

// world is a platform with objects of every kind that the route table lets
// one create, in one or more tenants.
type world struct {
	ts      *testServer
	tenants map[string]*worldTenant
	// backupID is the final backup of a tenant deleted while building the world.
	backupID string
	// platformTokenID is a spare platform-admin token, for revocation tests.
	platformTokenID string
}

// worldTenant is one tenant of a world: the keys of its objects by the path
// segment of their collection ("environments" -> "staging"), and a token
// per role.
type worldTenant struct {
	slug     string
	keys     map[string]string
	tokens   map[string]string // role -> secret
	tokenIDs map[string]string // role -> token id
}

// tenantRolesAscending are the tenant-scoped roles, least privileged first.
var tenantRolesAscending = []string{api.RoleTenantViewer, api.RoleTenantUser, api.RoleTenantAdmin}

func (w *world) has(pattern string) bool {
	return slices.ContainsFunc(w.ts.srv.routeTable(), func(rt route) bool { return rt.pattern == pattern })
}

// buildWorld makes a world with the given tenants. Tenants are protected
// from deletion, so that a DELETE of a tenant that authorization lets
// through answers 409 instead of taking the tenant away from later cases.
func buildWorld(t testing.TB, ts *testServer, slugs ...string) *world {
	t.Helper()
	w := &world{ts: ts, tenants: map[string]*worldTenant{}}
	for _, slug := range slugs {
		w.tenants[slug] = w.buildTenant(t, slug)
	}

	gone := "gone-" + slugs[0]
	ts.createTenant(t, gone)
	var del api.TenantDeletion
	ts.mustCall(t, http.StatusOK, ts.admin, "DELETE", "/v1/tenants/"+gone, nil).json(t, &del)
	w.backupID = del.Backup.ID

	var tok api.Token
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tokens",
		api.TokenRequest{Name: "spare-platform", Role: api.RolePlatformAdmin}).json(t, &tok)
	w.platformTokenID = tok.ID
	return w
}

// worldMust is mustCall for fixture building: any 2xx will do.
func worldMust(t testing.TB, ts *testServer, method, path string, body any) map[string]any {
	t.Helper()
	r := ts.call(t, ts.admin, method, path, body)
	if r.status < 200 || r.status > 299 {
		t.Fatalf("building the test world: %s %s: %d %s", method, path, r.status, r.body)
	}
	var out map[string]any
	if len(r.body) > 0 {
		r.json(t, &out)
	}
	return out
}

func (w *world) buildTenant(t testing.TB, slug string) *worldTenant {
	t.Helper()
	ts := w.ts
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants", map[string]any{
		"slug": slug, "display_name": "Tenant " + slug, "region": "eu-west", "deletion_protection": true,
		"labels": map[string]string{"tier": "gold"},
	})
	wt := &worldTenant{slug: slug, keys: map[string]string{}, tokens: map[string]string{}, tokenIDs: map[string]string{}}
	base := "/v1/tenants/" + slug
	if w.has("POST /v1/tenants/{tenant}/environments") {
		for env, level := range map[string]string{api.EnvStaging: "debug", api.EnvProduction: "info"} {
			worldMust(t, ts, "POST", base+"/environments", map[string]any{
				"name": env, "type": env, "settings": map[string]string{"log_level": level},
			})
		}
		wt.keys["environments"] = api.EnvStaging
	}
	if w.has("PUT /v1/tenants/{tenant}/quota") {
		worldMust(t, ts, "PUT", base+"/quota", map[string]any{
			"cpu_millicores": 16000, "memory_mb": 65536, "storage_gb": 1000, "max_users": 100,
		})
	}
	if w.has("POST /v1/tenants/{tenant}/users") {
		u := worldMust(t, ts, "POST", base+"/users", map[string]any{"email": "alice@" + slug + ".example.com", "display_name": "Alice"})
		wt.keys["users"], _ = u["user_id"].(string)
		if w.has("POST /v1/tenants/{tenant}/role-bindings") {
			b := worldMust(t, ts, "POST", base+"/role-bindings", map[string]any{"user_id": wt.keys["users"], "role": api.RoleTenantAdmin})
			wt.keys["role-bindings"], _ = b["binding_id"].(string)
		}
	}
	if w.has("POST /v1/tenants/{tenant}/feature-flags") {
		envs := map[string]any{}
		if wt.keys["environments"] != "" {
			envs["staging"] = map[string]any{"enabled": true, "rollout_percentage": 50}
			envs["production"] = map[string]any{"enabled": false, "rollout_percentage": 0}
		}
		worldMust(t, ts, "POST", base+"/feature-flags", map[string]any{"key": "new-billing", "description": "New billing", "environments": envs})
		wt.keys["feature-flags"] = "new-billing"
	}
	if w.has("POST /v1/tenants/{tenant}/integrations") {
		worldMust(t, ts, "POST", base+"/integrations", map[string]any{
			"name": "alerts", "kind": api.IntegrationWebhook, "config": map[string]string{"url": "https://hooks.example.com/" + slug},
			"secret": "whsec_fixture_secret",
		})
		wt.keys["integrations"] = "alerts"
	}
	if w.has("POST /v1/tenants/{tenant}/promotions") && wt.keys["environments"] != "" {
		// One promotion into production and one into staging, both linked,
		// since who may roll back or unlink depends on the target's type.
		p := worldMust(t, ts, "POST", base+"/promotions", map[string]any{
			"source_environment": "staging", "target_environment": "production", "link": true,
		})
		wt.keys["promotions"], _ = p["id"].(string)
		wt.keys["promotion-links"] = api.EnvProduction
		p = worldMust(t, ts, "POST", base+"/promotions", map[string]any{
			"source_environment": "production", "target_environment": "staging", "link": true,
			"include": []string{api.ScopeSettings, api.ScopeFeatureFlags},
		})
		wt.keys["promotions:into-staging"], _ = p["id"].(string)
		wt.keys["promotion-links:staging"] = api.EnvStaging
	}
	if w.has("PUT /v1/tenants/{tenant}/environments/{env}/schema") && wt.keys["environments"] != "" {
		worldMust(t, ts, "PUT", base+"/environments/staging/schema", map[string]any{
			"migrations": map[string]string{"1": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes VALUES (1, 'of " + slug + "')"},
		})
	}
	if w.has("POST /v1/tenants/{tenant}/backups") && wt.keys["environments"] != "" {
		b := worldMust(t, ts, "POST", base+"/backups", map[string]any{"environment": "staging"})
		wt.keys["backups"], _ = b["id"].(string)
	}
	// Environment quotas come after the promotions, so that the two
	// environments' quotas differ and promoting quotas changes something.
	if w.has("PUT /v1/tenants/{tenant}/environments/{env}/quota") && wt.keys["environments"] != "" {
		for env, cpu := range map[string]int{api.EnvStaging: 2000, api.EnvProduction: 4000} {
			worldMust(t, ts, "PUT", base+"/environments/"+env+"/quota", map[string]any{
				"cpu_millicores": cpu, "memory_mb": 4096, "storage_gb": 10,
			})
		}
	}
	for _, role := range tenantRolesAscending {
		var tok api.Token
		ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tokens",
			api.TokenRequest{Name: role + "@" + slug, Tenant: slug, Role: role}).json(t, &tok)
		wt.tokens[role], wt.tokenIDs[role] = tok.Token, tok.ID
	}
	var spare api.Token
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tokens",
		api.TokenRequest{Name: "spare@" + slug, Tenant: slug, Role: api.RoleTenantViewer}).json(t, &spare)
	wt.keys["tokens"] = spare.ID
	return wt
}

// key is the key of an existing object for the path parameter that follows
// the segment collection, or a plausible one when the world has none.
func (w *world) key(wt *worldTenant, collection string) string {
	if k := wt.keys[collection]; k != "" {
		return k
	}
	if collection == "backups" {
		return w.backupID
	}
	return "plausible-id"
}

// fill turns a route's path into a request path about tenant wt: {tenant}
// is its slug and every other parameter the key of one of its objects; a
// value in override (by parameter name) wins, and is escaped as a client
// would.
func (w *world) fill(path string, wt *worldTenant, override map[string]string) string {
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		name, ok := strings.CutPrefix(seg, "{")
		if !ok {
			continue
		}
		name = strings.TrimSuffix(name, "}")
		v, ok := override[name]
		switch {
		case ok:
			segs[i] = url.PathEscape(v)
		case name == "tenant":
			segs[i] = wt.slug
		default:
			segs[i] = url.PathEscape(w.key(wt, segs[i-1]))
		}
	}
	return strings.Join(segs, "/")
}

// bodyFor is a plausible, valid body for a write to a route, so that a
// request that authorization wrongly lets through would really write.
func (w *world) bodyFor(method, path string, wt *worldTenant) any {
	segs := strings.Split(path, "/")
	last := segs[len(segs)-1]
	collection := last
	if strings.HasPrefix(last, "{") {
		collection = segs[len(segs)-2]
	}
	create := method == http.MethodPost && collection == last
	switch {
	case method == http.MethodGet || method == http.MethodDelete:
		return nil
	case collection == "tenants" && create:
		return map[string]any{"slug": "intruder", "display_name": "Intruder", "region": "us-east"}
	case collection == "tenants":
		return map[string]any{"display_name": "Changed"}
	case collection == "environments" && create:
		return map[string]any{"name": "sandbox", "type": api.EnvSandbox, "settings": map[string]string{}}
	case collection == "environments":
		return map[string]any{"settings": map[string]string{"log_level": "trace"}}
	case collection == "users" && create:
		return map[string]any{"email": "mallory@example.com", "display_name": "Mallory"}
	case collection == "users":
		return map[string]any{"display_name": "Changed"}
	case collection == "role-bindings" && create:
		return map[string]any{"user_id": w.key(wt, "users"), "role": api.RoleTenantViewer}
	case collection == "role-bindings":
		return map[string]any{"role": api.RoleTenantViewer}
	case collection == "quota":
		return map[string]any{"cpu_millicores": 1000}
	case collection == "feature-flags" && create:
		return map[string]any{"key": "intruder", "description": "x", "environments": map[string]any{}}
	case collection == "feature-flags":
		return map[string]any{"description": "Changed"}
	case collection == "integrations" && create:
		return map[string]any{"name": "intruder", "kind": api.IntegrationWebhook, "config": map[string]string{"url": "https://evil.example.com/"}}
	case collection == "integrations":
		return map[string]any{"config": map[string]string{"url": "https://evil.example.com/"}}
	case collection == "promotions" && create:
		return map[string]any{"source_environment": "staging", "target_environment": "production"}
	case collection == "tokens" && create:
		return api.TokenRequest{Name: "intruder", Tenant: wt.slug, Role: api.RoleTenantViewer}
	case collection == "schema":
		return map[string]any{"migrations": map[string]string{
			"1": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes VALUES (1, 'of " + wt.slug + "')",
			"2": "CREATE TABLE intruder (id INTEGER)",
		}}
	case collection == "credentials" && method == http.MethodPost:
		return map[string]any{"ttl_seconds": 600}
	case collection == "backups" && create:
		return map[string]any{"environment": "staging", "retain_days": 3}
	}
	return nil
}

// roleNone is the caller without a token.
const roleNone = "none"

// matrixRoles are the callers of the RBAC matrix, least privileged first.
var matrixRoles = []string{roleNone, api.RoleTenantViewer, api.RoleTenantUser, api.RoleTenantAdmin, api.RolePlatformAdmin}

// handlerRule is an authorization decision that a handler makes beyond its
// route's access rule, for a request with a given body: minRole is the
// least role it admits; those below get deniedStatus.
type handlerRule struct {
	pattern      string
	name         string
	path         func(w *world, wt *worldTenant) string // nil fills the pattern
	body         func(w *world, wt *worldTenant) any
	minRole      string
	deniedStatus int
}

// handlerRules are the product's rules that a route's access level alone
// does not express. A rule with neither path nor body is about the route's
// plain request, and replaces the access level's expectation for it.
var handlerRules = []handlerRule{
	{
		pattern: "POST /v1/tokens", name: "mint a tenant_viewer token of one's tenant",
		body: func(_ *world, wt *worldTenant) any {
			return api.TokenRequest{Name: "ci", Tenant: wt.slug, Role: api.RoleTenantViewer}
		},
		minRole: api.RoleTenantAdmin, deniedStatus: http.StatusForbidden,
	},
	{
		pattern: "POST /v1/tokens", name: "mint a tenant_admin token of one's tenant",
		body: func(_ *world, wt *worldTenant) any {
			return api.TokenRequest{Name: "ci", Tenant: wt.slug, Role: api.RoleTenantAdmin}
		},
		minRole: api.RoleTenantAdmin, deniedStatus: http.StatusForbidden,
	},
	{
		pattern: "POST /v1/tokens", name: "mint a platform_admin token",
		body:    func(*world, *worldTenant) any { return api.TokenRequest{Name: "ci", Role: api.RolePlatformAdmin} },
		minRole: api.RolePlatformAdmin, deniedStatus: http.StatusForbidden,
	},
	{
		pattern: "POST /v1/tokens", name: "mint a token of another tenant",
		body: func(w *world, wt *worldTenant) any {
			return api.TokenRequest{Name: "ci", Tenant: otherTenant(w, wt).slug, Role: api.RoleTenantViewer}
		},
		// Another tenant does not exist for a tenant's token: 404, not 403.
		minRole: api.RolePlatformAdmin, deniedStatus: http.StatusNotFound,
	},
	{
		// Listing tokens shows who may act on the tenant: admins only.
		pattern: "GET /v1/tokens", name: "list tokens",
		minRole: api.RoleTenantAdmin, deniedStatus: http.StatusForbidden,
	},
	{
		pattern: "GET /v1/tokens", name: "list another tenant's tokens",
		path:    func(w *world, wt *worldTenant) string { return "/v1/tokens?tenant=" + otherTenant(w, wt).slug },
		minRole: api.RolePlatformAdmin, deniedStatus: http.StatusNotFound,
	},
	{
		// The world's tokens key is a spare tenant_viewer token of the tenant.
		pattern: "DELETE /v1/tokens/{id}", name: "revoke a tenant_viewer token of one's tenant",
		minRole: api.RoleTenantAdmin, deniedStatus: http.StatusForbidden,
	},
	{
		pattern: "DELETE /v1/tokens/{id}", name: "revoke a platform token",
		path:    func(w *world, _ *worldTenant) string { return "/v1/tokens/" + w.platformTokenID },
		minRole: api.RolePlatformAdmin, deniedStatus: http.StatusNotFound,
	},
	{
		pattern: "PATCH /v1/tenants/{tenant}", name: "change display_name",
		body:    func(*world, *worldTenant) any { return map[string]any{"display_name": "Renamed"} },
		minRole: api.RoleTenantAdmin, deniedStatus: http.StatusForbidden,
	},
	{
		pattern: "PATCH /v1/tenants/{tenant}", name: "change isolation",
		body:    func(*world, *worldTenant) any { return map[string]any{"isolation": api.IsolationDedicated} },
		minRole: api.RolePlatformAdmin, deniedStatus: http.StatusForbidden,
	},
	{
		pattern: "PATCH /v1/tenants/{tenant}", name: "set the domain",
		body:    func(*world, *worldTenant) any { return map[string]any{"domain": "taken-or-not.example.com"} },
		minRole: api.RolePlatformAdmin, deniedStatus: http.StatusForbidden,
	},
	{
		// The world's flag has entries in staging and production.
		pattern: "DELETE /v1/tenants/{tenant}/feature-flags/{key}", name: "delete a flag that has a production entry",
		minRole: api.RoleTenantAdmin, deniedStatus: http.StatusForbidden,
	},
	{
		pattern: "PUT /v1/tenants/{tenant}/quota", name: "set the tenant-wide quota",
		body:    func(*world, *worldTenant) any { return map[string]any{"cpu_millicores": 32000, "max_users": 200} },
		minRole: api.RolePlatformAdmin, deniedStatus: http.StatusForbidden,
	},
	{
		pattern: "POST /v1/tenants/{tenant}/promotions", name: "promote into production",
		body: func(*world, *worldTenant) any {
			return map[string]any{"source_environment": "staging", "target_environment": "production"}
		},
		minRole: api.RoleTenantAdmin, deniedStatus: http.StatusForbidden,
	},
	{
		pattern: "POST /v1/tenants/{tenant}/promotions", name: "promote into a non-production environment",
		body: func(*world, *worldTenant) any {
			return map[string]any{"source_environment": "production", "target_environment": "staging",
				"include": []string{api.ScopeSettings, api.ScopeFeatureFlags}}
		},
		minRole: api.RoleTenantUser, deniedStatus: http.StatusForbidden,
	},
	{
		pattern: "POST /v1/tenants/{tenant}/promotions", name: "promote quotas into a non-production environment",
		body: func(*world, *worldTenant) any {
			return map[string]any{"source_environment": "production", "target_environment": "staging",
				"include": []string{api.ScopeQuotas}}
		},
		minRole: api.RoleTenantAdmin, deniedStatus: http.StatusForbidden,
	},
	{
		pattern: "POST /v1/tenants/{tenant}/promotions/{id}/rollback", name: "roll back a promotion into production",
		minRole: api.RoleTenantAdmin, deniedStatus: http.StatusForbidden,
	},
	{
		pattern: "POST /v1/tenants/{tenant}/promotions/{id}/rollback", name: "roll back a promotion into staging",
		path: func(_ *world, wt *worldTenant) string {
			return "/v1/tenants/" + wt.slug + "/promotions/" + wt.keys["promotions:into-staging"] + "/rollback"
		},
		minRole: api.RoleTenantUser, deniedStatus: http.StatusForbidden,
	},
	{
		pattern: "DELETE /v1/tenants/{tenant}/promotion-links/{target}", name: "unlink production",
		minRole: api.RoleTenantAdmin, deniedStatus: http.StatusForbidden,
	},
	{
		pattern: "DELETE /v1/tenants/{tenant}/promotion-links/{target}", name: "unlink staging",
		path: func(_ *world, wt *worldTenant) string {
			return "/v1/tenants/" + wt.slug + "/promotion-links/" + wt.keys["promotion-links:staging"]
		},
		minRole: api.RoleTenantUser, deniedStatus: http.StatusForbidden,
	},
	{
		// The world's backups key is an on-demand backup of the tenant's
		// staging, which holds data: an admitted restore is refused 409.
		pattern: "POST /v1/backups/{id}/restore", name: "restore one's tenant's backup into it",
		minRole: api.RoleTenantAdmin, deniedStatus: http.StatusForbidden,
	},
	{
		pattern: "POST /v1/backups/{id}/restore", name: "bring a deleted tenant back",
		path: func(w *world, _ *worldTenant) string { return "/v1/backups/" + w.backupID + "/restore" },
		// A deleted tenant's backup does not exist for a tenant's token.
		minRole: api.RolePlatformAdmin, deniedStatus: http.StatusNotFound,
	},
	{
		pattern: "POST /v1/backups/{id}/restore", name: "restore into another tenant",
		body: func(w *world, wt *worldTenant) any {
			return api.RestoreRequest{TargetTenant: otherTenant(w, wt).slug, TargetEnvironment: "production", Replace: true}
		},
		minRole: api.RolePlatformAdmin, deniedStatus: http.StatusNotFound,
	},
	{
		pattern: "POST /v1/tenants/{tenant}/role-bindings", name: "grant tenant_admin",
		body: func(w *world, wt *worldTenant) any {
			return map[string]any{"user_id": w.key(wt, "users"), "role": api.RoleTenantAdmin}
		},
		minRole: api.RoleTenantAdmin, deniedStatus: http.StatusForbidden,
	},
}

// otherTenant is a tenant of the world other than wt.
func otherTenant(w *world, wt *worldTenant) *worldTenant {
	for _, o := range w.tenants {
		if o != wt {
			return o
		}
	}
	panic("the world has one tenant; build it with two for this rule")
}

// leastRole is the least role an access level admits; "" admits anyone,
// even without a token.
func leastRole(acc access) string {
	switch acc {
	case public:
		return ""
	case authenticated:
		return api.RoleTenantViewer
	}
	return accessRole[acc]
}

// rank orders the matrix's callers: none below every role.
func rank(role string) int {
	if role == roleNone || role == "" {
		return 0
	}
	return api.RoleRank(role)
}

// matrixCase is one request of the matrix and the decision it must get.
type matrixCase struct {
	route        string
	variant      string
	role         string
	method, path string
	body         any
	minRole      string
	deniedStatus int
}

// check sends the case and reports a decision other than the expected one.
func (c matrixCase) check(t *testing.T, w *world, wt *worldTenant) {
	t.Helper()
	token := ""
	switch c.role {
	case roleNone:
	case api.RolePlatformAdmin:
		token = w.ts.admin
	default:
		token = wt.tokens[c.role]
	}
	r := w.ts.call(t, token, c.method, c.path, c.body)
	what := fmt.Sprintf("%s [%s] as %s: %s %s", c.route, c.variant, c.role, c.method, c.path)
	if r.status >= 500 {
		t.Errorf("%s: %d %s", what, r.status, r.body)
		return
	}
	if allowed := c.minRole == "" || c.role != roleNone && rank(c.role) >= rank(c.minRole); allowed {
		denied := r.status == http.StatusUnauthorized || r.status == http.StatusForbidden
		// A 404 about the tenant itself is authorize hiding it: a denial too.
		hidden := r.status == http.StatusNotFound && strings.Contains(string(r.body), fmt.Sprintf("tenant %q not found", wt.slug))
		if denied || hidden {
			t.Errorf("%s: allowed (least role %s), but got %d %s", what, c.minRole, r.status, r.body)
		}
		return
	}
	want := c.deniedStatus
	if c.role == roleNone {
		want = http.StatusUnauthorized
	}
	if r.status != want {
		t.Errorf("%s: must be refused with %d (least role %s), got %d %s", what, want, c.minRole, r.status, r.body)
		return
	}
	var e api.ErrorBody
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Errorf("%s: the refusal is not a JSON error: %s", what, r.body)
	}
}

// TestRBACMatrix sends every route of the route table, as every role of
// the tenant it names (and without a token), and checks that the request
// is admitted or refused as the route's access level, or a handler's own
// rule for some bodies, says. Each route gets a world of its own, since
// the admitted requests really write (and delete).
func TestRBACMatrix(t *testing.T) {
	t.Parallel()
	probe := newTestServer(t)
	fig := reliability.Record(t, "authorization",
		"every route as every role of its tenant and without a token, each admitted or refused as the route's rule says")
	var cases, wrongRoutes atomic.Int64
	for _, rt := range probe.srv.routeTable() {
		t.Run(strings.ReplaceAll(rt.pattern, "/", "_"), func(t *testing.T) {
			t.Parallel()
			t.Cleanup(func() {
				if t.Failed() {
					wrongRoutes.Add(1)
				}
			})
			ts := newTestServer(t)
			w := buildWorld(t, ts, "acme")
			wt := w.tenants["acme"]
			method, path, _ := strings.Cut(rt.pattern, " ")

			// The route's own rule first, with no body: the decision must not
			// depend on one. Roles run from the least privileged up, so an
			// admitted DELETE cannot hide a wrong refusal.
			plain := !slices.ContainsFunc(handlerRules, func(hr handlerRule) bool {
				return hr.pattern == rt.pattern && hr.path == nil && hr.body == nil
			})
			for _, role := range matrixRoles {
				if !plain {
					break
				}
				c := matrixCase{route: rt.pattern, variant: "access " + accessRoles[rt.access], role: role,
					method: method, path: w.fill(path, wt, nil), minRole: leastRole(rt.access), deniedStatus: http.StatusForbidden}
				c.check(t, w, wt)
				cases.Add(1)
			}
			// Then the handlers' rules for this route, each on a fresh world.
			for _, hr := range handlerRules {
				if hr.pattern != rt.pattern {
					continue
				}
				ts := newTestServer(t)
				w := buildWorld(t, ts, "acme", "zeta")
				wt := w.tenants["acme"]
				reqPath := w.fill(path, wt, nil)
				if hr.path != nil {
					reqPath = hr.path(w, wt)
				}
				for _, role := range matrixRoles {
					c := matrixCase{route: rt.pattern, variant: hr.name, role: role, method: method, path: reqPath,
						minRole: hr.minRole, deniedStatus: hr.deniedStatus}
					if hr.body != nil {
						c.body = hr.body(w, wt)
					}
					// A handler rule never admits less than the route's rule.
					if rank(leastRole(rt.access)) > rank(c.minRole) {
						c.minRole, c.deniedStatus = leastRole(rt.access), http.StatusForbidden
					}
					c.check(t, w, wt)
					cases.Add(1)
				}
			}
		})
	}
	t.Cleanup(func() {
		t.Logf("RBAC matrix: %d route x role x verb cases over %d routes (%d handler rules)",
			cases.Load(), len(probe.srv.routeTable()), len(handlerRules))
		fig.Set("route x role cases", cases.Load())
		fig.Set("routes", int64(len(probe.srv.routeTable())))
		fig.Set("routes with a wrong decision", wrongRoutes.Load(), "= 0")
	})
}

// TestHandlerRulesNameRealRoutes keeps the handler rules honest: a rule
// about a route the table does not have (renamed, say) would test nothing.
func TestHandlerRulesNameRealRoutes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	w := &world{ts: ts}
	for _, hr := range handlerRules {
		if w.has(hr.pattern) {
			continue
		}
		// An area that has no routes yet is not built yet; its rules wait.
		_, path, _ := strings.Cut(hr.pattern, " ")
		area := strings.Join(strings.Split(path, "/")[:min(5, len(strings.Split(path, "/")))], "/")
		if slices.ContainsFunc(ts.srv.routeTable(), func(rt route) bool { return strings.Contains(rt.pattern, " "+area) }) {
			t.Errorf("handler rule %q is about %s, which is not in the route table", hr.name, hr.pattern)
		} else {
			t.Logf("handler rule %q waits for %s", hr.name, area)
		}
	}
}

// publicRoutes are the only routes anyone may call without a token.
var publicRoutes = []string{"GET /healthz", "GET /readyz", "GET /openapi.json", "GET /", "GET /{$}",
	"GET /dashboard/app.js", "GET /dashboard/app.css"}

func TestOnlyHealthAndDescriptionArePublic(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	for _, rt := range ts.srv.routeTable() {
		if rt.access == public && !slices.Contains(publicRoutes, rt.pattern) {
			t.Errorf("%s is public; only %v may be", rt.pattern, publicRoutes)
		}
		if _, ok := accessRoles[rt.access]; !ok {
			t.Errorf("%s has an unknown access level %d", rt.pattern, rt.access)
		}
	}
}

// conventions are the access levels the product's conventions give each
// kind of route; a route the table declares otherwise is a mistake here or
// there. Routes no convention names are not checked.
var conventions = []struct {
	method string
	path   *regexp.Regexp
	want   []access
}{
	{"GET", regexp.MustCompile(`^/v1/tenants/\{tenant\}(/.*)?$`), []access{tenantViewer}},
	{"POST", regexp.MustCompile(`^/v1/tenants$`), []access{platformAdmin}},
	{"DELETE", regexp.MustCompile(`^/v1/tenants/\{tenant\}$`), []access{platformAdmin}},
	{"PATCH", regexp.MustCompile(`^/v1/tenants/\{tenant\}$`), []access{tenantAdmin}},
	{"POST|DELETE", regexp.MustCompile(`^/v1/tenants/\{tenant\}/environments(/\{[^}]+\})?$`), []access{tenantAdmin}},
	{"PATCH", regexp.MustCompile(`^/v1/tenants/\{tenant\}/environments/\{[^}]+\}$`), []access{tenantUser}},
	{"POST|PATCH|DELETE", regexp.MustCompile(`^/v1/tenants/\{tenant\}/(users|role-bindings|integrations)(/\{[^}]+\})?$`), []access{tenantAdmin}},
	{"POST|PATCH|DELETE", regexp.MustCompile(`^/v1/tenants/\{tenant\}/feature-flags(/\{[^}]+\})?$`), []access{tenantUser}},
	{"PUT|DELETE", regexp.MustCompile(`^/v1/tenants/\{tenant\}/quota$`), []access{platformAdmin}},
	{"PUT|DELETE", regexp.MustCompile(`^/v1/tenants/\{tenant\}/environments/\{[^}]+\}/quota$`), []access{tenantAdmin}},
	{"PUT", regexp.MustCompile(`^/v1/tenants/\{tenant\}/environments/\{[^}]+\}/schema$`), []access{tenantAdmin}},
	{"POST|DELETE", regexp.MustCompile(`^/v1/tenants/\{tenant\}/environments/\{[^}]+\}/credentials(/\{[^}]+\})?$`), []access{tenantAdmin}},
	{"POST", regexp.MustCompile(`^/v1/tenants/\{tenant\}/promotions$`), []access{tenantUser}},
	{"POST", regexp.MustCompile(`^/v1/tenants/\{tenant\}/promotions/\{[^}]+\}/rollback$`), []access{tenantUser, tenantAdmin}},
	// Restore decides itself: a tenant admin restores its own tenant's
	// backups, a platform admin any backup into any tenant.
	{"POST", regexp.MustCompile(`^/v1/backups/\{id\}/restore$`), []access{authenticated}},
	{"GET|POST|PUT|PATCH|DELETE", regexp.MustCompile(`^/v1/backups(/.*)?$`), []access{platformAdmin}},
	{"GET", regexp.MustCompile(`^/v1/tenants/\{tenant\}/backups(/\{[^}]+\})?$`), []access{tenantViewer}},
	{"POST|DELETE", regexp.MustCompile(`^/v1/tenants/\{tenant\}/backups(/\{[^}]+\})?$`), []access{tenantAdmin}},
}

func TestRouteAccessFollowsConventions(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	unchecked := 0
	for _, rt := range ts.srv.routeTable() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		matched := false
		for _, c := range conventions {
			if !slices.Contains(strings.Split(c.method, "|"), method) || !c.path.MatchString(path) {
				continue
			}
			matched = true
			if !slices.Contains(c.want, rt.access) {
				names := make([]string, len(c.want))
				for i, a := range c.want {
					names[i] = accessRoles[a]
				}
				t.Errorf("%s is declared %q; the product's conventions say %v", rt.pattern, accessRoles[rt.access], names)
			}
			break
		}
		if !matched {
			unchecked++
		}
	}
	t.Logf("%d routes follow no convention of this test (platform routes such as tokens and health)", unchecked)
}
