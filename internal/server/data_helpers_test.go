package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
)

// envRef is the store of an environment as the API says it is.
func envRef(t testing.TB, ts *testServer, tenant, env string) tenantdata.Ref {
	t.Helper()
	var e api.Environment
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/"+tenant+"/environments/"+env, nil).json(t, &e)
	if e.Database == nil {
		t.Fatalf("environment %s/%s has no database: %+v", tenant, env, e)
	}
	return tenantdata.Ref{Tenant: tenant, Environment: env, Placement: e.Database.Isolation}
}

// fillStore gives an environment's store a table with rows, straight in
// the data plane, as an application with credentials would.
func fillStore(t testing.TB, ts *testServer, tenant, env string, rows int) {
	t.Helper()
	var values []string
	for i := range rows {
		values = append(values, fmt.Sprintf("(%d, 'item %d of %s', %d.5)", i+1, i+1, tenant, i))
	}
	sql := "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL); INSERT INTO items VALUES " + strings.Join(values, ", ")
	if _, err := ts.srv.data.Migrate(context.Background(), envRef(t, ts, tenant, env),
		[]tenantdata.Migration{{Version: 9001, SQL: sql}}, time.Minute); err != nil {
		t.Fatal(err)
	}
}

// storeDump is everything an environment's store holds.
func storeDump(t testing.TB, ts *testServer, tenant, env string) *tenantdata.Dump {
	t.Helper()
	d, err := ts.srv.data.Dump(context.Background(), envRef(t, ts, tenant, env))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// tablesOf says which tables a dump holds, with their rows and checksums.
func tablesOf(d *tenantdata.Dump) string {
	var parts []string
	for _, tb := range d.Tables {
		if tb.Name != api.SchemaTable {
			parts = append(parts, fmt.Sprintf("%s: %d rows, %.12s", tb.Name, tb.RowCount, tb.Checksum))
		}
	}
	return strings.Join(parts, "; ")
}

// storeSummary is tablesOf for what a backup says it holds of an environment.
func storeSummary(b api.Backup, env string) string {
	var parts []string
	for _, st := range b.Stores {
		if st.Environment != env {
			continue
		}
		for _, tb := range st.Tables {
			if tb.Name != api.SchemaTable {
				parts = append(parts, fmt.Sprintf("%s: %d rows, %.12s", tb.Name, tb.Rows, tb.Checksum))
			}
		}
	}
	return strings.Join(parts, "; ")
}
