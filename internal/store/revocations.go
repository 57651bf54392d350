package store

import (
	"context"
	"sync"
)

// Revocations tells a process that tokens were revoked, so that it can
// forget what it remembers of them (tenancyd caches the tokens it has
// authenticated). Every revocation goes through RevokeToken or
// RevokeTenantTokens; this store handle's own commits are told at once,
// and other processes' ones through Listen, on a database that several
// processes share.
type Revocations struct {
	mu   sync.Mutex
	subs map[int]func()
	next int
	// listen hears other processes' revocations; nil where one process
	// serves the database.
	listen func(ctx context.Context, listening, revoked func()) error
}

func newRevocations(listen func(ctx context.Context, listening, revoked func()) error) *Revocations {
	return &Revocations{subs: map[int]func(){}, listen: listen}
}

// Subscribe calls fn after every commit through this store handle that
// revoked tokens (and after a commit that failed, which may have), before
// Update returns, so that a process forgets a revoked token before it
// answers the request that revoked it. fn must be quick. Stop ends the
// calls.
func (r *Revocations) Subscribe(fn func()) (stop func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.next
	r.next++
	r.subs[id] = fn
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.subs, id)
	}
}

// committed tells the subscribers of a commit that revoked tokens.
func (r *Revocations) committed() {
	r.mu.Lock()
	fns := make([]func(), 0, len(r.subs))
	for _, fn := range r.subs {
		fns = append(fns, fn)
	}
	r.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// Shared reports whether other processes may revoke tokens in the database
// (PostgreSQL, which replicas share), so that only Listen tells of them. On
// SQLite one tenancyd serves the file, and Subscribe is enough.
func (r *Revocations) Shared() bool { return r.listen != nil }

// Listen hears the revocations that any process commits in a shared
// database, until ctx ends (it then returns nil) or its connection fails
// (it returns the error; call it again to reconnect). It calls listening
// once every later commit will be heard of, then revoked after each commit
// that revoked tokens; between a failure and the next listening, a
// revocation may go unheard. On a database that is not shared it calls
// listening and waits for ctx.
func (r *Revocations) Listen(ctx context.Context, listening, revoked func()) error {
	if r.listen == nil {
		listening()
		<-ctx.Done()
		return nil
	}
	return r.listen(ctx, listening, revoked)
}
