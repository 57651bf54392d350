package server

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

func TestPromotionCarriesSchema(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	for _, env := range []string{api.EnvStaging, api.EnvProduction} {
		ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/environments",
			map[string]any{"name": env, "type": env, "settings": map[string]string{"log_level": env}})
	}
	schema := func(env string, ms map[string]string) {
		t.Helper()
		r := ts.call(t, ts.admin, "PUT", "/v1/tenants/acme/environments/"+env+"/schema", map[string]any{"migrations": ms})
		if r.status != http.StatusOK && r.status != http.StatusCreated {
			t.Fatalf("PUT schema of %s: %d %s", env, r.status, r.body)
		}
	}
	staging := map[string]string{
		"1":  "CREATE TABLE items (id INTEGER PRIMARY KEY)",
		"2":  "ALTER TABLE items ADD COLUMN name TEXT",
		"3":  "INSERT INTO items VALUES (1, 'seed')",
		"10": "CREATE INDEX items_name ON items (name)",
	}
	schema("staging", staging)
	schema("production", map[string]string{"1": staging["1"]})

	promote := map[string]any{"source_environment": "staging", "target_environment": "production", "dry_run": true}
	var preview api.Promotion
	ts.mustCall(t, http.StatusOK, ts.admin, "POST", "/v1/tenants/acme/promotions", promote).json(t, &preview)
	want := []string{
		"schema.2: pending -> applied", "schema.3: pending -> applied", "schema.10: pending -> applied",
		`settings.log_level: "production" -> "staging"`,
	}
	if !slices.Equal(preview.Changes, want) {
		t.Fatalf("preview %q; want %q", preview.Changes, want)
	}
	// The preview says what each store has applied, so that a client can
	// preview migrations planned for the source and not applied yet.
	sums := func(ms map[string]string, versions ...string) map[string]string {
		out := map[string]string{}
		for _, v := range versions {
			out[v] = api.MigrationChecksum(ms[v])
		}
		return out
	}
	if preview.Source.Schema == nil || preview.Target.Schema == nil ||
		!maps.Equal(preview.Source.Schema.Applied, sums(staging, "1", "2", "3", "10")) ||
		!maps.Equal(preview.Target.Schema.Applied, sums(staging, "1")) {
		t.Errorf("the preview's schemas: source %+v, target %+v", preview.Source.Schema, preview.Target.Schema)
	}
	var settingsOnly api.Promotion
	ts.mustCall(t, http.StatusOK, ts.admin, "POST", "/v1/tenants/acme/promotions", map[string]any{
		"source_environment": "staging", "target_environment": "production", "include": []string{"settings"}, "dry_run": true,
	}).json(t, &settingsOnly)
	if settingsOnly.Source.Schema != nil || settingsOnly.Target.Schema != nil {
		t.Errorf("a preview without the schema scope describes schemas: %+v, %+v", settingsOnly.Source.Schema, settingsOnly.Target.Schema)
	}
	// A tenant_user promotes settings into development, but no schema.
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/environments",
		map[string]any{"name": "dev", "type": api.EnvDevelopment, "settings": map[string]string{}})
	// A source without a schema: nothing to promote, and both stores described.
	var fromDev api.Promotion
	ts.mustCall(t, http.StatusOK, ts.admin, "POST", "/v1/tenants/acme/promotions", map[string]any{
		"source_environment": "dev", "target_environment": "production", "include": []string{"schema"}, "dry_run": true,
	}).json(t, &fromDev)
	if len(fromDev.Changes) != 0 || fromDev.Source.Schema == nil || len(fromDev.Source.Schema.Applied) != 0 ||
		fromDev.Target.Schema == nil || !maps.Equal(fromDev.Target.Schema.Applied, sums(staging, "1")) {
		t.Errorf("a preview from a source without a schema: %q, source %+v, target %+v", fromDev.Changes, fromDev.Source.Schema, fromDev.Target.Schema)
	}
	user := ts.token(t, "acme", api.RoleTenantUser)
	expectError(t, ts.call(t, user, "POST", "/v1/tenants/acme/promotions", map[string]any{
		"source_environment": "staging", "target_environment": "dev", "include": []string{"schema", "settings"},
	}), http.StatusForbidden, "include", "needs role tenant_admin")
	ts.mustCall(t, http.StatusCreated, user, "POST", "/v1/tenants/acme/promotions", map[string]any{
		"source_environment": "staging", "target_environment": "dev", "include": []string{"settings"},
	})

	delete(promote, "dry_run")
	promote["expect_changes"] = want
	var done api.Promotion
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/promotions", promote).json(t, &done)
	if !slices.Equal(done.Changes, want) {
		t.Errorf("promotion changes %q; want %q", done.Changes, want)
	}
	var sc api.Schema
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/environments/production/schema", nil).json(t, &sc)
	if !slices.Equal(versionsOf(sc.Applied), []string{"1", "2", "3", "10"}) || len(sc.Drift) != 0 || len(sc.Pending) != 0 || sc.Migrations["10"] != staging["10"] {
		t.Errorf("production's schema after the promotion: %+v", sc)
	}
	if got := storeQuery(t, envDatabase(t, ts, "acme", "production"), "SELECT name FROM items"); !slices.Equal(got, []string{"seed"}) {
		t.Errorf("production's items: %q", got)
	}
	ev := auditOf(t, ts, "acme", "&object_kind=schema&order=desc")
	if len(ev) == 0 || !strings.Contains(ev[0].Detail, `promoted from "staging": applied 2, 3, 10`) {
		t.Errorf("audit %+v", ev[:min(1, len(ev))])
	}
	preview = api.Promotion{}
	ts.mustCall(t, http.StatusOK, ts.admin, "POST", "/v1/tenants/acme/promotions",
		map[string]any{"source_environment": "staging", "target_environment": "production", "dry_run": true}).json(t, &preview)
	if len(preview.Changes) != 0 {
		t.Errorf("a second preview: %q", preview.Changes)
	}

	// Out of order: production has 20; staging's 15 cannot follow it.
	schema("production", map[string]string{"1": staging["1"], "2": staging["2"], "3": staging["3"], "10": staging["10"], "20": "CREATE TABLE prod_only (id INTEGER)"})
	staging["15"] = "CREATE TABLE late (id INTEGER)"
	schema("staging", staging)
	expectError(t, ts.call(t, ts.admin, "POST", "/v1/tenants/acme/promotions", map[string]any{
		"source_environment": "staging", "target_environment": "production", "include": []string{"schema"},
	}), http.StatusConflict, "include", "comes before migration 20")
	// The same version with other SQL on each side is refused too.
	schema("staging", map[string]string{"1": staging["1"], "2": staging["2"], "3": staging["3"], "10": staging["10"], "15": staging["15"], "20": "CREATE TABLE other (id INTEGER)"})
	expectError(t, ts.call(t, ts.admin, "POST", "/v1/tenants/acme/promotions", map[string]any{
		"source_environment": "staging", "target_environment": "production", "include": []string{"schema"}, "dry_run": true,
	}), http.StatusConflict, "include", "different SQL")
}

func envDatabase(t testing.TB, ts *testServer, tenant, env string) string {
	t.Helper()
	var e api.Environment
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/"+tenant+"/environments/"+env, nil).json(t, &e)
	return e.Database.Name
}
