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

// bucket is a token bucket holding up to a minute's worth of a tenant's
// api_requests_per_minute, refilled continuously.
type bucket struct {
	limit   *int64    // nil: unlimited
	checked time.Time // when limit was last read from the store; zero: read it again
	tokens  float64
	updated time.Time
}

// usageState is one Server's counters and buckets.
type usageState struct {
	mu      sync.Mutex
	pending map[string]usageDelta
	buckets map[string]*bucket
}

func newUsageState() *usageState {
	return &usageState{pending: map[string]usageDelta{}, buckets: map[string]*bucket{}}
}

// usageRoutes serves a tenant's usage to anyone who may read the tenant.
func (s *Server) usageRoutes() []route {
	return []route{
		{"GET /v1/tenants/{tenant}/usage", tenantViewer, s.getUsage},
	}
}

// admit decides whether an authenticated request may proceed under its
// tenant's api_requests_per_minute; it answers the refusal itself (429).
// Platform tokens are never throttled. A tenant's limit is read from the
// store at most every rateLimitRefresh; if it cannot be read the request is
// let through, since refusing every call when the database hiccups would
// be worse than a brief excess.
func (s *Server) admit(_ http.ResponseWriter, r *http.Request, p *principal) error {
	if p.Tenant == "" {
		return nil
	}
	u := s.usageState
	now := s.now()
	u.mu.Lock()
	b := u.buckets[p.Tenant]
	stale := b == nil || now.Sub(b.checked) >= rateLimitRefresh || now.Before(b.checked)
	u.mu.Unlock()
	if stale {
		limit, err := s.rateLimitOf(r.Context(), p.Tenant)
		if err != nil {
			s.log.WarnContext(r.Context(), "cannot read the tenant's rate limit; letting the request through",
				"tenant", p.Tenant, "error", err)
			return nil
		}
		u.mu.Lock()
		if b = u.buckets[p.Tenant]; b == nil {
			b = &bucket{updated: now}
			u.buckets[p.Tenant] = b
		}
		b.setLimit(limit, now)
		u.mu.Unlock()
	}
	u.mu.Lock()
	limit := b.limit
	ok, wait := b.take(now)
	u.mu.Unlock()
	if ok {
		return nil
	}
	secs := max(int64(math.Ceil(wait.Seconds())), 1)
	e := newError(http.StatusTooManyRequests, api.CodeRateLimited, quota.APIRequestsPerMinute,
		"tenant %q is over its quota of api_requests_per_minute = %d; retry after %d seconds, or ask a platform admin to raise the quota",
		p.Tenant, *limit, secs)
	e.header = http.Header{"Retry-After": {strconv.FormatInt(secs, 10)}}
	return e
}

// rateLimitOf reads a tenant's api_requests_per_minute; nil when unlimited.
func (s *Server) rateLimitOf(ctx context.Context, tenant string) (*int64, error) {
	var limit *int64
	err := s.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		q, err := tenantQuota(ctx, tx, tenant)
		if q != nil {
			limit = q.APIRequestsPerMinute
		}
		return err
	})
	return limit, err
}

// quotaChanged makes the next request of a tenant read its quota again,
// after this replica changed it.
func (s *Server) quotaChanged(tenant string) {
	u := s.usageState
	u.mu.Lock()
	defer u.mu.Unlock()
	if b := u.buckets[tenant]; b != nil {
		b.checked = time.Time{}
	}
}

// refill adds the tokens earned since the last update; a clock that went
// back earns nothing.
func (b *bucket) refill(now time.Time) {
	if !now.After(b.updated) {
		return
	}
	if b.limit != nil {
		perSecond := float64(*b.limit) / 60
		b.tokens = min(float64(*b.limit), b.tokens+now.Sub(b.updated).Seconds()*perSecond)
	}
	b.updated = now
}

// setLimit applies a limit read from the store: a newly limited tenant
// starts with a full bucket, a raised limit adds its new room and a lowered
// one caps what is left.
func (b *bucket) setLimit(limit *int64, now time.Time) {
	b.refill(now)
	b.checked = now
	switch {
	case limit == nil:
		b.limit = nil
	case b.limit == nil:
		b.limit, b.tokens = limit, float64(*limit)
	default:
		b.tokens = min(b.tokens+float64(max(*limit-*b.limit, 0)), float64(*limit))
		b.limit = limit
	}
}

// take spends one token, or says how long until one is earned.
func (b *bucket) take(now time.Time) (bool, time.Duration) {
	b.refill(now)
	if b.limit == nil {
		return true, 0
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	if *b.limit == 0 {
		return false, time.Minute
	}
	perSecond := float64(*b.limit) / 60
	return false, time.Duration((1 - b.tokens) / perSecond * float64(time.Second))
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
		users, err := tx.Count(ctx, slug, store.KindUser)
		if err != nil {
			return err
		}
		envs, err := tx.Count(ctx, slug, store.KindEnvironment)
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
