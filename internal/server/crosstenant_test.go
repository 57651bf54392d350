package server

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/reliability"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

// snapshotKinds are the kinds of object whose count a snapshot takes
// across every tenant, including tenants that do not exist, so that a write
// under a made-up tenant shows too.
var snapshotKinds = []string{
	api.KindTenant, api.KindEnvironment, api.KindUser, api.KindRoleBinding, api.KindQuota,
	api.KindFeatureFlag, api.KindIntegration, api.KindPromotion, api.KindPromotionLink,
}

// storeSnapshot describes everything a write could change: every tenant's
// objects with their revisions and data, the count of each kind anywhere,
// and the counts of tokens, audit events and backups. Usage counters are
// left out: counting requests is not a write of the caller's.
func storeSnapshot(t testing.TB, st store.Store) string {
	t.Helper()
	var b strings.Builder
	err := st.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
		tenants, err := tx.List(ctx, store.ListQuery{Kind: api.KindTenant})
		if err != nil {
			return err
		}
		for _, tn := range tenants {
			objs, err := tx.Export(ctx, tn.Tenant)
			if err != nil {
				return err
			}
			for _, o := range objs {
				if o.Kind == "usage" {
					continue
				}
				fmt.Fprintf(&b, "%s/%s/%s@%d %s\n", o.Tenant, o.Kind, o.Key, o.Revision, o.Data)
			}
		}
		for _, kind := range snapshotKinds {
			n, err := tx.Count(ctx, "", kind)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "count %s: %d\n", kind, n)
		}
		n, err := tx.CountTokens(ctx)
		if err != nil {
			return err
		}
		events, err := tx.ListAudit(ctx, store.AuditQuery{All: true})
		if err != nil {
			return err
		}
		backups, err := tx.ListBackups(ctx, "")
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "tokens %d, audit events %d, backups %d\n", n, len(events), len(backups))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// snapshotDiff lists the lines of two snapshots that only one has.
func snapshotDiff(before, after string) string {
	var b strings.Builder
	a, z := strings.Split(before, "\n"), strings.Split(after, "\n")
	for _, l := range a {
		if !slices.Contains(z, l) {
			fmt.Fprintf(&b, "- %.400s\n", l)
		}
	}
	for _, l := range z {
		if !slices.Contains(a, l) {
			fmt.Fprintf(&b, "+ %.400s\n", l)
		}
	}
	return b.String()
}

// ghostOf is a tenant that does not exist, with keys shaped like wt's
// (usr_000..., prm_000...) that exist nowhere.
func ghostOf(wt *worldTenant) *worldTenant {
	g := &worldTenant{slug: "ghost", keys: map[string]string{}}
	for k, v := range wt.keys {
		g.keys[k] = ghostKey(v)
	}
	return g
}

var generatedID = regexp.MustCompile(`^([a-z]+_)([0-9a-f]+)$`)

// ghostKey turns a generated id into one of the same shape that nothing
// has (zeros but for its last six digits, so that two ids keep two ghosts);
// a name stays as it is, since names repeat across tenants anyway.
func ghostKey(v string) string {
	if m := generatedID.FindStringSubmatch(v); m != nil && len(m[2]) > 6 {
		return m[1] + strings.Repeat("0", len(m[2])-6) + m[2][len(m[2])-6:]
	}
	return v
}

// comparable is an answer with what legitimately differs between two
// requests removed: the request id, and the names of the things asked
// for, replaced by those of the other request.
func comparable(r response, replace []string) string {
	body := regexp.MustCompile(`"request_id":"[^"]*"`).ReplaceAllString(string(r.body), `"request_id":""`)
	body = strings.NewReplacer(replace...).Replace(body)
	var hdr []string
	for k, v := range r.header {
		switch k {
		case "Date", "Content-Length", api.HeaderRequestID:
			continue
		}
		hdr = append(hdr, k+": "+strings.Join(v, ", "))
	}
	sort.Strings(hdr)
	return fmt.Sprintf("%d\n%s\n%s", r.status, strings.Join(hdr, "\n"), body)
}

var probeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// TestCrossTenantLooksLikeAMissingTenant sends, with every token of tenant
// alpha, every method to every path of the route table about tenant bravo
// (and to every path of alpha naming one of bravo's objects by id). Each
// answer must be exactly the answer for a tenant (or object) that does not
// exist, headers and body, but for the request id; bravo must not change.
func TestCrossTenantLooksLikeAMissingTenant(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	w := buildWorld(t, ts, "alpha", "bravo")
	alpha, bravo := w.tenants["alpha"], w.tenants["bravo"]
	ghost := ghostOf(bravo)
	// The ghost's answer, with its names put back to bravo's, must be bravo's.
	replace := []string{}
	for k, v := range bravo.keys {
		if g := ghost.keys[k]; g != v {
			replace = append(replace, g, v)
		}
	}
	replace = append(replace, `\"ghost\"`, `\"bravo\"`, `"ghost"`, `"bravo"`, "/ghost", "/bravo")
	before := storeSnapshot(t, ts.store)
	attempts := 0
	fig := reliability.Record(t, "cross-tenant",
		"every method on every route about another tenant, with every role's token, plus ids, bodies and lists; each answer compared with a missing tenant's")
	// leaks counts the answers that told alpha something about bravo.
	leaks, serverErrors := 0, 0
	defer func() {
		fig.Set("cross-tenant attempts", int64(attempts))
		fig.Set("cross-tenant successes (answers unlike a missing tenant's)", int64(leaks), "= 0")
		fig.Set("5xx answers", int64(serverErrors), "= 0")
	}()

	var paths []string
	for _, rt := range ts.srv.routeTable() {
		_, path, _ := strings.Cut(rt.pattern, " ")
		if !slices.Contains(paths, path) {
			paths = append(paths, path)
		}
	}
	for _, path := range paths {
		for _, method := range probeMethods {
			for _, role := range tenantRolesAscending {
				token := alpha.tokens[role]
				// Bravo's path, against the ghost's.
				got := ts.call(t, token, method, w.fill(path, bravo, nil), w.bodyFor(method, path, bravo))
				want := ts.call(t, token, method, w.fill(path, ghost, nil), w.bodyFor(method, path, ghost))
				attempts++
				if got.status >= 500 {
					serverErrors++
				}
				what := fmt.Sprintf("%s %s as %s of alpha", method, w.fill(path, bravo, nil), role)
				// A platform_admin route refuses every tenant token with 403,
				// whichever tenant it names: that tells nothing either.
				platformOnly := slices.ContainsFunc(ts.srv.routeTable(), func(rt route) bool {
					return rt.pattern == method+" "+path && rt.access == platformAdmin
				})
				if strings.Contains(path, "{tenant}") && got.status != http.StatusNotFound && (!platformOnly || got.status != http.StatusForbidden) {
					t.Errorf("%s: %d, want 404: %s", what, got.status, got.body)
					leaks++
					continue
				}
				if g, m := comparable(got, nil), comparable(want, replace); g != m {
					t.Errorf("%s: answers unlike a missing tenant's\n got: %s\nwant: %s", what, g, m)
					leaks++
				}

				// Alpha's path naming bravo's objects by their generated ids.
				if !strings.Contains(path, "{tenant}") || strings.Count(path, "{") < 2 {
					continue
				}
				override, ghostOverride := map[string]string{"tenant": alpha.slug}, map[string]string{"tenant": alpha.slug}
				named := false
				segs := strings.Split(path, "/")
				for i, seg := range segs {
					if name, ok := strings.CutPrefix(seg, "{"); ok && name != "tenant}" {
						name = strings.TrimSuffix(name, "}")
						v := w.key(bravo, segs[i-1])
						if generatedID.MatchString(v) && v != w.key(alpha, segs[i-1]) {
							override[name], ghostOverride[name], named = v, ghostKey(v), true
						}
					}
				}
				if !named {
					continue
				}
				got = ts.call(t, token, method, w.fill(path, alpha, override), w.bodyFor(method, path, alpha))
				want = ts.call(t, token, method, w.fill(path, alpha, ghostOverride), w.bodyFor(method, path, alpha))
				attempts++
				if g, m := comparable(got, nil), comparable(want, replace); g != m {
					t.Errorf("%s %s as %s of alpha: bravo's object answers unlike a missing one\n got: %s\nwant: %s",
						method, w.fill(path, alpha, override), role, g, m)
					leaks++
				}
			}
		}
	}

	// Bodies of alpha's writes naming bravo's objects: a role binding for
	// bravo's user, a token of bravo.
	if bravo.keys["users"] != "" {
		for _, body := range []func(user string) any{
			func(user string) any { return map[string]any{"user_id": user, "role": api.RoleTenantViewer} },
		} {
			got := ts.call(t, alpha.tokens[api.RoleTenantAdmin], "POST", "/v1/tenants/alpha/role-bindings", body(bravo.keys["users"]))
			want := ts.call(t, alpha.tokens[api.RoleTenantAdmin], "POST", "/v1/tenants/alpha/role-bindings", body(ghost.keys["users"]))
			attempts++
			if got.status < 400 || comparable(got, nil) != comparable(want, replace) {
				leaks++
				t.Errorf("a role binding in alpha for bravo's user answers unlike one for a missing user\n got: %s\nwant: %s",
					comparable(got, nil), comparable(want, replace))
			}
		}
	}
	for _, role := range tenantRolesAscending {
		got := ts.call(t, alpha.tokens[role], "POST", "/v1/tokens", api.TokenRequest{Name: "x", Tenant: "bravo", Role: api.RoleTenantViewer})
		want := ts.call(t, alpha.tokens[role], "POST", "/v1/tokens", api.TokenRequest{Name: "x", Tenant: "ghost", Role: api.RoleTenantViewer})
		attempts++
		if got.status != http.StatusNotFound || comparable(got, nil) != comparable(want, replace) {
			leaks++
			t.Errorf("minting a token of bravo as %s of alpha answers unlike a missing tenant\n got: %s\nwant: %s",
				role, comparable(got, nil), comparable(want, replace))
		}
	}

	// Lists show alpha only, whatever the filter or page size.
	for _, role := range tenantRolesAscending {
		for _, query := range []string{"", "?label=tier=gold", "?region=eu-west", "?status=active", "?page_size=1"} {
			var list api.List[api.Tenant]
			ts.mustCall(t, http.StatusOK, alpha.tokens[role], "GET", "/v1/tenants"+query, nil).json(t, &list)
			attempts++
			slugs := make([]string, len(list.Items))
			for i, tn := range list.Items {
				slugs[i] = tn.Slug
			}
			if !slices.Equal(slugs, []string{"alpha"}) || list.NextPageToken != "" {
				leaks++
				// A next page that turns out empty still says that tenants
				// the token cannot see exist after alpha.
				t.Errorf("GET /v1/tenants%s as %s of alpha: items %v, next_page_token %q; want alpha alone and no next page",
					query, role, slugs, list.NextPageToken)
			}
		}
	}

	// Alpha's admin lists alpha's tokens and no other; bravo's answer as a
	// missing tenant's.
	for _, query := range []string{"", "?page_size=1", "?tenant=alpha"} {
		var list api.List[api.Token]
		ts.mustCall(t, http.StatusOK, alpha.tokens[api.RoleTenantAdmin], "GET", "/v1/tokens"+query, nil).json(t, &list)
		attempts++
		for _, tok := range list.Items {
			if tok.Tenant != "alpha" {
				t.Errorf("GET /v1/tokens%s as alpha's admin lists %+v", query, tok)
			}
		}
	}
	got := ts.call(t, alpha.tokens[api.RoleTenantAdmin], "GET", "/v1/tokens?tenant=bravo", nil)
	want := ts.call(t, alpha.tokens[api.RoleTenantAdmin], "GET", "/v1/tokens?tenant=ghost", nil)
	attempts++
	if got.status != http.StatusNotFound || comparable(got, nil) != comparable(want, replace) {
		t.Errorf("bravo's tokens answer unlike a missing tenant's\n got: %s\nwant: %s", comparable(got, nil), comparable(want, replace))
	}

	if after := storeSnapshot(t, ts.store); after != before {
		leaks++
		t.Errorf("the store changed:\n%s", snapshotDiff(before, after))
	}
	for _, role := range tenantRolesAscending {
		ts.mustCall(t, http.StatusOK, bravo.tokens[role], "GET", "/v1/tenants/bravo", nil)
	}
	t.Logf("cross-tenant: %d attempts with alpha's tokens at bravo's data (%d paths x %d methods x %d roles, plus ids, bodies and lists), each compared with a missing tenant's answer",
		attempts, len(paths), len(probeMethods), len(tenantRolesAscending))
}
