package tenantdata_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
)

// bravoSchema is what tenant B keeps in each of its stores: tables with
// rows, a sequence, a view and a function.
var bravoSchema = []tenantdata.Migration{{Version: 1, SQL: `
	CREATE TABLE accounts (id serial PRIMARY KEY, owner text NOT NULL, balance numeric NOT NULL);
	CREATE TABLE "Secret Notes" (id integer PRIMARY KEY, body text);
	CREATE SEQUENCE invoice_numbers;
	CREATE VIEW rich AS SELECT owner FROM accounts WHERE balance > 1000;
	CREATE FUNCTION total() RETURNS numeric LANGUAGE sql AS 'SELECT sum(balance) FROM accounts';
	INSERT INTO accounts (owner, balance) VALUES ('bravo-ceo', 1000000), ('bravo-intern', 12);
	INSERT INTO "Secret Notes" VALUES (1, 'bravo merger plans')`}}

// attempt is one thing tenant A's login tries against tenant B.
type attempt struct {
	what string
	// sql runs in a transaction that is rolled back; copyOut runs a COPY
	// TO STDOUT instead; query counts the rows a catalog query returns,
	// and any row is a success.
	sql, copyOut, query string
}

// attacks are every read, write and escalation that A may try on one of
// B's stores, reached through database db (the one both share, when B's
// store is shared).
func attacks(schema string, role string) []attempt {
	q := func(n string) string { return pgx.Identifier{schema, n}.Sanitize() }
	s := pgx.Identifier{schema}.Sanitize()
	var out []attempt
	for _, table := range []string{"accounts", "Secret Notes"} {
		t := q(table)
		out = append(out,
			attempt{what: "read " + t, sql: "SELECT * FROM " + t},
			attempt{what: "count " + t, sql: "SELECT count(*) FROM " + t},
			attempt{what: "read " + t + " by search_path", sql: "SET LOCAL search_path = " + s + "; SELECT * FROM " + pgx.Identifier{table}.Sanitize()},
			attempt{what: "copy " + t, copyOut: "COPY " + t + " TO STDOUT"},
			attempt{what: "insert into " + t, sql: "INSERT INTO " + t + " (id) VALUES (99)"},
			attempt{what: "update " + t, sql: "UPDATE " + t + " SET id = id"},
			attempt{what: "delete from " + t, sql: "DELETE FROM " + t},
			attempt{what: "truncate " + t, sql: "TRUNCATE " + t},
			attempt{what: "alter " + t, sql: "ALTER TABLE " + t + " ADD COLUMN stolen int"},
			attempt{what: "drop " + t, sql: "DROP TABLE " + t},
			attempt{what: "lock " + t, sql: "LOCK TABLE " + t + " IN ACCESS EXCLUSIVE MODE"},
			attempt{what: "index " + t, sql: "CREATE INDEX ON " + t + " (id)"},
			attempt{what: "grant " + t, sql: "GRANT SELECT ON " + t + " TO CURRENT_USER"},
			attempt{what: "trigger on " + t, sql: "CREATE TRIGGER x BEFORE INSERT ON " + t + " FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()"},
			attempt{what: "catalog: columns of " + t, query: fmt.Sprintf("SELECT column_name FROM information_schema.columns WHERE table_schema = '%s' AND table_name = '%s'", schema, table)},
			attempt{what: "catalog: statistics of " + t, query: fmt.Sprintf("SELECT attname FROM pg_stats WHERE schemaname = '%s' AND tablename = '%s'", schema, table)},
		)
	}
	out = append(out,
		attempt{what: "read view", sql: "SELECT * FROM " + q("rich")},
		attempt{what: "call function", sql: "SELECT " + q("total") + "()"},
		attempt{what: "nextval", sql: "SELECT nextval('" + q("invoice_numbers") + "')"},
		attempt{what: "read sequence", sql: "SELECT * FROM " + q("invoice_numbers")},
		attempt{what: "setval", sql: "SELECT setval('" + q("invoice_numbers") + "', 1)"},
		attempt{what: "create table in schema", sql: "CREATE TABLE " + q("planted") + " (id int)"},
		attempt{what: "create view in schema", sql: "CREATE VIEW " + q("planted_v") + " AS SELECT 1"},
		attempt{what: "create function in schema", sql: "CREATE FUNCTION " + q("planted_f") + "() RETURNS int LANGUAGE sql AS 'SELECT 1'"},
		attempt{what: "rename schema", sql: "ALTER SCHEMA " + s + " RENAME TO stolen"},
		attempt{what: "drop schema", sql: "DROP SCHEMA " + s + " CASCADE"},
		attempt{what: "grant schema", sql: "GRANT USAGE ON SCHEMA " + s + " TO CURRENT_USER"},
		attempt{what: "default privileges of B's role", sql: "ALTER DEFAULT PRIVILEGES FOR ROLE " + pgx.Identifier{role}.Sanitize() +
			" IN SCHEMA " + s + " GRANT SELECT ON TABLES TO CURRENT_USER"},
		attempt{what: "set role to B's role", sql: "SET ROLE " + pgx.Identifier{role}.Sanitize()},
		attempt{what: "session authorization B", sql: "SET SESSION AUTHORIZATION " + pgx.Identifier{role}.Sanitize()},
		attempt{what: "grant B's role to oneself", sql: "GRANT " + pgx.Identifier{role}.Sanitize() + " TO CURRENT_USER"},
		attempt{what: "alter B's role", sql: "ALTER ROLE " + pgx.Identifier{role}.Sanitize() + " LOGIN PASSWORD 'x'"},
		attempt{what: "catalog: B's tables by privilege", query: fmt.Sprintf("SELECT table_name FROM information_schema.tables WHERE table_schema = '%s'", schema)},
		attempt{what: "catalog: B's routines by privilege", query: fmt.Sprintf("SELECT routine_name FROM information_schema.routines WHERE routine_schema = '%s'", schema)},
		attempt{what: "catalog: readable tables of B", query: fmt.Sprintf(
			"SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '%s' AND has_table_privilege(c.oid, 'SELECT')", schema)},
	)
	return out
}

// serverAttacks reach past any store: the server's files and roles.
var serverAttacks = []attempt{
	{what: "superuser", sql: "ALTER ROLE CURRENT_USER SUPERUSER"},
	{what: "create role", sql: "CREATE ROLE stolen LOGIN"},
	{what: "create database", sql: "CREATE DATABASE stolen"},
	{what: "read server file", sql: "SELECT pg_read_file('PG_VERSION')"},
	{what: "list server files", sql: "SELECT pg_ls_dir('.')"},
	{what: "write server file", sql: "COPY (SELECT 1) TO '/tmp/tenancy-stolen'"},
	{what: "run a program", sql: "COPY (SELECT 1) TO PROGRAM 'true'"},
	{what: "import a large object", sql: "SELECT lo_import('/etc/passwd')"},
	{what: "untrusted language", sql: "CREATE FUNCTION x() RETURNS int LANGUAGE c AS 'x'"},
	{what: "extension", sql: "CREATE EXTENSION dblink"},
	{what: "create in public", sql: "CREATE TABLE public.planted (id int)"},
}

// run tries one attempt; it reports whether it succeeded.
func (a attempt) run(ctx context.Context, c *pgx.Conn) (bool, error) {
	switch {
	case a.copyOut != "":
		_, err := c.PgConn().CopyTo(ctx, io.Discard, a.copyOut)
		return err == nil, err
	case a.query != "":
		rows, err := c.Query(ctx, a.query)
		if err != nil {
			return false, err
		}
		n := 0
		for rows.Next() {
			n++
		}
		rows.Close()
		return n > 0, rows.Err()
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	_, err = c.PgConn().Exec(ctx, a.sql).ReadAll()
	return err == nil, err
}

// TestPostgresIsolation gives tenant A credentials, as the API mints them,
// and tries with them every schema, database and table of tenant B, with
// B's staging store shared (a schema in the database A's stores share) and
// its production store dedicated: reads, writes, DDL, catalog discovery
// and escalation, connected as A's minted login. Every attempt must fail.
// It then reports what PostgreSQL's world-readable catalogs show of B to a
// login in the shared database: names only, never data.
func TestPostgresIsolation(t *testing.T) {
	t.Parallel()
	p := openPostgres(t)
	ctx := t.Context()
	a := tenantdata.Ref{Tenant: "alpha", Environment: "staging", Placement: api.PlacementShared}
	aProd := tenantdata.Ref{Tenant: "alpha", Environment: "production", Placement: api.PlacementDedicated}
	bStaging := tenantdata.Ref{Tenant: "bravo", Environment: "staging", Placement: api.PlacementShared}
	bProd := tenantdata.Ref{Tenant: "bravo", Environment: "production", Placement: api.PlacementDedicated}
	for _, ref := range []tenantdata.Ref{a, aProd, bStaging, bProd} {
		if err := p.Provision(ctx, ref); err != nil {
			t.Fatal(err)
		}
	}
	for _, ref := range []tenantdata.Ref{bStaging, bProd} {
		if _, err := p.Migrate(ctx, ref, bravoSchema, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	before := map[tenantdata.Ref]string{}
	for _, ref := range []tenantdata.Ref{bStaging, bProd} {
		d, err := p.Dump(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		before[ref] = d.Checksum
	}

	attempts, successes := 0, 0
	try := func(from string, c *pgx.Conn, list []attempt) {
		for _, at := range list {
			attempts++
			if ok, _ := at.run(ctx, c); ok {
				successes++
				t.Errorf("tenant A's login (%s) succeeded: %s", from, at.what)
			}
		}
	}
	for _, own := range []tenantdata.Ref{a, aProd} {
		cred, err := p.MintCredentials(ctx, own, 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		from := "A's " + own.Environment + " login"
		c, err := pgx.Connect(ctx, cred.DSN)
		if err != nil {
			t.Fatalf("A connecting to its own store: %v", err)
		}
		var user string
		if err := c.QueryRow(ctx, "SELECT session_user").Scan(&user); err != nil || user != cred.Username {
			t.Fatalf("connected as %q (%v), not as the minted login %q", user, err, cred.Username)
		}
		// B's shared schema lives in the same database as A's staging store.
		for _, b := range []tenantdata.Ref{bStaging, bProd} {
			try(from, c, attacks(p.Location(b).Schema, groupOf(t, c, p, b)))
		}
		try(from, c, serverAttacks)
		c.Close(ctx)

		// B's dedicated database, and every database of the server.
		for _, db := range []string{p.Location(bProd).Name} {
			attempts++
			u, _ := url.Parse(cred.DSN)
			u.Path = "/" + db
			if bc, err := pgx.Connect(ctx, u.String()); err == nil {
				successes++
				t.Errorf("%s connected to B's database %s", from, db)
				try(from+" in B's database", bc, attacks(p.Location(bProd).Schema, ""))
				bc.Close(ctx)
			}
		}
		if err := p.RevokeCredentials(ctx, own, cred.Username); err != nil {
			t.Fatal(err)
		}
		// Revoked, the login no longer connects.
		attempts++
		if rc, err := pgx.Connect(ctx, cred.DSN); err == nil {
			successes++
			t.Errorf("%s still connects after it was revoked", from)
			rc.Close(ctx)
		}
	}
	for ref, sum := range before {
		d, err := p.Dump(ctx, ref)
		if err != nil || d.Checksum != sum {
			t.Errorf("B's store %s changed during the attempts (%v)", ref, err)
		}
	}
	t.Logf("PostgreSQL isolation: %d attempts by tenant A's logins at tenant B's schemas, databases and tables (reads, writes, DDL, catalog discovery, escalation), %d succeeded",
		attempts, successes)

	// What the world-readable catalogs show of B in the shared database.
	cred, err := p.MintCredentials(ctx, a, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(ctx, cred.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var names []string
	rows, err := c.Query(ctx, `SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname LIKE 'bravo%'
		UNION ALL SELECT 'relation ' || relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE 'bravo%'
		UNION ALL SELECT 'function ' || proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname LIKE 'bravo%'
		UNION ALL SELECT 'database ' || datname FROM pg_database WHERE datname LIKE '%bravo%'
		UNION ALL SELECT 'role ' || rolname FROM pg_roles WHERE rolname LIKE '%bravo%' ORDER BY 1`)
	if err == nil {
		names, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.Contains(n, "bravo-ceo") || strings.Contains(n, "merger") {
			t.Errorf("the catalogs show B's data: %s", n)
		}
	}
	t.Logf("PostgreSQL's world-readable catalogs show a login in the shared database %d names of B (no data): %s", len(names), strings.Join(names, ", "))
}

// groupOf is the group role of B's store, as A could read it from pg_roles.
func groupOf(t *testing.T, c *pgx.Conn, p *tenantdata.Postgres, b tenantdata.Ref) string {
	t.Helper()
	var role string
	err := c.QueryRow(context.Background(), "SELECT rolname FROM pg_roles WHERE rolname = $1", p.Namespace()+"_"+b.Tenant+"_"+b.Environment).Scan(&role)
	if errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("B's role is not named %s_%s_%s", p.Namespace(), b.Tenant, b.Environment)
	}
	if err != nil {
		t.Fatal(err)
	}
	return role
}
