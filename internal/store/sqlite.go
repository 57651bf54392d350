package store

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver (pure Go, no cgo)
)

// sqliteTimeLayout keeps times as UTC text with exactly six fractional
// digits, so that they sort as text and round-trip to the microsecond.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

// DSN options of the two connection pools. Every connection waits up to 10s
// for a lock instead of failing with SQLITE_BUSY. The writer opens its
// transactions with BEGIN IMMEDIATE, taking the database's write lock up
// front: writers queue instead of deadlocking on a read-to-write lock upgrade,
// within this process and across processes sharing the file. In WAL mode
// synchronous=NORMAL syncs the log at checkpoints rather than at every
// commit, which made each write wait for the disk: a power cut may lose the
// last commits but never corrupts the database, and a crash of tenancyd
// loses nothing. Readers run deferred (snapshot) transactions in WAL mode,
// so View never waits for a writer, and query_only keeps them from writing.
const (
	sqliteWriterOptions = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	sqliteReaderOptions = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=query_only(1)"
)

func sqliteDialect() *dialect {
	return &dialect{
		name:       "sqlite",
		migrations: "sqlite",
		migrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER NOT NULL PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at TEXT    NOT NULL
		)`,
		timeArg: func(t time.Time) any { return t.Format(sqliteTimeLayout) },
		// No named locks: every write transaction already holds the
		// database's single write lock from its first statement (BEGIN
		// IMMEDIATE), so read-write transactions are serialized anyway.
		lock:         nil,
		view:         sql.TxOptions{ReadOnly: true},
		detachedRead: true,
	}
}

// OpenSQLite opens (creating it if missing) the SQLite database in the file
// at path and applies its migrations. An in-memory database is refused: the
// store keeps separate reader and writer connections, which must share a file.
func OpenSQLite(ctx context.Context, path string) (Store, error) {
	if path == "" || strings.Contains(path, ":memory:") || strings.Contains(path, "mode=memory") {
		return nil, fmt.Errorf("store: sqlite database %q: want the path of a file", path)
	}
	// A file: URI, so that the path may hold ? or # (escaped) without
	// colliding with the options.
	uri := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)

	write, err := sql.Open("sqlite", uri+"?"+sqliteWriterOptions)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	// One writer connection: writers queue in database/sql rather than
	// polling the file lock; other processes still wait on busy_timeout.
	write.SetMaxOpenConns(1)
	s := &sqlStore{d: sqliteDialect(), write: write, read: write, now: time.Now, revocations: newRevocations(nil)}
	// Migrating first also turns WAL on before any reader connects.
	if err := migrateSQLite(ctx, s); err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}

	read, err := sql.Open("sqlite", uri+"?"+sqliteReaderOptions)
	if err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	// Every reader stays open: database/sql keeps only 2 idle connections
	// by default, so under load it closed the others as they came back and
	// opened new ones, each parsing its statements again.
	readers := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(readers)
	read.SetMaxIdleConns(readers)
	s.read = read
	s.writeStmts, s.readStmts = newStmtCache(write), newStmtCache(read)
	if err := s.Ping(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	return s, nil
}

// migrateSQLite migrates, waiting out another process that is creating the
// same new file: while one connection switches a new database to WAL, SQLite
// answers another's lock request with SQLITE_BUSY at once, without waiting
// for busy_timeout.
func migrateSQLite(ctx context.Context, s *sqlStore) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.migrate(ctx)
		if err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}
