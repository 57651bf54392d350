// Package tenantdatatest is the conformance suite every tenantdata.Plane
// implementation passes.
package tenantdatatest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
)

// Options are what the suite needs to know of an engine's SQL.
type Options struct {
	// Sleep is a statement that runs for a minute or more.
	Sleep string
	// Extra are migrations of the engine's own types and objects (binary
	// data, serial keys, triggers, ...) that the round trips must carry;
	// each is applied after the suite's portable ones.
	Extra []string
	// Query runs a query in a store, as its own role, and returns the first
	// column of every row as text; the suite reads data back with it.
	Query func(t *testing.T, p tenantdata.Plane, ref tenantdata.Ref, query string) []string
}

// Run runs the suite; open returns a new plane for one test and closes it
// when the test ends. The subtests run in parallel, each with tenants of
// its own.
func Run(t *testing.T, opts Options, open func(t *testing.T) tenantdata.Plane) {
	t.Helper()
	for _, tc := range []struct {
		name string
		test func(t *testing.T, p tenantdata.Plane, o Options)
	}{
		{"ProvisionIsIdempotent", testProvision},
		{"LongNames", testLongNames},
		{"MigrateInVersionOrder", testMigrateOrder},
		{"FailedMigrationRollsBack", testMigrationRollsBack},
		{"MigrationCannotEndItsTransaction", testMigrationTransaction},
		{"MigrationTimeout", testMigrationTimeout},
		{"DumpLoadRoundTrip", testRoundTrip},
		{"DumpIsDeterministic", testDeterministic},
		{"LoadRefusesNonEmptyUnlessReplace", testLoadNonEmpty},
		{"LoadRefusesCorruptDump", testLoadCorrupt},
		{"FailedLoadLeavesStoreAsBefore", testLoadAtomic},
		{"Empty", testEmpty},
		{"Drop", testDrop},
		{"Move", testMove},
		{"StoresAreSeparate", testSeparate},
		{"Credentials", testCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, open(t), opts)
		})
	}
}

// Portable migrations: they run as they are on every engine.
var portable = []string{
	`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price NUMERIC(10,2), note TEXT);
	 CREATE INDEX items_name ON items (name)`,
	`CREATE TABLE orders (id INTEGER PRIMARY KEY, item_id INTEGER REFERENCES items (id), qty INTEGER NOT NULL CHECK (qty > 0));
	 CREATE VIEW big_orders AS SELECT id, item_id FROM orders WHERE qty >= 10`,
	`INSERT INTO items (id, name, price, note) VALUES
	   (1, 'widget', 9.99, NULL), (2, 'it''s "quoted"', 0.5, 'ünïcødé ✓'), (3, 'tab	and \ backslash', 1234567.89, ''),
	   (4, 'gadget', NULL, 'note');
	 INSERT INTO orders (id, item_id, qty) VALUES (1, 1, 3), (2, 2, 12), (3, 4, 1)`,
}

// migrations numbers SQL from 1.
func migrations(sqls ...string) []tenantdata.Migration {
	out := make([]tenantdata.Migration, len(sqls))
	for i, s := range sqls {
		out[i] = tenantdata.Migration{Version: int64(i + 1), SQL: s}
	}
	return out
}

// newRef is a store of a tenant unique to the test.
func newRef(t *testing.T, env string) tenantdata.Ref {
	t.Helper()
	slug := fmt.Sprintf("t%d-%s", time.Now().UnixNano()%1e9, strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())))
	slug = strings.Trim(slug[:min(len(slug), 40)], "-")
	return tenantdata.Ref{Tenant: slug, Environment: env, Placement: api.PlacementShared}
}

func provision(t *testing.T, p tenantdata.Plane, ref tenantdata.Ref) {
	t.Helper()
	if err := p.Provision(t.Context(), ref); err != nil {
		t.Fatalf("Provision(%s): %v", ref, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = p.Drop(ctx, ref)
	})
}

func migrate(t *testing.T, p tenantdata.Plane, ref tenantdata.Ref, ms []tenantdata.Migration) []tenantdata.Applied {
	t.Helper()
	done, err := p.Migrate(t.Context(), ref, ms, time.Minute)
	if err != nil {
		t.Fatalf("Migrate(%s): %v", ref, err)
	}
	return done
}

// filled provisions a store and applies the portable and the engine's
// migrations to it.
func filled(t *testing.T, p tenantdata.Plane, o Options, ref tenantdata.Ref) {
	t.Helper()
	provision(t, p, ref)
	migrate(t, p, ref, migrations(append(slices.Clone(portable), o.Extra...)...))
}

func dump(t *testing.T, p tenantdata.Plane, ref tenantdata.Ref) *tenantdata.Dump {
	t.Helper()
	d, err := p.Dump(t.Context(), ref)
	if err != nil {
		t.Fatalf("Dump(%s): %v", ref, err)
	}
	return d
}

// table is the table of a dump with name; an empty one when it has none.
func table(d *tenantdata.Dump, name string) tenantdata.Table {
	for _, t := range d.Tables {
		if t.Name == name {
			return t
		}
	}
	return tenantdata.Table{}
}

func tableNames(stats []tenantdata.TableStat) []string {
	var out []string
	for _, s := range stats {
		out = append(out, fmt.Sprintf("%s:%d", s.Name, s.Rows))
	}
	return out
}

func testProvision(t *testing.T, p tenantdata.Plane, _ Options) {
	ref := newRef(t, "staging")
	if ok, err := p.Exists(t.Context(), ref); err != nil || ok {
		t.Fatalf("Exists before Provision = %v, %v", ok, err)
	}
	provision(t, p, ref)
	provision(t, p, ref) // A retry finishes or finds the work done.
	if ok, err := p.Exists(t.Context(), ref); err != nil || !ok {
		t.Fatalf("Exists after Provision = %v, %v", ok, err)
	}
	if empty, err := p.IsEmpty(t.Context(), ref); err != nil || !empty {
		t.Errorf("IsEmpty of a new store = %v, %v", empty, err)
	}
	stats, err := p.Tables(t.Context(), ref)
	if err != nil || !slices.Equal(tableNames(stats), []string{api.SchemaTable + ":0"}) {
		t.Errorf("Tables of a new store = %v, %v; want the bookkeeping table alone", tableNames(stats), err)
	}
	if applied, err := p.Applied(t.Context(), ref); err != nil || len(applied) != 0 {
		t.Errorf("Applied of a new store = %v, %v", applied, err)
	}
	loc := p.Location(ref)
	if loc.Engine != p.Engine() || loc.Name == "" || loc.Isolation != api.PlacementShared {
		t.Errorf("Location = %+v", loc)
	}
}

func testLongNames(t *testing.T, p tenantdata.Plane, o Options) {
	// The longest slug and environment name there can be, and names that
	// differ only at their ends, which a careless truncation would merge.
	slug := "x" + strings.Repeat("a-", 30) + "z1"
	envA, envB := "e"+strings.Repeat("_", 61)+"a", "e"+strings.Repeat("_", 61)+"b"
	a := tenantdata.Ref{Tenant: slug, Environment: envA, Placement: api.PlacementShared}
	b := tenantdata.Ref{Tenant: slug, Environment: envB, Placement: api.PlacementDedicated}
	for _, ref := range []tenantdata.Ref{a, b} {
		provision(t, p, ref)
	}
	migrate(t, p, a, migrations(portable[0], "INSERT INTO items (id, name) VALUES (7, 'only in a')"))
	if stats, err := p.Tables(t.Context(), b); err != nil || len(stats) != 1 {
		t.Errorf("the store of %q sees %v, %v; want its bookkeeping table alone", envB, tableNames(stats), err)
	}
	if got := o.Query(t, p, a, "SELECT name FROM items"); !slices.Equal(got, []string{"only in a"}) {
		t.Errorf("items of %q = %q", envA, got)
	}
	if tenantdata.SamePlace(p.Location(a), p.Location(b)) {
		t.Errorf("two environments share a location: %+v", p.Location(a))
	}
}

func testMigrateOrder(t *testing.T, p tenantdata.Plane, o Options) {
	ref := newRef(t, "staging")
	provision(t, p, ref)
	ms := migrations(portable...)
	// Given out of order, applied in version order.
	done := migrate(t, p, ref, []tenantdata.Migration{ms[2], ms[0], ms[1]})
	var versions []int64
	for _, a := range done {
		versions = append(versions, a.Version)
	}
	if !slices.Equal(versions, []int64{1, 2, 3}) {
		t.Fatalf("applied %v; want 1, 2, 3", versions)
	}
	applied, err := p.Applied(t.Context(), ref)
	if err != nil || len(applied) != 3 {
		t.Fatalf("Applied = %v, %v", applied, err)
	}
	for i, a := range applied {
		if a.Checksum != tenantdata.Checksum(portable[i]) || a.AppliedAt.IsZero() || time.Since(a.AppliedAt) > time.Hour {
			t.Errorf("Applied[%d] = %+v; want version %d with checksum %s", i, a, i+1, tenantdata.Checksum(portable[i]))
		}
	}
	// Applying again applies nothing.
	if again := migrate(t, p, ref, ms); len(again) != 0 {
		t.Errorf("a second Migrate applied %v", again)
	}
	if got := o.Query(t, p, ref, "SELECT name FROM items ORDER BY id"); len(got) != 4 || got[1] != `it's "quoted"` {
		t.Errorf("items = %q", got)
	}
}

func testMigrationRollsBack(t *testing.T, p tenantdata.Plane, o Options) {
	ref := newRef(t, "staging")
	provision(t, p, ref)
	ms := migrations(portable[0],
		"CREATE TABLE half (id INTEGER); INSERT INTO half VALUES (1); SELECT * FROM no_such_table",
		"CREATE TABLE never (id INTEGER)")
	done, err := p.Migrate(t.Context(), ref, ms, time.Minute)
	var me *tenantdata.MigrationError
	if !errors.As(err, &me) || me.Version != 2 || me.TimedOut || !strings.Contains(err.Error(), "no_such_table") {
		t.Fatalf("Migrate = %v; want a MigrationError of version 2 naming no_such_table", err)
	}
	if len(done) != 1 || done[0].Version != 1 {
		t.Errorf("applied before the failure: %+v; want version 1", done)
	}
	stats, _ := p.Tables(t.Context(), ref)
	if names := tableNames(stats); !slices.Equal(names, []string{"items:0", api.SchemaTable + ":1"}) {
		t.Errorf("tables after the failure: %v; want items and the bookkeeping table with one row", names)
	}
}

func testMigrationTransaction(t *testing.T, p tenantdata.Plane, _ Options) {
	ref := newRef(t, "staging")
	provision(t, p, ref)
	_, err := p.Migrate(t.Context(), ref, migrations("CREATE TABLE a (id INTEGER); COMMIT; CREATE TABLE b (id INTEGER)"), time.Minute)
	var me *tenantdata.MigrationError
	if !errors.As(err, &me) || me.Version != 1 {
		t.Fatalf("a migration that commits by itself: %v; want a MigrationError of version 1", err)
	}
	if applied, _ := p.Applied(t.Context(), ref); len(applied) != 0 {
		t.Errorf("it was recorded as applied: %+v", applied)
	}
}

func testMigrationTimeout(t *testing.T, p tenantdata.Plane, o Options) {
	ref := newRef(t, "staging")
	provision(t, p, ref)
	start := time.Now()
	_, err := p.Migrate(t.Context(), ref, migrations("CREATE TABLE slow (id INTEGER); "+o.Sleep), 500*time.Millisecond)
	took := time.Since(start)
	var me *tenantdata.MigrationError
	if !errors.As(err, &me) || !me.TimedOut || me.Version != 1 || !strings.Contains(err.Error(), "did not finish within 500ms") {
		t.Fatalf("Migrate of a migration that never ends = %v; want it cancelled at its timeout", err)
	}
	if took > 20*time.Second {
		t.Errorf("cancelling took %v", took)
	}
	// Nothing of it stays, and the store works on.
	stats, err := p.Tables(t.Context(), ref)
	if err != nil || len(stats) != 1 {
		t.Errorf("after the timeout: tables %v, %v; want the bookkeeping table alone", tableNames(stats), err)
	}
	migrate(t, p, ref, migrations(portable[0]))
}

func testRoundTrip(t *testing.T, p tenantdata.Plane, o Options) {
	src := newRef(t, "production")
	filled(t, p, o, src)
	d := dump(t, p, src)
	if err := d.Verify(p.Engine()); err != nil {
		t.Fatalf("a fresh dump does not verify: %v", err)
	}
	dst := newRef(t, "sandbox")
	provision(t, p, dst)
	if err := p.Load(t.Context(), dst, d, false); err != nil {
		t.Fatalf("Load into an empty store: %v", err)
	}
	got := dump(t, p, dst)
	if err := tenantdata.SameData(d, got); err != nil {
		t.Errorf("the copy differs: %v", err)
	}
	if got.Checksum != d.Checksum {
		t.Errorf("the copy's dump checksum %s differs from the source's %s: definitions changed", got.Checksum, d.Checksum)
	}
	for _, q := range []string{"SELECT note FROM items ORDER BY id", "SELECT id FROM big_orders"} {
		if a, b := o.Query(t, p, src, q), o.Query(t, p, dst, q); !slices.Equal(a, b) {
			t.Errorf("%s: source %q, copy %q", q, a, b)
		}
	}
	// The copy carries the bookkeeping table: it knows its migrations.
	if a, err := p.Applied(t.Context(), dst); err != nil || len(a) != len(portable)+len(o.Extra) {
		t.Errorf("Applied of the copy = %d, %v; want %d", len(a), err, len(portable)+len(o.Extra))
	}
	rows := 0
	for _, tb := range d.Tables {
		rows += int(tb.RowCount)
	}
	t.Logf("round trip: %d tables, %d rows, dump checksum %s", len(d.Tables), rows, d.Checksum)
}

func testDeterministic(t *testing.T, p tenantdata.Plane, _ Options) {
	a, b := newRef(t, "one"), newRef(t, "two")
	create := "CREATE TABLE kv (k TEXT, v INTEGER)"
	provision(t, p, a)
	provision(t, p, b)
	migrate(t, p, a, migrations(create, "INSERT INTO kv VALUES ('x', 1), ('y', 2), ('z', NULL), ('x', 1)"))
	migrate(t, p, b, migrations(create, "INSERT INTO kv VALUES ('z', NULL), ('x', 1), ('x', 1), ('y', 2)"))
	da, db := dump(t, p, a), dump(t, p, b)
	ta, tb := table(da, "kv"), table(db, "kv")
	if ta.RowCount != 4 || ta.Checksum != tb.Checksum || !slices.Equal(ta.Rows, tb.Rows) {
		t.Errorf("the same rows inserted in another order dump differently:\n%q\n%q", ta.Rows, tb.Rows)
	}
	if again := dump(t, p, a); again.Checksum != da.Checksum {
		t.Errorf("dumping twice gives %s, then %s", da.Checksum, again.Checksum)
	}
}

func testLoadNonEmpty(t *testing.T, p tenantdata.Plane, o Options) {
	src, dst := newRef(t, "production"), newRef(t, "staging")
	filled(t, p, o, src)
	provision(t, p, dst)
	migrate(t, p, dst, migrations("CREATE TABLE mine (id INTEGER)", "INSERT INTO mine VALUES (42)"))
	d := dump(t, p, src)
	if err := p.Load(t.Context(), dst, d, false); !errors.Is(err, tenantdata.ErrNotEmpty) {
		t.Fatalf("Load into a store with data = %v; want ErrNotEmpty", err)
	}
	if got := o.Query(t, p, dst, "SELECT id FROM mine"); !slices.Equal(got, []string{"42"}) {
		t.Errorf("the refused load changed the store: %q", got)
	}
	if err := p.Load(t.Context(), dst, d, true); err != nil {
		t.Fatalf("Load with replace: %v", err)
	}
	if err := tenantdata.SameData(d, dump(t, p, dst)); err != nil {
		t.Errorf("after replacing: %v", err)
	}
	stats, _ := p.Tables(t.Context(), dst)
	if slices.ContainsFunc(stats, func(s tenantdata.TableStat) bool { return s.Name == "mine" }) {
		t.Errorf("replace kept the table the dump does not have: %v", tableNames(stats))
	}
}

func testLoadCorrupt(t *testing.T, p tenantdata.Plane, o Options) {
	src, dst := newRef(t, "production"), newRef(t, "staging")
	filled(t, p, o, src)
	provision(t, p, dst)
	d := dump(t, p, src)
	for i := range d.Tables {
		if d.Tables[i].Name == "items" {
			d.Tables[i].Rows[0] = strings.Replace(d.Tables[i].Rows[0], "widget", "wodget", 1)
		}
	}
	if err := p.Load(t.Context(), dst, d, false); !errors.Is(err, tenantdata.ErrCorrupt) || !strings.Contains(err.Error(), `"items"`) {
		t.Fatalf("Load of a tampered dump = %v; want ErrCorrupt naming the table", err)
	}
	other := *d
	other.Engine = "oracle"
	if err := p.Load(t.Context(), dst, &other, true); !errors.Is(err, tenantdata.ErrCorrupt) {
		t.Errorf("Load of another engine's dump = %v; want ErrCorrupt", err)
	}
	if empty, err := p.IsEmpty(t.Context(), dst); err != nil || !empty {
		t.Errorf("after refused loads the store is not empty: %v, %v", empty, err)
	}
}

func testLoadAtomic(t *testing.T, p tenantdata.Plane, o Options) {
	src, dst := newRef(t, "production"), newRef(t, "staging")
	filled(t, p, o, src)
	provision(t, p, dst)
	migrate(t, p, dst, migrations("CREATE TABLE mine (id INTEGER)", "INSERT INTO mine VALUES (42)"))
	before := dump(t, p, dst)
	d := dump(t, p, src)
	// A statement that fails after every row is in: the whole load must go.
	d.After = append(d.After, "CREATE INDEX broken ON no_such_table (id)")
	if err := d.Seal(); err != nil {
		t.Fatal(err)
	}
	if err := p.Load(t.Context(), dst, d, true); err == nil || !strings.Contains(err.Error(), "no_such_table") {
		t.Fatalf("Load with a failing statement = %v; want its error", err)
	}
	after := dump(t, p, dst)
	if after.Checksum != before.Checksum {
		t.Errorf("the failed load changed the store: %v", tenantdata.SameData(before, after))
	}
}

func testEmpty(t *testing.T, p tenantdata.Plane, o Options) {
	ref := newRef(t, "staging")
	filled(t, p, o, ref)
	if empty, err := p.IsEmpty(t.Context(), ref); err != nil || empty {
		t.Fatalf("IsEmpty of a filled store = %v, %v", empty, err)
	}
	if err := p.Empty(t.Context(), ref); err != nil {
		t.Fatalf("Empty: %v", err)
	}
	if empty, err := p.IsEmpty(t.Context(), ref); err != nil || !empty {
		t.Errorf("IsEmpty after Empty = %v, %v", empty, err)
	}
	// It is as Provision left it: migrations apply again.
	migrate(t, p, ref, migrations(portable...))
}

func testDrop(t *testing.T, p tenantdata.Plane, o Options) {
	ref := newRef(t, "staging")
	filled(t, p, o, ref)
	if err := p.Drop(t.Context(), ref); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	if ok, err := p.Exists(t.Context(), ref); err != nil || ok {
		t.Errorf("Exists after Drop = %v, %v", ok, err)
	}
	if err := p.Drop(t.Context(), ref); err != nil {
		t.Errorf("dropping a dropped store: %v", err)
	}
	if _, err := p.Dump(t.Context(), ref); !errors.Is(err, tenantdata.ErrNotFound) {
		t.Errorf("Dump of a dropped store = %v; want ErrNotFound", err)
	}
	if _, err := p.Applied(t.Context(), ref); !errors.Is(err, tenantdata.ErrNotFound) {
		t.Errorf("Applied of a dropped store = %v; want ErrNotFound", err)
	}
	// Provisioned again, it starts empty.
	provision(t, p, ref)
	if empty, err := p.IsEmpty(t.Context(), ref); err != nil || !empty {
		t.Errorf("a store provisioned after a drop is not empty: %v, %v", empty, err)
	}
}

func testMove(t *testing.T, p tenantdata.Plane, o Options) {
	shared := newRef(t, "staging")
	filled(t, p, o, shared)
	before := dump(t, p, shared)
	dedicated := shared.In(api.PlacementDedicated)
	t.Cleanup(func() { _ = p.Drop(context.Background(), dedicated) })
	moved, err := tenantdata.Move(t.Context(), p, shared, api.PlacementDedicated)
	if err != nil {
		t.Fatalf("Move to dedicated: %v", err)
	}
	after := dump(t, p, dedicated)
	if err := tenantdata.SameData(before, after); err != nil {
		t.Errorf("after the move: %v", err)
	}
	physical := !tenantdata.SamePlace(p.Location(shared), p.Location(dedicated))
	if physical != (moved != nil) {
		t.Errorf("Move moved %v, though the placements are physically different: %v", moved != nil, physical)
	}
	if ok, _ := p.Exists(t.Context(), shared); physical && ok {
		t.Errorf("the shared store is still there after the move")
	}
	back, err := tenantdata.Move(t.Context(), p, dedicated, api.PlacementShared)
	if err != nil {
		t.Fatalf("Move back to shared: %v", err)
	}
	if err := tenantdata.SameData(before, dump(t, p, shared)); err != nil {
		t.Errorf("after moving back: %v", err)
	}
	if ok, _ := p.Exists(t.Context(), dedicated); physical && ok {
		t.Errorf("the dedicated store is still there after moving back")
	}
	rows := int64(0)
	for _, tb := range before.Tables {
		rows += tb.RowCount
	}
	t.Logf("moved %d tables, %d rows, shared -> dedicated -> shared (physical: %v, back: %v)", len(before.Tables), rows, physical, back != nil)
}

func testSeparate(t *testing.T, p tenantdata.Plane, o Options) {
	a, b := newRef(t, "staging"), newRef(t, "production")
	b.Placement = api.PlacementDedicated
	filled(t, p, o, a)
	provision(t, p, b)
	if empty, err := p.IsEmpty(t.Context(), b); err != nil || !empty {
		t.Errorf("another store sees the first one's data: empty %v, %v", empty, err)
	}
	if tenantdata.SamePlace(p.Location(a), p.Location(b)) {
		t.Errorf("two stores share a location: %+v", p.Location(a))
	}
}

func testCredentials(t *testing.T, p tenantdata.Plane, _ Options) {
	ref := newRef(t, "staging")
	provision(t, p, ref)
	c, err := p.MintCredentials(t.Context(), ref, 10*time.Minute)
	if err != nil {
		t.Fatalf("MintCredentials: %v", err)
	}
	if c.Username == "" || c.DSN == "" || time.Until(c.ExpiresAt) < 9*time.Minute || time.Until(c.ExpiresAt) > 11*time.Minute {
		t.Errorf("credentials %+v; want a username, a DSN and an expiry ten minutes ahead", c)
	}
	if err := p.RevokeCredentials(t.Context(), ref, c.Username); err != nil {
		t.Errorf("RevokeCredentials: %v", err)
	}
	missing := newRef(t, "nowhere")
	if _, err := p.MintCredentials(t.Context(), missing, time.Minute); !errors.Is(err, tenantdata.ErrNotFound) {
		t.Errorf("MintCredentials of a missing store = %v; want ErrNotFound", err)
	}
}
