// Package tenantdata is tenancyd's data plane: the data store of every
// tenant environment, where that tenant's application data lives, apart
// from the platform's own records (package store).
//
// One interface, Plane, has two implementations that pass one conformance
// suite (package tenantdatatest):
//
//   - PostgreSQL: a store is a schema. Its placement decides where the
//     schema is: "shared" puts it in a tenant-data database that the
//     environments of many tenants share, "dedicated" in a database of its
//     own. Each store has a group role (NOLOGIN) that owns its schema and
//     may connect to its database and nothing else: CONNECT and TEMPORARY
//     on every tenant-data database are revoked from PUBLIC, and so is
//     every privilege on their public schemas. Logins (minted credentials,
//     and the short-lived logins tenancyd itself works through) are members
//     of the group role, expire (VALID UNTIL) and default to it (ALTER ROLE
//     ... SET role), so what they create belongs to the store. tenancyd
//     runs tenant SQL (migrations) and touches tenant objects (dumps,
//     loads, row counts) only over a connection authenticated as such a
//     login, never as its own role: SET ROLE is no security boundary, since
//     the SQL could RESET ROLE, and a view, trigger or policy of the tenant
//     would run tenant code with tenancyd's privileges.
//   - SQLite: a store is one database file per tenant environment under a
//     data directory; both placements are that one file. SQLite has no
//     schemas, roles or logins: the file's permissions (0600, tenancyd's
//     user) are the boundary, and tenant SQL runs on a connection whose
//     authorizer refuses ATTACH, DETACH and pragmas that reach beyond the
//     file, in defensive mode.
//
// Names are derived deterministically from the tenant's slug and the
// environment's name (and, on PostgreSQL, a namespace that keeps several
// tenancyd installations on one server apart), hashed when longer than
// PostgreSQL's 63 bytes, and always quoted. A slug holds no "_", so
// "slug_env" can be split only one way and two stores never share a name.
//
// Every store holds a bookkeeping table (api.SchemaTable) of the migrations
// applied to it, each with the SHA-256 of its SQL. A dump (for backups and
// moves) holds every definition and every row, rows sorted, with a row
// count and checksum per table; loading verifies those checksums and runs
// in one transaction, so a failed load leaves the store as it was.
package tenantdata

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// Errors a Plane returns, wrapped or not; test with errors.Is.
var (
	// ErrNotFound: the store does not exist (it was never provisioned or was dropped).
	ErrNotFound = errors.New("data store not found")
	// ErrNotEmpty: a load without replace found data in the store.
	ErrNotEmpty = errors.New("data store is not empty")
	// ErrUnsupported: a dump met an object it cannot carry.
	ErrUnsupported = errors.New("not supported in a dump")
	// ErrCorrupt: a dump's checksums do not match its contents, or a dump is of another engine.
	ErrCorrupt = errors.New("dump is corrupt")
	// ErrNoSuchLogin: credentials to revoke are not a login of this store.
	ErrNoSuchLogin = errors.New("no such login")
)

// MigrationError is a migration that failed: its SQL was refused, or it
// did not finish within its timeout. Nothing of it was applied.
type MigrationError struct {
	Version  int64
	TimedOut bool
	Timeout  time.Duration
	Err      error
}

func (e *MigrationError) Error() string {
	if e.TimedOut {
		return fmt.Sprintf("migration %d did not finish within %s and was cancelled; nothing of it was applied", e.Version, e.Timeout)
	}
	return fmt.Sprintf("migration %d failed and was rolled back: %v", e.Version, e.Err)
}

func (e *MigrationError) Unwrap() error { return e.Err }

// Ref names one tenant environment's store and the placement it is (or is
// to be) in.
type Ref struct {
	Tenant      string
	Environment string
	Placement   string // api.PlacementShared or api.PlacementDedicated
}

func (r Ref) String() string { return r.Tenant + "/" + r.Environment + " (" + r.Placement + ")" }

// In is the same store in another placement.
func (r Ref) In(placement string) Ref {
	r.Placement = placement
	return r
}

// PlacementFor is where a tenant's isolation puts an environment of a
// type: hybrid puts production in a database of its own and the others in
// the shared one.
func PlacementFor(isolation, envType string) string { return api.PlacementFor(isolation, envType) }

// Migration is one migration to apply.
type Migration struct {
	Version int64
	SQL     string
}

// Checksum is the SHA-256 (hex) of a migration's SQL, as the bookkeeping
// table records it.
func Checksum(sql string) string { return api.MigrationChecksum(sql) }

// Applied is one row of a store's bookkeeping table.
type Applied struct {
	Version   int64
	Checksum  string
	AppliedAt time.Time
}

// TableStat is a table of a store and how many rows it holds.
type TableStat struct {
	Name string
	Rows int64
}

// Credentials are a login for one store.
type Credentials struct {
	Username  string
	Password  string
	DSN       string
	ExpiresAt time.Time
}

// Table is one table of a dump. Rows are the engine's text form of each
// row, sorted, so that the same data always dumps the same.
type Table struct {
	Name     string   `json:"name"`
	Columns  []string `json:"columns"`
	Rows     []string `json:"rows"`
	RowCount int64    `json:"row_count"`
	Checksum string   `json:"checksum"`
}

// Dump is everything a store holds: the statements that make its objects
// before the rows are loaded (types, sequences, functions, tables), the
// tables with their rows, and the statements that finish it (constraints,
// indexes, views, triggers, sequence values). Names in it are unqualified,
// so a dump loads into any store of the same engine.
type Dump struct {
	Engine   string   `json:"engine"`
	Format   int      `json:"format"`
	Before   []string `json:"before"`
	Tables   []Table  `json:"tables"`
	After    []string `json:"after"`
	Checksum string   `json:"checksum"`
}

// DumpFormat is the version of the Dump layout.
const DumpFormat = 1

// rowsChecksum is the checksum of a table's sorted rows.
func rowsChecksum(rows []string) string {
	h := sha256.New()
	for i, r := range rows {
		if i > 0 {
			h.Write([]byte{'\n'})
		}
		h.Write([]byte(r))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// newTable sorts rows and fills in the count and checksum.
func newTable(name string, columns, rows []string) Table {
	slices.Sort(rows)
	if rows == nil {
		rows = []string{}
	}
	return Table{Name: name, Columns: columns, Rows: rows, RowCount: int64(len(rows)), Checksum: rowsChecksum(rows)}
}

// Seal sorts the tables and computes the dump's checksum, after a change.
func (d *Dump) Seal() error {
	slices.SortFunc(d.Tables, func(a, b Table) int { return strings.Compare(a.Name, b.Name) })
	if d.Before == nil {
		d.Before = []string{}
	}
	if d.After == nil {
		d.After = []string{}
	}
	sum, err := d.sum()
	d.Checksum = sum
	return err
}

func (d *Dump) sum() (string, error) {
	c := *d
	c.Checksum = ""
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}

// Verify checks that a dump is of engine and that its checksums match its
// contents, naming the first table that does not.
func (d *Dump) Verify(engine string) error {
	if d.Engine != engine {
		return fmt.Errorf("%w: it is a dump of %s, and this data plane runs %s", ErrCorrupt, d.Engine, engine)
	}
	if d.Format != DumpFormat {
		return fmt.Errorf("%w: dump format %d, and this tenancyd reads format %d", ErrCorrupt, d.Format, DumpFormat)
	}
	for _, t := range d.Tables {
		if int64(len(t.Rows)) != t.RowCount || rowsChecksum(t.Rows) != t.Checksum {
			return fmt.Errorf("%w: table %q holds %d rows with checksum %s, not the %d rows with checksum %s recorded",
				ErrCorrupt, t.Name, len(t.Rows), rowsChecksum(t.Rows), t.RowCount, t.Checksum)
		}
	}
	sum, err := d.sum()
	if err != nil {
		return err
	}
	if sum != d.Checksum {
		return fmt.Errorf("%w: its checksum is %s, not the %s recorded", ErrCorrupt, sum, d.Checksum)
	}
	return nil
}

// Summary is the dump's tables with their row counts and checksums.
func (d *Dump) Summary() []api.TableSummary {
	out := make([]api.TableSummary, len(d.Tables))
	for i, t := range d.Tables {
		out[i] = api.TableSummary{Name: t.Name, Rows: t.RowCount, Checksum: t.Checksum}
	}
	return out
}

// Location is where a store lives, as api.Database shows it.
type Location = api.Database

// Plane is the data stores of every tenant environment, on one engine.
// Every method that takes a Ref serializes with the other methods on the
// same store, across tenancyd replicas on PostgreSQL.
type Plane interface {
	// Engine is api.EnginePostgres or api.EngineSQLite.
	Engine() string
	// Location says where the store ref names lives (or will).
	Location(ref Ref) Location
	// Ping checks that the plane can be reached and readies what its stores
	// share (the shared tenant-data database; the data directory).
	Ping(ctx context.Context) error
	// Provision makes the store, with its role and bookkeeping table. It is
	// idempotent: run again after a failure, it finishes the work.
	Provision(ctx context.Context, ref Ref) error
	// Exists reports whether the store is provisioned.
	Exists(ctx context.Context, ref Ref) (bool, error)
	// Drop removes the store and everything in it; its role goes with the
	// last of its placements. Dropping a missing store succeeds.
	Drop(ctx context.Context, ref Ref) error
	// Migrate applies, in ascending version order, each migration that the
	// bookkeeping table lacks, each in a transaction of its own recorded
	// with its checksum, cancelling one that runs longer than timeout. It
	// stops at the first failure, a *MigrationError, and returns what it
	// applied before.
	Migrate(ctx context.Context, ref Ref, ms []Migration, timeout time.Duration) ([]Applied, error)
	// Applied lists the bookkeeping table, by version.
	Applied(ctx context.Context, ref Ref) ([]Applied, error)
	// Tables lists the store's tables, by name, with their row counts.
	Tables(ctx context.Context, ref Ref) ([]TableStat, error)
	// IsEmpty reports whether the store holds nothing but an empty
	// bookkeeping table.
	IsEmpty(ctx context.Context, ref Ref) (bool, error)
	// Dump reads every definition and row of the store.
	Dump(ctx context.Context, ref Ref) (*Dump, error)
	// Load replaces the store's contents with a dump in one transaction,
	// after checking the dump's checksums; a store that is not empty is
	// refused (ErrNotEmpty) unless replace.
	Load(ctx context.Context, ref Ref, d *Dump, replace bool) error
	// Empty removes every object from the store, leaving it as Provision
	// made it.
	Empty(ctx context.Context, ref Ref) error
	// MintCredentials makes a login to the store that expires after ttl.
	MintCredentials(ctx context.Context, ref Ref, ttl time.Duration) (Credentials, error)
	// RevokeCredentials drops a login of the store and ends its sessions;
	// ErrNoSuchLogin when username is not one of the store's logins.
	RevokeCredentials(ctx context.Context, ref Ref, username string) error
	// ExpireCredentials drops the logins whose time is up and says how many.
	ExpireCredentials(ctx context.Context) (int, error)
	Close() error
}

// maxIdentifier is PostgreSQL's limit on an identifier, in bytes.
const maxIdentifier = 63

// ident joins parts with "_" into a name of at most 63 bytes: as is when
// it fits, else its first bytes and a hash of the whole, so that two long
// names that share a prefix still differ.
func ident(parts ...string) string {
	full := strings.Join(parts, "_")
	if len(full) <= maxIdentifier {
		return full
	}
	sum := sha256.Sum256([]byte(full))
	n := maxIdentifier - 17
	for n > 0 && !utf8.ValidString(full[:n]) {
		n--
	}
	return full[:n] + "_" + hex.EncodeToString(sum[:8])
}

// Copy copies a store into another placement: it provisions the target,
// replaces whatever it held with every definition and row of the source,
// and checks that every table arrived with the same rows (counts and
// checksums). The source is left as it is. Where both placements are one
// physical store (SQLite), there is nothing to copy, and Copy returns nil.
func Copy(ctx context.Context, p Plane, from Ref, to string) (*Dump, error) {
	target := from.In(to)
	if from.Placement == to || SamePlace(p.Location(from), p.Location(target)) {
		return nil, nil
	}
	if err := p.Provision(ctx, target); err != nil {
		return nil, fmt.Errorf("copying %s to %s: %w", from, to, err)
	}
	d, err := p.Dump(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("copying %s to %s: %w", from, to, err)
	}
	if err := p.Load(ctx, target, d, true); err != nil {
		return nil, fmt.Errorf("copying %s to %s: %w", from, to, err)
	}
	got, err := p.Dump(ctx, target)
	if err != nil {
		return nil, fmt.Errorf("copying %s to %s: checking the copy: %w", from, to, err)
	}
	if err := SameData(d, got); err != nil {
		return nil, fmt.Errorf("copying %s to %s: the copy differs from the source, which is kept: %w", from, to, err)
	}
	return d, nil
}

// Move is Copy, then dropping the source. It returns the dump it moved
// (nil when there was nothing to move).
func Move(ctx context.Context, p Plane, from Ref, to string) (*Dump, error) {
	d, err := Copy(ctx, p, from, to)
	if err != nil || d == nil {
		return d, err
	}
	if err := p.Drop(ctx, from); err != nil {
		return nil, fmt.Errorf("moving %s to %s: the data is copied, but dropping the source failed: %w", from, to, err)
	}
	return d, nil
}

// SamePlace reports whether two locations are one physical store, whatever
// placement each is named for.
func SamePlace(a, b Location) bool {
	a.Isolation, b.Isolation = "", ""
	return a == b
}

// SameData reports how two dumps differ in their tables' names, row counts
// or checksums; nil when they hold the same data.
func SameData(want, got *Dump) error {
	if len(want.Tables) != len(got.Tables) {
		return fmt.Errorf("%d tables instead of %d", len(got.Tables), len(want.Tables))
	}
	for i, w := range want.Tables {
		g := got.Tables[i]
		if g.Name != w.Name || g.RowCount != w.RowCount || g.Checksum != w.Checksum {
			return fmt.Errorf("table %q with %d rows (checksum %s) instead of %q with %d rows (checksum %s)",
				g.Name, g.RowCount, g.Checksum, w.Name, w.RowCount, w.Checksum)
		}
	}
	return nil
}
