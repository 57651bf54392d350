package store

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStatements bounds a pool's statement cache; the store's queries
// are a few dozen, so only a bug could reach it, and then queries simply run
// unprepared.
const maxCachedStatements = 256

// stmtCache keeps one prepared statement per query for a connection pool,
// so that SQLite parses each query once per connection instead of on every
// call (parsing was a quarter of a GET's CPU). A transaction runs a cached
// statement on its own connection (sql.Tx.StmtContext, which prepares it
// there once and remembers it). A query seen for the first time runs
// unprepared and is prepared after its transaction ends: preparing takes a
// connection from the pool, which inside a transaction on SQLite's single
// writer connection would wait for itself.
type stmtCache struct {
	db *sql.DB

	mu      sync.RWMutex
	stmts   map[string]*sql.Stmt
	pending map[string]bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

// stmt returns the prepared statement of query, or nil after noting that
// the query should be prepared once the caller's transaction is over.
func (c *stmtCache) stmt(query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	s := c.stmts[query]
	c.mu.RUnlock()
	if s != nil {
		return s
	}
	c.mu.Lock()
	if len(c.stmts)+len(c.pending) < maxCachedStatements {
		c.pending[query] = true
	}
	c.mu.Unlock()
	return nil
}

// prepare prepares the queries noted since the last call. It must run
// outside any transaction of the pool. A query that fails to prepare stays
// unprepared: running it reports the error where it matters.
func (c *stmtCache) prepare(ctx context.Context) {
	if c == nil {
		return
	}
	c.mu.Lock()
	var queries []string
	for q := range c.pending {
		queries = append(queries, q)
	}
	clear(c.pending)
	c.mu.Unlock()
	for _, q := range queries {
		s, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if _, dup := c.stmts[q]; dup {
			_ = s.Close()
		} else {
			c.stmts[q] = s
		}
		c.mu.Unlock()
	}
}

// hasPending reports whether prepare has work.
func (c *stmtCache) hasPending() bool {
	if c == nil {
		return false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.pending) > 0
}

// close closes every prepared statement; the pool is closing.
func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, s := range c.stmts {
		_ = s.Close()
		delete(c.stmts, q)
	}
}
