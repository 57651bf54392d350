package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

// seedFlagEnvironments stores environments directly, so that the flag tests
// depend on the store's contract only, not on the environments API.
func (ts *testServer) seedFlagEnvironments(t testing.TB, tenant string, names ...string) {
	t.Helper()
	err := ts.store.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		for _, n := range names {
			typ := api.EnvStaging
			if n == "production" {
				typ = api.EnvProduction
			}
			e := api.Environment{EnvironmentSpec: api.EnvironmentSpec{Name: n, Type: typ}, TenantID: tenant, ID: tenant + "/" + n, Status: api.StatusActive}
			if _, err := createObject[api.Environment](ctx, tx, tenant, api.KindEnvironment, n, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// flagFixture is a tenant "acme" with staging and production, and a flag
// new-billing enabled in both.
func flagFixture(t *testing.T) *testServer {
	t.Helper()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ts.seedFlagEnvironments(t, "acme", "staging", "production")
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/feature-flags", map[string]any{
		"key": "new-billing", "description": "The new billing page",
		"environments": map[string]any{
			"staging":    map[string]any{"enabled": true, "rollout_percentage": 100},
			"production": map[string]any{"enabled": true, "rollout_percentage": 10},
		},
	})
	return ts
}

func getFlag(t *testing.T, ts *testServer, key string) api.FeatureFlag {
	t.Helper()
	var f api.FeatureFlag
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/feature-flags/"+key, nil).json(t, &f)
	return f
}

func TestFeatureFlagCreateGetList(t *testing.T) {
	t.Parallel()
	ts := flagFixture(t)
	r := ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/feature-flags/new-billing", nil)
	var f api.FeatureFlag
	r.json(t, &f)
	if f.ID != "acme/new-billing" || f.TenantID != "acme" || f.Revision != 1 || r.header.Get("ETag") != `"1"` {
		t.Errorf("flag %+v, ETag %q", f, r.header.Get("ETag"))
	}
	if got := f.Environments["production"]; !got.Enabled || got.RolloutPercentage != 10 {
		t.Errorf("production %+v; want enabled at 10%%", got)
	}

	// A flag without environments keeps them null, not empty.
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/feature-flags", map[string]any{"key": "bare"})
	if raw := string(ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/feature-flags/bare", nil).body); !strings.Contains(raw, `"environments":null`) {
		t.Errorf("bare flag %s; want environments null", raw)
	}

	var list api.List[api.FeatureFlag]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/feature-flags?page_size=1", nil).json(t, &list)
	if len(list.Items) != 1 || list.Items[0].Key != "bare" || list.NextPageToken == "" {
		t.Fatalf("first page %+v", list)
	}
	var second api.List[api.FeatureFlag]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/feature-flags?page_size=1&page_token="+list.NextPageToken, nil).json(t, &second)
	if len(second.Items) != 1 || second.Items[0].Key != "new-billing" || second.NextPageToken != "" {
		t.Fatalf("second page %+v", second)
	}

	e := ts.mustCall(t, http.StatusConflict, ts.admin, "POST", "/v1/tenants/acme/feature-flags", map[string]any{"key": "new-billing"}).apiError(t)
	if e.Field != "key" || !strings.Contains(e.Message, "terraform import tenancy_feature_flag.NAME acme/new-billing") {
		t.Errorf("duplicate: %+v", e)
	}
	ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/acme/feature-flags/missing", nil)
	ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/nope/feature-flags", nil)
	ts.mustCall(t, http.StatusNotFound, ts.admin, "POST", "/v1/tenants/nope/feature-flags", map[string]any{"key": "x"})
}

func TestFeatureFlagInvalidInput(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ts.seedFlagEnvironments(t, "acme", "staging")
	cases := []struct {
		name   string
		body   any
		status int
		field  string
		want   string
	}{
		{"bad key", map[string]any{"key": "New_Billing"}, 422, "key", "key:"},
		{"long description", map[string]any{"key": "x", "description": strings.Repeat("é", 1001)}, 422, "description", "1001 characters"},
		{"unknown environment", map[string]any{"key": "x", "environments": map[string]any{"prod": map[string]any{"enabled": true}}},
			422, "environments.prod", `tenant "acme" has no environment "prod"`},
		{"rollout too high", map[string]any{"key": "x", "environments": map[string]any{"staging": map[string]any{"enabled": true, "rollout_percentage": 101}}},
			422, "environments.staging.rollout_percentage", "from 0 to 100"},
		{"rollout negative", map[string]any{"key": "x", "environments": map[string]any{"staging": map[string]any{"rollout_percentage": -1}}},
			422, "environments.staging.rollout_percentage", "-1"},
		{"bad environment name", map[string]any{"key": "x", "environments": map[string]any{"../prod": map[string]any{}}}, 422, "environments", "../prod"},
		{"unknown field", map[string]any{"key": "x", "owner": "me"}, 400, "owner", "unknown field"},
		{"unknown nested field", map[string]any{"key": "x", "environments": map[string]any{"staging": map[string]any{"on": true}}}, 400, "on", "unknown field"},
		{"wrong type", map[string]any{"key": "x", "environments": map[string]any{"staging": map[string]any{"enabled": "yes"}}}, 400, "environments.enabled", "expected bool"},
		{"not an object", `[1]`, 400, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.mustCall(t, tc.status, ts.admin, "POST", "/v1/tenants/acme/feature-flags", tc.body)
			e := r.apiError(t)
			if e.Field != tc.field || !strings.Contains(e.Message, tc.want) {
				t.Errorf("error %+v; want field %q and a message with %q", e, tc.field, tc.want)
			}
		})
	}
	var list api.List[api.FeatureFlag]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/feature-flags", nil).json(t, &list)
	if len(list.Items) != 0 {
		t.Errorf("refused creates left %+v behind", list.Items)
	}
}

func TestFeatureFlagPatchMergesEnvironments(t *testing.T) {
	t.Parallel()
	ts := flagFixture(t)
	ts.seedFlagEnvironments(t, "acme", "qa")

	// Naming only staging changes only staging, and only the field given.
	var f api.FeatureFlag
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme/feature-flags/new-billing",
		`{"environments":{"staging":{"rollout_percentage":50}}}`).json(t, &f)
	want := map[string]api.FlagEnvironment{"staging": {Enabled: true, RolloutPercentage: 50}, "production": {Enabled: true, RolloutPercentage: 10}}
	if len(f.Environments) != 2 || f.Environments["staging"] != want["staging"] || f.Environments["production"] != want["production"] || f.Revision != 2 {
		t.Fatalf("after staging patch: %+v", f)
	}

	// null removes an entry; a new entry is added, at the default rollout;
	// the rest stays.
	f = api.FeatureFlag{}
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme/feature-flags/new-billing",
		`{"description":"Billing v2","environments":{"production":null,"qa":{"enabled":false}}}`).json(t, &f)
	qa := api.FlagEnvironment{Enabled: false, RolloutPercentage: api.DefaultRolloutPercentage}
	if _, ok := f.Environments["production"]; ok || f.Environments["qa"] != qa || f.Environments["staging"] != want["staging"] || f.Description != "Billing v2" {
		t.Fatalf("after removing production: %+v", f)
	}

	// A patch that changes nothing keeps the revision.
	f = api.FeatureFlag{}
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme/feature-flags/new-billing",
		`{"environments":{"staging":{"enabled":true}}}`).json(t, &f)
	if f.Revision != 3 {
		t.Errorf("no-op patch moved the revision to %d", f.Revision)
	}

	cases := []struct {
		name, body string
		headers    []string
		status     int
		field      string
	}{
		{"key is immutable", `{"key":"other"}`, nil, 422, "key"},
		{"unknown environment", `{"environments":{"dev":{"enabled":true}}}`, nil, 422, "environments.dev"},
		{"bad rollout", `{"environments":{"staging":{"rollout_percentage":1000}}}`, nil, 422, "environments.staging.rollout_percentage"},
		{"unknown field", `{"colour":"red"}`, nil, 400, "colour"},
		{"stale revision", `{"description":"x"}`, []string{"If-Match", `"1"`}, 412, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := ts.mustCall(t, tc.status, ts.admin, "PATCH", "/v1/tenants/acme/feature-flags/new-billing", tc.body, tc.headers...).apiError(t)
			if e.Field != tc.field {
				t.Errorf("field %q; want %q: %+v", e.Field, tc.field, e)
			}
		})
	}
	if got := getFlag(t, ts, "new-billing"); got.Revision != 3 {
		t.Errorf("refused patches moved the revision to %d", got.Revision)
	}
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme/feature-flags/new-billing", `{"description":"v3"}`, "If-Match", `"3"`)
	ts.mustCall(t, http.StatusNotFound, ts.admin, "PATCH", "/v1/tenants/acme/feature-flags/missing", `{"description":"x"}`)
}

func TestFeatureFlagDeleteAndAudit(t *testing.T) {
	t.Parallel()
	ts := flagFixture(t)
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme/feature-flags/new-billing", `{"environments":{"production":null}}`)
	ts.mustCall(t, http.StatusPreconditionFailed, ts.admin, "DELETE", "/v1/tenants/acme/feature-flags/new-billing", nil, "If-Match", `"1"`)
	r := ts.mustCall(t, http.StatusNoContent, ts.admin, "DELETE", "/v1/tenants/acme/feature-flags/new-billing", nil)
	if len(r.body) != 0 {
		t.Errorf("delete answered %s; want no body", r.body)
	}
	ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/acme/feature-flags/new-billing", nil)
	ts.mustCall(t, http.StatusNotFound, ts.admin, "DELETE", "/v1/tenants/acme/feature-flags/new-billing", nil)

	var events api.List[api.AuditEvent]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/audit-events?object_kind=feature_flag&object_key=new-billing", nil).json(t, &events)
	var got []string
	for _, e := range events.Items {
		got = append(got, e.Action+" "+e.Detail)
	}
	want := []string{
		"feature_flag.create changed: description, environments.production, environments.staging",
		"feature_flag.update removed: environments.production",
		"feature_flag.delete ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if last := events.Items[len(events.Items)-1]; last.RevisionBefore != 2 || last.RevisionAfter != 0 {
		t.Errorf("delete event %+v; want revision 2 -> 0", last)
	}
}

func TestFeatureFlagDryRun(t *testing.T) {
	t.Parallel()
	ts := flagFixture(t)
	body := map[string]any{"key": "checkout", "environments": map[string]any{"staging": map[string]any{"enabled": true}}}
	var f api.FeatureFlag
	ts.mustCall(t, http.StatusOK, ts.admin, "POST", "/v1/tenants/acme/feature-flags?dry_run=true", body).json(t, &f)
	if f.ID != "acme/checkout" || !f.Environments["staging"].Enabled {
		t.Errorf("dry run answered %+v", f)
	}
	ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/acme/feature-flags/checkout", nil)
	e := ts.mustCall(t, http.StatusUnprocessableEntity, ts.admin, "POST", "/v1/tenants/acme/feature-flags?dry_run=true",
		map[string]any{"key": "checkout", "environments": map[string]any{"dev": map[string]any{}}}).apiError(t)
	if e.Field != "environments.dev" {
		t.Errorf("dry run of a bad flag: %+v", e)
	}
	ts.mustCall(t, http.StatusConflict, ts.admin, "POST", "/v1/tenants/acme/feature-flags?dry_run=true", map[string]any{"key": "new-billing"})
	ts.mustCall(t, http.StatusBadRequest, ts.admin, "POST", "/v1/tenants/acme/feature-flags?dry_run=maybe", body)
}

func TestFeatureFlagRoles(t *testing.T) {
	t.Parallel()
	ts := flagFixture(t)
	ts.createTenant(t, "other")
	viewer := ts.token(t, "acme", api.RoleTenantViewer)
	user := ts.token(t, "acme", api.RoleTenantUser)
	stranger := ts.token(t, "other", api.RoleTenantAdmin)

	ts.mustCall(t, http.StatusOK, viewer, "GET", "/v1/tenants/acme/feature-flags", nil)
	ts.mustCall(t, http.StatusOK, viewer, "GET", "/v1/tenants/acme/feature-flags/new-billing", nil)
	ts.mustCall(t, http.StatusForbidden, viewer, "POST", "/v1/tenants/acme/feature-flags", map[string]any{"key": "x"})
	ts.mustCall(t, http.StatusForbidden, viewer, "PATCH", "/v1/tenants/acme/feature-flags/new-billing", `{"description":"x"}`)
	ts.mustCall(t, http.StatusForbidden, viewer, "DELETE", "/v1/tenants/acme/feature-flags/new-billing", nil)

	ts.mustCall(t, http.StatusCreated, user, "POST", "/v1/tenants/acme/feature-flags", map[string]any{"key": "by-user"})
	ts.mustCall(t, http.StatusOK, user, "PATCH", "/v1/tenants/acme/feature-flags/by-user", `{"environments":{"staging":{"enabled":true}}}`)
	ts.mustCall(t, http.StatusNoContent, user, "DELETE", "/v1/tenants/acme/feature-flags/by-user", nil)

	// Another tenant's token gets exactly what a missing tenant gets.
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/tenants/acme/feature-flags"}, {"POST", "/v1/tenants/acme/feature-flags"},
		{"GET", "/v1/tenants/acme/feature-flags/new-billing"}, {"PATCH", "/v1/tenants/acme/feature-flags/new-billing"},
		{"DELETE", "/v1/tenants/acme/feature-flags/new-billing"},
	} {
		e := ts.mustCall(t, http.StatusNotFound, stranger, c.method, c.path, `{"key":"x"}`).apiError(t)
		if e.Message != `tenant "acme" not found` {
			t.Errorf("%s %s with another tenant's token: %+v", c.method, c.path, e)
		}
	}
	if f := getFlag(t, ts, "new-billing"); f.Revision != 1 {
		t.Errorf("refused writes changed the flag: %+v", f)
	}
}

func TestRemoveEnvironmentFromFlags(t *testing.T) {
	t.Parallel()
	ts := flagFixture(t)
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/feature-flags",
		map[string]any{"key": "staging-only", "environments": map[string]any{"staging": map[string]any{"enabled": true}}})
	err := ts.store.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		return ts.srv.removeEnvironmentFromFlags(ctx, tx, nil, "acme", "production")
	})
	if err != nil {
		t.Fatal(err)
	}
	if f := getFlag(t, ts, "new-billing"); len(f.Environments) != 1 || f.Revision != 2 {
		t.Errorf("new-billing after the cascade: %+v", f)
	}
	if f := getFlag(t, ts, "staging-only"); f.Revision != 1 {
		t.Errorf("a flag without the environment was rewritten: %+v", f)
	}
}

// TestFeatureFlagProductionNeedsTenantAdmin checks that a tenant_user, who
// may not promote into production, may not change production's entries
// directly either, while staging stays theirs.
func TestFeatureFlagProductionNeedsTenantAdmin(t *testing.T) {
	t.Parallel()
	ts := flagFixture(t)
	user := ts.token(t, "acme", api.RoleTenantUser)
	const path = "/v1/tenants/acme/feature-flags/new-billing"
	for _, patch := range []string{
		`{"environments":{"production":{"enabled":false,"rollout_percentage":0}}}`,
		`{"environments":{"production":null}}`,
	} {
		r := ts.call(t, user, "PATCH", path, patch)
		if e := r.apiError(t); r.status != http.StatusForbidden || e.Field != "environments.production" {
			t.Errorf("PATCH %s as tenant_user: %d %+v", patch, r.status, e)
		}
	}
	if r := ts.call(t, user, "DELETE", path, nil); r.status != http.StatusForbidden {
		t.Errorf("DELETE as tenant_user: %d %s", r.status, r.body)
	}
	ts.mustCall(t, http.StatusOK, user, "PATCH", path, `{"environments":{"staging":{"enabled":false,"rollout_percentage":0}}}`)
	if f := getFlag(t, ts, "new-billing"); !f.Environments["production"].Enabled || f.Environments["staging"].Enabled {
		t.Errorf("flag now %+v", f.Environments)
	}
}

// TestFeatureFlagRolloutDefault checks that an environment entry written
// without rollout_percentage, through POST or PATCH, gets 100, as the
// provider's schema does, while an explicit 0 stays 0 and an entry a PATCH
// only switches keeps its rollout.
func TestFeatureFlagRolloutDefault(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ts.seedFlagEnvironments(t, "acme", "staging", "production", "qa")
	var f api.FeatureFlag
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/feature-flags",
		`{"key":"dark-mode","description":"","environments":{"staging":{"enabled":true},"qa":{"enabled":true,"rollout_percentage":0}}}`).json(t, &f)
	if got := f.Environments["staging"]; got != (api.FlagEnvironment{Enabled: true, RolloutPercentage: 100}) {
		t.Errorf(`POST {"enabled": true}: staging is %+v, want enabled at 100`, got)
	}
	if got := f.Environments["qa"]; got != (api.FlagEnvironment{Enabled: true, RolloutPercentage: 0}) {
		t.Errorf("POST with rollout_percentage 0: qa is %+v, want 0 kept", got)
	}
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme/feature-flags/dark-mode",
		`{"environments":{"production":{"enabled":true},"qa":{"enabled":false}}}`).json(t, &f)
	if got := f.Environments["production"]; got != (api.FlagEnvironment{Enabled: true, RolloutPercentage: 100}) {
		t.Errorf(`PATCH adding {"enabled": true}: production is %+v, want enabled at 100`, got)
	}
	if got := f.Environments["qa"]; got != (api.FlagEnvironment{Enabled: false, RolloutPercentage: 0}) {
		t.Errorf("PATCH switching qa off: %+v, want its rollout 0 kept", got)
	}
	var stored api.FeatureFlag
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/feature-flags/dark-mode", nil).json(t, &stored)
	if stored.Environments["staging"].RolloutPercentage != 100 || stored.Environments["production"].RolloutPercentage != 100 {
		t.Errorf("stored: %+v", stored.Environments)
	}
}
