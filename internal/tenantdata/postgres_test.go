package tenantdata_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store/pgtest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata/tenantdatatest"
)

// postgresOptions are the suite's PostgreSQL specifics: binary and JSON
// data, times, a serial and an identity column, a generated column, an
// enum type, a function and a trigger.
var postgresOptions = tenantdatatest.Options{
	Sleep: "SELECT pg_sleep(600)",
	Extra: []string{
		`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
		 CREATE TABLE events (id serial PRIMARY KEY, payload jsonb, raw bytea, at timestamptz DEFAULT now(), mood mood,
		   n bigint GENERATED ALWAYS AS IDENTITY, doubled bigint GENERATED ALWAYS AS (id * 2) STORED, tags text[]);
		 INSERT INTO events (payload, raw, at, mood, tags) VALUES
		   ('{"b": 1, "a": [true, null]}', '\x00ff', '2024-01-02 03:04:05+00', 'happy', ARRAY['x', 'y,z']),
		   (NULL, NULL, '2024-06-30 23:59:59.999999+02', NULL, NULL),
		   ('"line\nbreak"', '', '1999-12-31 00:00:00+00', 'sad', '{}');
		 DELETE FROM events WHERE id = 2`,
		`CREATE TABLE audit (item_id integer, at text);
		 CREATE FUNCTION log_item() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit VALUES (NEW.id, 'x'); RETURN NEW; END $$;
		 CREATE TRIGGER items_audit AFTER INSERT ON items FOR EACH ROW EXECUTE FUNCTION log_item();
		 INSERT INTO items (id, name, note) VALUES (5, E'line\nbreak', E'tab\there')`,
	},
	Query: func(t *testing.T, p tenantdata.Plane, ref tenantdata.Ref, query string) []string {
		t.Helper()
		c, err := p.MintCredentials(t.Context(), ref, time.Minute)
		if err != nil {
			t.Fatalf("MintCredentials: %v", err)
		}
		defer func() { _ = p.RevokeCredentials(context.Background(), ref, c.Username) }()
		conn, err := pgx.Connect(t.Context(), c.DSN)
		if err != nil {
			t.Fatalf("connecting with the minted DSN: %v", err)
		}
		defer conn.Close(context.Background())
		rows, err := conn.Query(t.Context(), query, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
			var v *string
			err := r.Scan(&v)
			if v == nil {
				return "", err
			}
			return *v, err
		})
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return out
	},
}

// openPostgres is a plane on a fresh database of the test server, whose
// name is the plane's namespace, so that tests running at once never meet.
func openPostgres(t *testing.T) *tenantdata.Postgres {
	t.Helper()
	p, err := tenantdata.OpenPostgres(t.Context(), pgtest.URL(t), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	pgtest.URL(t) // skips or fails once here rather than in every subtest
	tenantdatatest.Run(t, postgresOptions, func(t *testing.T) tenantdata.Plane { return openPostgres(t) })
}

// serverNames lists the roles and databases on the server whose names start
// with prefix.
func serverNames(t *testing.T, prefix string) []string {
	t.Helper()
	c, err := pgx.Connect(t.Context(), os.Getenv(pgtest.EnvURL))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	rows, err := c.Query(t.Context(), `SELECT 'role ' || rolname FROM pg_roles WHERE starts_with(rolname, $1)
		UNION ALL SELECT 'database ' || datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1`, prefix)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestPostgresDropLeavesNothing(t *testing.T) {
	t.Parallel()
	p := openPostgres(t)
	shared := tenantdata.Ref{Tenant: "acme", Environment: "staging", Placement: api.PlacementShared}
	dedicated := shared.In(api.PlacementDedicated)
	for _, ref := range []tenantdata.Ref{shared, dedicated} {
		if err := p.Provision(t.Context(), ref); err != nil {
			t.Fatal(err)
		}
		if _, err := p.MintCredentials(t.Context(), ref, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	prefix := p.Namespace() + "_"
	if names := serverNames(t, prefix); len(names) != 5 {
		// The shared database, the dedicated one, the group role and two logins.
		t.Fatalf("before dropping: %v", names)
	}
	for _, ref := range []tenantdata.Ref{shared, dedicated} {
		if err := p.Drop(t.Context(), ref); err != nil {
			t.Fatal(err)
		}
	}
	if names := serverNames(t, prefix); len(names) != 1 || names[0] != "database "+p.Location(shared).Name {
		t.Errorf("after dropping both placements the server still has %v; want the shared database alone", names)
	}
}

func TestPostgresExpireCredentials(t *testing.T) {
	t.Parallel()
	p := openPostgres(t)
	ref := tenantdata.Ref{Tenant: "acme", Environment: "staging", Placement: api.PlacementShared}
	if err := p.Provision(t.Context(), ref); err != nil {
		t.Fatal(err)
	}
	short, err := p.MintCredentials(t.Context(), ref, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	long, err := p.MintCredentials(t.Context(), ref, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	n, err := p.ExpireCredentials(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("ExpireCredentials = %d, %v; want the one expired login dropped", n, err)
	}
	if names := serverNames(t, short.Username); len(names) != 0 {
		t.Errorf("the expired login is still there: %v", names)
	}
	c, err := pgx.Connect(t.Context(), long.DSN)
	if err != nil {
		t.Fatalf("the unexpired login no longer connects: %v", err)
	}
	c.Close(context.Background())
	// A login of another store, or no login at all, is not this store's to revoke.
	for _, name := range []string{"postgres", p.Namespace() + "_l_0000000000000000", long.Username + "x"} {
		if err := p.RevokeCredentials(t.Context(), ref, name); !errors.Is(err, tenantdata.ErrNoSuchLogin) {
			t.Errorf("RevokeCredentials(%q) = %v; want ErrNoSuchLogin", name, err)
		}
	}
}
