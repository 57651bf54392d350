package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// migrationFiles holds one directory of NNNN_name.sql files per dialect.
//
//go:embed migrations
var migrationFiles embed.FS

// dialect is what differs between the SQL databases behind sqlStore; the
// queries themselves are shared.
type dialect struct {
	name string
	// numbered makes placeholders $1, $2, ... instead of ?.
	numbered bool
	// migrations is the directory of migrationFiles applied at open.
	migrations string
	// migrationsTable creates schema_migrations if it is missing.
	migrationsTable string
	// timeArg turns a UTC time truncated to microseconds into a query argument.
	timeArg func(time.Time) any
	// lock takes transaction-scoped locks on names, in order; nil when the
	// database serializes writers anyway.
	lock func(ctx context.Context, tx *sql.Tx, names []string) error
	// view are the options of View's transactions.
	view sql.TxOptions
	// detachedRead runs Read's single row lookup without the caller's
	// cancellation once it has begun: on SQLite the lookup takes
	// microseconds, less than database/sql and the driver spend arranging to
	// cancel it (a context and a goroutine each, for every statement).
	detachedRead bool
}

// rebind rewrites the ? placeholders of a shared query for the dialect. The
// shared queries never hold a ? inside a literal.
func (d *dialect) rebind(query string) string {
	if !d.numbered {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := range len(query) {
		if query[i] != '?' {
			b.WriteByte(query[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// sqlStore implements Store over database/sql for every dialect.
type sqlStore struct {
	d     *dialect
	write *sql.DB
	read  *sql.DB // the same pool as write unless the database wants separate readers
	// now is the clock that stamps the times the store owns; see WithClock.
	now func() time.Time
	// writeStmts and readStmts cache prepared statements per pool; nil
	// where the driver caches them itself (pgx).
	writeStmts, readStmts *stmtCache
	// readRow runs Read's single statement where the driver has a cheaper
	// way than database/sql (pgx's pool); nil runs it on read.
	readRow func(ctx context.Context, query string, args ...any) row
	// closePool closes what read and write borrow their connections from,
	// when closing them does not.
	closePool func()
	// revocations is told of every commit that revoked tokens.
	revocations *Revocations
}

var _ Store = (*sqlStore)(nil)

// Update runs fn in a read-write transaction: BEGIN IMMEDIATE on SQLite, READ
// COMMITTED on PostgreSQL, where each statement sees the latest commits, so
// that reading after Lock sees what the previous lock holder wrote.
func (s *sqlStore) Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error {
	return s.run(ctx, s.write, s.writeStmts, nil, func(tx *sqlTx) error { return fn(ctx, tx) })
}

// View runs fn in a read-only snapshot: a deferred transaction on SQLite's
// reader connections, REPEATABLE READ on PostgreSQL.
func (s *sqlStore) View(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error {
	return s.run(ctx, s.read, s.readStmts, &s.d.view, func(tx *sqlTx) error { return fn(ctx, tx) })
}

func (s *sqlStore) Revocations() *Revocations { return s.revocations }

// WithClock returns the store over the same database, stamping with now.
func (s *sqlStore) WithClock(now func() time.Time) Store {
	c := *s
	c.now = now
	return &c
}

// errReadOnly refuses a write or a lock inside Read.
var errReadOnly = errors.New("store: Read only reads; write in Update")

func (s *sqlStore) Read(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error {
	single := &sqlTx{d: s.d, db: s.read, now: s.now, stmts: s.readStmts, readRow: s.readRow}
	err := fn(ctx, single)
	if s.readStmts.hasPending() {
		s.readStmts.prepare(ctx)
	}
	if single.refused {
		return errReadOnly
	}
	if !single.needsSnapshot {
		return err
	}
	// fn wanted a second statement, which outside a transaction may see
	// another state than the first: the second was not run, and fn runs
	// again from the start in one snapshot.
	return s.View(ctx, fn)
}

// errNeedsSnapshot stops a function in Read at its second statement, which
// Read runs again in a View.
var errNeedsSnapshot = errors.New("store: Read needs a snapshot for a second statement")

func (s *sqlStore) run(ctx context.Context, db *sql.DB, stmts *stmtCache, opts *sql.TxOptions, fn func(tx *sqlTx) error) error {
	if err := s.runTx(ctx, db, stmts, opts, fn); err != nil {
		return err
	}
	if stmts.hasPending() {
		stmts.prepare(ctx)
	}
	return nil
}

func (s *sqlStore) runTx(ctx context.Context, db *sql.DB, stmts *stmtCache, opts *sql.TxOptions, fn func(tx *sqlTx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("store: begin transaction: %w", err)
	}
	// After a successful Commit this does nothing; otherwise it ends the
	// transaction whether fn failed or panicked.
	defer func() { _ = tx.Rollback() }()
	t := &sqlTx{d: s.d, tx: tx, now: s.now, stmts: stmts}
	if err := fn(t); err != nil {
		return err
	}
	err = tx.Commit()
	// A commit that failed may still have happened (the connection broke
	// while committing): forgetting a token that stays valid costs one
	// read, remembering a revoked one lets it in.
	if t.revoked && s.revocations != nil {
		s.revocations.committed()
	}
	if err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

func (s *sqlStore) Ping(ctx context.Context) error {
	if err := s.write.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping %s: %w", s.d.name, err)
	}
	if s.read != s.write {
		if err := s.read.PingContext(ctx); err != nil {
			return fmt.Errorf("store: ping %s: %w", s.d.name, err)
		}
	}
	return nil
}

func (s *sqlStore) Close() error {
	s.readStmts.close()
	s.writeStmts.close()
	err := s.write.Close()
	if s.read != s.write {
		err = errors.Join(err, s.read.Close())
	}
	if s.closePool != nil {
		s.closePool()
	}
	return err
}

// migrate applies the dialect's migrations that the database has not seen,
// in one transaction that holds a lock, so that processes opening one
// database at once apply each migration exactly once.
func (s *sqlStore) migrate(ctx context.Context) error {
	dir := path.Join("migrations", s.d.migrations)
	names, err := fs.Glob(migrationFiles, dir+"/*.sql")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	slices.Sort(names)
	return s.runTx(ctx, s.write, nil, nil, func(tx *sqlTx) error {
		if err := tx.Lock(ctx, "tenancy:migrate"); err != nil {
			return err
		}
		if _, err := tx.tx.ExecContext(ctx, s.d.migrationsTable); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		applied, err := tx.appliedMigrations(ctx)
		if err != nil {
			return err
		}
		known := map[int64]bool{}
		for _, name := range names {
			base := path.Base(name)
			prefix, _, _ := strings.Cut(base, "_")
			version, err := strconv.ParseInt(prefix, 10, 64)
			if err != nil {
				return fmt.Errorf("migration %s: name must start with a number: %w", base, err)
			}
			// Two files with one number would pass for one migration on a
			// database that has applied either: the second would never run.
			if known[version] {
				return fmt.Errorf("migration %s: another migration has number %d; give it the next free number", base, version)
			}
			known[version] = true
			if applied[version] {
				continue
			}
			script, err := fs.ReadFile(migrationFiles, name)
			if err != nil {
				return fmt.Errorf("migration %s: %w", base, err)
			}
			if _, err := tx.tx.ExecContext(ctx, string(script)); err != nil {
				return fmt.Errorf("migration %s: %w", base, err)
			}
			if _, err := tx.exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				version, base, s.d.timeArg(tx.stamp())); err != nil {
				return fmt.Errorf("migration %s: record: %w", base, err)
			}
		}
		for version := range applied {
			if !known[version] {
				return fmt.Errorf("the database has schema migration %d, which this version of tenancyd does not know: upgrade tenancyd", version)
			}
		}
		return nil
	})
}

func (t *sqlTx) appliedMigrations(ctx context.Context) (map[int64]bool, error) {
	rows, err := t.query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer func() { _ = rows.Close() }()
	applied := map[int64]bool{}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return applied, nil
}

// sqlTx implements Tx over one database/sql transaction or, for Read,
// over the pool db without one.
type sqlTx struct {
	d     *dialect
	tx    *sql.Tx
	now   func() time.Time
	db    *sql.DB // Read's pool, when tx is nil
	stmts *stmtCache
	// readRow is the store's, for Read's single statement.
	readRow func(ctx context.Context, query string, args ...any) row
	// statements counts the statements run, for Read; refused says Read
	// was asked to write; needsSnapshot, for a second statement.
	statements    int
	refused       bool
	needsSnapshot bool
	// revoked says the transaction revoked tokens, which the store's
	// Revocations hear of after the commit.
	revoked bool
}

// mayRun reports whether query may run: always in a transaction; in Read,
// outside one on a pool that may write (PostgreSQL's), only a SELECT, and
// only one. Anything else is refused without reaching the database.
func (t *sqlTx) mayRun(query string) error {
	switch {
	case t.tx != nil:
		return nil
	case !strings.HasPrefix(query, "SELECT "):
		t.refused = true
		return errReadOnly
	case t.statements > 0:
		t.needsSnapshot = true
		return errNeedsSnapshot
	}
	return nil
}

var _ Tx = (*sqlTx)(nil)

// prepared is query's cached statement, the transaction's copy in a
// transaction; nil when it has none yet.
func (t *sqlTx) prepared(ctx context.Context, query string) *sql.Stmt {
	s := t.stmts.stmt(query)
	if s == nil || t.tx == nil {
		return s
	}
	return t.tx.StmtContext(ctx, s)
}

func (t *sqlTx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query = t.d.rebind(query)
	if err := t.mayRun(query); err != nil {
		return nil, err
	}
	t.statements++
	if s := t.prepared(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	if t.tx == nil {
		return t.db.QueryContext(ctx, query, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

func (t *sqlTx) queryRow(ctx context.Context, query string, args ...any) row {
	query = t.d.rebind(query)
	if t.mayRun(query) != nil {
		// A *sql.Row carries its error only from a query: one with a done
		// context fails before taking a connection. Read reports
		// errReadOnly, or runs fn again in a View.
		done, cancel := context.WithCancel(ctx)
		cancel()
		return t.db.QueryRowContext(done, query, args...)
	}
	t.statements++
	if t.tx == nil && t.d.detachedRead && ctx.Err() == nil {
		ctx = context.WithoutCancel(ctx)
	}
	if s := t.prepared(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	switch {
	case t.tx != nil:
		return t.tx.QueryRowContext(ctx, query, args...)
	case t.readRow != nil:
		return t.readRow(ctx, query, args...)
	}
	return t.db.QueryRowContext(ctx, query, args...)
}

// exec runs a statement and returns how many rows it affected.
func (t *sqlTx) exec(ctx context.Context, query string, args ...any) (int64, error) {
	if t.tx == nil {
		t.refused = true
		return 0, errReadOnly
	}
	query = t.d.rebind(query)
	t.statements++
	var res sql.Result
	var err error
	if s := t.prepared(ctx, query); s != nil {
		res, err = s.ExecContext(ctx, args...)
	} else {
		res, err = t.tx.ExecContext(ctx, query, args...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t *sqlTx) Lock(ctx context.Context, names ...string) error {
	if t.tx == nil {
		t.refused = true
		return errReadOnly
	}
	if t.d.lock == nil {
		return nil
	}
	return t.d.lock(ctx, t.tx, names)
}

// stamp is the time on the store's clock, at the microsecond precision
// both databases keep.
func (t *sqlTx) stamp() time.Time { return normTime(t.now()) }

// normTime brings a caller's time to what the database will give back.
func normTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// orNow is normTime(v), or the store's time when v is zero.
func (t *sqlTx) orNow(v time.Time) time.Time {
	if v.IsZero() {
		return t.stamp()
	}
	return normTime(v)
}

func (t *sqlTx) nullTimeArg(v *time.Time) any {
	if v == nil {
		return nil
	}
	return t.d.timeArg(normTime(*v))
}

// timeCol scans a time column, TIMESTAMPTZ or TEXT, into UTC.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(v any) error {
	switch v := v.(type) {
	case time.Time:
		*c.t = v.UTC()
		return nil
	case string:
		return c.parse(v)
	case []byte:
		return c.parse(string(v))
	default:
		return fmt.Errorf("cannot scan %T into a time", v)
	}
}

func (c timeCol) parse(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("cannot parse time %q: %w", s, err)
	}
	*c.t = t.UTC()
	return nil
}

// nullTimeCol scans a nullable time column into a *time.Time.
type nullTimeCol struct{ t **time.Time }

func (c nullTimeCol) Scan(v any) error {
	if v == nil {
		*c.t = nil
		return nil
	}
	var t time.Time
	if err := (timeCol{&t}).Scan(v); err != nil {
		return err
	}
	*c.t = &t
	return nil
}

// row is what *sql.Row and *sql.Rows have in common.
type row interface{ Scan(dest ...any) error }

// scanAll returns a function that collects the rows of a query with scan
// and closes them; it reads scanAll(scanX)(tx.query(...)).
func scanAll[T any](scan func(row) (T, error)) func(*sql.Rows, error) ([]T, error) {
	return func(rows *sql.Rows, err error) ([]T, error) {
		if err != nil {
			return nil, err
		}
		defer func() { _ = rows.Close() }()
		out := []T{}
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return out, nil
	}
}

const objectColumns = "tenant, kind, key, revision, data, created_at, updated_at"

func scanObject(r row) (Object, error) {
	var o Object
	var data []byte
	if err := r.Scan(&o.Tenant, &o.Kind, &o.Key, &o.Revision, &data,
		timeCol{&o.CreatedAt}, timeCol{&o.UpdatedAt}); err != nil {
		return Object{}, err
	}
	o.Data = data
	return o, nil
}

func objectName(tenant, kind, key string) string { return tenant + "/" + kind + "/" + key }

func (t *sqlTx) Get(ctx context.Context, tenant, kind, key string) (Object, error) {
	o, err := scanObject(t.queryRow(ctx, "SELECT "+objectColumns+" FROM objects WHERE tenant = ? AND kind = ? AND key = ?",
		tenant, kind, key))
	if errors.Is(err, sql.ErrNoRows) {
		return Object{}, fmt.Errorf("store: get %s: %w", objectName(tenant, kind, key), ErrNotFound)
	}
	if err != nil {
		return Object{}, fmt.Errorf("store: get %s: %w", objectName(tenant, kind, key), err)
	}
	return o, nil
}

func (t *sqlTx) List(ctx context.Context, q ListQuery) ([]Object, error) {
	query := "SELECT " + objectColumns + " FROM objects WHERE kind = ?"
	args := []any{q.Kind}
	order := " ORDER BY key"
	if q.Tenant != "" {
		query += " AND tenant = ?"
		args = append(args, q.Tenant)
	} else {
		// Keys of other kinds than tenants may repeat across tenants; the
		// tenant makes the order total.
		order += ", tenant"
	}
	if q.After != "" {
		query += " AND key > ?"
		args = append(args, q.After)
	}
	query += order
	if q.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, q.Limit)
	}
	objects, err := scanAll(scanObject)(t.query(ctx, query, args...))
	if err != nil {
		return nil, fmt.Errorf("store: list %s of tenant %q: %w", q.Kind, q.Tenant, err)
	}
	return objects, nil
}

func (t *sqlTx) Count(ctx context.Context, tenant, kind string) (int, error) {
	query := "SELECT COUNT(*) FROM objects WHERE kind = ?"
	args := []any{kind}
	if tenant != "" {
		query += " AND tenant = ?"
		args = append(args, tenant)
	}
	var n int
	if err := t.queryRow(ctx, query, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count %s of tenant %q: %w", kind, tenant, err)
	}
	return n, nil
}

func (t *sqlTx) Create(ctx context.Context, o Object) (Object, error) {
	name := objectName(o.Tenant, o.Kind, o.Key)
	if !json.Valid(o.Data) {
		return Object{}, fmt.Errorf("store: create %s: data is not valid JSON", name)
	}
	at := t.stamp()
	createdAt, updatedAt := at, at
	if !o.CreatedAt.IsZero() {
		createdAt, updatedAt = normTime(o.CreatedAt), t.orNow(o.UpdatedAt)
	}
	created, err := scanObject(t.queryRow(ctx,
		"INSERT INTO objects ("+objectColumns+") VALUES (?, ?, ?, 1, ?, ?, ?)"+
			" ON CONFLICT (tenant, kind, key) DO NOTHING RETURNING "+objectColumns,
		o.Tenant, o.Kind, o.Key, string(o.Data), t.d.timeArg(createdAt), t.d.timeArg(updatedAt)))
	if errors.Is(err, sql.ErrNoRows) {
		return Object{}, fmt.Errorf("store: create %s: %w", name, ErrExists)
	}
	if err != nil {
		return Object{}, fmt.Errorf("store: create %s: %w", name, err)
	}
	return created, nil
}

func (t *sqlTx) Put(ctx context.Context, o Object, expectRevision int64) (Object, error) {
	name := objectName(o.Tenant, o.Kind, o.Key)
	if !json.Valid(o.Data) {
		return Object{}, fmt.Errorf("store: put %s: data is not valid JSON", name)
	}
	stored, err := scanObject(t.queryRow(ctx,
		"UPDATE objects SET revision = revision + 1, data = ?, updated_at = ?"+
			" WHERE tenant = ? AND kind = ? AND key = ? AND revision = ? RETURNING "+objectColumns,
		string(o.Data), t.d.timeArg(t.stamp()), o.Tenant, o.Kind, o.Key, expectRevision))
	if errors.Is(err, sql.ErrNoRows) {
		return Object{}, t.whyNoRow(ctx, "put", o.Tenant, o.Kind, o.Key, expectRevision)
	}
	if err != nil {
		return Object{}, fmt.Errorf("store: put %s: %w", name, err)
	}
	return stored, nil
}

func (t *sqlTx) Delete(ctx context.Context, tenant, kind, key string, expectRevision int64) error {
	query := "DELETE FROM objects WHERE tenant = ? AND kind = ? AND key = ?"
	args := []any{tenant, kind, key}
	if expectRevision != 0 {
		query += " AND revision = ?"
		args = append(args, expectRevision)
	}
	n, err := t.exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("store: delete %s: %w", objectName(tenant, kind, key), err)
	}
	if n == 0 {
		return t.whyNoRow(ctx, "delete", tenant, kind, key, expectRevision)
	}
	return nil
}

// whyNoRow explains why a conditional write matched no row: the object is
// missing, or its revision is no longer expectRevision.
func (t *sqlTx) whyNoRow(ctx context.Context, op, tenant, kind, key string, expectRevision int64) error {
	name := objectName(tenant, kind, key)
	var current int64
	err := t.queryRow(ctx, "SELECT revision FROM objects WHERE tenant = ? AND kind = ? AND key = ?",
		tenant, kind, key).Scan(&current)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("store: %s %s: %w", op, name, ErrNotFound)
	case err != nil:
		return fmt.Errorf("store: %s %s: %w", op, name, err)
	default:
		return fmt.Errorf("store: %s %s: revision is %d, not %d: %w", op, name, current, expectRevision, ErrStaleRevision)
	}
}

func (t *sqlTx) DeleteTenant(ctx context.Context, tenant string) error {
	if _, err := t.exec(ctx, "DELETE FROM objects WHERE tenant = ?", tenant); err != nil {
		return fmt.Errorf("store: delete tenant %s: %w", tenant, err)
	}
	return nil
}

func (t *sqlTx) Export(ctx context.Context, tenant string) ([]Object, error) {
	objects, err := scanAll(scanObject)(t.query(ctx,
		"SELECT "+objectColumns+" FROM objects WHERE tenant = ? ORDER BY kind, key", tenant))
	if err != nil {
		return nil, fmt.Errorf("store: export tenant %s: %w", tenant, err)
	}
	return objects, nil
}

const tokenColumns = "id, name, tenant, role, hash, created_by, created_by_id, created_at, expires_at, revoked_at" //nolint:gosec // G101: column names, not a credential.

func scanToken(r row) (TokenRecord, error) {
	var tok TokenRecord
	if err := r.Scan(&tok.ID, &tok.Name, &tok.Tenant, &tok.Role, &tok.Hash, &tok.CreatedBy, &tok.CreatedByID,
		timeCol{&tok.CreatedAt}, nullTimeCol{&tok.ExpiresAt}, nullTimeCol{&tok.RevokedAt}); err != nil {
		return TokenRecord{}, err
	}
	return tok, nil
}

// CreateToken stores a token; a zero CreatedAt means now.
func (t *sqlTx) CreateToken(ctx context.Context, tok TokenRecord) error {
	n, err := t.exec(ctx, "INSERT INTO tokens ("+tokenColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
		tok.ID, tok.Name, tok.Tenant, tok.Role, tok.Hash, tok.CreatedBy, tok.CreatedByID,
		t.d.timeArg(t.orNow(tok.CreatedAt)), t.nullTimeArg(tok.ExpiresAt), t.nullTimeArg(tok.RevokedAt))
	if err != nil {
		return fmt.Errorf("store: create token %s: %w", tok.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("store: create token %s: id or hash: %w", tok.ID, ErrExists)
	}
	return nil
}

const tokenByHash = "SELECT " + tokenColumns + " FROM tokens WHERE hash = ?"

func (t *sqlTx) TokenByHash(ctx context.Context, hash []byte) (TokenRecord, error) {
	return tokenFound(scanToken(t.queryRow(ctx, tokenByHash, hash)))
}

func tokenFound(tok TokenRecord, err error) (TokenRecord, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return TokenRecord{}, fmt.Errorf("store: token by hash: %w", ErrNotFound)
	}
	if err != nil {
		return TokenRecord{}, fmt.Errorf("store: token by hash: %w", err)
	}
	return tok, nil
}

func (t *sqlTx) Token(ctx context.Context, id string) (TokenRecord, error) {
	tok, err := scanToken(t.queryRow(ctx, "SELECT "+tokenColumns+" FROM tokens WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return TokenRecord{}, fmt.Errorf("store: token %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return TokenRecord{}, fmt.Errorf("store: token %s: %w", id, err)
	}
	return tok, nil
}

// RevokeToken marks a token and its descendants revoked, walking
// created_by_id down from it; a token revoked already keeps its first time,
// and its descendants are still walked, so that revoking again finishes a
// revocation that predates the lineage.
func (t *sqlTx) RevokeToken(ctx context.Context, id string, at time.Time) ([]string, error) {
	if _, err := t.Token(ctx, id); err != nil {
		return nil, fmt.Errorf("store: revoke token %s: %w", id, err)
	}
	t.revoked = true
	// UNION, not UNION ALL: a cycle, which minting cannot make, still ends.
	ids, err := scanAll(func(r row) (string, error) {
		var v string
		return v, r.Scan(&v)
	})(t.query(ctx,
		"WITH RECURSIVE tree(id) AS (SELECT id FROM tokens WHERE id = ?"+
			" UNION SELECT tokens.id FROM tokens JOIN tree ON tokens.created_by_id = tree.id)"+
			" UPDATE tokens SET revoked_at = ? WHERE revoked_at IS NULL AND id IN (SELECT id FROM tree) RETURNING id",
		id, t.d.timeArg(t.orNow(at))))
	if err != nil {
		return nil, fmt.Errorf("store: revoke token %s: %w", id, err)
	}
	slices.Sort(ids)
	return ids, nil
}

// ListTokens lists tokens in id order, revoked and expired ones included.
func (t *sqlTx) ListTokens(ctx context.Context, q TokenQuery) ([]TokenRecord, error) {
	var where []string
	var args []any
	if !q.All {
		where = append(where, "tenant = ?")
		args = append(args, q.Tenant)
	}
	if q.After != "" {
		where = append(where, "id > ?")
		args = append(args, q.After)
	}
	query := "SELECT " + tokenColumns + " FROM tokens"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY id"
	if q.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, q.Limit)
	}
	tokens, err := scanAll(scanToken)(t.query(ctx, query, args...))
	if err != nil {
		return nil, fmt.Errorf("store: list tokens of tenant %q: %w", q.Tenant, err)
	}
	return tokens, nil
}

// RevokeTenantTokens revokes every token of a tenant that is not revoked yet.
func (t *sqlTx) RevokeTenantTokens(ctx context.Context, tenant string, at time.Time) error {
	t.revoked = true
	if _, err := t.exec(ctx, "UPDATE tokens SET revoked_at = ? WHERE tenant = ? AND revoked_at IS NULL",
		t.d.timeArg(t.orNow(at)), tenant); err != nil {
		return fmt.Errorf("store: revoke tokens of tenant %s: %w", tenant, err)
	}
	return nil
}

// CountTokens counts every stored token, revoked and expired ones included.
func (t *sqlTx) CountTokens(ctx context.Context) (int, error) {
	var n int
	if err := t.queryRow(ctx, "SELECT COUNT(*) FROM tokens").Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count tokens: %w", err)
	}
	return n, nil
}

const auditColumns = "id, tenant, actor, actor_token_id, actor_token_created_by_id, action, object_kind, object_key, revision_before, revision_after, request_id, detail, time, promotion_id"

// AppendAudit stores an event (its ID is ignored); a zero Time means now.
func (t *sqlTx) AppendAudit(ctx context.Context, e api.AuditEvent) (int64, error) {
	var id int64
	err := t.queryRow(ctx,
		"INSERT INTO audit_events (tenant, actor, actor_token_id, actor_token_created_by_id, action, object_kind, object_key, revision_before, revision_after, request_id, detail, time, promotion_id)"+
			" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
		e.Tenant, e.Actor, e.ActorTokenID, e.ActorTokenCreatedByID, e.Action, e.ObjectKind, e.ObjectKey, e.RevisionBefore, e.RevisionAfter,
		e.RequestID, e.Detail, t.d.timeArg(t.orNow(e.Time)), e.PromotionID).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: append audit event of tenant %q: %w", e.Tenant, err)
	}
	return id, nil
}

func scanAudit(r row) (api.AuditEvent, error) {
	var e api.AuditEvent
	err := r.Scan(&e.ID, &e.Tenant, &e.Actor, &e.ActorTokenID, &e.ActorTokenCreatedByID, &e.Action, &e.ObjectKind, &e.ObjectKey,
		&e.RevisionBefore, &e.RevisionAfter, &e.RequestID, &e.Detail, timeCol{&e.Time}, &e.PromotionID)
	return e, err
}

func (t *sqlTx) ListAudit(ctx context.Context, q AuditQuery) ([]api.AuditEvent, error) {
	var where []string
	var args []any
	if !q.All {
		where = append(where, "tenant = ?")
		args = append(args, q.Tenant)
	}
	if q.ObjectKind != "" {
		where = append(where, "object_kind = ?")
		args = append(args, q.ObjectKind)
	}
	if q.ObjectKey != "" {
		where = append(where, "object_key = ?")
		args = append(args, q.ObjectKey)
	}
	if len(q.Actions) > 0 {
		where = append(where, "action IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(q.Actions)), ", ")+")")
		for _, a := range q.Actions {
			args = append(args, a)
		}
	}
	if q.FromID > 0 {
		where = append(where, "id >= ?")
		args = append(args, q.FromID)
	}
	order := " ORDER BY id"
	if q.Desc {
		order += " DESC"
		if q.After > 0 {
			where = append(where, "id < ?")
			args = append(args, q.After)
		}
	} else if q.After > 0 {
		where = append(where, "id > ?")
		args = append(args, q.After)
	}
	query := "SELECT " + auditColumns + " FROM audit_events"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += order
	if q.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, q.Limit)
	}
	events, err := scanAll(scanAudit)(t.query(ctx, query, args...))
	if err != nil {
		return nil, fmt.Errorf("store: list audit events of tenant %q: %w", q.Tenant, err)
	}
	return events, nil
}

func (t *sqlTx) Idempotency(ctx context.Context, scope, key string) (IdempotencyRecord, error) {
	r := IdempotencyRecord{Scope: scope, Key: key}
	err := t.queryRow(ctx, "SELECT request_hash, status, body, created_at FROM idempotency WHERE scope = ? AND key = ?",
		scope, key).Scan(&r.RequestHash, &r.Status, &r.Body, timeCol{&r.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return IdempotencyRecord{}, fmt.Errorf("store: idempotency key %q of %q: %w", key, scope, ErrNotFound)
	}
	if err != nil {
		return IdempotencyRecord{}, fmt.Errorf("store: idempotency key %q of %q: %w", key, scope, err)
	}
	return r, nil
}

// PruneIdempotency deletes the records created before a time.
func (t *sqlTx) PruneIdempotency(ctx context.Context, before time.Time) (int64, error) {
	n, err := t.exec(ctx, "DELETE FROM idempotency WHERE created_at < ?", t.d.timeArg(before.UTC().Truncate(time.Microsecond)))
	if err != nil {
		return 0, fmt.Errorf("store: prune idempotency records: %w", err)
	}
	return n, nil
}

// PutIdempotency stores a record; a zero CreatedAt means now.
func (t *sqlTx) PutIdempotency(ctx context.Context, r IdempotencyRecord) error {
	body := r.Body
	if body == nil {
		body = []byte{}
	}
	n, err := t.exec(ctx,
		"INSERT INTO idempotency (scope, key, request_hash, status, body, created_at) VALUES (?, ?, ?, ?, ?, ?)"+
			" ON CONFLICT (scope, key) DO NOTHING",
		r.Scope, r.Key, r.RequestHash, r.Status, body, t.d.timeArg(t.orNow(r.CreatedAt)))
	if err != nil {
		return fmt.Errorf("store: put idempotency key %q of %q: %w", r.Key, r.Scope, err)
	}
	if n == 0 {
		return fmt.Errorf("store: put idempotency key %q of %q: %w", r.Key, r.Scope, ErrExists)
	}
	return nil
}

const backupColumns = "id, tenant, environment, kind, taken_at, retain_until, size_bytes, checksum, summary, data"

func scanBackup(r row, payload bool) (BackupRecord, error) {
	var b BackupRecord
	var data, summary []byte
	dest := []any{&b.ID, &b.Tenant, &b.Environment, &b.Kind, timeCol{&b.TakenAt}, timeCol{&b.RetainUntil},
		&b.SizeBytes, &b.Checksum, &summary, &data}
	if payload {
		dest = append(dest, &b.Payload)
	}
	if err := r.Scan(dest...); err != nil {
		return BackupRecord{}, err
	}
	b.Data, b.Summary = data, summary
	return b, nil
}

// PutBackup stores a backup; a zero TakenAt means now, a nil Summary {}.
func (t *sqlTx) PutBackup(ctx context.Context, b BackupRecord) error {
	if b.Summary == nil {
		b.Summary = json.RawMessage(`{}`)
	}
	if b.Kind == "" {
		b.Kind = api.BackupFinal
	}
	if !json.Valid(b.Data) || !json.Valid(b.Summary) {
		return fmt.Errorf("store: put backup %s: data or summary is not valid JSON", b.ID)
	}
	n, err := t.exec(ctx, "INSERT INTO backups ("+backupColumns+", payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
		b.ID, b.Tenant, b.Environment, b.Kind, t.d.timeArg(t.orNow(b.TakenAt)), t.d.timeArg(normTime(b.RetainUntil)),
		b.SizeBytes, b.Checksum, string(b.Summary), string(b.Data), b.Payload)
	if err != nil {
		return fmt.Errorf("store: put backup %s: %w", b.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("store: put backup %s: %w", b.ID, ErrExists)
	}
	return nil
}

func (t *sqlTx) Backup(ctx context.Context, id string) (BackupRecord, error) {
	b, err := scanBackup(t.queryRow(ctx, "SELECT "+backupColumns+", payload FROM backups WHERE id = ?", id), true)
	if errors.Is(err, sql.ErrNoRows) {
		return BackupRecord{}, fmt.Errorf("store: backup %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return BackupRecord{}, fmt.Errorf("store: backup %s: %w", id, err)
	}
	return b, nil
}

// ExpiredBackups lists backups retained until before a time, without their
// data, which may be large and is not needed to delete them.
func (t *sqlTx) ExpiredBackups(ctx context.Context, before time.Time, limit int) ([]BackupRecord, error) {
	backups, err := scanAll(func(r row) (BackupRecord, error) { return scanBackup(r, false) })(t.query(ctx,
		"SELECT "+strings.Replace(backupColumns, ", data", ", 'null'", 1)+" FROM backups WHERE retain_until < ? ORDER BY retain_until, id LIMIT ?",
		t.d.timeArg(normTime(before)), limit))
	if err != nil {
		return nil, fmt.Errorf("store: list expired backups: %w", err)
	}
	return backups, nil
}

func (t *sqlTx) DeleteBackup(ctx context.Context, id string) error {
	n, err := t.exec(ctx, "DELETE FROM backups WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("store: delete backup %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: delete backup %s: %w", id, ErrNotFound)
	}
	return nil
}

func (t *sqlTx) RateBucket(ctx context.Context, tenant string) (RateBucket, error) {
	b := RateBucket{Tenant: tenant}
	err := t.queryRow(ctx, "SELECT tokens, rate_limit, updated_at FROM rate_buckets WHERE tenant = ?", tenant).
		Scan(&b.Tokens, &b.Limit, timeCol{&b.UpdatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return RateBucket{}, fmt.Errorf("store: rate bucket of %q: %w", tenant, ErrNotFound)
	}
	if err != nil {
		return RateBucket{}, fmt.Errorf("store: rate bucket of %q: %w", tenant, err)
	}
	return b, nil
}

func (t *sqlTx) PutRateBucket(ctx context.Context, b RateBucket) error {
	_, err := t.exec(ctx, "INSERT INTO rate_buckets (tenant, tokens, rate_limit, updated_at) VALUES (?, ?, ?, ?)"+
		" ON CONFLICT (tenant) DO UPDATE SET tokens = excluded.tokens, rate_limit = excluded.rate_limit, updated_at = excluded.updated_at",
		b.Tenant, b.Tokens, b.Limit, t.d.timeArg(t.orNow(b.UpdatedAt)))
	if err != nil {
		return fmt.Errorf("store: put rate bucket of %q: %w", b.Tenant, err)
	}
	return nil
}

// ListBackups lists a tenant's backups ("" for every tenant's), oldest first.
func (t *sqlTx) ListBackups(ctx context.Context, tenant string) ([]BackupRecord, error) {
	query := "SELECT " + backupColumns + " FROM backups"
	var args []any
	if tenant != "" {
		query += " WHERE tenant = ?"
		args = append(args, tenant)
	}
	query += " ORDER BY taken_at, id"
	backups, err := scanAll(func(r row) (BackupRecord, error) { return scanBackup(r, false) })(t.query(ctx, query, args...))
	if err != nil {
		return nil, fmt.Errorf("store: list backups of tenant %q: %w", tenant, err)
	}
	return backups, nil
}
