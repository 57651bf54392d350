package tenantdata

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// Postgres keeps tenant data on a PostgreSQL server: tenancyd connects as
// an administrator (CREATEDB and CREATEROLE, or a superuser) to the
// database its URL names, and makes, beside it, one shared tenant-data
// database and a database per dedicated store.
//
// Several tenancyd replicas may share one server. Two locks keep them
// apart: a session advisory lock per store (see lock) serializes the
// operations on one store, and a transaction advisory lock per
// installation (see catalog) serializes the statements that write the
// server-wide catalogs (roles, memberships, databases and their
// privileges). PostgreSQL updates some of those rows without locking them
// first, GRANT on a database among them, and fails the second of two
// concurrent writers with "tuple concurrently updated" (XX000); what still
// loses such a race (another installation on the server, a hand-typed
// GRANT) is retried, as every such statement is idempotent.
type Postgres struct {
	url *url.URL
	cfg *pgx.ConnConfig
	// pool runs the statements; a caller holds one of its connections at a
	// time, and never waits for another while holding one, so the pool
	// cannot run dry however many operations run at once.
	pool *pgxpool.Pool
	// locks holds the session advisory locks of the stores being worked
	// on, one connection each; it bounds how many operations run at once.
	locks     *pgxpool.Pool
	ns        string
	superuser bool

	sharedOnce sync.Mutex
	sharedDone bool
}

var _ Plane = (*Postgres)(nil)

// maxNamespace leaves room in 63 bytes for a login's name: ns_l_<16 hex>.
const maxNamespace = 40

// OpenPostgres connects to the server a postgres:// URL names. Names of
// tenant data start with namespace ("" for the name of the URL's
// database), which keeps several tenancyd installations on one server
// apart.
func OpenPostgres(ctx context.Context, rawURL, namespace string) (*Postgres, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("tenant data database: not a URL: %w", err)
	}
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("tenant data database %s: %w", u.Redacted(), err)
	}
	if namespace == "" {
		namespace = cfg.Database
	}
	if namespace == "" {
		return nil, fmt.Errorf("tenant data database %s names no database; add one to the URL", u.Redacted())
	}
	if len(namespace) > maxNamespace {
		sum := sha256.Sum256([]byte(namespace))
		namespace = namespace[:maxNamespace-17] + "_" + hex.EncodeToString(sum[:8])
	}
	pcfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("tenant data database %s: %w", u.Redacted(), err)
	}
	pcfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("tenant data database %s: %w", u.Redacted(), err)
	}
	lcfg := pcfg.Copy()
	lcfg.MaxConns = maxOperations
	locks, err := pgxpool.NewWithConfig(ctx, lcfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("tenant data database %s: %w", u.Redacted(), err)
	}
	p := &Postgres{url: u, cfg: cfg, pool: pool, locks: locks, ns: strings.ToValidUTF8(namespace, "_")}
	if err := p.Ping(ctx); err != nil {
		_ = p.Close()
		return nil, err
	}
	return p, nil
}

// maxOperations bounds the operations on stores that one Postgres runs at
// once; more wait for their turn.
const maxOperations = 8

func (p *Postgres) Engine() string { return api.EnginePostgres }

// Namespace is what the names of this installation's tenant data start with.
func (p *Postgres) Namespace() string { return p.ns }

// Names of a store's objects: its schema (the same in either placement),
// its group role and its dedicated database; and the shared database.
func (p *Postgres) schema(ref Ref) string    { return ident(ref.Tenant, ref.Environment) }
func (p *Postgres) group(ref Ref) string     { return ident(p.ns, ref.Tenant, ref.Environment) }
func (p *Postgres) sharedDB() string         { return ident(p.ns, "shared") }
func (p *Postgres) dedicatedDB(r Ref) string { return ident(p.ns, r.Tenant, r.Environment) }
func (p *Postgres) loginPrefix() string      { return p.ns + "_l_" }

func (p *Postgres) database(ref Ref) string {
	if ref.Placement == api.PlacementDedicated {
		return p.dedicatedDB(ref)
	}
	return p.sharedDB()
}

func (p *Postgres) Location(ref Ref) Location {
	return Location{
		Engine: api.EnginePostgres, Host: p.cfg.Host, Port: int64(p.cfg.Port),
		Name: p.database(ref), Schema: p.schema(ref), Isolation: ref.Placement,
	}
}

func qi(name string) string { return pgx.Identifier{name}.Sanitize() }

// ql quotes a string literal; standard_conforming_strings is on (the
// default since PostgreSQL 9.1), so only quotes need doubling.
func ql(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Ping checks tenancyd's privileges on the server and makes the shared
// tenant-data database if it is missing.
func (p *Postgres) Ping(ctx context.Context) error {
	var super, createdb, createrole bool
	var user string
	err := p.pool.QueryRow(ctx, "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user").
		Scan(&user, &super, &createdb, &createrole)
	if err != nil {
		return fmt.Errorf("tenant data database %s: %w", p.url.Redacted(), err)
	}
	if !super && (!createdb || !createrole) {
		return fmt.Errorf("tenant data database %s: role %q needs CREATEDB (a database per dedicated store) and CREATEROLE (a role per store, and logins); run ALTER ROLE %s CREATEDB CREATEROLE",
			p.url.Redacted(), user, qi(user))
	}
	p.superuser = super
	return p.ensureShared(ctx)
}

// ensureShared makes the shared tenant-data database, which nobody may
// connect to unless granted.
func (p *Postgres) ensureShared(ctx context.Context) error {
	p.sharedOnce.Lock()
	defer p.sharedOnce.Unlock()
	if p.sharedDone {
		return nil
	}
	// On a connection of the pool, not of locks: the caller may hold a
	// store's lock, and the mutex above lets one caller at a time wait here.
	unlock, err := lockName(ctx, p.pool, "tenancy-data:"+p.ns+":shared")
	if err != nil {
		return err
	}
	defer unlock()
	if err := p.ensureDatabase(ctx, p.sharedDB()); err != nil {
		return fmt.Errorf("shared tenant data database %s: %w", p.sharedDB(), err)
	}
	p.sharedDone = true
	return nil
}

// ensureDatabase makes a database owned by tenancyd's role, closed to
// PUBLIC, with a public schema closed to PUBLIC.
func (p *Postgres) ensureDatabase(ctx context.Context, name string) error {
	exists, err := p.databaseExists(ctx, name)
	if err != nil {
		return err
	}
	if !exists {
		_, err := p.pool.Exec(ctx, "CREATE DATABASE "+qi(name)+" TEMPLATE template0")
		if err != nil && !isCode(err, "42P04") { // duplicate_database: another replica made it
			return err
		}
	}
	if err := p.catalog(ctx, "REVOKE ALL ON DATABASE "+qi(name)+" FROM PUBLIC"); err != nil {
		return err
	}
	return p.inDatabase(ctx, name, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, "REVOKE ALL ON SCHEMA public FROM PUBLIC")
		return err
	})
}

func (p *Postgres) databaseExists(ctx context.Context, name string) (bool, error) {
	var n int
	err := p.pool.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n)
	return n > 0, err
}

func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// inDatabase runs fn on a connection of tenancyd's own role to another
// database of the server. Every fn is idempotent DDL or a read, so it runs
// again when it loses a race on the catalogs (see retryable).
func (p *Postgres) inDatabase(ctx context.Context, db string, fn func(c *pgx.Conn) error) error {
	return retry(ctx, func() error {
		cfg := p.cfg.Copy()
		cfg.Database = db
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return err
		}
		defer c.Close(context.WithoutCancel(ctx))
		if _, err := c.Exec(ctx, "SET lock_timeout = '30s'"); err != nil {
			return err
		}
		return fn(c)
	})
}

// catalog runs statements that write the server-wide catalogs (roles,
// memberships, databases and their privileges) in one transaction, under
// an advisory lock that every replica of this installation takes for
// them, so that no two replicas write those catalogs at once. A
// transaction that still loses a race on them is rolled back and run
// again.
func (p *Postgres) catalog(ctx context.Context, stmts ...string) error {
	return retry(ctx, func() error {
		return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "tenancy-data:"+p.ns+":catalog"); err != nil {
				return err
			}
			for _, stmt := range stmts {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// catalogAttempts is how many times retry runs work that keeps losing
// races on the catalogs before it gives up and returns the error.
const catalogAttempts = 8

// retryable reports whether err is PostgreSQL refusing a statement only
// because another session changed the same catalog rows at the same time:
// "tuple concurrently updated" or "tuple concurrently deleted" (an internal
// error, XX000, as PostgreSQL does not lock those rows first), a deadlock,
// or a serialization failure. Running the statement again succeeds.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40P01", "40001": // deadlock_detected, serialization_failure
		return true
	case "XX000": // internal_error
		return strings.HasPrefix(pe.Message, "tuple concurrently ")
	}
	return false
}

// retry runs fn until it succeeds, fails for another reason than a lost
// race on the catalogs, or has lost catalogAttempts of them, waiting a
// little longer (with jitter) after each.
func retry(ctx context.Context, fn func() error) error {
	wait := 10 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt == catalogAttempts || !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait + mrand.N(wait)): //nolint:gosec // Jitter needs no cryptographic randomness.
		}
		wait *= 2
	}
}

// lockName holds a session advisory lock on a name, on a connection of
// pool, until the returned function is called, serializing work on one
// store across replicas. It polls rather than waits, so that a cancelled
// context never leaves a lock taken on a connection that goes back to the
// pool.
func lockName(ctx context.Context, pool *pgxpool.Pool, name string) (func(), error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	for {
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", name).Scan(&ok); err != nil {
			conn.Release()
			return nil, err
		}
		if ok {
			return func() {
				_, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtextextended($1, 0))", name)
				if err != nil {
					// A connection that may still hold the lock must not be reused.
					_ = conn.Conn().Close(context.WithoutCancel(ctx))
				}
				conn.Release()
			}, nil
		}
		select {
		case <-ctx.Done():
			conn.Release()
			return nil, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// lock holds the lock of a store (both its placements) until the returned
// function is called. Its connection comes from locks: the work done under
// it takes connections of pool, so however many operations hold a store's
// lock, the work always finds a connection.
func (p *Postgres) lock(ctx context.Context, ref Ref) (func(), error) {
	return lockName(ctx, p.locks, "tenancy-data:"+p.group(ref))
}

func (p *Postgres) roleExists(ctx context.Context, role string) (bool, error) {
	var n int
	err := p.pool.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = $1", role).Scan(&n)
	return n > 0, err
}

// ensureRole makes the store's group role, which cannot log in.
func (p *Postgres) ensureRole(ctx context.Context, ref Ref) error {
	g := p.group(ref)
	exists, err := p.roleExists(ctx, g)
	if err != nil {
		return err
	}
	var stmts []string
	if !exists {
		stmts = append(stmts, "CREATE ROLE "+qi(g)+" NOLOGIN NOINHERIT")
	}
	if !p.superuser {
		// To make the store's schema and tables over to it, tenancyd's role
		// must be a member.
		stmts = append(stmts, "GRANT "+qi(g)+" TO CURRENT_USER")
	}
	if len(stmts) == 0 {
		return nil
	}
	return p.catalog(ctx, stmts...)
}

func (p *Postgres) Provision(ctx context.Context, ref Ref) error {
	unlock, err := p.lock(ctx, ref)
	if err != nil {
		return fmt.Errorf("provisioning %s: %w", ref, err)
	}
	defer unlock()
	if err := p.provision(ctx, ref); err != nil {
		return fmt.Errorf("provisioning %s: %w", ref, err)
	}
	return nil
}

func (p *Postgres) provision(ctx context.Context, ref Ref) error {
	if err := p.ensureShared(ctx); err != nil {
		return err
	}
	if err := p.ensureRole(ctx, ref); err != nil {
		return err
	}
	db, g, s := p.database(ref), p.group(ref), p.schema(ref)
	if ref.Placement == api.PlacementDedicated {
		if err := p.ensureDatabase(ctx, db); err != nil {
			return err
		}
	}
	if err := p.catalog(ctx, "GRANT CONNECT, TEMPORARY ON DATABASE "+qi(db)+" TO "+qi(g)); err != nil {
		return err
	}
	return p.inDatabase(ctx, db, func(c *pgx.Conn) error {
		stmts := []string{
			"CREATE SCHEMA IF NOT EXISTS " + qi(s) + " AUTHORIZATION " + qi(g),
			// Functions are executable by PUBLIC unless told otherwise; the
			// store's functions are the store's alone.
			"ALTER DEFAULT PRIVILEGES FOR ROLE " + qi(g) + " REVOKE EXECUTE ON ROUTINES FROM PUBLIC",
			"CREATE TABLE IF NOT EXISTS " + qi(s) + "." + api.SchemaTable + " (version bigint PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL)",
		}
		for _, stmt := range stmts {
			if _, err := c.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		// Owned by the store's role, whatever made it: a retry may find a
		// table that a replica made and gave away already.
		var owner string
		err := c.QueryRow(ctx, "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = $1::regclass",
			qi(s)+"."+api.SchemaTable).Scan(&owner)
		if err != nil || owner == g {
			return err
		}
		_, err = c.Exec(ctx, "ALTER TABLE "+qi(s)+"."+api.SchemaTable+" OWNER TO "+qi(g))
		return err
	})
}

func (p *Postgres) Exists(ctx context.Context, ref Ref) (bool, error) {
	db := p.database(ref)
	ok, err := p.databaseExists(ctx, db)
	if err != nil || !ok {
		return false, err
	}
	var n int
	err = p.inDatabase(ctx, db, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", p.schema(ref)).Scan(&n)
	})
	return n > 0, err
}

func (p *Postgres) Drop(ctx context.Context, ref Ref) error {
	unlock, err := p.lock(ctx, ref)
	if err != nil {
		return fmt.Errorf("dropping %s: %w", ref, err)
	}
	defer unlock()
	if err := p.drop(ctx, ref); err != nil {
		return fmt.Errorf("dropping %s: %w", ref, err)
	}
	return nil
}

func (p *Postgres) drop(ctx context.Context, ref Ref) error {
	g := p.group(ref)
	if ref.Placement == api.PlacementDedicated {
		if _, err := p.pool.Exec(ctx, "DROP DATABASE IF EXISTS "+qi(p.dedicatedDB(ref))+" WITH (FORCE)"); err != nil {
			return err
		}
	} else if ok, err := p.databaseExists(ctx, p.sharedDB()); err != nil {
		return err
	} else if ok {
		err := p.inDatabase(ctx, p.sharedDB(), func(c *pgx.Conn) error {
			_, err := c.Exec(ctx, "DROP SCHEMA IF EXISTS "+qi(p.schema(ref))+" CASCADE")
			return err
		})
		if err != nil {
			return err
		}
		if exists, err := p.roleExists(ctx, g); err != nil {
			return err
		} else if exists {
			if err := p.catalog(ctx, "REVOKE ALL ON DATABASE "+qi(p.sharedDB())+" FROM "+qi(g)); err != nil {
				return err
			}
		}
	}
	// The role goes with the store's last placement.
	other := api.PlacementShared
	if ref.Placement == api.PlacementShared {
		other = api.PlacementDedicated
	}
	if still, err := p.Exists(ctx, ref.In(other)); err != nil || still {
		return err
	}
	if exists, err := p.roleExists(ctx, g); err != nil || !exists {
		return err
	}
	logins, err := p.members(ctx, g)
	if err != nil {
		return err
	}
	for _, l := range logins {
		if err := p.dropLogin(ctx, ref, l); err != nil {
			return err
		}
	}
	// What the role still has in the shared database (its default
	// privileges) goes with it; no store of it is left anywhere.
	if ok, err := p.databaseExists(ctx, p.sharedDB()); err != nil {
		return err
	} else if ok {
		err := p.inDatabase(ctx, p.sharedDB(), func(c *pgx.Conn) error {
			_, err := c.Exec(ctx, "DROP OWNED BY "+qi(g))
			return err
		})
		if err != nil {
			return err
		}
	}
	return p.catalog(ctx, "DROP ROLE IF EXISTS "+qi(g))
}

// members lists the logins that are members of a group role.
func (p *Postgres) members(ctx context.Context, group string) ([]string, error) {
	rows, err := p.pool.Query(ctx, `SELECT r.rolname FROM pg_auth_members m
		JOIN pg_roles r ON r.oid = m.member JOIN pg_roles g ON g.oid = m.roleid
		WHERE g.rolname = $1 AND r.rolname LIKE $2 ESCAPE '\' ORDER BY r.rolname`, group, likePrefix(p.loginPrefix()))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func likePrefix(s string) string {
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s) + "%"
}

// login makes a login role of the store: a member of its group role that
// acts as the group role (what it creates belongs to the store) in the
// store's schema, with a random password, stored only as a SCRAM verifier
// so that it never reaches the server's logs, expiring at until.
func (p *Postgres) login(ctx context.Context, ref Ref, until time.Time) (name, password string, err error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name = p.loginPrefix() + hex.EncodeToString(b)
	pw := make([]byte, 24)
	_, _ = rand.Read(pw)
	password = base64.RawURLEncoding.EncodeToString(pw)
	verifier, err := scramVerifier(password)
	if err != nil {
		return "", "", err
	}
	// One transaction: a login is made whole or not at all.
	err = p.catalog(ctx,
		"CREATE ROLE "+qi(name)+" LOGIN INHERIT PASSWORD "+ql(verifier)+
			" VALID UNTIL "+ql(until.UTC().Format(time.RFC3339))+" IN ROLE "+qi(p.group(ref)),
		"ALTER ROLE "+qi(name)+" SET role TO "+ql(p.group(ref)),
		"ALTER ROLE "+qi(name)+" SET search_path TO "+qi(p.schema(ref)),
	)
	if err != nil {
		return "", "", err
	}
	return name, password, nil
}

// scramVerifier is the SCRAM-SHA-256 verifier of a password, as
// PostgreSQL stores it (RFC 5802, RFC 7677).
func scramVerifier(password string) (string, error) {
	const iterations = 4096
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", err
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	enc := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, enc(salt), enc(stored[:]), enc(mac(salted, "Server Key"))), nil
}

// dropLogin ends a login's sessions and drops it, first giving what it
// made, if anything, to the store's role.
func (p *Postgres) dropLogin(ctx context.Context, ref Ref, name string) error {
	// Ending sessions needs membership of the login or pg_signal_backend;
	// without either, open sessions end when they disconnect.
	_, _ = p.pool.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", name)
	err := p.catalog(ctx, "DROP ROLE IF EXISTS "+qi(name))
	if isCode(err, "2BP01") { // dependent_objects_still_exist
		err = p.inDatabase(ctx, p.database(ref), func(c *pgx.Conn) error {
			_, err := c.Exec(ctx, "REASSIGN OWNED BY "+qi(name)+" TO "+qi(p.group(ref))+"; DROP OWNED BY "+qi(name))
			return err
		})
		if err == nil {
			err = p.catalog(ctx, "DROP ROLE IF EXISTS "+qi(name))
		}
	}
	return err
}

// asStore runs fn on a connection authenticated as a short-lived login of
// the store, never as tenancyd's own role: whatever tenant code runs (the
// SQL of a migration, a trigger, a view) runs with the store's privileges
// alone.
func (p *Postgres) asStore(ctx context.Context, ref Ref, fn func(c *pgx.Conn) error) error {
	if ok, err := p.Exists(ctx, ref); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%s: %w", ref, ErrNotFound)
	}
	name, password, err := p.login(ctx, ref, time.Now().Add(time.Hour+MaxWork))
	if err != nil {
		return err
	}
	defer func() { _ = p.dropLogin(context.WithoutCancel(ctx), ref, name) }()
	cfg := p.cfg.Copy()
	cfg.User, cfg.Password, cfg.Database = name, password, p.database(ref)
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connecting as the store's login: %w", err)
	}
	defer func() {
		pid := c.PgConn().PID()
		_ = c.Close(context.WithoutCancel(ctx))
		p.awaitSessionEnd(context.WithoutCancel(ctx), pid)
	}()
	var current string
	if err := c.QueryRow(ctx, "SELECT current_user").Scan(&current); err != nil {
		return err
	}
	if current != p.group(ref) {
		return fmt.Errorf("the store's login acts as %q, not as the store's role %q", current, p.group(ref))
	}
	return fn(c)
}

// awaitSessionEnd waits, a few seconds at most, until the server has ended
// the session of a backend whose client left: it does so a moment after,
// and until then the session keeps the store's database in use. Dropping
// a dedicated store's database ends the sessions on it (WITH (FORCE)),
// which tenancyd may do to a session of another role, such as a store's
// login, only as a superuser or with pg_signal_backend; without them, a
// drop right after an operation on the store would fail.
func (p *Postgres) awaitSessionEnd(ctx context.Context, pid uint32) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := p.pool.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid).Scan(&n); err != nil || n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// MaxWork bounds how long tenancyd's own logins may live beyond the hour
// they are made for: the longest migration timeout.
const MaxWork = api.MaxMigrationTime

func (p *Postgres) Migrate(ctx context.Context, ref Ref, ms []Migration, timeout time.Duration) ([]Applied, error) {
	unlock, err := p.lock(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var done []Applied
	table := qi(p.schema(ref)) + "." + api.SchemaTable
	err = p.asStore(ctx, ref, func(c *pgx.Conn) error {
		applied, err := pgApplied(ctx, c, table)
		if err != nil {
			return err
		}
		for _, m := range sortedMigrations(ms) {
			if slices.ContainsFunc(applied, func(a Applied) bool { return a.Version == m.Version }) {
				continue
			}
			a, err := pgMigrate(ctx, c, table, m, timeout)
			if err != nil {
				return err
			}
			done = append(done, a)
		}
		return nil
	})
	return done, err
}

// pgMigrate applies one migration in a transaction of its own. The SQL
// runs as one simple query, so it may hold many statements; one that ends
// the transaction itself is refused, as it would escape the rollback.
func pgMigrate(ctx context.Context, c *pgx.Conn, table string, m Migration, timeout time.Duration) (Applied, error) {
	mctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fail := func(err error) (Applied, error) {
		timedOut := ctx.Err() == nil && (errors.Is(mctx.Err(), context.DeadlineExceeded) || isCode(err, "57014"))
		return Applied{}, &MigrationError{Version: m.Version, TimedOut: timedOut, Timeout: timeout, Err: err}
	}
	tx, err := c.Begin(mctx)
	if err != nil {
		return fail(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(mctx, "SET LOCAL statement_timeout = "+strconv.FormatInt(max(timeout.Milliseconds(), 1), 10)); err != nil {
		return fail(err)
	}
	if _, err := c.PgConn().Exec(mctx, m.SQL).ReadAll(); err != nil {
		return fail(err)
	}
	if st := c.PgConn().TxStatus(); st != 'T' {
		return fail(errors.New("the migration ends tenancyd's transaction itself (COMMIT, ROLLBACK or the like); remove those statements: every migration runs in a transaction of its own"))
	}
	a := Applied{Version: m.Version, Checksum: Checksum(m.SQL)}
	if err := tx.QueryRow(mctx, "INSERT INTO "+table+" (version, checksum, applied_at) VALUES ($1, $2, clock_timestamp()) RETURNING applied_at",
		a.Version, a.Checksum).Scan(&a.AppliedAt); err != nil {
		return fail(bookkeepingError(err))
	}
	if err := tx.Commit(mctx); err != nil {
		return fail(err)
	}
	a.AppliedAt = a.AppliedAt.UTC()
	return a, nil
}

func pgApplied(ctx context.Context, c *pgx.Conn, table string) ([]Applied, error) {
	rows, err := c.Query(ctx, "SELECT version, checksum, applied_at FROM "+table+" ORDER BY version")
	if err != nil {
		return nil, bookkeepingError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Applied, error) {
		var a Applied
		err := r.Scan(&a.Version, &a.Checksum, &a.AppliedAt)
		a.AppliedAt = a.AppliedAt.UTC()
		return a, err
	})
	if err != nil {
		return nil, bookkeepingError(err)
	}
	return out, nil
}

func (p *Postgres) Applied(ctx context.Context, ref Ref) ([]Applied, error) {
	unlock, err := p.lock(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var out []Applied
	err = p.asStore(ctx, ref, func(c *pgx.Conn) error {
		out, err = pgApplied(ctx, c, qi(p.schema(ref))+"."+api.SchemaTable)
		return err
	})
	return out, err
}

func (p *Postgres) Tables(ctx context.Context, ref Ref) ([]TableStat, error) {
	unlock, err := p.lock(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var out []TableStat
	err = p.asStore(ctx, ref, func(c *pgx.Conn) error {
		out, err = pgTables(ctx, c, p.schema(ref))
		return err
	})
	return out, err
}

func pgTables(ctx context.Context, c *pgx.Conn, schema string) ([]TableStat, error) {
	rows, err := c.Query(ctx, "SELECT relname FROM pg_class WHERE relnamespace = $1::regnamespace AND relkind IN ('r', 'p') ORDER BY relname COLLATE \"C\"", qi(schema))
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := []TableStat{}
	for _, n := range names {
		t := TableStat{Name: n}
		if err := c.QueryRow(ctx, "SELECT count(*) FROM "+qi(schema)+"."+qi(n)).Scan(&t.Rows); err != nil {
			return nil, fmt.Errorf("counting the rows of %q: %w", n, err)
		}
		out = append(out, t)
	}
	return out, nil
}

func (p *Postgres) IsEmpty(ctx context.Context, ref Ref) (bool, error) {
	unlock, err := p.lock(ctx, ref)
	if err != nil {
		return false, err
	}
	defer unlock()
	var empty bool
	err = p.asStore(ctx, ref, func(c *pgx.Conn) error {
		empty, err = pgIsEmpty(ctx, c, p.schema(ref))
		return err
	})
	return empty, err
}

// pgObjectsQuery lists the objects of a schema that a load replaces, with
// the statement that drops each, views first.
const pgObjectsQuery = `
SELECT 0, 'DROP VIEW IF EXISTS ' || oid::regclass::text || ' CASCADE', relname FROM pg_class
  WHERE relnamespace = $1::regnamespace AND relkind = 'v'
UNION ALL SELECT 1, 'DROP MATERIALIZED VIEW IF EXISTS ' || oid::regclass::text || ' CASCADE', relname FROM pg_class
  WHERE relnamespace = $1::regnamespace AND relkind = 'm'
UNION ALL SELECT 2, 'DROP TABLE IF EXISTS ' || oid::regclass::text || ' CASCADE', relname FROM pg_class
  WHERE relnamespace = $1::regnamespace AND relkind IN ('r', 'p', 'f')
UNION ALL SELECT 3, 'DROP SEQUENCE IF EXISTS ' || oid::regclass::text || ' CASCADE', relname FROM pg_class
  WHERE relnamespace = $1::regnamespace AND relkind = 'S'
UNION ALL SELECT 4, 'DROP ROUTINE IF EXISTS ' || oid::regprocedure::text || ' CASCADE', proname FROM pg_proc
  WHERE pronamespace = $1::regnamespace AND prokind IN ('f', 'p')
UNION ALL SELECT 4, 'DROP AGGREGATE IF EXISTS ' || oid::regprocedure::text || ' CASCADE', proname FROM pg_proc
  WHERE pronamespace = $1::regnamespace AND prokind IN ('a', 'w')
UNION ALL SELECT 5, 'DROP TYPE IF EXISTS ' || oid::regtype::text || ' CASCADE', typname FROM pg_type t
  WHERE typnamespace = $1::regnamespace AND typtype IN ('e', 'd', 'r', 'm')
UNION ALL SELECT 5, 'DROP TYPE IF EXISTS ' || t.oid::regtype::text || ' CASCADE', typname FROM pg_type t
  JOIN pg_class c ON c.oid = t.typrelid WHERE typnamespace = $1::regnamespace AND c.relkind = 'c'
ORDER BY 1, 3`

type pgObject struct {
	order int
	drop  string
	name  string
}

func pgObjects(ctx context.Context, c *pgx.Conn, schema string) ([]pgObject, error) {
	rows, err := c.Query(ctx, pgObjectsQuery, qi(schema))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (pgObject, error) {
		var o pgObject
		err := r.Scan(&o.order, &o.drop, &o.name)
		return o, err
	})
}

func pgIsEmpty(ctx context.Context, c *pgx.Conn, schema string) (bool, error) {
	objs, err := pgObjects(ctx, c, schema)
	if err != nil {
		return false, err
	}
	if len(objs) > 1 || len(objs) == 1 && objs[0].name != api.SchemaTable {
		return false, nil
	}
	if len(objs) == 0 {
		return true, nil
	}
	var n int64
	err = c.QueryRow(ctx, "SELECT count(*) FROM "+qi(schema)+"."+api.SchemaTable).Scan(&n)
	return n == 0, err
}

// pgClear drops every object of the schema.
func pgClear(ctx context.Context, c pgx.Tx, schema string) error {
	objs, err := pgObjects(ctx, c.Conn(), schema)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if _, err := c.Exec(ctx, o.drop); err != nil {
			return fmt.Errorf("%s: %w", o.drop, err)
		}
	}
	return nil
}

func (p *Postgres) Dump(ctx context.Context, ref Ref) (*Dump, error) {
	unlock, err := p.lock(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var d *Dump
	err = p.asStore(ctx, ref, func(c *pgx.Conn) error {
		// One snapshot for every table.
		tx, err := c.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		d, err = pgDump(ctx, tx, p.schema(ref))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dumping %s: %w", ref, err)
	}
	return d, nil
}

// pgUnsupportedQuery finds what a dump cannot carry.
const pgUnsupportedQuery = `
SELECT CASE relkind WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table'
  ELSE 'composite type' END || ' ' || quote_ident(relname) FROM pg_class
  WHERE relnamespace = $1::regnamespace AND relkind IN ('m', 'f', 'p', 'c')
UNION ALL SELECT 'table ' || quote_ident(relname) || ' with row level security' FROM pg_class
  WHERE relnamespace = $1::regnamespace AND relkind = 'r' AND relrowsecurity
UNION ALL SELECT 'table ' || quote_ident(c.relname) || ', which inherits' FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
  WHERE c.relnamespace = $1::regnamespace
UNION ALL SELECT CASE typtype WHEN 'd' THEN 'domain' ELSE 'range type' END || ' ' || quote_ident(typname) FROM pg_type
  WHERE typnamespace = $1::regnamespace AND typtype IN ('d', 'r', 'm')
UNION ALL SELECT 'aggregate ' || quote_ident(proname) FROM pg_proc WHERE pronamespace = $1::regnamespace AND prokind IN ('a', 'w')
ORDER BY 1`

func queryStrings(ctx context.Context, c pgx.Tx, q string, args ...any) ([]string, error) {
	rows, err := c.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// pgDump reads a schema's definitions and rows. The login's search_path is
// the schema, so the catalog's functions print names unqualified.
func pgDump(ctx context.Context, tx pgx.Tx, schema string) (*Dump, error) {
	ns := qi(schema)
	bad, err := queryStrings(ctx, tx, pgUnsupportedQuery, ns)
	if err != nil {
		return nil, err
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%s: %w (backups carry tables, sequences, indexes, constraints, views, functions, triggers and enum types)",
			strings.Join(bad, ", "), ErrUnsupported)
	}
	d := &Dump{Engine: api.EnginePostgres, Format: DumpFormat}

	// Enum types.
	enums, err := queryStrings(ctx, tx, `SELECT 'CREATE TYPE ' || quote_ident(t.typname) || ' AS ENUM (' ||
		coalesce(string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder), '') || ')'
		FROM pg_type t LEFT JOIN pg_enum e ON e.enumtypid = t.oid
		WHERE t.typnamespace = $1::regnamespace AND t.typtype = 'e' GROUP BY t.typname ORDER BY t.typname COLLATE "C"`, ns)
	if err != nil {
		return nil, fmt.Errorf("enum types: %w", err)
	}
	d.Before = append(d.Before, enums...)

	// Sequences of their own (not those of identity columns).
	seqs, err := queryStrings(ctx, tx, `SELECT 'CREATE SEQUENCE ' || quote_ident(c.relname) || ' AS ' || format_type(s.seqtypid, NULL) ||
		' INCREMENT BY ' || s.seqincrement || ' MINVALUE ' || s.seqmin || ' MAXVALUE ' || s.seqmax ||
		' START WITH ' || s.seqstart || ' CACHE ' || s.seqcache || CASE WHEN s.seqcycle THEN ' CYCLE' ELSE ' NO CYCLE' END
		FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
		WHERE c.relnamespace = $1::regnamespace
		  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'i')
		ORDER BY c.relname COLLATE "C"`, ns)
	if err != nil {
		return nil, fmt.Errorf("sequences: %w", err)
	}
	d.Before = append(d.Before, seqs...)

	// Functions and procedures, in the order they were made. The
	// catalog prints them schema-qualified; the dump leaves the schema out.
	funcs, err := queryStrings(ctx, tx, `SELECT pg_get_functiondef(oid) FROM pg_proc
		WHERE pronamespace = $1::regnamespace AND prokind IN ('f', 'p') ORDER BY oid`, ns)
	if err != nil {
		return nil, fmt.Errorf("functions: %w", err)
	}
	var printed string
	if err := tx.QueryRow(ctx, "SELECT quote_ident($1)", schema).Scan(&printed); err != nil {
		return nil, err
	}
	for _, f := range funcs {
		head, body, _ := strings.Cut(f, "\n")
		head = strings.Replace(head, " "+printed+".", " ", 1)
		d.Before = append(d.Before, head+"\n"+body)
	}

	// Tables, with their rows.
	tables, err := queryStrings(ctx, tx, `SELECT relname FROM pg_class WHERE relnamespace = $1::regnamespace AND relkind = 'r'
		ORDER BY relname COLLATE "C"`, ns)
	if err != nil {
		return nil, fmt.Errorf("tables: %w", err)
	}
	for _, name := range tables {
		ddl, cols, err := pgTableDDL(ctx, tx, schema, name)
		if err != nil {
			return nil, fmt.Errorf("table %q: %w", name, err)
		}
		d.Before = append(d.Before, ddl)
		rows, err := pgRows(ctx, tx, schema, name, cols)
		if err != nil {
			return nil, fmt.Errorf("table %q: %w", name, err)
		}
		d.Tables = append(d.Tables, newTable(name, cols, rows))
	}

	// Constraints (foreign keys last), indexes, views, triggers.
	after := []struct{ what, query string }{
		{"constraints", `SELECT 'ALTER TABLE ' || quote_ident(c.relname) || ' ADD CONSTRAINT ' || quote_ident(k.conname) || ' ' ||
			pg_get_constraintdef(k.oid) FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
			WHERE c.relnamespace = $1::regnamespace ORDER BY k.contype = 'f', c.relname COLLATE "C", k.conname COLLATE "C"`},
		{"indexes", `SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			WHERE c.relnamespace = $1::regnamespace AND NOT EXISTS (SELECT 1 FROM pg_constraint k
			  WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x'))
			ORDER BY c.relname COLLATE "C"`},
		{"views", `SELECT 'CREATE VIEW ' || quote_ident(relname) || ' AS ' || pg_get_viewdef(oid, true) FROM pg_class
			WHERE relnamespace = $1::regnamespace AND relkind = 'v' ORDER BY oid`},
		{"triggers", `SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
			WHERE c.relnamespace = $1::regnamespace AND NOT t.tgisinternal ORDER BY c.relname COLLATE "C", t.tgname COLLATE "C"`},
		{"sequence owners", `SELECT 'ALTER SEQUENCE ' || quote_ident(s.relname) || ' OWNED BY ' || quote_ident(t.relname) || '.' || quote_ident(a.attname)
			FROM pg_depend d JOIN pg_class s ON s.oid = d.objid JOIN pg_class t ON t.oid = d.refobjid
			JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
			WHERE s.relnamespace = $1::regnamespace AND s.relkind = 'S' AND d.deptype = 'a' AND d.classid = 'pg_class'::regclass
			ORDER BY s.relname COLLATE "C"`},
	}
	for _, a := range after {
		stmts, err := queryStrings(ctx, tx, a.query, ns)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.what, err)
		}
		if a.what == "indexes" || a.what == "triggers" {
			// The catalog prints the table of an index or trigger, and a
			// trigger's function, schema-qualified.
			for i, s := range stmts {
				s = strings.Replace(s, " ON "+printed+".", " ON ", 1)
				s = strings.Replace(s, " FUNCTION "+printed+".", " FUNCTION ", 1)
				stmts[i] = strings.Replace(s, " PROCEDURE "+printed+".", " PROCEDURE ", 1)
			}
		}
		d.After = append(d.After, stmts...)
	}
	values, err := pgSequenceValues(ctx, tx, schema)
	if err != nil {
		return nil, fmt.Errorf("sequence values: %w", err)
	}
	d.After = append(d.After, values...)
	return d, d.Seal()
}

// pgTableDDL makes a table's CREATE TABLE (columns, their types, defaults,
// identity and generation, NOT NULL; constraints come later) and lists the
// columns its rows are copied with.
func pgTableDDL(ctx context.Context, tx pgx.Tx, schema, table string) (string, []string, error) {
	rows, err := tx.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
		coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity::text, a.attgenerated::text,
		CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0 THEN (SELECT quote_ident(collname) FROM pg_collation WHERE oid = a.attcollation) ELSE '' END
		FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE a.attrelid = ($1 || '.' || $2)::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, qi(schema), qi(table))
	if err != nil {
		return "", nil, err
	}
	defer rows.Close()
	var defs, cols []string
	for rows.Next() {
		var name, typ, def, identity, generated, collation string
		var notNull bool
		if err := rows.Scan(&name, &typ, &notNull, &def, &identity, &generated, &collation); err != nil {
			return "", nil, err
		}
		col := qi(name) + " " + typ
		if collation != "" {
			col += " COLLATE " + collation
		}
		switch {
		case generated == "s":
			col += " GENERATED ALWAYS AS (" + def + ") STORED"
		case identity == "a":
			col += " GENERATED ALWAYS AS IDENTITY"
		case identity == "d":
			col += " GENERATED BY DEFAULT AS IDENTITY"
		case def != "":
			col += " DEFAULT " + def
		}
		if notNull {
			col += " NOT NULL"
		}
		defs = append(defs, col)
		if generated == "" {
			cols = append(cols, name)
		}
	}
	if err := rows.Err(); err != nil {
		return "", nil, err
	}
	return "CREATE TABLE " + qi(table) + " (" + strings.Join(defs, ", ") + ")", cols, nil
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = qi(n)
	}
	return strings.Join(q, ", ")
}

// pgRows copies a table's rows out in COPY's text format, one line a row
// (newlines in values are escaped).
func pgRows(ctx context.Context, tx pgx.Tx, schema, table string, cols []string) ([]string, error) {
	var buf bytes.Buffer
	if _, err := tx.Conn().PgConn().CopyTo(ctx, &buf, "COPY "+qi(schema)+"."+qi(table)+" ("+quoteAll(cols)+") TO STDOUT"); err != nil {
		return nil, err
	}
	text := strings.TrimSuffix(buf.String(), "\n")
	if text == "" && buf.Len() == 0 {
		return nil, nil
	}
	return strings.Split(text, "\n"), nil
}

// pgSequenceValues sets every sequence, identity columns' included, to
// where it stood.
func pgSequenceValues(ctx context.Context, tx pgx.Tx, schema string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT c.relname, coalesce((SELECT t.relname || '.' || a.attname FROM pg_depend d
		  JOIN pg_class t ON t.oid = d.refobjid JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
		  WHERE d.objid = c.oid AND d.deptype = 'i'), ''),
		  (SELECT quote_ident(t.relname) FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid WHERE d.objid = c.oid AND d.deptype = 'i'),
		  (SELECT a.attname FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid WHERE d.objid = c.oid AND d.deptype = 'i')
		FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'S' ORDER BY c.relname COLLATE "C"`, qi(schema))
	if err != nil {
		return nil, err
	}
	type seq struct {
		name, identity string
		table, column  *string
	}
	seqs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (seq, error) {
		var s seq
		err := r.Scan(&s.name, &s.identity, &s.table, &s.column)
		return s, err
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range seqs {
		var last int64
		var called bool
		if err := tx.QueryRow(ctx, "SELECT last_value, is_called FROM "+qi(schema)+"."+qi(s.name)).Scan(&last, &called); err != nil {
			return nil, err
		}
		target := ql(qi(s.name))
		if s.table != nil && s.column != nil {
			// An identity column's sequence has a name of its own in each
			// store; reach it through its column.
			target = "pg_get_serial_sequence(" + ql(*s.table) + ", " + ql(*s.column) + ")"
		}
		out = append(out, fmt.Sprintf("SELECT setval(%s, %d, %t)", target, last, called))
	}
	return out, nil
}

func (p *Postgres) Load(ctx context.Context, ref Ref, d *Dump, replace bool) error {
	if err := d.Verify(api.EnginePostgres); err != nil {
		return err
	}
	unlock, err := p.lock(ctx, ref)
	if err != nil {
		return err
	}
	defer unlock()
	schema := p.schema(ref)
	err = p.asStore(ctx, ref, func(c *pgx.Conn) error {
		tx, err := c.Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		if !replace {
			empty, err := pgIsEmpty(ctx, c, schema)
			if err != nil {
				return err
			}
			if !empty {
				return ErrNotEmpty
			}
		}
		if err := pgClear(ctx, tx, schema); err != nil {
			return err
		}
		// Function bodies may name tables made after them.
		if _, err := tx.Exec(ctx, "SET LOCAL check_function_bodies = off"); err != nil {
			return err
		}
		for _, stmt := range d.Before {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("%.80q: %w", stmt, err)
			}
		}
		for _, t := range d.Tables {
			if len(t.Rows) == 0 {
				continue
			}
			data := strings.Join(t.Rows, "\n") + "\n"
			if _, err := c.PgConn().CopyFrom(ctx, strings.NewReader(data),
				"COPY "+qi(schema)+"."+qi(t.Name)+" ("+quoteAll(t.Columns)+") FROM STDIN"); err != nil {
				return fmt.Errorf("table %q: %w", t.Name, err)
			}
		}
		for _, stmt := range d.After {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("%.80q: %w", stmt, err)
			}
		}
		return tx.Commit(ctx)
	})
	if err != nil {
		return fmt.Errorf("loading into %s: %w", ref, err)
	}
	return nil
}

func (p *Postgres) Empty(ctx context.Context, ref Ref) error {
	unlock, err := p.lock(ctx, ref)
	if err != nil {
		return err
	}
	defer unlock()
	schema := p.schema(ref)
	return p.asStore(ctx, ref, func(c *pgx.Conn) error {
		tx, err := c.Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		if err := pgClear(ctx, tx, schema); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "CREATE TABLE "+qi(schema)+"."+api.SchemaTable+
			" (version bigint PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL)"); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
}

func (p *Postgres) MintCredentials(ctx context.Context, ref Ref, ttl time.Duration) (Credentials, error) {
	unlock, err := p.lock(ctx, ref)
	if err != nil {
		return Credentials{}, err
	}
	defer unlock()
	if ok, err := p.Exists(ctx, ref); err != nil {
		return Credentials{}, err
	} else if !ok {
		return Credentials{}, fmt.Errorf("%s: %w", ref, ErrNotFound)
	}
	until := time.Now().UTC().Add(ttl).Truncate(time.Second)
	name, password, err := p.login(ctx, ref, until)
	if err != nil {
		return Credentials{}, fmt.Errorf("minting a login for %s: %w", ref, err)
	}
	return Credentials{Username: name, Password: password, DSN: p.dsn(ref, name, password), ExpiresAt: until}, nil
}

// dsn is a URL that psql and drivers take: the server as tenancyd reaches
// it (a Unix socket directory goes in the host parameter), with its TLS
// settings.
func (p *Postgres) dsn(ref Ref, user, password string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Path: "/" + p.database(ref)}
	q := url.Values{}
	host, port := p.cfg.Host, strconv.Itoa(int(p.cfg.Port))
	if strings.HasPrefix(host, "/") {
		q.Set("host", host)
		if port != "5432" {
			q.Set("port", port)
		}
	} else {
		u.Host = net.JoinHostPort(host, port)
	}
	for _, k := range []string{"sslmode", "sslrootcert"} {
		if v := p.url.Query().Get(k); v != "" {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func (p *Postgres) RevokeCredentials(ctx context.Context, ref Ref, username string) error {
	if !strings.HasPrefix(username, p.loginPrefix()) {
		return fmt.Errorf("%q: %w", username, ErrNoSuchLogin)
	}
	unlock, err := p.lock(ctx, ref)
	if err != nil {
		return err
	}
	defer unlock()
	logins, err := p.members(ctx, p.group(ref))
	if err != nil {
		return err
	}
	if !slices.Contains(logins, username) {
		return fmt.Errorf("%q: %w", username, ErrNoSuchLogin)
	}
	return p.dropLogin(ctx, ref, username)
}

// ExpireCredentials drops this installation's logins whose VALID UNTIL has
// passed.
func (p *Postgres) ExpireCredentials(ctx context.Context) (int, error) {
	rows, err := p.pool.Query(ctx, `SELECT r.rolname, coalesce(g.rolname, '') FROM pg_roles r
		LEFT JOIN pg_auth_members m ON m.member = r.oid LEFT JOIN pg_roles g ON g.oid = m.roleid
		WHERE r.rolname LIKE $1 ESCAPE '\' AND r.rolcanlogin AND r.rolvaliduntil < now()`, likePrefix(p.loginPrefix()))
	if err != nil {
		return 0, err
	}
	type login struct{ name, group string }
	logins, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (login, error) {
		var l login
		err := r.Scan(&l.name, &l.group)
		return l, err
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range logins {
		_, _ = p.pool.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", l.name)
		if err := p.catalog(ctx, "DROP ROLE IF EXISTS "+qi(l.name)); err != nil {
			return n, fmt.Errorf("dropping expired login %s: %w", l.name, err)
		}
		n++
	}
	return n, nil
}

func (p *Postgres) Close() error {
	p.locks.Close()
	p.pool.Close()
	return nil
}
