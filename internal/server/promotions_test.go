package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/promotion"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

// The promotion tests write environments, flags and quotas straight into
// the store, so they test promotion alone, whatever those areas' own
// handlers check.

func (ts *testServer) putEnv(t *testing.T, tenant, name, typ string, settings map[string]string) {
	t.Helper()
	ts.write(t, func(ctx context.Context, tx store.Tx) error {
		e := api.Environment{EnvironmentSpec: api.EnvironmentSpec{Name: name, Type: typ, Settings: settings},
			TenantID: tenant, ID: tenant + "/" + name, Status: api.StatusActive}
		o, err := tx.Get(ctx, tenant, api.KindEnvironment, name)
		if err == nil {
			cur, err := fromObject[api.Environment](o)
			if err != nil {
				return err
			}
			e.Meta = cur.Meta
			_, err = putObject[api.Environment](ctx, tx, tenant, api.KindEnvironment, name, e)
			return err
		}
		_, err = createObject[api.Environment](ctx, tx, tenant, api.KindEnvironment, name, e)
		return err
	})
}

func (ts *testServer) putFlag(t *testing.T, tenant, key string, envs map[string]api.FlagEnvironment) {
	t.Helper()
	ts.write(t, func(ctx context.Context, tx store.Tx) error {
		f := api.FeatureFlag{FeatureFlagSpec: api.FeatureFlagSpec{Key: key, Environments: envs}, TenantID: tenant, ID: tenant + "/" + key}
		o, err := tx.Get(ctx, tenant, api.KindFeatureFlag, key)
		if err == nil {
			f.Revision = o.Revision
			_, err = putObject[api.FeatureFlag](ctx, tx, tenant, api.KindFeatureFlag, key, f)
			return err
		}
		_, err = createObject[api.FeatureFlag](ctx, tx, tenant, api.KindFeatureFlag, key, f)
		return err
	})
}

// putQuota sets a quota: env "" is the tenant-wide one.
func (ts *testServer) putQuota(t *testing.T, tenant, env string, spec api.QuotaSpec) {
	t.Helper()
	ts.write(t, func(ctx context.Context, tx store.Tx) error {
		q := api.Quota{QuotaSpec: spec, TenantID: tenant, ID: tenant}
		key := api.TenantQuotaKey
		if env != "" {
			q.Environment, q.ID, key = &env, tenant+"/"+env, env
		}
		_, err := createObject[api.Quota](ctx, tx, tenant, api.KindQuota, key, q)
		return err
	})
}

func (ts *testServer) write(t *testing.T, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	if err := ts.store.Update(t.Context(), fn); err != nil {
		t.Fatal(err)
	}
}

func (ts *testServer) env(t *testing.T, tenant, name string) api.Environment {
	t.Helper()
	var e api.Environment
	ts.write(t, func(ctx context.Context, tx store.Tx) error {
		var err error
		e, err = getObject[api.Environment](ctx, tx, tenant, api.KindEnvironment, name, name)
		return err
	})
	return e
}

func (ts *testServer) flag(t *testing.T, tenant, key string) api.FeatureFlag {
	t.Helper()
	var f api.FeatureFlag
	ts.write(t, func(ctx context.Context, tx store.Tx) error {
		var err error
		f, err = getObject[api.FeatureFlag](ctx, tx, tenant, api.KindFeatureFlag, key, key)
		return err
	})
	return f
}

// quota reads an environment's quota; nil when it has none.
func (ts *testServer) quota(t *testing.T, tenant, env string) *api.QuotaSpec {
	t.Helper()
	var q *api.QuotaSpec
	ts.write(t, func(ctx context.Context, tx store.Tx) error {
		o, err := tx.Get(ctx, tenant, api.KindQuota, env)
		if err != nil {
			return ignoreNotFound(err)
		}
		v, err := fromObject[api.Quota](o)
		q = &v.QuotaSpec
		return err
	})
	return q
}

func ignoreNotFound(err error) error {
	if toAPIError(err) != nil && toAPIError(err).status == http.StatusNotFound {
		return nil
	}
	return err
}

func i64(v int64) *int64 { return &v }

// acmeScene is a tenant whose staging moved on from production in every scope.
func acmeScene(t *testing.T, ts *testServer) string {
	t.Helper()
	slug := "acme"
	ts.createTenant(t, slug)
	ts.putEnv(t, slug, "staging", api.EnvStaging, map[string]string{"log_level": "info", "new_key": "x"})
	ts.putEnv(t, slug, "production", api.EnvProduction, map[string]string{"log_level": "debug", "old_key": "y"})
	ts.putEnv(t, slug, "qa", api.EnvDevelopment, nil)
	ts.putFlag(t, slug, "new-billing", map[string]api.FlagEnvironment{
		"staging": {Enabled: true, RolloutPercentage: 50}, "production": {Enabled: false, RolloutPercentage: 10},
	})
	ts.putFlag(t, slug, "beta", map[string]api.FlagEnvironment{"staging": {Enabled: true, RolloutPercentage: 100}})
	ts.putFlag(t, slug, "legacy", map[string]api.FlagEnvironment{"production": {Enabled: true, RolloutPercentage: 100}})
	ts.putQuota(t, slug, "staging", api.QuotaSpec{CPUMillicores: i64(4000)})
	ts.putQuota(t, slug, "production", api.QuotaSpec{CPUMillicores: i64(2000), MemoryMB: i64(512)})
	return slug
}

var acmeChanges = []string{
	"feature_flags.beta.enabled: (absent) -> true",
	"feature_flags.beta.rollout_percentage: (absent) -> 100",
	"feature_flags.legacy.enabled: true -> (absent)",
	"feature_flags.legacy.rollout_percentage: 100 -> (absent)",
	"feature_flags.new-billing.enabled: false -> true",
	"feature_flags.new-billing.rollout_percentage: 10 -> 50",
	"quotas.cpu_millicores: 2000 -> 4000",
	"quotas.memory_mb: 512 -> (absent)",
	`settings.log_level: "debug" -> "info"`,
	`settings.new_key: (absent) -> "x"`,
	`settings.old_key: "y" -> (absent)`,
}

func promote(source, target string, dryRun bool, include ...string) api.PromotionRequest {
	return api.PromotionRequest{SourceEnvironment: source, TargetEnvironment: target, DryRun: dryRun, Include: include}
}

func wantLines(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("changes:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func (ts *testServer) auditActions(t *testing.T, tenant string) []string {
	t.Helper()
	var list api.List[api.AuditEvent]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/"+tenant+"/audit-events?page_size=500", nil).json(t, &list)
	var out []string
	for _, e := range list.Items {
		if !strings.HasPrefix(e.Action, "tenant.") && !strings.HasPrefix(e.Action, "token.") {
			out = append(out, e.Action+" "+e.ObjectKey)
		}
	}
	return out
}

func TestPromotionDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	slug := acmeScene(t, ts)
	before := ts.env(t, slug, "production")

	var p api.Promotion
	ts.mustCall(t, http.StatusOK, ts.admin, "POST", "/v1/tenants/acme/promotions", promote("staging", "production", true)).json(t, &p)
	wantLines(t, p.Changes, acmeChanges)
	if !p.DryRun || p.ID != "" || p.PromotedAt != nil || !slices.Equal(p.Include, api.PromotionScopes) {
		t.Errorf("dry run answered %+v; want a preview without id or time, with every scope", p)
	}
	// ?dry_run=true previews too, rather than promoting by surprise.
	ts.mustCall(t, http.StatusOK, ts.admin, "POST", "/v1/tenants/acme/promotions?dry_run=true", promote("staging", "production", false)).json(t, &p)
	wantLines(t, p.Changes, acmeChanges)

	if after := ts.env(t, slug, "production"); after.Revision != before.Revision {
		t.Errorf("the dry run wrote production: revision %d -> %d", before.Revision, after.Revision)
	}
	if got := ts.auditActions(t, slug); len(got) != 0 {
		t.Errorf("the dry run wrote audit events %q", got)
	}
	var list api.List[api.Promotion]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/promotions", nil).json(t, &list)
	if len(list.Items) != 0 {
		t.Errorf("history holds %d promotions after dry runs; want none", len(list.Items))
	}
}

func TestPromotionScopes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	acmeScene(t, ts)
	for _, tc := range []struct {
		include []string
		want    []string
	}{
		{[]string{"settings"}, acmeChanges[8:]},
		{[]string{"feature_flags"}, acmeChanges[:6]},
		{[]string{"quotas"}, acmeChanges[6:8]},
		{[]string{"quotas", "settings"}, acmeChanges[6:]},
	} {
		var p api.Promotion
		ts.mustCall(t, http.StatusOK, ts.admin, "POST", "/v1/tenants/acme/promotions", promote("staging", "production", true, tc.include...)).json(t, &p)
		wantLines(t, p.Changes, tc.want)
	}
}

func TestPromotionApplies(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	slug := acmeScene(t, ts)
	admin := ts.token(t, slug, api.RoleTenantAdmin)

	r := ts.mustCall(t, http.StatusCreated, admin, "POST", "/v1/tenants/acme/promotions", promote("staging", "production", false))
	var p api.Promotion
	r.json(t, &p)
	wantLines(t, p.Changes, acmeChanges)
	if !strings.HasPrefix(p.ID, "prm_") || p.PromotedBy != "tenant_admin@acme" || p.PromotedAt == nil || p.DryRun || p.Revision != 1 {
		t.Errorf("promotion %+v; want an id, promoted_by the token's name, promoted_at and revision 1", p)
	}
	if r.header.Get("ETag") != `"1"` {
		t.Errorf("ETag %q; want \"1\"", r.header.Get("ETag"))
	}

	prod := ts.env(t, slug, "production")
	if want := map[string]string{"log_level": "info", "new_key": "x"}; !equalMaps(prod.Settings, want) {
		t.Errorf("production settings %v; want %v", prod.Settings, want)
	}
	if e := ts.flag(t, slug, "new-billing").Environments; e["production"] != (api.FlagEnvironment{Enabled: true, RolloutPercentage: 50}) || e["staging"] != e["production"] {
		t.Errorf("new-billing environments %v; want production = staging", e)
	}
	if e := ts.flag(t, slug, "beta").Environments; e["production"] != (api.FlagEnvironment{Enabled: true, RolloutPercentage: 100}) {
		t.Errorf("beta environments %v; want a production entry", e)
	}
	if e := ts.flag(t, slug, "legacy").Environments; len(e) != 0 {
		t.Errorf("legacy environments %v; want its production entry removed, as staging has none", e)
	}
	if q := ts.quota(t, slug, "production"); q == nil || q.CPUMillicores == nil || *q.CPUMillicores != 4000 || q.MemoryMB != nil {
		t.Errorf("production quota %+v; want cpu_millicores 4000 and no memory limit", q)
	}

	// One audit event per changed object, plus one for the promotion.
	got := ts.auditActions(t, slug)
	slices.Sort(got)
	want := []string{
		"environment.update production", "feature_flag.update beta", "feature_flag.update legacy",
		"feature_flag.update new-billing", "promotion.create " + p.ID, "quota.update production",
	}
	if !slices.Equal(got, want) {
		t.Errorf("audit events %q; want %q", got, want)
	}

	// Now they agree: a preview is empty, and promoting again is recorded
	// with an empty list of changes and writes nothing else.
	var again api.Promotion
	ts.mustCall(t, http.StatusOK, admin, "POST", "/v1/tenants/acme/promotions", promote("staging", "production", true)).json(t, &again)
	if again.Changes == nil || len(again.Changes) != 0 {
		t.Errorf("preview after the promotion: %#v; want []", again.Changes)
	}
	ts.mustCall(t, http.StatusCreated, admin, "POST", "/v1/tenants/acme/promotions", promote("staging", "production", false)).json(t, &again)
	if len(again.Changes) != 0 || again.ID == p.ID {
		t.Errorf("second promotion %+v; want a new one with no changes", again)
	}
	if n := len(ts.auditActions(t, slug)); n != len(want)+1 {
		t.Errorf("%d audit events after an empty promotion; want only its own added to %d", n, len(want))
	}
	if !strings.Contains(string(ts.mustCall(t, http.StatusOK, admin, "GET", "/v1/tenants/acme/promotions/"+again.ID, nil).body), `"changes":[]`) {
		t.Error("an empty promotion's changes are not [] in JSON")
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestPromotionBadInput(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	acmeScene(t, ts)
	for _, tc := range []struct {
		name   string
		body   any
		status int
		field  string
		msg    string
	}{
		{"same environment", promote("staging", "staging", true), 422, "target_environment", `must differ from source_environment; both are "staging"`},
		{"missing source", promote("stagin", "production", true), 422, "source_environment", `tenant "acme" has no environment "stagin"`},
		{"missing target", promote("staging", "prod", false), 422, "target_environment", `tenant "acme" has no environment "prod"`},
		{"no source", promote("", "production", true), 422, "source_environment", "source_environment is required"},
		{"bad name", promote("Staging!", "production", true), 422, "source_environment", "source_environment"},
		{"bad scope", promote("staging", "production", true, "settings", "users"), 422, "include", `"users" is not a promotion scope; use "settings", "feature_flags", "quotas"`},
		{"unknown field", `{"source_environment":"staging","target_environment":"production","force":true}`, 400, "force", `unknown field "force"`},
		{"wrong type", `{"source_environment":"staging","target_environment":"production","include":"settings"}`, 400, "include", "include"},
		{"empty body", ``, 400, "", "request body is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.mustCall(t, tc.status, ts.admin, "POST", "/v1/tenants/acme/promotions", tc.body)
			if e := r.apiError(t); e.Field != tc.field || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("error %+v; want field %q and a message with %q", e, tc.field, tc.msg)
			}
		})
	}
	ts.mustCall(t, http.StatusNotFound, ts.admin, "POST", "/v1/tenants/nope/promotions", promote("staging", "production", true))
	for _, id := range []string{"nope", "prm_zz", "..%2F..%2Fx", strings.Repeat("a", 10000), "prm_1'%20OR%201=1"} {
		r := ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/acme/promotions/"+id, nil)
		if len(r.body) > 1000 {
			t.Errorf("the 404 for a %d-character id is %d bytes long", len(id), len(r.body))
		}
		ts.mustCall(t, http.StatusNotFound, ts.admin, "POST", "/v1/tenants/acme/promotions/"+id+"/rollback", nil)
	}
	ts.mustCall(t, http.StatusBadRequest, ts.admin, "GET", "/v1/tenants/acme/promotions?page_token=eA", nil)
}

func TestPromotionAccess(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	slug := acmeScene(t, ts)
	ts.createTenant(t, "other")
	user := ts.token(t, slug, api.RoleTenantUser)
	viewer := ts.token(t, slug, api.RoleTenantViewer)
	stranger := ts.token(t, "other", api.RoleTenantAdmin)

	// A tenant_user may not promote into production, not even as a preview.
	for _, dry := range []bool{true, false} {
		e := ts.mustCall(t, http.StatusForbidden, user, "POST", "/v1/tenants/acme/promotions", promote("staging", "production", dry)).apiError(t)
		if e.Field != "target_environment" || !strings.Contains(e.Message, "needs role tenant_admin") {
			t.Errorf("error %+v; want target_environment and the role it needs", e)
		}
	}
	// Nor change a quota by promotion; without quotas it may promote into a
	// non-production environment.
	ts.putQuota(t, slug, "qa", api.QuotaSpec{CPUMillicores: i64(1)})
	e := ts.mustCall(t, http.StatusForbidden, user, "POST", "/v1/tenants/acme/promotions", promote("staging", "qa", false)).apiError(t)
	if e.Field != "include" || !strings.Contains(e.Message, `Leave "quotas" out of include`) {
		t.Errorf("error %+v; want include and how to avoid it", e)
	}
	var p api.Promotion
	ts.mustCall(t, http.StatusCreated, user, "POST", "/v1/tenants/acme/promotions", promote("staging", "qa", false, "settings", "feature_flags")).json(t, &p)
	if len(p.Changes) == 0 || p.PromotedBy != "tenant_user@acme" {
		t.Errorf("tenant_user's promotion into qa: %+v", p)
	}
	ts.mustCall(t, http.StatusOK, user, "POST", "/v1/tenants/acme/promotions/"+p.ID+"/rollback", nil)

	ts.mustCall(t, http.StatusForbidden, viewer, "POST", "/v1/tenants/acme/promotions", promote("staging", "qa", true))
	ts.mustCall(t, http.StatusOK, viewer, "GET", "/v1/tenants/acme/promotions", nil)
	ts.mustCall(t, http.StatusOK, viewer, "GET", "/v1/tenants/acme/promotions/"+p.ID, nil)
	ts.mustCall(t, http.StatusForbidden, viewer, "POST", "/v1/tenants/acme/promotions/"+p.ID+"/rollback", nil)

	// Another tenant's token sees nothing at all.
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/tenants/acme/promotions"}, {"POST", "/v1/tenants/acme/promotions"},
		{"GET", "/v1/tenants/acme/promotions/" + p.ID}, {"POST", "/v1/tenants/acme/promotions/" + p.ID + "/rollback"},
		{"GET", "/v1/tenants/acme/promotion-links"}, {"GET", "/v1/tenants/acme/promotion-links/production"},
		{"DELETE", "/v1/tenants/acme/promotion-links/production"},
	} {
		r := ts.mustCall(t, http.StatusNotFound, stranger, c.method, c.path, promote("staging", "qa", true))
		if e := r.apiError(t); e.Message != `tenant "acme" not found` {
			t.Errorf("%s %s with another tenant's token: %q", c.method, c.path, e.Message)
		}
	}

	// A tenant_admin may promote into production.
	admin := ts.token(t, slug, api.RoleTenantAdmin)
	ts.mustCall(t, http.StatusCreated, admin, "POST", "/v1/tenants/acme/promotions", promote("staging", "production", false))
}

func TestPromotionRespectsTheTenantQuota(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	slug := acmeScene(t, ts)
	ts.putQuota(t, slug, "", api.QuotaSpec{CPUMillicores: i64(7000), MemoryMB: i64(100)})

	for _, dry := range []bool{true, false} {
		r := ts.mustCall(t, http.StatusConflict, ts.admin, "POST", "/v1/tenants/acme/promotions", promote("staging", "production", dry))
		msg := r.apiError(t).Message
		for _, want := range []string{"cpu_millicores: environment quotas add up to 8000 (production 4000, staging 4000), above the tenant quota of 7000", "quotas"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message %q; want it to say %q", msg, want)
			}
		}
		// memory_mb is over the tenant quota already, but the promotion
		// removes production's memory limit, so it is not the promotion's fault.
		if strings.Contains(msg, "memory_mb") {
			t.Errorf("message %q blames memory_mb, which the promotion lowers", msg)
		}
	}
	if q := ts.quota(t, slug, "production"); *q.CPUMillicores != 2000 {
		t.Errorf("a refused promotion wrote the quota: %+v", q)
	}
	// Without quotas it goes through.
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/promotions", promote("staging", "production", false, "settings", "feature_flags"))
}

func TestPromotionExpectChanges(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	acmeScene(t, ts)
	req := promote("staging", "production", false, "settings")
	stale := []string{`settings.log_level: "debug" -> "info"`}
	req.ExpectChanges = &stale
	r := ts.mustCall(t, http.StatusPreconditionFailed, ts.admin, "POST", "/v1/tenants/acme/promotions", req)
	if e := r.apiError(t); e.Field != "expect_changes" || !strings.Contains(e.Message, `settings.new_key: (absent) -> \"x\"`) {
		t.Errorf("error %+v; want expect_changes and the changes it would make", e)
	}
	none := []string{}
	req.ExpectChanges = &none
	ts.mustCall(t, http.StatusPreconditionFailed, ts.admin, "POST", "/v1/tenants/acme/promotions", req)

	exact := slices.Clone(acmeChanges[8:])
	slices.Reverse(exact) // The order does not matter.
	req.ExpectChanges = &exact
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/promotions", req)
	req.ExpectChanges = &none
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/promotions", req)
}

func TestPromotionIdempotencyKey(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	acmeScene(t, ts)
	var a, b api.Promotion
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/promotions", promote("staging", "production", false), api.HeaderIdempotencyKey, "k1").json(t, &a)
	r := ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/promotions", promote("staging", "production", false), api.HeaderIdempotencyKey, "k1")
	r.json(t, &b)
	if a.ID != b.ID || r.header.Get("Idempotent-Replayed") != "true" || len(b.Changes) == 0 {
		t.Errorf("retry answered %s (replayed %q); want the first answer %s", b.ID, r.header.Get("Idempotent-Replayed"), a.ID)
	}
	var list api.List[api.Promotion]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/promotions", nil).json(t, &list)
	if len(list.Items) != 1 {
		t.Errorf("%d promotions after a retry; want 1", len(list.Items))
	}
}

// TestPromotionIdempotencyKeyLinked retries a promotion that created its
// link, as a client does when the first answer was lost: the retry gets the
// first answer, not the 409 that the link it created would now cause.
func TestPromotionIdempotencyKeyLinked(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	acmeScene(t, ts)
	req := promote("staging", "production", false)
	req.Link = true
	var a, b api.Promotion
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/promotions", req, api.HeaderIdempotencyKey, "k1").json(t, &a)
	r := ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/promotions", req, api.HeaderIdempotencyKey, "k1")
	r.json(t, &b)
	if a.ID != b.ID || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry answered %s (replayed %q); want the first answer %s", b.ID, r.header.Get("Idempotent-Replayed"), a.ID)
	}
	// Another key is another request: the link refuses it.
	ts.mustCall(t, http.StatusConflict, ts.admin, "POST", "/v1/tenants/acme/promotions", req, api.HeaderIdempotencyKey, "k2")
}

func TestPromotionHistory(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	acmeScene(t, ts)
	var ids []string
	for _, target := range []string{"production", "qa", "production"} {
		var p api.Promotion
		ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/promotions", promote("staging", target, false)).json(t, &p)
		ids = append(ids, p.ID)
	}
	list := func(query string) []string {
		var out []string
		for token := ""; ; {
			var l api.List[api.Promotion]
			q, _ := url.ParseQuery(query)
			if token != "" {
				q.Set("page_token", token)
			}
			ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/promotions?"+q.Encode(), nil).json(t, &l)
			for _, p := range l.Items {
				out = append(out, p.ID)
			}
			if token = l.NextPageToken; token == "" {
				return out
			}
		}
	}
	newestFirst := []string{ids[2], ids[1], ids[0]}
	for _, q := range []string{"", "page_size=1", "page_size=2"} {
		if got := list(q); !slices.Equal(got, newestFirst) {
			t.Errorf("list %q = %q; want newest first %q", q, got, newestFirst)
		}
	}
	if got := list("target_environment=production&page_size=1"); !slices.Equal(got, []string{ids[2], ids[0]}) {
		t.Errorf("into production: %q; want %q", got, []string{ids[2], ids[0]})
	}
	if got := list("source_environment=qa"); len(got) != 0 {
		t.Errorf("from qa: %q; want none", got)
	}
}

func TestPromotionRollback(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	slug := acmeScene(t, ts)
	admin := ts.token(t, slug, api.RoleTenantAdmin)
	before := ts.env(t, slug, "production")

	var first, second api.Promotion
	ts.mustCall(t, http.StatusCreated, admin, "POST", "/v1/tenants/acme/promotions", promote("staging", "production", false)).json(t, &first)
	// Staging moves on and is promoted again.
	ts.putEnv(t, slug, "staging", api.EnvStaging, map[string]string{"log_level": "warn"})
	ts.mustCall(t, http.StatusCreated, admin, "POST", "/v1/tenants/acme/promotions", promote("staging", "production", false, "settings")).json(t, &second)
	wantLines(t, second.Changes, []string{`settings.log_level: "info" -> "warn"`, `settings.new_key: "x" -> (absent)`})

	// Only the latest promotion into production may be rolled back.
	e := ts.mustCall(t, http.StatusConflict, admin, "POST", "/v1/tenants/acme/promotions/"+first.ID+"/rollback", nil).apiError(t)
	if !strings.Contains(e.Message, second.ID+" (from \"staging\"") || !strings.Contains(e.Message, "roll back "+second.ID+" first") {
		t.Errorf("message %q; want it to name the newer promotion", e.Message)
	}

	var rb api.Promotion
	ts.mustCall(t, http.StatusOK, admin, "POST", "/v1/tenants/acme/promotions/"+second.ID+"/rollback", nil).json(t, &rb)
	if rb.RolledBackAt == nil || rb.RolledBackBy != "tenant_admin@acme" || rb.Revision != 2 {
		t.Errorf("rolled back promotion %+v; want rolled_back_at/by and revision 2", rb)
	}
	wantLines(t, rb.RollbackChanges, []string{`settings.log_level: "warn" -> "info"`, `settings.new_key: (absent) -> "x"`})
	e = ts.mustCall(t, http.StatusConflict, admin, "POST", "/v1/tenants/acme/promotions/"+second.ID+"/rollback", nil).apiError(t)
	if !strings.Contains(e.Message, "was already rolled back at") {
		t.Errorf("second rollback: %q", e.Message)
	}

	// Now the first is the latest not rolled back. The beta flag was deleted
	// in between: the rest is restored all the same.
	ts.write(t, func(ctx context.Context, tx store.Tx) error {
		return tx.Delete(ctx, slug, api.KindFeatureFlag, "beta", 0)
	})
	ts.mustCall(t, http.StatusOK, admin, "POST", "/v1/tenants/acme/promotions/"+first.ID+"/rollback", nil).json(t, &rb)
	prod := ts.env(t, slug, "production")
	if !equalMaps(prod.Settings, before.Settings) {
		t.Errorf("production settings %v after rollback; want %v", prod.Settings, before.Settings)
	}
	if e := ts.flag(t, slug, "new-billing").Environments["production"]; e != (api.FlagEnvironment{Enabled: false, RolloutPercentage: 10}) {
		t.Errorf("new-billing production %+v after rollback", e)
	}
	if e, ok := ts.flag(t, slug, "legacy").Environments["production"]; !ok || !e.Enabled {
		t.Errorf("legacy has no production entry after rollback")
	}
	if q := ts.quota(t, slug, "production"); q == nil || *q.CPUMillicores != 2000 || *q.MemoryMB != 512 {
		t.Errorf("production quota %+v after rollback; want cpu 2000, memory 512", q)
	}
	var list api.List[api.AuditEvent]
	ts.mustCall(t, http.StatusOK, admin, "GET", "/v1/tenants/acme/audit-events?object_kind=promotion&object_key="+first.ID, nil).json(t, &list)
	if n := len(list.Items); n != 2 || list.Items[1].Action != "promotion.rollback" ||
		!strings.Contains(list.Items[1].Detail, "flags deleted since, not restored: beta") {
		t.Errorf("audit of the first promotion: %+v", list.Items)
	}
	// Now staging and production differ again as at the start.
	var p api.Promotion
	ts.mustCall(t, http.StatusOK, admin, "POST", "/v1/tenants/acme/promotions", promote("staging", "production", true, "feature_flags")).json(t, &p)
	wantLines(t, p.Changes, slices.Concat(acmeChanges[2:6]))
}

func TestPromotionRollbackAccess(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	slug := acmeScene(t, ts)
	var p api.Promotion
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/promotions", promote("staging", "production", false)).json(t, &p)
	user := ts.token(t, slug, api.RoleTenantUser)
	e := ts.mustCall(t, http.StatusForbidden, user, "POST", "/v1/tenants/acme/promotions/"+p.ID+"/rollback", nil).apiError(t)
	if e.Field != "target_environment" {
		t.Errorf("error %+v; want target_environment", e)
	}
	// A rollback that would lift the quota past the tenant's is refused too.
	ts.putQuota(t, slug, "", api.QuotaSpec{MemoryMB: i64(100)})
	e = ts.mustCall(t, http.StatusConflict, ts.admin, "POST", "/v1/tenants/acme/promotions/"+p.ID+"/rollback", nil).apiError(t)
	if !strings.Contains(e.Message, "memory_mb: environment quotas add up to 512 (production 512), above the tenant quota of 100") {
		t.Errorf("message %q; want the numbers", e.Message)
	}
	// A deleted target cannot be restored.
	ts.write(t, func(ctx context.Context, tx store.Tx) error {
		return tx.Delete(ctx, slug, api.KindEnvironment, "production", 0)
	})
	e = ts.mustCall(t, http.StatusConflict, ts.admin, "POST", "/v1/tenants/acme/promotions/"+p.ID+"/rollback", nil).apiError(t)
	if !strings.Contains(e.Message, `target environment "production" no longer exists`) {
		t.Errorf("message %q", e.Message)
	}
}

func TestPromotionLinks(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	slug := acmeScene(t, ts)
	ts.putEnv(t, slug, "hotfix", api.EnvStaging, nil)
	linked := func(source string) api.PromotionRequest {
		r := promote(source, "production", false)
		r.Link = true
		return r
	}
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/promotions", linked("staging"))
	var l api.PromotionLink
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/promotion-links/production", nil).json(t, &l)
	if l.ID != "acme/staging/production" || l.SourceEnvironment != "staging" || l.CreatedBy != "bootstrap" {
		t.Errorf("link %+v", l)
	}

	// A second link into production is refused, dry run or not, naming the
	// first one's source; a promotion without a link still goes through.
	for _, dry := range []bool{true, false} {
		req := linked("hotfix")
		req.DryRun = dry
		e := ts.mustCall(t, http.StatusConflict, ts.admin, "POST", "/v1/tenants/acme/promotions", req).apiError(t)
		if e.Field != "target_environment" || !strings.Contains(e.Message, `promotion link acme/staging/production (from "staging"`) ||
			!strings.Contains(e.Message, "terraform import tenancy_environment_promotion.NAME acme/staging/production") {
			t.Errorf("error %+v; want target_environment, the other link and how to import it", e)
		}
	}
	ts.mustCall(t, http.StatusConflict, ts.admin, "POST", "/v1/tenants/acme/promotions", linked("staging"))
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/promotions", promote("hotfix", "production", false))
	var list api.List[api.PromotionLink]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/promotion-links", nil).json(t, &list)
	if len(list.Items) != 1 {
		t.Errorf("%d links; want 1", len(list.Items))
	}

	// Unlinking production needs tenant_admin; then another source may link.
	user := ts.token(t, slug, api.RoleTenantUser)
	ts.mustCall(t, http.StatusForbidden, user, "DELETE", "/v1/tenants/acme/promotion-links/production", nil)
	ts.mustCall(t, http.StatusNoContent, ts.admin, "DELETE", "/v1/tenants/acme/promotion-links/production", nil)
	ts.mustCall(t, http.StatusNotFound, ts.admin, "DELETE", "/v1/tenants/acme/promotion-links/production", nil)
	ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/acme/promotion-links/production", nil)
	ts.mustCall(t, http.StatusBadRequest, ts.admin, "GET", "/v1/tenants/acme/promotion-links/Not_A_Name", nil)
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/promotions", linked("hotfix"))

	// A link whose source is gone is stale: a new link replaces it.
	ts.write(t, func(ctx context.Context, tx store.Tx) error {
		return tx.Delete(ctx, slug, api.KindEnvironment, "hotfix", 0)
	})
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/promotions", linked("staging"))
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/promotion-links/production", nil).json(t, &l)
	if l.SourceEnvironment != "staging" {
		t.Errorf("link from %q; want the stale one replaced by staging's", l.SourceEnvironment)
	}
	actions := strings.Join(ts.auditActions(t, slug), "\n")
	for _, want := range []string{"promotion_link.create production", "promotion_link.delete production"} {
		if !strings.Contains(actions, want) {
			t.Errorf("audit log lacks %q:\n%s", want, actions)
		}
	}
}

// TestPromotionConcurrent promotes from many goroutines at once: every
// promotion gets its own sequence number and the history stays ordered.
func TestPromotionConcurrent(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	acmeScene(t, ts)
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			r := ts.call(t, ts.admin, "POST", "/v1/tenants/acme/promotions", promote("staging", "qa", false))
			if r.status != http.StatusCreated {
				errs <- fmt.Errorf("status %d: %s", r.status, r.body)
				return
			}
			errs <- nil
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	var list api.List[api.Promotion]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/promotions", nil).json(t, &list)
	withChanges := 0
	for _, p := range list.Items {
		if len(p.Changes) > 0 {
			withChanges++
		}
	}
	if len(list.Items) != n || withChanges != 1 {
		t.Errorf("%d promotions, %d with changes; want %d, exactly one with changes", len(list.Items), withChanges, n)
	}
}

// TestPromotionSaysWhoMadeIt checks what lets a drift explanation leave out
// the changes of a tenancy_environment_promotion: its promotions are marked
// linked, and the audit events of what they change name them.
func TestPromotionSaysWhoMadeIt(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	slug := acmeScene(t, ts)
	ts.putEnv(t, slug, "hotfix", api.EnvStaging, nil)
	req := func(source string, link, linked bool) api.PromotionRequest {
		r := promote(source, "production", false)
		r.Link, r.Linked = link, linked
		return r
	}
	// linked without a link, or from another source, is refused.
	e := ts.mustCall(t, http.StatusConflict, ts.admin, "POST", "/v1/tenants/acme/promotions", req("staging", false, true)).apiError(t)
	if e.Field != "linked" || !strings.Contains(e.Message, `environment "production" has no promotion link`) {
		t.Errorf("linked without a link: %+v", e)
	}
	var first api.Promotion
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/promotions", req("staging", true, false)).json(t, &first)
	if !first.Linked {
		t.Errorf("the promotion that created the link is not linked: %+v", first)
	}
	e = ts.mustCall(t, http.StatusConflict, ts.admin, "POST", "/v1/tenants/acme/promotions", req("hotfix", false, true)).apiError(t)
	if e.Field != "linked" || !strings.Contains(e.Message, `is promoted from "staging"`) {
		t.Errorf("linked from another source: %+v", e)
	}

	ts.putEnv(t, slug, "staging", api.EnvStaging, map[string]string{"log_level": "warn"})
	var second, byHand api.Promotion
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/promotions", req("staging", false, true)).json(t, &second)
	ts.putEnv(t, slug, "staging", api.EnvStaging, map[string]string{"log_level": "trace"})
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/promotions", req("staging", false, false)).json(t, &byHand)
	if !second.Linked || byHand.Linked {
		t.Errorf("linked: %t for the linked promotion, %t for the one by hand", second.Linked, byHand.Linked)
	}
	ts.mustCall(t, http.StatusOK, ts.admin, "POST", "/v1/tenants/acme/promotions/"+byHand.ID+"/rollback", nil)

	var list api.List[api.AuditEvent]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/audit-events?object_kind=environment&object_key=production", nil).json(t, &list)
	var got []string
	for _, ev := range list.Items {
		got = append(got, ev.Action+" "+ev.PromotionID)
	}
	want := []string{
		"environment.update " + first.ID, "environment.update " + second.ID, "environment.update " + byHand.ID,
		"environment.update " + byHand.ID, // Its rollback.
	}
	if !slices.Equal(got, want) {
		t.Errorf("production's audit events %q; want %q", got, want)
	}
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/audit-events?object_kind=feature_flag&object_key=beta", nil).json(t, &list)
	if n := len(list.Items); n == 0 || list.Items[n-1].PromotionID != first.ID {
		t.Errorf("beta's last audit event %+v; want one naming promotion %s", list.Items, first.ID)
	}
}

// TestPromotionDryRunShowsWhatItCompared checks that a preview's source and
// target are what its changes come from, in the included scopes only.
func TestPromotionDryRunShowsWhatItCompared(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	acmeScene(t, ts)
	for _, include := range [][]string{nil, {"settings"}, {"feature_flags", "quotas"}} {
		var p api.Promotion
		ts.mustCall(t, http.StatusOK, ts.admin, "POST", "/v1/tenants/acme/promotions", promote("staging", "production", true, include...)).json(t, &p)
		if p.Source == nil || p.Target == nil {
			t.Fatalf("include %v: the preview has no source or target: %+v", include, p)
		}
		wantLines(t, promotion.Diff(promotion.FromAPI(p.Source), promotion.FromAPI(p.Target), p.Include).Changes, p.Changes)
		hasSettings, hasQuotas := slices.Contains(p.Include, api.ScopeSettings), slices.Contains(p.Include, api.ScopeQuotas)
		if (p.Source.Settings != nil) != hasSettings || (p.Target.Quota != nil) != hasQuotas {
			t.Errorf("include %v: source %+v, target %+v; want only the included scopes", include, p.Source, p.Target)
		}
	}
	var made api.Promotion
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/promotions", promote("staging", "production", false)).json(t, &made)
	if made.Source != nil || made.Target != nil {
		t.Errorf("a promotion, not a preview, shows source or target: %+v", made)
	}
}
