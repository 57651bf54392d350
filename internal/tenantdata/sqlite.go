package tenantdata

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sqlite "modernc.org/sqlite"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// SQLite keeps each tenant environment's data in a file of its own,
// DIR/<tenant>/<environment>.db. Both placements are that file.
type SQLite struct {
	dir   string
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

var _ Plane = (*SQLite)(nil)

// OpenSQLite uses dir (made if missing, readable by tenancyd's user only)
// for the stores' files.
func OpenSQLite(dir string) (*SQLite, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("tenant data directory %q: %w", dir, err)
	}
	s := &SQLite{dir: abs, locks: map[string]*sync.Mutex{}}
	if err := s.Ping(context.Background()); err != nil {
		return nil, err
	}
	return s, nil
}

// Dir is the directory of the stores' files.
func (s *SQLite) Dir() string { return s.dir }

func (s *SQLite) Engine() string { return api.EngineSQLite }

func (s *SQLite) path(ref Ref) string {
	return filepath.Join(s.dir, ref.Tenant, ref.Environment+".db")
}

func (s *SQLite) Location(ref Ref) Location {
	return Location{Engine: api.EngineSQLite, Name: s.path(ref), Isolation: ref.Placement}
}

func (s *SQLite) Ping(context.Context) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("tenant data directory: %w; create it, or pass another with --data-dir", err)
	}
	f, err := os.CreateTemp(s.dir, ".ping-*")
	if err != nil {
		return fmt.Errorf("tenant data directory %s is not writable: %w", s.dir, err)
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}

// lock serializes the operations on one store's file within this process;
// SQLite's own locking covers other processes.
func (s *SQLite) lock(ref Ref) func() {
	s.mu.Lock()
	m := s.locks[s.path(ref)]
	if m == nil {
		m = &sync.Mutex{}
		s.locks[s.path(ref)] = m
	}
	s.mu.Unlock()
	m.Lock()
	return m.Unlock
}

func (s *SQLite) Exists(_ context.Context, ref Ref) (bool, error) {
	_, err := os.Stat(s.path(ref))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (s *SQLite) Provision(ctx context.Context, ref Ref) error {
	defer s.lock(ref)()
	if err := os.MkdirAll(filepath.Dir(s.path(ref)), 0o700); err != nil {
		return fmt.Errorf("provisioning %s: %w", ref, err)
	}
	err := s.withConn(ctx, ref, true, func(c *sqliteConn) error {
		_, err := c.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+api.SchemaTable+` (
			version    INTEGER NOT NULL PRIMARY KEY,
			checksum   TEXT    NOT NULL,
			applied_at TEXT    NOT NULL
		)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("provisioning %s: %w", ref, err)
	}
	return os.Chmod(s.path(ref), 0o600)
}

func (s *SQLite) Drop(_ context.Context, ref Ref) error {
	defer s.lock(ref)()
	p := s.path(ref)
	for _, f := range []string{p, p + "-wal", p + "-shm", p + "-journal"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("dropping %s: %w", ref, err)
		}
	}
	// The tenant's directory goes with its last store.
	_ = os.Remove(filepath.Dir(p))
	return nil
}

// sqliteConn is one connection to a store's file, with the authorizer that
// keeps tenant SQL inside the file.
type sqliteConn struct {
	*sql.Conn
	// tenantSQL is set while tenant SQL runs: it may not end tenancyd's
	// transaction.
	tenantSQL *atomic.Bool
}

// Pragmas and functions that reach beyond the store's file, or could
// corrupt it, which tenant SQL may not use.
var (
	deniedPragmas   = []string{"temp_store_directory", "data_store_directory", "writable_schema"}
	deniedFunctions = []string{"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}
)

// withConn opens the store's file (create: even if it does not exist yet)
// for fn, on one connection with the authorizer installed.
func (s *SQLite) withConn(ctx context.Context, ref Ref, create bool, fn func(c *sqliteConn) error) error {
	p := s.path(ref)
	if !create {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: %w", ref, ErrNotFound)
		}
	}
	uri := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p) +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_defensive=1"
	db, err := sql.Open("sqlite", uri)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	tenant := &atomic.Bool{}
	err = conn.Raw(func(dc any) error {
		r, ok := dc.(sqlite.AuthorizerRegisterer)
		if !ok {
			return errors.New("the SQLite driver has no authorizer")
		}
		return r.RegisterAuthorizer(func(action sqlite.AuthorizerActionCode, arg1, arg2, _, _ string) sqlite.AuthorizerReturnCode {
			switch {
			case action == sqlite.AuthAttach || action == sqlite.AuthDetach:
				return sqlite.AuthorizerDeny
			case action == sqlite.AuthPragma && slices.Contains(deniedPragmas, strings.ToLower(arg1)):
				return sqlite.AuthorizerDeny
			case action == sqlite.AuthFunction && slices.Contains(deniedFunctions, strings.ToLower(arg2)):
				return sqlite.AuthorizerDeny
			case action == sqlite.AuthTransaction && tenant.Load():
				return sqlite.AuthorizerDeny
			}
			return sqlite.AuthorizerOK
		})
	})
	if err != nil {
		return err
	}
	return fn(&sqliteConn{Conn: conn, tenantSQL: tenant})
}

// inTx runs fn in one transaction of c, taking the write lock up front.
func (c *sqliteConn) inTx(ctx context.Context, fn func() error) (err error) {
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			// A fresh context: a cancelled one could not roll back.
			_, _ = c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	if err := fn(); err != nil {
		return err
	}
	_, err = c.ExecContext(ctx, "COMMIT")
	return err
}

func (s *SQLite) Migrate(ctx context.Context, ref Ref, ms []Migration, timeout time.Duration) ([]Applied, error) {
	defer s.lock(ref)()
	ms = sortedMigrations(ms)
	var done []Applied
	err := s.withConn(ctx, ref, false, func(c *sqliteConn) error {
		applied, err := sqliteApplied(ctx, c)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if slices.ContainsFunc(applied, func(a Applied) bool { return a.Version == m.Version }) {
				continue
			}
			a := Applied{Version: m.Version, Checksum: Checksum(m.SQL), AppliedAt: time.Now().UTC().Truncate(time.Microsecond)}
			mctx, cancel := context.WithTimeout(ctx, timeout)
			err := c.inTx(mctx, func() error {
				c.tenantSQL.Store(true)
				_, err := c.ExecContext(mctx, m.SQL)
				c.tenantSQL.Store(false)
				if err != nil {
					return err
				}
				_, err = c.ExecContext(mctx, "INSERT INTO "+api.SchemaTable+" (version, checksum, applied_at) VALUES (?, ?, ?)",
					a.Version, a.Checksum, a.AppliedAt.Format(time.RFC3339Nano))
				return err
			})
			timedOut := errors.Is(mctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
			cancel()
			if err != nil {
				return &MigrationError{Version: m.Version, TimedOut: timedOut, Timeout: timeout, Err: err}
			}
			done = append(done, a)
		}
		return nil
	})
	return done, err
}

func sortedMigrations(ms []Migration) []Migration {
	ms = slices.Clone(ms)
	slices.SortFunc(ms, func(a, b Migration) int { return int(min(max(a.Version-b.Version, -1), 1)) })
	return ms
}

func (s *SQLite) Applied(ctx context.Context, ref Ref) ([]Applied, error) {
	defer s.lock(ref)()
	var out []Applied
	err := s.withConn(ctx, ref, false, func(c *sqliteConn) error {
		var err error
		out, err = sqliteApplied(ctx, c)
		return err
	})
	return out, err
}

func sqliteApplied(ctx context.Context, c *sqliteConn) ([]Applied, error) {
	rows, err := c.QueryContext(ctx, "SELECT version, checksum, applied_at FROM "+api.SchemaTable+" ORDER BY version")
	if err != nil {
		return nil, bookkeepingError(err)
	}
	defer rows.Close()
	out := []Applied{}
	for rows.Next() {
		var a Applied
		var at string
		if err := rows.Scan(&a.Version, &a.Checksum, &at); err != nil {
			return nil, bookkeepingError(err)
		}
		if a.AppliedAt, err = time.Parse(time.RFC3339Nano, at); err != nil {
			return nil, bookkeepingError(fmt.Errorf("version %d: applied_at %q is not an RFC 3339 time", a.Version, at))
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, bookkeepingError(err)
	}
	return out, nil
}

func bookkeepingError(err error) error {
	return fmt.Errorf("the store's %s table is not as tenancyd made it (version, checksum, applied_at): %w", api.SchemaTable, err)
}

// sqliteObject is one row of sqlite_schema.
type sqliteObject struct {
	typ, name, sql string
}

// sqliteObjects lists the store's own objects in the order they were made,
// without SQLite's internal ones and automatic indexes.
func sqliteObjects(ctx context.Context, c *sqliteConn) ([]sqliteObject, error) {
	rows, err := c.QueryContext(ctx, "SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sqliteObject
	for rows.Next() {
		var o sqliteObject
		if err := rows.Scan(&o.typ, &o.name, &o.sql); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

func hasSequenceTable(ctx context.Context, c *sqliteConn) (bool, error) {
	var n int
	err := c.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_sequence'").Scan(&n)
	return n > 0, err
}

func (s *SQLite) Tables(ctx context.Context, ref Ref) ([]TableStat, error) {
	defer s.lock(ref)()
	var out []TableStat
	err := s.withConn(ctx, ref, false, func(c *sqliteConn) error {
		var err error
		out, err = sqliteTables(ctx, c)
		return err
	})
	return out, err
}

func sqliteTables(ctx context.Context, c *sqliteConn) ([]TableStat, error) {
	objs, err := sqliteObjects(ctx, c)
	if err != nil {
		return nil, err
	}
	out := []TableStat{}
	for _, o := range objs {
		if o.typ != "table" {
			continue
		}
		t := TableStat{Name: o.name}
		if err := c.QueryRowContext(ctx, "SELECT count(*) FROM "+sqliteQuote(o.name)).Scan(&t.Rows); err != nil {
			return nil, fmt.Errorf("counting the rows of %q: %w", o.name, err)
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b TableStat) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (s *SQLite) IsEmpty(ctx context.Context, ref Ref) (bool, error) {
	defer s.lock(ref)()
	var empty bool
	err := s.withConn(ctx, ref, false, func(c *sqliteConn) error {
		var err error
		empty, err = sqliteIsEmpty(ctx, c)
		return err
	})
	return empty, err
}

func sqliteIsEmpty(ctx context.Context, c *sqliteConn) (bool, error) {
	objs, err := sqliteObjects(ctx, c)
	if err != nil {
		return false, err
	}
	if len(objs) != 1 || objs[0].name != api.SchemaTable {
		return len(objs) == 0, nil
	}
	var n int64
	err = c.QueryRowContext(ctx, "SELECT count(*) FROM "+api.SchemaTable).Scan(&n)
	return n == 0, err
}

// sqliteQuote quotes an identifier for SQLite.
func sqliteQuote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

func (s *SQLite) Dump(ctx context.Context, ref Ref) (*Dump, error) {
	defer s.lock(ref)()
	var d *Dump
	err := s.withConn(ctx, ref, false, func(c *sqliteConn) error {
		var err error
		// One read transaction: a consistent snapshot of every table.
		return c.inTx(ctx, func() error {
			d, err = sqliteDump(ctx, c)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("dumping %s: %w", ref, err)
	}
	return d, nil
}

func sqliteDump(ctx context.Context, c *sqliteConn) (*Dump, error) {
	objs, err := sqliteObjects(ctx, c)
	if err != nil {
		return nil, err
	}
	d := &Dump{Engine: api.EngineSQLite, Format: DumpFormat}
	var indexes, views, triggers []string
	for _, o := range objs {
		switch o.typ {
		case "table":
			if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(o.sql)), "CREATE VIRTUAL TABLE") {
				return nil, fmt.Errorf("virtual table %q: %w (backups carry tables, indexes, views and triggers)", o.name, ErrUnsupported)
			}
			d.Before = append(d.Before, o.sql)
			t, err := sqliteTableRows(ctx, c, o.name)
			if err != nil {
				return nil, err
			}
			d.Tables = append(d.Tables, t)
		case "index":
			indexes = append(indexes, o.sql)
		case "view":
			views = append(views, o.sql)
		case "trigger":
			triggers = append(triggers, o.sql)
		}
	}
	if ok, err := hasSequenceTable(ctx, c); err != nil {
		return nil, err
	} else if ok {
		t, err := sqliteTableRows(ctx, c, "sqlite_sequence")
		if err != nil {
			return nil, err
		}
		d.Tables = append(d.Tables, t)
	}
	d.After = slices.Concat(indexes, views, triggers)
	return d, d.Seal()
}

// sqliteColumns lists a table's columns that hold stored values: those a
// row is inserted with, without generated ones.
func sqliteColumns(ctx context.Context, c *sqliteConn, table string) ([]string, error) {
	rows, err := c.QueryContext(ctx, "SELECT name, hidden FROM pragma_table_xinfo(?)", table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var name string
		var hidden int
		if err := rows.Scan(&name, &hidden); err != nil {
			return nil, err
		}
		if hidden == 0 {
			cols = append(cols, name)
		}
	}
	return cols, rows.Err()
}

// sqliteTableRows reads a table's rows in their text form: a JSON array of
// its values, each tagged with its storage class (n, i:, r:, t:, b:), so
// that a load stores exactly what was read. The unary + hides the declared
// types from the driver, which would otherwise turn some text into times.
func sqliteTableRows(ctx context.Context, c *sqliteConn, table string) (Table, error) {
	cols, err := sqliteColumns(ctx, c, table)
	if err != nil {
		return Table{}, fmt.Errorf("table %q: %w", table, err)
	}
	exprs := make([]string, len(cols))
	for i, col := range cols {
		exprs[i] = "+" + sqliteQuote(col)
	}
	rows, err := c.QueryContext(ctx, "SELECT "+strings.Join(exprs, ", ")+" FROM "+sqliteQuote(table))
	if err != nil {
		return Table{}, fmt.Errorf("table %q: %w", table, err)
	}
	defer rows.Close()
	var lines []string
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return Table{}, fmt.Errorf("table %q: %w", table, err)
		}
		line, err := encodeSQLiteRow(vals)
		if err != nil {
			return Table{}, fmt.Errorf("table %q: %w", table, err)
		}
		lines = append(lines, line)
	}
	if err := rows.Err(); err != nil {
		return Table{}, fmt.Errorf("table %q: %w", table, err)
	}
	return newTable(table, cols, lines), nil
}

func encodeSQLiteRow(vals []any) (string, error) {
	tagged := make([]string, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case nil:
			tagged[i] = "n"
		case int64:
			tagged[i] = "i:" + strconv.FormatInt(v, 10)
		case float64:
			tagged[i] = "r:" + strconv.FormatFloat(v, 'g', -1, 64)
		case string:
			tagged[i] = "t:" + v
		case []byte:
			tagged[i] = "b:" + base64.StdEncoding.EncodeToString(v)
		default:
			return "", fmt.Errorf("a value of Go type %T, which SQLite never stores", v)
		}
	}
	b, err := json.Marshal(tagged)
	return string(b), err
}

func decodeSQLiteRow(line string, n int) ([]any, error) {
	var tagged []string
	if err := json.Unmarshal([]byte(line), &tagged); err != nil || len(tagged) != n {
		return nil, fmt.Errorf("%w: a row is not %d tagged values: %.80q", ErrCorrupt, n, line)
	}
	vals := make([]any, n)
	for i, t := range tagged {
		tag, v, _ := strings.Cut(t, ":")
		var err error
		switch tag {
		case "n":
			vals[i] = nil
		case "i":
			vals[i], err = strconv.ParseInt(v, 10, 64)
		case "r":
			vals[i], err = strconv.ParseFloat(v, 64)
		case "t":
			vals[i] = v
		case "b":
			vals[i], err = base64.StdEncoding.DecodeString(v)
		default:
			err = fmt.Errorf("unknown tag %q", tag)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: value %d of a row: %w", ErrCorrupt, i, err)
		}
	}
	return vals, nil
}

// sqliteClear drops every object of the store, and empties the table
// SQLite keeps AUTOINCREMENT counters in, which cannot be dropped.
func sqliteClear(ctx context.Context, c *sqliteConn) error {
	objs, err := sqliteObjects(ctx, c)
	if err != nil {
		return err
	}
	// Views first, then tables, which take their indexes and triggers along.
	for _, typ := range []string{"view", "table"} {
		for _, o := range objs {
			if o.typ == typ {
				if _, err := c.ExecContext(ctx, "DROP "+strings.ToUpper(typ)+" IF EXISTS "+sqliteQuote(o.name)); err != nil {
					return fmt.Errorf("dropping %s %q: %w", typ, o.name, err)
				}
			}
		}
	}
	if ok, err := hasSequenceTable(ctx, c); err != nil || !ok {
		return err
	}
	_, err = c.ExecContext(ctx, "DELETE FROM sqlite_sequence")
	return err
}

func (s *SQLite) Load(ctx context.Context, ref Ref, d *Dump, replace bool) error {
	if err := d.Verify(api.EngineSQLite); err != nil {
		return err
	}
	defer s.lock(ref)()
	err := s.withConn(ctx, ref, false, func(c *sqliteConn) error {
		return c.inTx(ctx, func() error {
			if !replace {
				empty, err := sqliteIsEmpty(ctx, c)
				if err != nil {
					return err
				}
				if !empty {
					return ErrNotEmpty
				}
			}
			if err := sqliteClear(ctx, c); err != nil {
				return err
			}
			for _, stmt := range d.Before {
				if _, err := c.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("%.80q: %w", stmt, err)
				}
			}
			var sequences *Table
			for i, t := range d.Tables {
				if t.Name == "sqlite_sequence" {
					sequences = &d.Tables[i]
					continue
				}
				if err := sqliteInsert(ctx, c, t); err != nil {
					return err
				}
			}
			if sequences != nil {
				if _, err := c.ExecContext(ctx, "DELETE FROM sqlite_sequence"); err != nil {
					return err
				}
				if err := sqliteInsert(ctx, c, *sequences); err != nil {
					return err
				}
			}
			for _, stmt := range d.After {
				if _, err := c.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("%.80q: %w", stmt, err)
				}
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("loading into %s: %w", ref, err)
	}
	return nil
}

func sqliteInsert(ctx context.Context, c *sqliteConn, t Table) error {
	if len(t.Rows) == 0 {
		return nil
	}
	cols := make([]string, len(t.Columns))
	marks := make([]string, len(t.Columns))
	for i, col := range t.Columns {
		cols[i], marks[i] = sqliteQuote(col), "?"
	}
	stmt, err := c.PrepareContext(ctx, "INSERT INTO "+sqliteQuote(t.Name)+" ("+strings.Join(cols, ", ")+") VALUES ("+strings.Join(marks, ", ")+")")
	if err != nil {
		return fmt.Errorf("table %q: %w", t.Name, err)
	}
	defer stmt.Close()
	for _, line := range t.Rows {
		vals, err := decodeSQLiteRow(line, len(t.Columns))
		if err != nil {
			return fmt.Errorf("table %q: %w", t.Name, err)
		}
		if _, err := stmt.ExecContext(ctx, vals...); err != nil {
			return fmt.Errorf("table %q: %w", t.Name, err)
		}
	}
	return nil
}

func (s *SQLite) Empty(ctx context.Context, ref Ref) error {
	defer s.lock(ref)()
	return s.withConn(ctx, ref, false, func(c *sqliteConn) error {
		return c.inTx(ctx, func() error {
			if err := sqliteClear(ctx, c); err != nil {
				return err
			}
			_, err := c.ExecContext(ctx, `CREATE TABLE `+api.SchemaTable+` (
				version    INTEGER NOT NULL PRIMARY KEY,
				checksum   TEXT    NOT NULL,
				applied_at TEXT    NOT NULL
			)`)
			return err
		})
	})
}

// MintCredentials answers the store's file as a DSN: SQLite has no logins,
// so the credentials grant what access to that file on tenancyd's host
// grants, and expire in name only.
func (s *SQLite) MintCredentials(_ context.Context, ref Ref, ttl time.Duration) (Credentials, error) {
	if ok, err := s.Exists(context.Background(), ref); err != nil || !ok {
		return Credentials{}, errors.Join(err, fmt.Errorf("%s: %w", ref, ErrNotFound))
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return Credentials{
		Username:  "sqlite_" + hex.EncodeToString(b),
		DSN:       "file:" + s.path(ref) + "?mode=rw",
		ExpiresAt: time.Now().UTC().Add(ttl).Truncate(time.Second),
	}, nil
}

// sqliteLogin is what MintCredentials names its (nominal) logins.
var sqliteLogin = regexp.MustCompile(`^sqlite_[0-9a-f]{16}$`)

// RevokeCredentials has nothing to drop on SQLite; a name MintCredentials
// could not have made is ErrNoSuchLogin.
func (s *SQLite) RevokeCredentials(_ context.Context, ref Ref, username string) error {
	if !sqliteLogin.MatchString(username) {
		return fmt.Errorf("%q: %w", username, ErrNoSuchLogin)
	}
	if ok, err := s.Exists(context.Background(), ref); err != nil || !ok {
		return errors.Join(err, fmt.Errorf("%s: %w", ref, ErrNotFound))
	}
	return nil
}

// ExpireCredentials has nothing to expire on SQLite.
func (s *SQLite) ExpireCredentials(context.Context) (int, error) { return 0, nil }

// Close has nothing to close: every operation opens and closes its file.
func (s *SQLite) Close() error { return nil }
