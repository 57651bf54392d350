package tenantdata_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata/tenantdatatest"
)

// sqliteOptions are the suite's SQLite specifics: binary data, an
// AUTOINCREMENT counter, a generated column and a trigger.
var sqliteOptions = tenantdatatest.Options{
	Sleep: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
	Extra: []string{
		`CREATE TABLE blobs (id INTEGER PRIMARY KEY AUTOINCREMENT, data BLOB, ratio REAL, at DATETIME,
		   doubled INTEGER GENERATED ALWAYS AS (id * 2) STORED);
		 INSERT INTO blobs (data, ratio, at) VALUES (x'00ff10', 0.1, '2024-01-02 03:04:05'), (NULL, -1e300, 'not a time'),
		   (x'', 1.0000000000000002, NULL);
		 DELETE FROM blobs WHERE id = 3`,
		`CREATE TABLE audit (item_id INTEGER, at TEXT);
		 CREATE TRIGGER items_audit AFTER INSERT ON items BEGIN INSERT INTO audit VALUES (new.id, 'x'); END;
		 INSERT INTO items (id, name, note) VALUES (5, 'line' || char(10) || 'break', char(0) || 'nul')`,
	},
	Query: func(t *testing.T, p tenantdata.Plane, ref tenantdata.Ref, query string) []string {
		t.Helper()
		return sqliteQuery(t, p.Location(ref).Name, query)
	},
}

// sqliteQuery reads the first column of every row of a query on a file,
// as a client with the credentials' DSN would.
func sqliteQuery(t *testing.T, path, query string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=rw")
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
		var v sql.NullString
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v.String)
	}
	return out
}

func openSQLite(t *testing.T) *tenantdata.SQLite {
	t.Helper()
	p, err := tenantdata.OpenSQLite(filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	tenantdatatest.Run(t, sqliteOptions, func(t *testing.T) tenantdata.Plane { return openSQLite(t) })
}
