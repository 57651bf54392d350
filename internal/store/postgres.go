package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// postgresMaxConns bounds each store's connections, so that a few tenancyd
// replicas stay well below the server's max_connections (100 by default).
const postgresMaxConns = 16

func postgresDialect() *dialect {
	return &dialect{
		name:       "postgres",
		numbered:   true,
		migrations: "postgres",
		migrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    BIGINT      NOT NULL PRIMARY KEY,
			name       TEXT        NOT NULL,
			applied_at TIMESTAMPTZ NOT NULL
		)`,
		timeArg: func(t time.Time) any { return t },
		lock:    postgresLock,
		// One snapshot for the whole transaction.
		view: sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead},
	}
}

// postgresLock takes a transaction-scoped advisory lock on a 64-bit hash of
// each name, in order; PostgreSQL releases them at commit or rollback.
// hashtextextended is stable across servers and versions (hash partitioning
// relies on it), so every replica maps a name to the same lock.
func postgresLock(ctx context.Context, tx *sql.Tx, names []string) error {
	for _, name := range names {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", name); err != nil {
			return fmt.Errorf("store: lock %q: %w", name, err)
		}
	}
	return nil
}

// OpenPostgres connects to the PostgreSQL database a postgres:// URL names
// (any option pgx understands, such as sslmode or host=/socket/dir) and
// applies its migrations.
func OpenPostgres(ctx context.Context, url string) (Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: postgres %s: %w", redact(url), err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(postgresMaxConns)
	db.SetMaxIdleConns(postgresMaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &sqlStore{d: postgresDialect(), write: db, read: db, now: time.Now}
	if err := s.Ping(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: postgres %s: %w", redact(url), err)
	}
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: postgres %s: %w", redact(url), err)
	}
	return s, nil
}
