package server

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultTokenCacheMaxAge is how long tenancyd trusts a token it read from
// the database without reading it again: the safety net under the
// revocations it hears of (see tokenCache).
const DefaultTokenCacheMaxAge = 5 * time.Second

// maxCachedTokens bounds the cache; a full cache forgets an entry at random
// to make room.
const maxCachedTokens = 10000

// tokenCache remembers the tokens this replica authenticated lately, so that
// a request with a token seen a moment ago skips the database: that read
// was half of a GET's work. It never makes a revoked token work a moment
// longer than the database says:
//   - a revocation committed through this replica's store empties it
//     before the revoking request is answered (store.Revocations.Subscribe);
//   - on a database that replicas share, a listener hears every other
//     replica's revocations (PostgreSQL LISTEN/NOTIFY) and empties it; while
//     the listener is not connected, the cache serves nothing;
//   - a lookup that was under way when the cache was emptied does not
//     store what it read, which may predate the revocation (the epoch);
//   - whatever may still go unheard (a listener that did not notice its
//     connection died), no entry is served after maxAge.
//
// Only tokens found valid are kept; expiry is checked on every request
// against the cached expires_at, as against the stored one.
type tokenCache struct {
	maxAge time.Duration
	// since is the clock of entries' ages: real time, whatever clock the
	// server runs on, since it bounds how long a missed revocation lasts.
	since func(time.Time) time.Duration

	mu      sync.Mutex
	entries map[[sha256.Size]byte]cachedToken
	// epoch grows whenever the cache is emptied or turned on or off.
	epoch uint64
	// live: entries may be served and stored.
	live bool
}

type cachedToken struct {
	p         principal
	expiresAt *time.Time
	read      time.Time
}

// newTokenCache makes a cache whose entries live up to maxAge; maxAge <= 0
// makes one that never serves. A cache that must wait for its listener
// starts off.
func newTokenCache(maxAge time.Duration, waitForListener bool) *tokenCache {
	return &tokenCache{
		maxAge: maxAge, since: time.Since,
		entries: map[[sha256.Size]byte]cachedToken{},
		live:    maxAge > 0 && !waitForListener,
	}
}

// get returns the cached token with this hash, if it may be served.
func (c *tokenCache) get(hash [sha256.Size]byte) (cachedToken, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live {
		return cachedToken{}, false
	}
	e, ok := c.entries[hash]
	if ok && c.since(e.read) >= c.maxAge {
		delete(c.entries, hash)
		return cachedToken{}, false
	}
	return e, ok
}

// begin is called before reading a token from the database; put stores
// what was read only if the cache was not emptied in between.
func (c *tokenCache) begin() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

func (c *tokenCache) put(hash [sha256.Size]byte, e cachedToken, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || epoch != c.epoch {
		return
	}
	if _, ok := c.entries[hash]; !ok && len(c.entries) >= maxCachedTokens {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[hash] = e
}

// forget empties the cache: tokens were revoked.
func (c *tokenCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	clear(c.entries)
}

// setLive turns the cache on (the listener hears every revocation from now
// on) or off (it does not), empty either way: what was cached before may
// have been revoked unheard.
func (c *tokenCache) setLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	clear(c.entries)
	c.live = live && c.maxAge > 0
}

// isLive reports whether the cache serves entries, for tests and metrics.
func (c *tokenCache) isLive() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live
}

// listenRevocations keeps the store's revocation listener connected while
// ctx lasts, the cache on while it is, and reconnects after a failure.
// Run starts it on a database that replicas share.
func (s *Server) listenRevocations(ctx context.Context) {
	rev := s.store.Revocations()
	wait := time.Second
	for {
		err := rev.Listen(ctx, func() {
			s.tokens.setLive(true)
			s.log.InfoContext(ctx, "token cache on: listening for token revocations")
		}, s.tokens.forget)
		wasLive := s.tokens.isLive()
		s.tokens.setLive(false)
		if ctx.Err() != nil {
			return
		}
		if wasLive {
			wait = time.Second
		}
		s.log.WarnContext(ctx, "token cache off until the revocation listener reconnects; every request reads its token from the database",
			"error", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}
