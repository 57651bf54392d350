package server

import (
	"context"
	"database/sql"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
)

// withEnvironment makes an active tenant with one environment.
func withEnvironment(t testing.TB, ts *testServer, slug, env, typ string) api.Environment {
	t.Helper()
	ts.createTenant(t, slug)
	var e api.Environment
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/"+slug+"/environments",
		map[string]any{"name": env, "type": typ, "settings": map[string]string{}}).json(t, &e)
	return e
}

func versionsOf(applied []api.AppliedMigration) []string {
	var out []string
	for _, a := range applied {
		out = append(out, a.Version)
	}
	return out
}

func TestSchemaApply(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	e := withEnvironment(t, ts, "acme", "staging", api.EnvStaging)
	if e.Status != api.StatusActive || e.Database == nil || e.Database.Engine != api.EngineSQLite || e.Database.Isolation != api.PlacementShared {
		t.Fatalf("a new environment: %+v", e)
	}
	admin := ts.token(t, "acme", api.RoleTenantAdmin)
	path := "/v1/tenants/acme/environments/staging/schema"
	expectError(t, ts.call(t, admin, "GET", path, nil), http.StatusNotFound, "", "no schema")

	migrations := map[string]string{
		"2":  "INSERT INTO items (id, name) VALUES (1, 'first'), (2, 'second')",
		"1":  "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
		"10": "ALTER TABLE items ADD COLUMN price REAL",
	}
	// A dry run lists what would be applied, in version order (10 after 2).
	var preview api.Schema
	ts.mustCall(t, http.StatusOK, admin, "PUT", path+"?dry_run=true", map[string]any{"migrations": migrations}).json(t, &preview)
	if !slices.Equal(preview.Pending, []string{"1", "2", "10"}) || len(preview.Applied) != 0 || preview.Revision != 0 {
		t.Errorf("dry run: pending %v, applied %v, revision %d", preview.Pending, preview.Applied, preview.Revision)
	}
	expectError(t, ts.call(t, admin, "GET", path, nil), http.StatusNotFound, "", "no schema")

	var sc api.Schema
	r := ts.mustCall(t, http.StatusCreated, admin, "PUT", path, map[string]any{"migrations": migrations})
	r.json(t, &sc)
	if !slices.Equal(versionsOf(sc.Applied), []string{"1", "2", "10"}) || len(sc.Pending) != 0 || len(sc.Drift) != 0 || r.header.Get("ETag") != `"1"` {
		t.Fatalf("after the PUT: %+v (ETag %s)", sc, r.header.Get("ETag"))
	}
	for _, a := range sc.Applied {
		if a.Checksum != tenantdata.Checksum(migrations[a.Version]) || a.AppliedAt.IsZero() {
			t.Errorf("applied %+v; want the SHA-256 of its SQL and a time", a)
		}
	}
	if got := storeQuery(t, e.Database.Name, "SELECT name || ':' || coalesce(price, 0) FROM items ORDER BY id"); !slices.Equal(got, []string{"first:0", "second:0"}) {
		t.Errorf("the store holds %q", got)
	}
	var got api.Schema
	ts.mustCall(t, http.StatusOK, ts.token(t, "acme", api.RoleTenantViewer), "GET", path, nil).json(t, &got)
	if got.Revision != 1 || len(got.Applied) != 3 || got.ID != "acme/staging" {
		t.Errorf("GET: %+v", got)
	}

	// The same migrations again change nothing, not even the revision.
	r = ts.mustCall(t, http.StatusOK, admin, "PUT", path, map[string]any{"migrations": migrations})
	if r.header.Get("ETag") != `"1"` {
		t.Errorf("an unchanged PUT moved the revision to %s", r.header.Get("ETag"))
	}
	// If-Match as for any object.
	migrations["11"] = "CREATE INDEX items_name ON items (name)"
	expectError(t, ts.call(t, admin, "PUT", path, map[string]any{"migrations": migrations}, "If-Match", `"7"`), http.StatusPreconditionFailed, "", "revision 1")
	ts.mustCall(t, http.StatusOK, admin, "PUT", path, map[string]any{"migrations": migrations}, "If-Match", `"1"`).json(t, &sc)
	if !slices.Equal(versionsOf(sc.Applied), []string{"1", "2", "10", "11"}) || sc.Revision != 2 {
		t.Errorf("after adding 11: applied %v, revision %d", versionsOf(sc.Applied), sc.Revision)
	}

	// Each PUT is audited with what it applied.
	events := auditOf(t, ts, "acme", "&object_kind=schema")
	if len(events) != 2 || !strings.Contains(events[0].Detail, "applied: 1, 2, 10") || !strings.Contains(events[1].Detail, "applied: 11") {
		t.Errorf("audit events %+v", events)
	}
}

func TestSchemaRefusals(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	e := withEnvironment(t, ts, "acme", "staging", api.EnvStaging)
	path := "/v1/tenants/acme/environments/staging/schema"
	base := map[string]string{"1": "CREATE TABLE items (id INTEGER PRIMARY KEY)", "2": "INSERT INTO items VALUES (1)"}
	ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", path, map[string]any{"migrations": base})
	with := func(changes map[string]string, drop ...string) map[string]any {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range changes {
			m[k] = v
		}
		for _, k := range drop {
			delete(m, k)
		}
		return map[string]any{"migrations": m}
	}
	for _, tc := range []struct {
		name           string
		body           map[string]any
		status         int
		field, message string
	}{
		{"changed", with(map[string]string{"2": "INSERT INTO items VALUES (2)"}), 422, "migrations.2", "immutable; put its SQL back, and add a new version"},
		{"removed", with(nil, "1"), 422, "migrations.1", "cannot be removed"},
		{"version zero", with(map[string]string{"0": "SELECT 1"}), 422, "migrations", `"0" is not a positive whole number`},
		{"leading zero", with(map[string]string{"03": "SELECT 1"}), 422, "migrations", `"03"`},
		{"not a number", with(map[string]string{"v3": "SELECT 1"}), 422, "migrations", `"v3"`},
		{"too big", with(map[string]string{"1234567890123456789": "SELECT 1"}), 422, "migrations", "at most 18 digits"},
		{"empty SQL", with(map[string]string{"3": "  \n"}), 422, "migrations.3", "empty"},
		{"oversized SQL", with(map[string]string{"3": "SELECT '" + strings.Repeat("x", api.MaxMigrationBytes) + "'"}), 413, "", ""},
		{"wrong type", map[string]any{"migrations": []string{"CREATE TABLE x (id int)"}}, 400, "migrations", ""},
		{"unknown field", map[string]any{"migrations": base, "checksums": map[string]string{}}, 400, "checksums", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.call(t, ts.admin, "PUT", path, tc.body)
			if tc.status == 413 {
				if r.status != http.StatusRequestEntityTooLarge && r.status != http.StatusUnprocessableEntity {
					t.Errorf("status %d: %s", r.status, r.body)
				}
				return
			}
			expectError(t, r, tc.status, tc.field, tc.message)
		})
	}
	for _, q := range []string{"?timeout=soon", "?timeout=0s", "?timeout=2h", "?dry_run=maybe"} {
		field := "timeout"
		if strings.Contains(q, "dry_run") {
			field = "dry_run"
		}
		expectError(t, ts.call(t, ts.admin, "PUT", path+q, with(nil)), http.StatusBadRequest, field, "")
	}

	// A migration that fails rolls back and is named, with the database's
	// error; those before it stay applied and recorded.
	r := ts.call(t, ts.admin, "PUT", path, with(map[string]string{
		"3": "CREATE TABLE more (id INTEGER)",
		"4": "CREATE TABLE half (id INTEGER); INSERT INTO no_such_table VALUES (1)",
		"5": "CREATE TABLE never (id INTEGER)",
	}))
	expectError(t, r, http.StatusUnprocessableEntity, "migrations.4", "no such table: no_such_table")
	var sc api.Schema
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", path, nil).json(t, &sc)
	if !slices.Equal(versionsOf(sc.Applied), []string{"1", "2", "3"}) || sc.Migrations["4"] != "" || len(sc.Pending) != 0 {
		t.Errorf("after a failed migration: applied %v, migrations %v, pending %v", versionsOf(sc.Applied), sc.Migrations, sc.Pending)
	}
	if tables := storeQuery(t, e.Database.Name, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name"); slices.Contains(tables, "half") || slices.Contains(tables, "never") {
		t.Errorf("a failed migration left tables: %v", tables)
	}
	// A version below one applied is out of order.
	ts.mustCall(t, http.StatusOK, ts.admin, "PUT", path, with(map[string]string{"3": "CREATE TABLE more (id INTEGER)", "10": "SELECT 1"}))
	expectError(t, ts.call(t, ts.admin, "PUT", path, with(map[string]string{"3": "CREATE TABLE more (id INTEGER)", "10": "SELECT 1", "7": "SELECT 1"})),
		http.StatusUnprocessableEntity, "migrations.7", "give it a version above 10")

	// A migration that never ends is cancelled at its timeout.
	r = ts.call(t, ts.admin, "PUT", path+"?timeout=1s", with(map[string]string{"3": "CREATE TABLE more (id INTEGER)", "10": "SELECT 1",
		"11": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"}))
	expectError(t, r, http.StatusUnprocessableEntity, "migrations.11", "did not finish within 1s")
}

func TestSchemaDrift(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	e := withEnvironment(t, ts, "acme", "staging", api.EnvStaging)
	path := "/v1/tenants/acme/environments/staging/schema"
	ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", path, map[string]any{"migrations": map[string]string{
		"1": "CREATE TABLE items (id INTEGER PRIMARY KEY)", "2": "CREATE TABLE tags (id INTEGER)",
	}})
	// By hand, with the credentials' DSN: a migration applied outside the
	// API, and one recorded with another checksum.
	storeExec(t, e.Database.Name, "INSERT INTO "+api.SchemaTable+" VALUES (7, 'abc123', '2025-01-01T00:00:00Z')")
	storeExec(t, e.Database.Name, "UPDATE "+api.SchemaTable+" SET checksum = 'f00d' WHERE version = 2")
	var sc api.Schema
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", path, nil).json(t, &sc)
	if len(sc.Drift) != 2 {
		t.Fatalf("drift %+v; want two", sc.Drift)
	}
	if d := sc.Drift[0]; d.Version != "2" || d.Kind != api.DriftChecksum || d.Checksum != "f00d" || d.ExpectedChecksum != tenantdata.Checksum("CREATE TABLE tags (id INTEGER)") {
		t.Errorf("drift of 2: %+v", d)
	}
	if d := sc.Drift[1]; d.Version != "7" || d.Kind != api.DriftUnknown || !strings.Contains(d.Message, "outside the API") {
		t.Errorf("drift of 7: %+v", d)
	}
	// A PUT that does not account for them is refused, naming the version.
	expectError(t, ts.call(t, ts.admin, "PUT", path, map[string]any{"migrations": sc.Migrations}), http.StatusUnprocessableEntity, "migrations.2", "checksum f00d")
}

// storeExec and storeQuery reach an environment's SQLite file as whoever
// holds its DSN does.
func storeExec(t testing.TB, file, stmt string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+file+"?mode=rw")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func storeQuery(t testing.TB, file, query string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(context.Background(), query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}
