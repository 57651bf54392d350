package tenantdata_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store/pgtest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
)

// adminRole makes a role that is no superuser but has what tenancyd needs
// (CREATEDB and CREATEROLE), and returns url with that role as its user.
// What the role made on the server goes when the test ends.
func adminRole(t *testing.T, rawURL string) string {
	t.Helper()
	role := "tenancy_admin_" + fmt.Sprint(time.Now().UnixNano())
	server := os.Getenv(pgtest.EnvURL)
	exec := func(ctx context.Context, stmts ...string) {
		c, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.WithoutCancel(ctx))
		for _, stmt := range stmts {
			if _, err := c.Exec(ctx, stmt); err != nil {
				t.Errorf("%s: %v", stmt, err)
			}
		}
	}
	exec(t.Context(), "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN CREATEDB CREATEROLE")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Error(err)
			return
		}
		rows, err := c.Query(ctx, "SELECT datname FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = $1)", role)
		if err != nil {
			t.Error(err)
		}
		dbs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		c.Close(ctx)
		if err != nil {
			t.Error(err)
		}
		var stmts []string
		for _, db := range dbs {
			stmts = append(stmts, "DROP DATABASE "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)")
		}
		exec(ctx, append(stmts, "DROP OWNED BY "+pgx.Identifier{role}.Sanitize(), "DROP ROLE "+pgx.Identifier{role}.Sanitize())...)
	})
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	return u.String()
}

// openPlanes opens n planes on one database, as n tenancyd replicas do.
func openPlanes(t *testing.T, dsn string, n int) []*tenantdata.Postgres {
	t.Helper()
	var planes []*tenantdata.Postgres
	for range n {
		p, err := tenantdata.OpenPostgres(t.Context(), dsn, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		planes = append(planes, p)
	}
	return planes
}

// workAtOnce works on stores at once through planes, for rounds: each
// store is provisioned by two of the planes at the same time (by the same
// plane when there is one), migrated, given a login that is revoked, and
// dropped. Every operation must succeed, and nothing of the stores may be
// left on the server.
func workAtOnce(t *testing.T, planes []*tenantdata.Postgres, stores, rounds int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var ops, failed atomic.Int64
	do := func(what string, ref tenantdata.Ref, err error) bool {
		ops.Add(1)
		if err != nil {
			failed.Add(1)
			t.Errorf("%s %s: %v", what, ref, err)
		}
		return err == nil
	}
	for round := range rounds {
		var wg sync.WaitGroup
		for i := range stores {
			ref := tenantdata.Ref{Tenant: fmt.Sprintf("t%02d", i), Environment: "staging", Placement: api.PlacementShared}
			if i%3 == 0 {
				ref.Placement = api.PlacementDedicated
			}
			p, other := planes[i%len(planes)], planes[(i+1)%len(planes)]
			wg.Go(func() {
				var both sync.WaitGroup
				for _, q := range []*tenantdata.Postgres{p, other} {
					both.Go(func() { do("provisioning", ref, q.Provision(ctx, ref)) })
				}
				both.Wait()
				m := tenantdata.Migration{Version: int64(round + 1), SQL: fmt.Sprintf("CREATE TABLE r%d (id int)", round)}
				if _, err := p.Migrate(ctx, ref, []tenantdata.Migration{m}, time.Minute); !do("migrating", ref, err) {
					return
				}
				c, err := other.MintCredentials(ctx, ref, time.Minute)
				if !do("minting a login", ref, err) {
					return
				}
				do("revoking a login", ref, p.RevokeCredentials(ctx, ref, c.Username))
				do("dropping", ref, other.Drop(ctx, ref))
			})
		}
		wg.Wait()
	}
	t.Logf("%d planes, %d stores at once, %d rounds: %d operations, %d failed", len(planes), stores, rounds, ops.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Errorf("%d of %d operations failed; want none", failed.Load(), ops.Load())
	}
	ns := planes[0].Namespace()
	if names := serverNames(t, ns+"_"); len(names) != 1 || names[0] != "database "+ns+"_shared" {
		t.Errorf("after every store was dropped the server still has %v; want the shared database alone", names)
	}
}

// TestPostgresReplicas has three planes on one server, as three tenancyd
// replicas are, provision, migrate and drop stores at once, as a superuser
// and as a role with CREATEDB and CREATEROLE alone. PostgreSQL fails the
// second of two concurrent GRANTs on one database (the shared one) with
// "tuple concurrently updated"; none of the operations may fail.
func TestPostgresReplicas(t *testing.T) {
	t.Parallel()
	for name, admin := range map[string]func(t *testing.T, url string) string{
		"superuser":            func(_ *testing.T, url string) string { return url },
		"createdb, createrole": adminRole,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			workAtOnce(t, openPlanes(t, admin(t, pgtest.URL(t)), 3), 9, 8)
		})
	}
}

// TestPostgresManyStoresAtOnce works on more stores at once through one
// plane than it has connections: the operations that hold a store's lock
// still find connections for their work.
func TestPostgresManyStoresAtOnce(t *testing.T) {
	t.Parallel()
	workAtOnce(t, openPlanes(t, pgtest.URL(t), 1), 24, 1)
}
