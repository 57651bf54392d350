package tenantdata_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
)

// TestSQLiteIsolation runs, as migrations of tenant A's store (the only way
// the API lets a tenant run SQL on tenancyd's host), every way SQLite has
// of reaching another file: B's store, the directory of the stores, and a
// new file. Each attempt must fail and leave B's file as it was.
func TestSQLiteIsolation(t *testing.T) {
	t.Parallel()
	p := openSQLite(t)
	a := tenantdata.Ref{Tenant: "alpha", Environment: "production", Placement: api.PlacementShared}
	b := tenantdata.Ref{Tenant: "bravo", Environment: "production", Placement: api.PlacementShared}
	for _, ref := range []tenantdata.Ref{a, b} {
		if err := p.Provision(t.Context(), ref); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Migrate(t.Context(), b, []tenantdata.Migration{{Version: 1, SQL: "CREATE TABLE secrets (v TEXT); INSERT INTO secrets VALUES ('bravo-only')"}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	before, err := p.Dump(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	bPath := p.Location(b).Name
	stolen := filepath.Join(filepath.Dir(p.Location(a).Name), "stolen.db")
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	attempts := []string{
		"ATTACH DATABASE " + q(bPath) + " AS b; SELECT * FROM b.secrets",
		"ATTACH " + q("file:"+bPath+"?mode=ro") + " AS b",
		"ATTACH " + q(filepath.Join(p.Dir(), "bravo", "new.db")) + " AS b; CREATE TABLE b.x (v TEXT)",
		"VACUUM INTO " + q(stolen),
		"VACUUM INTO " + q(bPath),
		"PRAGMA temp_store_directory = " + q(filepath.Dir(bPath)),
		"PRAGMA writable_schema = ON",
		"SELECT load_extension(" + q(bPath) + ")",
		"SELECT readfile(" + q(bPath) + ")",
		"SELECT writefile(" + q(stolen) + ", 'x')",
		"CREATE TRIGGER t AFTER INSERT ON " + api.SchemaTable + " BEGIN SELECT 1; END; ATTACH " + q(bPath) + " AS b",
	}
	successes := 0
	for i, sql := range attempts {
		_, err := p.Migrate(t.Context(), a, []tenantdata.Migration{{Version: int64(i + 1), SQL: sql}}, 10*time.Second)
		t.Logf("attempt %d: %v", i+1, err)
		if err == nil {
			successes++
			t.Errorf("tenant A's migration succeeded: %s", sql)
		}
	}
	if _, err := os.Stat(stolen); err == nil {
		t.Errorf("a migration of A wrote %s", stolen)
	}
	entries, _ := os.ReadDir(filepath.Dir(bPath))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if slices.Contains(names, "new.db") {
		t.Errorf("a migration of A made a file in B's directory: %v", names)
	}
	after, err := p.Dump(t.Context(), b)
	if err != nil || after.Checksum != before.Checksum {
		t.Errorf("B's store changed: %v", err)
	}
	t.Logf("SQLite isolation: %d attempts by tenant A's SQL to reach files beyond its own, %d succeeded", len(attempts), successes)
}
