package server

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store/pgtest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
)

// dataEngines start a tenancyd on each engine of tenant data: SQLite files
// beside a SQLite platform database, and PostgreSQL for both.
var dataEngines = map[string]func(t *testing.T, cfg ...func(*Config)) *testServer{
	"sqlite": func(t *testing.T, cfg ...func(*Config)) *testServer { return newTestServer(t, cfg...) },
	"postgres": func(t *testing.T, cfg ...func(*Config)) *testServer {
		url := pgtest.URL(t)
		plane, err := tenantdata.OpenPostgres(t.Context(), url, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = plane.Close() })
		return serveStore(t, openStore(t, url), append(cfg, withData(plane))...)
	},
}

// eachEngine runs a test on every engine of tenant data.
func eachEngine(t *testing.T, test func(t *testing.T, ts *testServer)) {
	t.Helper()
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, dataEngines[name](t))
		})
	}
}

// query reads rows of an environment's data store as an application
// would: with credentials minted by the API, through their DSN, revoked
// afterwards.
func query(t testing.TB, ts *testServer, tenant, env, q string) []string {
	t.Helper()
	path := "/v1/tenants/" + tenant + "/environments/" + env + "/credentials"
	var c api.Credentials
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", path, api.CredentialsRequest{TTLSeconds: 120}).json(t, &c)
	defer ts.mustCall(t, http.StatusNoContent, ts.admin, "DELETE", path+"/"+url.PathEscape(c.Username), nil)
	var out []string
	if strings.HasPrefix(c.DSN, "file:") {
		db, err := sql.Open("sqlite", c.DSN)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rows, err := db.QueryContext(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		return out
	}
	conn, err := pgx.Connect(context.Background(), c.DSN)
	if err != nil {
		t.Fatalf("connecting with the minted DSN: %v", err)
	}
	defer conn.Close(context.Background())
	var user string
	if err := conn.QueryRow(context.Background(), "SELECT session_user").Scan(&user); err != nil || user != c.Username {
		t.Fatalf("connected as %q (%v), not as the minted %q", user, err, c.Username)
	}
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var v any
		err := r.Scan(&v)
		return fmt.Sprint(v), err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// appSchema is an application's schema with rows in it, in SQL both engines take.
func appSchema(tenant string, rows int) map[string]string {
	var values []string
	for i := range rows {
		values = append(values, fmt.Sprintf("(%d, 'order %d of %s', %d)", i+1, i+1, tenant, (i*37)%1000))
	}
	return map[string]string{
		"1": "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
		"2": "CREATE TABLE orders (id INTEGER PRIMARY KEY, note TEXT, cents INTEGER); CREATE INDEX orders_cents ON orders (cents)",
		"3": "INSERT INTO customers VALUES (1, '" + tenant + " one'), (2, '" + tenant + " two'); INSERT INTO orders VALUES " + strings.Join(values, ", "),
	}
}

// newDataTenant makes a tenant with environments, each with the application's
// schema and rows.
func newDataTenant(t testing.TB, ts *testServer, slug, isolation string, rows int, envs ...string) {
	t.Helper()
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants", map[string]any{
		"slug": slug, "display_name": slug, "region": "eu-west", "isolation": isolation, "deletion_protection": false,
	})
	for _, env := range envs {
		typ := api.EnvStaging
		if slices.Contains(api.EnvironmentTypes, env) {
			typ = env
		}
		var e api.Environment
		ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/"+slug+"/environments",
			map[string]any{"name": env, "type": typ, "settings": map[string]string{}}).json(t, &e)
		if e.Status != api.StatusActive || e.Database == nil || e.Database.Isolation != tenantdata.PlacementFor(isolation, typ) {
			t.Fatalf("environment %s/%s: %+v", slug, env, e)
		}
		ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", "/v1/tenants/"+slug+"/environments/"+env+"/schema",
			map[string]any{"migrations": appSchema(slug+"/"+env, rows)})
	}
}

// rowsIn counts an environment's orders through its credentials.
func rowsIn(t testing.TB, ts *testServer, tenant, env string) string {
	t.Helper()
	got := query(t, ts, tenant, env, "SELECT count(*) FROM orders")
	if len(got) != 1 {
		t.Fatalf("count of orders: %v", got)
	}
	return got[0]
}

func TestDataRoundTripThroughBackup(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, ts *testServer) {
		newDataTenant(t, ts, "acme", api.IsolationHybrid, 40, "production", "staging")
		before := map[string]string{}
		for _, env := range []string{"production", "staging"} {
			before[env] = tablesOf(storeDump(t, ts, "acme", env))
		}
		prodRef := envRef(t, ts, "acme", "production")

		// On demand, for the whole tenant: the backup says what it holds.
		var b api.Backup
		ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/backups", map[string]any{"retain_days": 3}).json(t, &b)
		if b.Kind != api.BackupOnDemand || b.Environment != nil || b.SizeBytes == 0 || len(b.Checksum) != 64 || len(b.Stores) != 2 ||
			b.RetainUntil.Sub(b.TakenAt) != 72*time.Hour || b.Records < 3 {
			t.Fatalf("backup %+v", b)
		}
		for env, want := range before {
			if got := storeSummary(b, env); got != want {
				t.Errorf("the backup holds %s of %s; the store holds %s", got, env, want)
			}
		}
		var list api.List[api.Backup]
		ts.mustCall(t, http.StatusOK, ts.token(t, "acme", api.RoleTenantViewer), "GET", "/v1/tenants/acme/backups", nil).json(t, &list)
		if len(list.Items) != 1 || list.Items[0].ID != b.ID {
			t.Errorf("the tenant's backups: %+v", list.Items)
		}

		// Decommission: the final backup holds the data; the stores go.
		var del api.TenantDeletion
		ts.mustCall(t, http.StatusOK, ts.admin, "DELETE", "/v1/tenants/acme", nil).json(t, &del)
		if del.Backup.Kind != api.BackupFinal || storeSummary(del.Backup, "production") != before["production"] {
			t.Errorf("final backup %+v", del.Backup)
		}
		if ok, err := ts.srv.data.Exists(t.Context(), prodRef); err != nil || ok {
			t.Errorf("the production store is still there after the tenant's deletion (%v)", err)
		}

		// Restore: the same tables, rows and checksums, and the schemas know
		// their migrations.
		var res api.RestoreResult
		ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/backups/"+del.Backup.ID+"/restore", nil).json(t, &res)
		for env, want := range before {
			if got := tablesOf(storeDump(t, ts, "acme", env)); got != want {
				t.Errorf("%s after the restore: %s; before: %s", env, got, want)
			}
			var sc api.Schema
			ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/environments/"+env+"/schema", nil).json(t, &sc)
			if len(sc.Applied) != 3 || len(sc.Drift) != 0 || len(sc.Pending) != 0 {
				t.Errorf("the schema of %s after the restore: %+v", env, sc)
			}
			t.Logf("round trip of %s through backup, deletion and restore: before %s; after %s, read through credentials: %s rows of orders",
				env, want, tablesOf(storeDump(t, ts, "acme", env)), rowsIn(t, ts, "acme", env))
		}
		if e := envRef(t, ts, "acme", "production"); e.Placement != api.PlacementDedicated {
			t.Errorf("production came back %s; hybrid puts it in a database of its own", e.Placement)
		}

		// The on-demand backup goes into the live tenant only with replace.
		restore := "/v1/backups/" + b.ID + "/restore"
		expectError(t, ts.call(t, ts.admin, "POST", restore, nil), http.StatusConflict, "replace", "orders (40 rows)")
		query(t, ts, "acme", "staging", "SELECT count(*) FROM orders") // Reads change nothing.
		ts.mustCall(t, http.StatusCreated, ts.admin, "POST", restore, api.RestoreRequest{Replace: true}).json(t, &res)
		if len(res.Stores) != 2 || !res.Stores[0].Replaced {
			t.Errorf("restore with replace: %+v", res)
		}
	})
}

func TestDataMoveBetweenTenants(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, ts *testServer) {
		newDataTenant(t, ts, "acme", api.IsolationShared, 25, "staging")
		ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants", map[string]any{
			"slug": "beta", "display_name": "Beta", "region": "eu-west", "isolation": api.IsolationDedicated, "deletion_protection": false,
		})
		ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/beta/environments",
			map[string]any{"name": "imported", "type": api.EnvDevelopment, "settings": map[string]string{}})
		want := tablesOf(storeDump(t, ts, "acme", "staging"))

		var b api.Backup
		ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/backups", map[string]any{"environment": "staging"}).json(t, &b)
		if b.Environment == nil || *b.Environment != "staging" || len(b.Stores) != 1 || b.Records != 2 {
			t.Fatalf("environment backup %+v", b)
		}
		move := api.RestoreRequest{TargetTenant: "beta", TargetEnvironment: "imported", Move: true}
		restore := "/v1/backups/" + b.ID + "/restore"

		// acme's admin may not reach beta at all.
		expectError(t, ts.call(t, ts.token(t, "acme", api.RoleTenantAdmin), "POST", restore, move), http.StatusNotFound, "", `tenant "beta" not found`)

		// The dry run lists tables and rows, and changes nothing.
		dry := move
		dry.DryRun = true
		var preview api.RestoreResult
		ts.mustCall(t, http.StatusOK, ts.admin, "POST", restore, dry).json(t, &preview)
		if !preview.DryRun || len(preview.Stores) != 1 || !preview.Stores[0].Emptied || preview.Stores[0].TargetEnvironment != "imported" ||
			restoredLine(preview.Stores) != storesLine(b.Stores) {
			t.Errorf("dry run %+v", preview)
		}
		if empty, _ := ts.srv.data.IsEmpty(t.Context(), envRef(t, ts, "beta", "imported")); !empty {
			t.Error("the dry run wrote into beta")
		}

		var res api.RestoreResult
		ts.mustCall(t, http.StatusCreated, ts.admin, "POST", restore, move).json(t, &res)
		if got := tablesOf(storeDump(t, ts, "beta", "imported")); got != want {
			t.Errorf("beta/imported holds %s; acme/staging held %s", got, want)
		}
		if empty, err := ts.srv.data.IsEmpty(t.Context(), envRef(t, ts, "acme", "staging")); err != nil || !empty {
			t.Errorf("the source is not empty after the move (%v)", err)
		}
		t.Logf("move between tenants: acme/staging held %s; beta/imported holds %s rows of orders, acme/staging is empty", want, rowsIn(t, ts, "beta", "imported"))
		var sc api.Schema
		ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/beta/environments/imported/schema", nil).json(t, &sc)
		if len(sc.Applied) != 3 || len(sc.Drift) != 0 {
			t.Errorf("beta's schema after the move: %+v", sc)
		}
		ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/acme/environments/staging/schema", nil)

		// Audited on both tenants.
		audited := func(tenant, action, fragment string) {
			t.Helper()
			for _, ev := range auditOf(t, ts, tenant, "") {
				if ev.Action == action && strings.Contains(ev.Detail, fragment) {
					return
				}
			}
			t.Errorf("no %s event saying %q in %s's audit log", action, fragment, tenant)
		}
		audited("beta", "backup.restore", "moved in")
		audited("acme", "backup.move_out", `tenant "beta"`)

		// The source changed since the backup (it is empty now): no second move.
		move.Replace = true
		expectError(t, ts.call(t, ts.admin, "POST", restore, move), http.StatusConflict, "move", "changed since backup")
		if got := tablesOf(storeDump(t, ts, "beta", "imported")); got != want {
			t.Errorf("a refused move changed the target: %s", got)
		}
	})
}

func TestDataMovesWithIsolation(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, ts *testServer) {
		newDataTenant(t, ts, "acme", api.IsolationShared, 30, "production", "staging")
		want := map[string]string{}
		for _, env := range []string{"production", "staging"} {
			want[env] = tablesOf(storeDump(t, ts, "acme", env))
		}
		check := func(isolation string) {
			t.Helper()
			for env, tables := range want {
				var e api.Environment
				ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/environments/"+env, nil).json(t, &e)
				typ := map[string]string{"production": api.EnvProduction, "staging": api.EnvStaging}[env]
				if e.Database == nil || e.Database.Isolation != tenantdata.PlacementFor(isolation, typ) {
					t.Errorf("%s under %s isolation: database %+v", env, isolation, e.Database)
				}
				if got := tablesOf(storeDump(t, ts, "acme", env)); got != tables {
					t.Errorf("%s under %s isolation holds %s; it held %s", env, isolation, got, tables)
				}
				t.Logf("%s under %s isolation: %s, %s rows of orders (30 before)", env, isolation, e.Database.Name, rowsIn(t, ts, "acme", env))
			}
		}
		for _, iso := range []string{api.IsolationDedicated, api.IsolationHybrid, api.IsolationShared} {
			ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme", map[string]any{"isolation": iso})
			check(iso)
		}
		// Under hybrid, a staging environment that becomes production moves too.
		ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme", map[string]any{"isolation": api.IsolationHybrid})
		var e api.Environment
		ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme/environments/staging", map[string]any{"type": api.EnvProduction}).json(t, &e)
		if e.Database.Isolation != api.PlacementDedicated || tablesOf(storeDump(t, ts, "acme", "staging")) != want["staging"] {
			t.Errorf("staging made production: %+v", e.Database)
		}
		moves := auditOf(t, ts, "acme", "&object_kind=environment")
		n := 0
		for _, ev := range moves {
			if ev.Action == "environment.move" {
				n++
			}
		}
		if n != 6 {
			t.Errorf("%d environment.move events; want 6 (both environments to dedicated, staging to shared, production back, both again, staging retyped)", n)
		}
		// The stores left behind are gone (on PostgreSQL, where placements differ).
		for _, env := range []string{"production", "staging"} {
			ref := envRef(t, ts, "acme", env)
			other := ref.In(api.PlacementShared)
			if tenantdata.SamePlace(ts.srv.data.Location(ref), ts.srv.data.Location(other)) {
				continue
			}
			if ok, _ := ts.srv.data.Exists(t.Context(), other); ok {
				t.Errorf("%s's shared store is still there", env)
			}
		}
	})
}

func TestEnvironmentFromBackup(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	newDataTenant(t, ts, "acme", api.IsolationShared, 12, "production")
	admin := ts.token(t, "acme", api.RoleTenantAdmin)
	var b api.Backup
	ts.mustCall(t, http.StatusCreated, admin, "POST", "/v1/tenants/acme/backups", map[string]any{"environment": "production"}).json(t, &b)
	create := func(token, backup string) response {
		return ts.call(t, token, "POST", "/v1/tenants/acme/environments", map[string]any{
			"name": "sandbox", "type": api.EnvSandbox, "settings": map[string]string{}, "restore_from_backup": backup,
		})
	}
	expectError(t, create(admin, "last-night"), http.StatusUnprocessableEntity, "restore_from_backup", "not a backup id")
	expectError(t, create(admin, "bkp_00000000000000000000"), http.StatusNotFound, "restore_from_backup", "not found")
	newDataTenant(t, ts, "zeta", api.IsolationShared, 3, "production")
	var zb api.Backup
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/zeta/backups", map[string]any{}).json(t, &zb)
	expectError(t, create(admin, zb.ID), http.StatusNotFound, "restore_from_backup", "not found")

	var dry api.Environment
	ts.mustCall(t, http.StatusOK, admin, "POST", "/v1/tenants/acme/environments?dry_run=true", map[string]any{
		"name": "sandbox", "type": api.EnvSandbox, "settings": map[string]string{}, "restore_from_backup": b.ID,
	}).json(t, &dry)
	if dry.Database == nil || dry.Database.Name == "" {
		t.Errorf("the dry run does not say where the database will be: %+v", dry)
	}
	var e api.Environment
	r := create(admin, b.ID)
	if r.status != http.StatusCreated {
		t.Fatalf("%d %s", r.status, r.body)
	}
	r.json(t, &e)
	if *e.RestoreFromBackup != b.ID || e.Status != api.StatusActive {
		t.Errorf("sandbox %+v", e)
	}
	if got, want := tablesOf(storeDump(t, ts, "acme", "sandbox")), tablesOf(storeDump(t, ts, "acme", "production")); got != want {
		t.Errorf("the sandbox holds %s; production %s", got, want)
	}
	var sc api.Schema
	ts.mustCall(t, http.StatusOK, admin, "GET", "/v1/tenants/acme/environments/sandbox/schema", nil).json(t, &sc)
	if len(sc.Applied) != 3 || len(sc.Drift) != 0 {
		t.Errorf("the sandbox's schema: %+v", sc)
	}
	expectError(t, ts.call(t, admin, "PATCH", "/v1/tenants/acme/environments/sandbox", map[string]any{"restore_from_backup": nil}),
		http.StatusUnprocessableEntity, "restore_from_backup", "only when an environment is created")
	// A platform admin seeds from another tenant's backup.
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/environments", map[string]any{
		"name": "zeta-copy", "type": api.EnvSandbox, "settings": map[string]string{}, "restore_from_backup": zb.ID,
	})
	t.Logf("sandbox from backup: production held %s rows of orders; the sandbox holds %s", rowsIn(t, ts, "acme", "production"), rowsIn(t, ts, "acme", "sandbox"))
}

func TestEnvironmentDeletionBacksUpItsData(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	newDataTenant(t, ts, "acme", api.IsolationShared, 7, "staging")
	want := tablesOf(storeDump(t, ts, "acme", "staging"))
	ref := envRef(t, ts, "acme", "staging")
	ts.mustCall(t, http.StatusNoContent, ts.admin, "DELETE", "/v1/tenants/acme/environments/staging", nil)
	if ok, _ := ts.srv.data.Exists(t.Context(), ref); ok {
		t.Error("the store of a deleted environment is still there")
	}
	var list api.List[api.Backup]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/backups", nil).json(t, &list)
	if len(list.Items) != 1 || list.Items[0].Kind != api.BackupFinal || *list.Items[0].Environment != "staging" || storeSummary(list.Items[0], "staging") != want {
		t.Fatalf("backups after deleting staging: %+v", list.Items)
	}
	ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/acme/environments/staging/schema", nil)
	// A new staging starts empty, and takes the old one's data when asked.
	var e api.Environment
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/environments",
		map[string]any{"name": "staging", "type": api.EnvStaging, "settings": map[string]string{}}).json(t, &e)
	if empty, err := ts.srv.data.IsEmpty(t.Context(), ref); err != nil || !empty {
		t.Errorf("a new environment under an old name is not empty (%v)", err)
	}
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/backups/"+list.Items[0].ID+"/restore", api.RestoreRequest{TargetEnvironment: "staging"})
	if got := tablesOf(storeDump(t, ts, "acme", "staging")); got != want {
		t.Errorf("restored: %s; want %s", got, want)
	}
	// Deleting the backup is audited; it is gone.
	ts.mustCall(t, http.StatusNoContent, ts.admin, "DELETE", "/v1/tenants/acme/backups/"+list.Items[0].ID, nil)
	ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/acme/backups/"+list.Items[0].ID, nil)
}

func TestBackupsExpire(t *testing.T) {
	t.Parallel()
	clock := newStepClock()
	ts := newTestServer(t, withClock(clock))
	newDataTenant(t, ts, "acme", api.IsolationShared, 2, "staging")
	var short, long api.Backup
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/backups", map[string]any{"retain_days": 1}).json(t, &short)
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/backups", map[string]any{"retain_days": 5}).json(t, &long)
	clock.Advance(36 * time.Hour)
	if n, err := ts.srv.expireBackups(t.Context()); err != nil || n != 1 {
		t.Fatalf("expireBackups = %d, %v; want the one past its retain_until", n, err)
	}
	ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/acme/backups/"+short.ID, nil)
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/backups/"+long.ID, nil)
	var events api.List[api.AuditEvent]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/audit-events?object_kind=backup", nil).json(t, &events)
	if len(events.Items) != 1 || events.Items[0].Action != "backup.expire" || events.Items[0].ObjectKey != short.ID ||
		!strings.Contains(events.Items[0].Detail, "on_demand backup of tenant \"acme\"") {
		t.Errorf("audit events %+v", events.Items)
	}
}

func TestBackupIntegrity(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	ts := newTestServer(t, func(c *Config) { c.SecretKey = key })
	newDataTenant(t, ts, "acme", api.IsolationShared, 5, "staging")
	var b api.Backup
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/backups", map[string]any{"environment": "staging"}).json(t, &b)
	if !b.Encrypted {
		t.Errorf("a backup under a secret key is not encrypted: %+v", b)
	}
	var rec store.BackupRecord
	err := ts.store.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		var err error
		rec, err = tx.Backup(ctx, b.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rec.Payload), "order 1 of acme") || strings.Contains(string(rec.Payload), "customers") {
		t.Error("the encrypted payload shows the data")
	}
	restore := "/v1/backups/" + b.ID + "/restore"
	ts.mustCall(t, http.StatusOK, ts.admin, "POST", restore+"?dry_run=true", api.RestoreRequest{TargetEnvironment: "staging", Replace: true})

	// Another server on the same database, without the key, cannot read it.
	other := serveStore(t, ts.store, withData(ts.srv.data))
	expectError(t, other.call(t, other.admin, "POST", restore+"?dry_run=true", api.RestoreRequest{TargetEnvironment: "staging", Replace: true}),
		http.StatusConflict, "", "TENANCYD_SECRET_KEY")

	// A payload that does not match its checksum is refused.
	err = ts.store.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		if err := tx.DeleteBackup(ctx, rec.ID); err != nil {
			return err
		}
		rec.Payload[len(rec.Payload)-1] ^= 1
		return tx.PutBackup(ctx, rec)
	})
	if err != nil {
		t.Fatal(err)
	}
	before := tablesOf(storeDump(t, ts, "acme", "staging"))
	expectError(t, ts.call(t, ts.admin, "POST", restore, api.RestoreRequest{TargetEnvironment: "staging", Replace: true}),
		http.StatusConflict, "checksum", "does not match its checksum")
	if after := tablesOf(storeDump(t, ts, "acme", "staging")); after != before {
		t.Errorf("a refused restore changed the store: %s", after)
	}
}

func TestProvisioningFailsAndRetries(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	plane, err := tenantdata.OpenSQLite(dir)
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, withData(plane))
	ts.createTenant(t, "acme")
	// A file where the tenant's directory should be: provisioning fails.
	blocker := filepath.Join(dir, "acme")
	if err := os.WriteFile(blocker, []byte("in the way"), 0o600); err != nil {
		t.Fatal(err)
	}
	var e api.Environment
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/environments",
		map[string]any{"name": "staging", "type": api.EnvStaging, "settings": map[string]string{}}).json(t, &e)
	if e.Status != api.StatusFailed || e.StatusReason == "" || e.Database != nil {
		t.Fatalf("an environment whose store could not be made: %+v", e)
	}
	expectError(t, ts.call(t, ts.admin, "GET", "/v1/tenants/acme/environments/staging/schema", nil), http.StatusNotFound, "", "no schema")
	expectError(t, ts.call(t, ts.admin, "PUT", "/v1/tenants/acme/environments/staging/schema", map[string]any{"migrations": map[string]string{"1": "SELECT 1"}}),
		http.StatusConflict, "", "is failed")
	ts.srv.dataRound(t.Context()) // Still in the way: still failed, nothing new recorded.
	n := len(auditOf(t, ts, "acme", ""))
	ts.srv.dataRound(t.Context())
	if len(auditOf(t, ts, "acme", "")) != n {
		t.Error("a retry that failed again for the same reason was recorded again")
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	ts.srv.dataRound(t.Context())
	var retried api.Environment
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/environments/staging", nil).json(t, &retried)
	if retried.Status != api.StatusActive || retried.StatusReason != "" || retried.Database == nil {
		t.Fatalf("after the retry: %+v", retried)
	}
	ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", "/v1/tenants/acme/environments/staging/schema",
		map[string]any{"migrations": map[string]string{"1": "CREATE TABLE t (id INTEGER)"}})
}

func TestTenantProvisioningStepsDoTheWork(t *testing.T) {
	t.Parallel()
	clock := newStepClock()
	dir := filepath.Join(t.TempDir(), "data")
	plane, err := tenantdata.OpenSQLite(dir)
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, withClock(clock), withData(plane), func(c *Config) { c.ProvisioningDelay, c.DataInterval = 4*time.Second, time.Second })
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants", map[string]any{"slug": "acme", "display_name": "Acme", "region": "eu-west"})
	// The data directory is gone, and a file is in its place: resource
	// allocation cannot ready the data plane.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	clock.Advance(1500 * time.Millisecond)
	_ = ts.srv.provisionDue(t.Context())
	var tn api.Tenant
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme", nil).json(t, &tn)
	if tn.Status != api.StatusFailed || tn.ProvisioningStep != "request" || !strings.Contains(tn.StatusReason, "resource allocation") {
		t.Fatalf("after a failed step: %+v", tn)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	clock.Advance(5 * time.Second)
	_ = ts.srv.provisionDue(t.Context())
	tn = api.Tenant{}
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme", nil).json(t, &tn)
	if tn.Status != api.StatusActive || tn.StatusReason != "" {
		t.Fatalf("after the retry: %+v", tn)
	}
	var actions []string
	for _, ev := range auditOf(t, ts, "acme", "") {
		actions = append(actions, ev.Action)
	}
	if !slices.Contains(actions, "tenant.provisioning.failed") || !slices.Contains(actions, "tenant.provisioning.activation") {
		t.Errorf("audit actions %v", actions)
	}
}
