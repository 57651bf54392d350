package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
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
//
// The connections are pgx's own pool, which database/sql borrows from for
// transactions; Read's single statement (the GET of one object) goes to the
// pool directly, skipping database/sql's bookkeeping of the connection, the
// rows and their conversions.
func OpenPostgres(ctx context.Context, url string) (Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: postgres %s: %w", redact(url), err)
	}
	cfg.MaxConns = postgresMaxConns
	cfg.MaxConnIdleTime = 5 * time.Minute
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: postgres %s: %w", redact(url), err)
	}
	db := stdlib.OpenDBFromPool(pool)
	s := &sqlStore{
		d: postgresDialect(), write: db, read: db, now: time.Now,
		readRow:   func(ctx context.Context, query string, args ...any) row { return pool.QueryRow(ctx, query, args...) },
		closePool: pool.Close, revocations: newRevocations(listenPostgres(cfg.ConnConfig)),
	}
	if err := s.Ping(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("store: postgres %s: %w", redact(url), err)
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("store: postgres %s: %w", redact(url), err)
	}
	return s, nil
}

// revocationChannel is the channel on which a trigger on the tokens table
// (migration 0008) notifies every change to a token, in the transaction
// that makes it: the notification arrives only once the change is visible.
const revocationChannel = "tenancy_token_revocations"

// listenerCheck is how long the revocation listener waits for a
// notification before it checks that its connection still answers: a
// connection that died without a word must not leave a replica believing
// it hears every revocation.
const listenerCheck = 5 * time.Second

// listenPostgres hears revocations on a connection of its own, outside the
// pool, which LISTEN would tie up.
func listenPostgres(cfg *pgx.ConnConfig) func(ctx context.Context, listening, revoked func()) error {
	return func(ctx context.Context, listening, revoked func()) error {
		conn, err := pgx.ConnectConfig(ctx, cfg.Copy())
		if err != nil {
			return fmt.Errorf("store: listen for token revocations: %w", err)
		}
		defer func() {
			closing, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			_ = conn.Close(closing)
		}()
		if _, err := conn.Exec(ctx, "LISTEN "+revocationChannel); err != nil {
			return fmt.Errorf("store: listen for token revocations: %w", err)
		}
		listening()
		for {
			wait, cancel := context.WithTimeout(ctx, listenerCheck)
			_, err := conn.WaitForNotification(wait)
			timedOut := wait.Err() != nil
			cancel()
			switch {
			case err == nil:
				revoked()
			case ctx.Err() != nil:
				return nil
			case timedOut && errors.Is(err, context.DeadlineExceeded):
				check, cancel := context.WithTimeout(ctx, listenerCheck)
				err := conn.Ping(check)
				cancel()
				if err != nil && ctx.Err() == nil {
					return fmt.Errorf("store: listen for token revocations: the connection does not answer: %w", err)
				}
			default:
				return fmt.Errorf("store: listen for token revocations: %w", err)
			}
		}
	}
}
