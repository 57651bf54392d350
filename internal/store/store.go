// Package store keeps tenancyd's data. Objects of every kind live in one
// document table keyed by (tenant, kind, key) with a revision that makes every
// write conditional; tokens, audit events, idempotency records and backups
// have tables of their own. SQLite and PostgreSQL implement the same
// interface and pass one conformance suite.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// Errors every implementation returns, wrapped or not; test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	// ErrExists is returned when creating an object, token or record whose key is taken.
	ErrExists = errors.New("already exists")
	// ErrStaleRevision is returned when a conditional write names a revision
	// that is no longer current.
	ErrStaleRevision = errors.New("stale revision")
)

// Object is one stored document. Data is the object's JSON as the API shows
// it, less revision and timestamps, which the store owns; Kind is one of
// the api.Kind* names.
type Object struct {
	Tenant    string // the owning tenant's slug; a tenant owns itself
	Kind      string
	Key       string
	Revision  int64 // 1 on create, +1 on every update
	Data      json.RawMessage
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ListQuery selects one page of objects of one kind, in ascending key order.
type ListQuery struct {
	Tenant string // "" lists the kind across every tenant (used for tenants)
	Kind   string
	After  string // exclusive lower bound on Key; "" starts at the beginning
	Limit  int    // at most this many; <= 0 means no limit
}

// TokenRecord is a stored API token. Only the SHA-256 of the secret is kept.
type TokenRecord struct {
	ID        string
	Name      string
	Tenant    string // "" for a platform token
	Role      string
	Hash      []byte
	CreatedBy string // the name of the token that minted it ("tenancyd" for the bootstrap token)
	// CreatedByID is the id of the token that minted it; "" for the
	// bootstrap token and tokens minted before tenancyd recorded it.
	CreatedByID string
	CreatedAt   time.Time
	ExpiresAt   *time.Time
	RevokedAt   *time.Time
}

// TokenQuery selects one page of tokens, in id order.
type TokenQuery struct {
	Tenant string // the tokens of this tenant ("" for platform tokens) unless All
	All    bool
	After  string // exclusive lower bound on ID
	Limit  int    // <= 0 means no limit
}

// AuditQuery selects audit events of one tenant ("" for platform-level events
// and, for platform admins, every tenant when All is set).
type AuditQuery struct {
	Tenant     string
	All        bool
	ObjectKind string // optional filter
	ObjectKey  string // optional filter
	// Actions, when set, keeps only events with one of these actions.
	Actions []string
	// FromID, when set, keeps only events with this ID or a later one.
	FromID int64
	After  int64 // exclusive bound on ID in the direction of the order
	Desc   bool  // newest first
	Limit  int
}

// IdempotencyRecord remembers the answer to a write that carried an
// Idempotency-Key, so that a retry gets the first answer.
type IdempotencyRecord struct {
	Scope       string // who sent it (token id), so keys of different callers never meet
	Key         string
	RequestHash string // method, path and body digest; the same key with another request is refused
	Status      int
	Body        []byte
	CreatedAt   time.Time
}

// BackupRecord is a backup of a tenant, or of one of its environments
// (Environment not ""). Payload is what the backup holds, as the server
// encoded it; Summary, what a list shows of it without reading the
// payload. Backups from before payloads existed hold the tenant's objects
// in Data, and no payload.
type BackupRecord struct {
	ID          string
	Tenant      string
	Environment string
	Kind        string
	TakenAt     time.Time
	RetainUntil time.Time
	SizeBytes   int64
	Checksum    string
	Summary     json.RawMessage
	Data        json.RawMessage
	// Payload is read by Backup only; ListBackups leaves it nil.
	Payload []byte
}

// RateBucket is a tenant's token bucket for api_requests_per_minute, shared
// by every replica: the tokens left when it was last updated, and the limit
// they were counted against. The server does the arithmetic, under a lock.
type RateBucket struct {
	Tenant    string
	Tokens    float64
	Limit     int64
	UpdatedAt time.Time
}

// Store is a database holding tenancyd's state.
type Store interface {
	// Update runs fn in a read-write transaction, committed when fn returns
	// nil and rolled back otherwise.
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// View runs fn in a read-only transaction that sees one consistent snapshot.
	View(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// WithClock returns the store over the same database, stamping the
	// times it owns with now instead of time.Now: when objects are created
	// and updated, and any time a caller leaves zero. tenancyd gives it its
	// own clock, so that a test that moves the clock sees it in objects,
	// audit events, tokens and backups alike.
	WithClock(now func() time.Time) Store
	// Read runs fn, which only reads, as cheaply as the database allows:
	// when fn makes a single statement, it runs outside any transaction
	// (one statement sees one consistent state by itself), which saves a
	// BEGIN and a COMMIT, two round trips on PostgreSQL. When fn asks for a
	// second statement, that statement fails without running and Read runs
	// fn again from the start in a View, whatever fn returned, so fn must
	// have no effect but what it reads, and sees one snapshot either way.
	// Writes and locks fail. The reads every request makes (its token, the
	// object of a GET) go through Read.
	Read(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Revocations tells of revoked tokens: this handle's own revocations
	// at commit, and other processes' ones on a shared database.
	Revocations() *Revocations
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	Close() error
}

// Tx is one transaction.
type Tx interface {
	// Lock serializes read-write transactions that lock the same names, until
	// the end of this transaction: any other replica's transaction waits. Take
	// locks in a fixed order (the server locks the platform, then one tenant).
	Lock(ctx context.Context, names ...string) error

	Get(ctx context.Context, tenant, kind, key string) (Object, error)
	List(ctx context.Context, q ListQuery) ([]Object, error)
	Count(ctx context.Context, tenant, kind string) (int, error)
	// Create stores a new object at revision 1 and returns it as stored.
	// Its times are now, unless it has a CreatedAt (an object restored
	// from a backup keeps its times).
	Create(ctx context.Context, o Object) (Object, error)
	// Put replaces an object's data if its revision is still expectRevision
	// and returns it as stored, at the next revision.
	Put(ctx context.Context, o Object, expectRevision int64) (Object, error)
	// Delete removes an object if its revision is still expectRevision
	// (0 deletes whatever revision it has).
	Delete(ctx context.Context, tenant, kind, key string, expectRevision int64) error
	// DeleteTenant removes every object the tenant owns, itself included.
	DeleteTenant(ctx context.Context, tenant string) error
	// Export returns every object the tenant owns, itself included, in (kind, key) order.
	Export(ctx context.Context, tenant string) ([]Object, error)

	CreateToken(ctx context.Context, t TokenRecord) error
	TokenByHash(ctx context.Context, hash []byte) (TokenRecord, error)
	Token(ctx context.Context, id string) (TokenRecord, error)
	// RevokeToken revokes a token and every token minted from it, directly
	// or not, and returns the ids it revoked (those already revoked are
	// left as they are, and not returned). ErrNotFound when id is no token.
	RevokeToken(ctx context.Context, id string, at time.Time) ([]string, error)
	ListTokens(ctx context.Context, q TokenQuery) ([]TokenRecord, error)
	// RevokeTenantTokens revokes every token of a tenant, as its deletion does.
	RevokeTenantTokens(ctx context.Context, tenant string, at time.Time) error
	CountTokens(ctx context.Context) (int, error)

	// AppendAudit stores an event and returns its id, which grows with every event.
	AppendAudit(ctx context.Context, e api.AuditEvent) (int64, error)
	ListAudit(ctx context.Context, q AuditQuery) ([]api.AuditEvent, error)

	Idempotency(ctx context.Context, scope, key string) (IdempotencyRecord, error)
	PutIdempotency(ctx context.Context, r IdempotencyRecord) error
	// PruneIdempotency deletes the records created before a time and says how many.
	PruneIdempotency(ctx context.Context, before time.Time) (int64, error)

	PutBackup(ctx context.Context, b BackupRecord) error
	Backup(ctx context.Context, id string) (BackupRecord, error)
	// ListBackups lists a tenant's backups ("" for every tenant's), oldest
	// first, without their payloads.
	ListBackups(ctx context.Context, tenant string) ([]BackupRecord, error)
	// ExpiredBackups lists up to limit backups retained until before a time,
	// soonest expired first, without their data.
	ExpiredBackups(ctx context.Context, before time.Time, limit int) ([]BackupRecord, error)
	// DeleteBackup deletes a backup; ErrNotFound when there is none with id.
	DeleteBackup(ctx context.Context, id string) error

	// RateBucket reads a tenant's bucket; ErrNotFound before its first use.
	RateBucket(ctx context.Context, tenant string) (RateBucket, error)
	// PutRateBucket stores a tenant's bucket, replacing the one it had.
	PutRateBucket(ctx context.Context, b RateBucket) error
}
