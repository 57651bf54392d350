package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/quota"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validate"
)

// Usage counters live in memory per replica and are added to the stored
// counters of each tenant every usageFlushInterval: one write per tenant
// per interval instead of one per request.
const (
	// kindUsage is the store kind of a tenant's usage counters; it is not an
	// API object, so audit events and exports name it only as data.
	kindUsage = "usage"
	// usageKey is the one usage object of a tenant.
	usageKey = "counters"

	usageFlushInterval = 5 * time.Second
	// rateLimitRefresh bounds how stale a replica's copy of a tenant's
	// api_requests_per_minute may be; quota changes made through this
	// replica apply at once.
	rateLimitRefresh = 5 * time.Second
	// maxUsageTenants bounds the tenants tracked in memory between flushes,
	// so that requests naming made-up tenants cannot grow it without end.
	maxUsageTenants = 100_000
)

// Defaults of tenancyd serve for Config.DefaultRequestsPerMinute and
// Config.MaxTenantConcurrency: room for any Terraform run (which sends at
// most 10 requests at once by default), not for one tenant to crowd out the
// others.
const (
	DefaultRequestsPerMinute    = 6000
	DefaultMaxTenantConcurrency = 16
)

// usageCounters is what the store keeps of a tenant's API use.
type usageCounters struct {
	APICalls        int64     `json:"api_calls"`
	APIErrors       int64     `json:"api_errors"`
	WindowStartedAt time.Time `json:"window_started_at"`
	api.Meta
}

// usageDelta is what one replica counted since its last flush.
type usageDelta struct {
	calls, errors int64
}

// limiter is one replica's view of a tenant's rate limit: the limit it
// last read, tokens it took from the shared bucket and has not spent yet,
// and the tenant's requests in progress here.
type limiter struct {
	// mu serializes the tenant's admissions on this replica while it takes
	// tokens from the shared bucket.
	mu       sync.Mutex
	limit    *int64    // nil: unlimited
	checked  time.Time // when limit was last read from the store; zero: read it again
	local    int64     // tokens taken from the shared bucket and not spent
	taken    time.Time // when local was taken
	inflight int       // guarded by usageState.mu
}

// usageState is one Server's counters and limiters.
type usageState struct {
	mu       sync.Mutex
	pending  map[string]usageDelta
	limiters map[string]*limiter
}

func newUsageState() *usageState {
	return &usageState{pending: map[string]usageDelta{}, limiters: map[string]*limiter{}}
}

// usageRoutes serves a tenant's usage to anyone who may read the tenant.
func (s *Server) usageRoutes() []route {
	return []route{
		{"GET /v1/tenants/{tenant}/usage", tenantViewer, s.getUsage},
	}
}

// admit decides whether an authenticated request may proceed, and answers
// the refusal itself (429 with Retry-After): a tenant's tokens get at most
// its api_requests_per_minute (or the server's default limit when it has
// none) across every replica, and at most MaxTenantConcurrency requests in
// progress on this replica, so that one busy tenant cannot take every
// worker and database connection from the others. Platform tokens are
// never held back. release must be called when the request is done.
func (s *Server) admit(_ http.ResponseWriter, r *http.Request, p *principal) (release func(), err error) {
	release = func() {}
	if p.Tenant == "" {
		return release, nil
	}
	u := s.usageState
	u.mu.Lock()
	l := u.limiters[p.Tenant]
	if l == nil {
		l = &limiter{}
		u.limiters[p.Tenant] = l
	}
	if s.maxTenantConcurrency > 0 && l.inflight >= s.maxTenantConcurrency {
		u.mu.Unlock()
		e := newError(http.StatusTooManyRequests, api.CodeRateLimited, "",
			"tenant %q has %d requests in progress, as many as one tenant may have at once; retry after 1 second, or send fewer requests in parallel",
			p.Tenant, s.maxTenantConcurrency)
		e.header = http.Header{"Retry-After": {"1"}}
		return release, e
	}
	l.inflight++
	u.mu.Unlock()
	release = func() {
		u.mu.Lock()
		l.inflight--
		u.mu.Unlock()
	}
	if err := s.takeToken(r.Context(), p.Tenant, l); err != nil {
		release()
		return func() {}, err
	}
	return release, nil
}

// takeToken spends one of the tenant's tokens: one this replica took from
// the shared bucket earlier, or a new batch from the bucket. The limit is
// read from the store at most every rateLimitRefresh. When the limit or
// the bucket cannot be read the request is let through, since refusing
// every call when the database hiccups would be worse than a brief excess.
func (s *Server) takeToken(ctx context.Context, tenant string, l *limiter) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := s.now()
	if l.checked.IsZero() || now.Sub(l.checked) >= rateLimitRefresh || now.Before(l.checked) {
		limit, err := s.rateLimitOf(ctx, tenant)
		if err != nil {
			s.log.WarnContext(ctx, "cannot read the tenant's rate limit; letting the request through", "tenant", tenant, "error", err)
			return nil
		}
		l.limit, l.checked = limit, now
	}
	if l.limit == nil {
		return nil
	}
	// Tokens taken a while ago may belong to another replica's traffic by
	// now; letting them go only ever admits less.
	if l.local > 0 && !now.Before(l.taken) && now.Sub(l.taken) < rateLimitRefresh {
		l.local--
		return nil
	}
	limit := *l.limit
	granted, wait, err := s.takeFromBucket(ctx, tenant, limit, batchSize(limit), now)
	if err != nil {
		s.log.WarnContext(ctx, "cannot take from the tenant's rate limit bucket; letting the request through", "tenant", tenant, "error", err)
		return nil
	}
	if granted == 0 {
		secs := max(int64(math.Ceil(wait.Seconds())), 1)
		e := newError(http.StatusTooManyRequests, api.CodeRateLimited, quota.APIRequestsPerMinute,
			"tenant %q is over its %s of api_requests_per_minute = %d; retry after %d seconds, or ask a platform admin to raise the quota",
			tenant, s.limitSource(limit), limit, secs)
		e.header = http.Header{"Retry-After": {strconv.FormatInt(secs, 10)}}
		return e
	}
	l.local, l.taken = granted-1, now
	return nil
}

// limitSource says where a limit comes from, for the 429's message.
func (s *Server) limitSource(limit int64) string {
	if s.defaultRequestsPerMinute > 0 && limit == s.defaultRequestsPerMinute {
		return "quota (or the platform's default limit)"
	}
	return "quota"
}

// batchSize is how many tokens a replica takes from the shared bucket at
// once: one for small limits, where a replica holding spare tokens would
// starve the others, up to 20 for large ones, which saves database writes.
func batchSize(limit int64) int64 { return min(max(limit/100, 1), 20) }

// takeFromBucket takes up to want tokens from the tenant's shared bucket
// under a lock on it, so that replicas together never admit more than the
// limit: it refills the bucket for the time since its last use (a minute's
// worth at most) and says how many tokens it granted, or, with none, how
// long until one is earned.
func (s *Server) takeFromBucket(ctx context.Context, tenant string, limit, want int64, now time.Time) (granted int64, wait time.Duration, err error) {
	err = s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.Lock(ctx, "ratelimit:"+tenant); err != nil {
			return err
		}
		b, err := tx.RateBucket(ctx, tenant)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// A tenant newly limited starts with a full bucket.
			b = store.RateBucket{Tenant: tenant, Tokens: float64(limit), Limit: limit, UpdatedAt: now}
		case err != nil:
			return err
		}
		b = refill(b, limit, now)
		granted, wait = 0, 0
		if take := min(float64(want), math.Floor(b.Tokens)); take >= 1 {
			b.Tokens -= take
			granted = int64(take)
		} else if limit == 0 {
			wait = time.Minute
		} else {
			wait = time.Duration((1 - b.Tokens) / (float64(limit) / 60) * float64(time.Second))
		}
		return tx.PutRateBucket(ctx, b)
	})
	return granted, wait, err
}

// refill brings a bucket to now under limit: a raised limit adds its new
// room, a lowered one caps what is left, and tokens are earned at limit per
// minute up to limit. A clock that went back earns nothing.
func refill(b store.RateBucket, limit int64, now time.Time) store.RateBucket {
	switch {
	case limit > b.Limit:
		b.Tokens += float64(limit - b.Limit)
	case limit < b.Limit:
		b.Tokens = min(b.Tokens, float64(limit))
	}
	b.Limit = limit
	if elapsed := now.Sub(b.UpdatedAt); elapsed > 0 {
		b.Tokens = min(float64(limit), b.Tokens+elapsed.Seconds()*float64(limit)/60)
		b.UpdatedAt = now
	}
	return b
}

// rateLimitOf reads a tenant's api_requests_per_minute: its quota's, or
// the server's default when the quota sets none; nil when unlimited.
func (s *Server) rateLimitOf(ctx context.Context, tenant string) (*int64, error) {
	var limit *int64
	err := s.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		q, err := tenantQuota(ctx, tx, tenant)
		if q != nil {
			limit = q.APIRequestsPerMinute
		}
		return err
	})
	if limit == nil && s.defaultRequestsPerMinute > 0 {
		limit = &s.defaultRequestsPerMinute
	}
	return limit, err
}

// quotaChanged makes the next request of a tenant read its quota again,
// after this replica changed it.
func (s *Server) quotaChanged(tenant string) {
	u := s.usageState
	u.mu.Lock()
	l := u.limiters[tenant]
	u.mu.Unlock()
	if l != nil {
		l.mu.Lock()
		l.checked = time.Time{}
		l.mu.Unlock()
	}
}

// countUsage records an answered request in its tenant's usage: the token's
// tenant, or for a platform token the tenant in the path, if any. Every
// status of 400 or above is an error.
func (s *Server) countUsage(r *http.Request, p *principal, status int) {
	tenant := p.Tenant
	if tenant == "" {
		tenant = r.PathValue("tenant")
	}
	if validate.Slug(tenant) != nil {
		return
	}
	u := s.usageState
	u.mu.Lock()
	defer u.mu.Unlock()
	d, ok := u.pending[tenant]
	if !ok && len(u.pending) >= maxUsageTenants {
		return
	}
	d.calls++
	if status >= http.StatusBadRequest {
		d.errors++
	}
	u.pending[tenant] = d
}

// usageLoop flushes the usage counted in memory every usageFlushInterval
// until ctx ends, and once more then. Run starts it.
func (s *Server) usageLoop(ctx context.Context) {
	t := time.NewTicker(usageFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// The store may already be closing; a failure here loses at most
			// one interval's counts, so it is only worth a debug line.
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := s.flushUsage(final); err != nil {
				s.log.DebugContext(final, "final usage flush", "error", err)
			}
			cancel()
			return
		case <-t.C:
			if err := s.flushUsage(ctx); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "usage flush", "error", err)
			}
		}
	}
}

// flushUsage adds what this replica counted to each tenant's stored
// counters, under the tenant lock and with a conditional write, so replicas
// flushing at once add up instead of overwriting each other. Counts of a
// tenant that no longer exists are dropped; counts that could not be
// written are kept for the next flush.
func (s *Server) flushUsage(ctx context.Context) error {
	u := s.usageState
	u.mu.Lock()
	batch := u.pending
	u.pending = make(map[string]usageDelta, len(batch))
	u.mu.Unlock()

	var errs []error
	for _, tenant := range slices.Sorted(maps.Keys(batch)) {
		d := batch[tenant]
		err := s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := tx.Lock(ctx, lockTenant(tenant)); err != nil {
				return err
			}
			t, err := loadTenant(ctx, tx, tenant)
			if err != nil {
				return err
			}
			o, err := tx.Get(ctx, tenant, kindUsage, usageKey)
			if errors.Is(err, store.ErrNotFound) {
				_, err = createObject[usageCounters](ctx, tx, tenant, kindUsage, usageKey,
					usageCounters{APICalls: d.calls, APIErrors: d.errors, WindowStartedAt: t.CreatedAt})
				return err
			}
			if err != nil {
				return err
			}
			c, err := fromObject[usageCounters](o)
			if err != nil {
				return err
			}
			c.APICalls += d.calls
			c.APIErrors += d.errors
			_, err = putObject[usageCounters](ctx, tx, tenant, kindUsage, usageKey, c)
			return err
		})
		var ae *apiError
		switch {
		case err == nil:
		case errors.As(err, &ae) && ae.status == http.StatusNotFound:
			// The tenant is gone, and its counts with it.
		default:
			errs = append(errs, fmt.Errorf("tenant %q: %w", tenant, err))
			u.mu.Lock()
			p := u.pending[tenant]
			p.calls += d.calls
			p.errors += d.errors
			u.pending[tenant] = p
			u.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

// getUsage answers a tenant's usage: the API calls and errors counted so far
// (stored counters plus what this replica has not flushed yet), and what the
// tenant holds now, counted live.
func (s *Server) getUsage(w http.ResponseWriter, r *http.Request, _ *principal) error {
	slug := r.PathValue("tenant")
	var out api.Usage
	err := s.store.View(r.Context(), func(ctx context.Context, tx store.Tx) error {
		t, err := loadTenant(ctx, tx, slug)
		if err != nil {
			return err
		}
		out = api.Usage{TenantID: slug, WindowStartedAt: t.CreatedAt}
		switch o, err := tx.Get(ctx, slug, kindUsage, usageKey); {
		case err == nil:
			c, err := fromObject[usageCounters](o)
			if err != nil {
				return err
			}
			out.APICalls, out.APIErrors, out.WindowStartedAt = c.APICalls, c.APIErrors, c.WindowStartedAt
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		users, err := tx.Count(ctx, slug, api.KindUser)
		if err != nil {
			return err
		}
		envs, err := tx.Count(ctx, slug, api.KindEnvironment)
		if err != nil {
			return err
		}
		out.Users, out.Environments = int64(users), int64(envs)
		objs, err := tx.Export(ctx, slug)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if o.Kind != kindUsage {
				out.StorageBytes += int64(len(o.Data))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	u := s.usageState
	u.mu.Lock()
	d := u.pending[slug]
	u.mu.Unlock()
	out.APICalls += d.calls
	out.APIErrors += d.errors
	if out.APICalls > 0 {
		out.ErrorRate = float64(out.APIErrors) / float64(out.APICalls)
	}
	out.WindowStartedAt = out.WindowStartedAt.UTC()
	writeJSON(w, http.StatusOK, out)
	return nil
}
