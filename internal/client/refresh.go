package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// refreshListAfter is how many refreshes of one tenant's objects of one kind
// a client serves with their own GET before it lists them all: the first
// costs one GET, as it always did, so a configuration with one flag in a
// tenant of thousands never lists the thousands; from the second on, one
// list (in pages of api.MaxPageSize) serves the rest.
const refreshListAfter = 1

// refreshMaxAge bounds how old a listed object may be when a refresh takes
// it; an older list is made again. The cache lives only as long as its
// client, which the provider makes anew for every Terraform operation.
const refreshMaxAge = 2 * time.Minute

// refreshSet is what a client knows of one tenant's objects of one kind
// during an operation.
type refreshSet struct {
	// refreshes counts the refreshes asked of the set.
	refreshes int
	// listing is closed when the list in flight ends; nil when none is.
	listing chan struct{}
	// listed is when the last list ended; zero when there was none.
	listed time.Time
	// failed says the last list failed: refreshes fall back to their GET.
	failed bool
	// items are the listed objects not yet served, by key; each is served
	// once at most. served are the keys served already.
	items  map[string]any
	served map[string]bool
}

// refreshKey names a set: a tenant's objects of a kind, or with tenant ""
// the platform's tenants, a set with an object of every tenant.
type refreshKey struct{ tenant, kind string }

// refreshCache batches refreshes: many objects of one tenant and kind are
// read with one list instead of one GET each. It is safe for concurrent use;
// parallel refreshes of one set wait for the same list. A write through the
// client to a tenant drops what the cache holds of that tenant (the list of
// tenants included), and a list that was in flight during the write is not
// used, so a refresh never sees an object older than this client's own last
// write to it.
type refreshCache struct {
	mu   sync.Mutex
	sets map[refreshKey]*refreshSet
	// generation counts the writes to each tenant ("" counts writes that
	// may touch any tenant), and writes all of them; a list remembers the
	// count it started under.
	generation map[string]uint64
	writes     uint64
	now        func() time.Time
}

func newRefreshCache() *refreshCache {
	return &refreshCache{sets: map[refreshKey]*refreshSet{}, generation: map[string]uint64{}, now: time.Now}
}

// gen is the count of the writes that may change what a list of the
// tenant's objects holds; for the list of tenants, every write.
func (rc *refreshCache) gen(tenant string) uint64 {
	if tenant == "" {
		return rc.writes
	}
	return rc.generation[tenant] + rc.generation[""]
}

// forget drops what the cache holds of a tenant ("" for every tenant): the
// client is about to write there, or has.
func (rc *refreshCache) forget(tenant string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.generation[tenant]++
	rc.writes++
	for k := range rc.sets {
		if tenant == "" || k.tenant == tenant || k.tenant == "" {
			delete(rc.sets, k)
		}
	}
}

// forgetFor drops the tenant a write to path concerns: /v1/tenants/{tenant}
// and below concern that tenant, /v1/tokens none, anything else (a
// restore) any tenant. A dry run writes nothing and drops nothing.
func (rc *refreshCache) forgetFor(r request) {
	if rc == nil || r.method == http.MethodGet || r.method == http.MethodHead || r.readOnly || r.query.Get("dry_run") == "true" {
		return
	}
	rest, ok := strings.CutPrefix(r.path, "/v1/tenants/")
	switch {
	case ok:
		tenant, _, _ := strings.Cut(rest, "/")
		rc.forget(unescapeSegment(tenant))
	case r.path == "/v1/tenants":
		// Creating a tenant changes no object of another.
	case strings.HasPrefix(r.path, "/v1/tokens"):
		// Tokens are no object a resource refreshes.
	default:
		rc.forget("")
	}
}

// unescapeSegment undoes PathEscape for one segment; a segment that does not
// unescape is kept as is, which at worst forgets nothing of another tenant.
func unescapeSegment(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// lister reads every object of a set, keyed by the key Refresh asks for.
type lister func(ctx context.Context) (map[string]any, error)

// taken is what the cache says about one refresh.
type taken int

const (
	// askServer: the caller must GET the object itself (the first refresh
	// of a set, a failed list, an object served once already).
	askServer taken = iota
	// fromList: the object comes from a list.
	fromList
	// notListed: a list of the set, made in this operation after the
	// client's last write to the tenant, lacks the object, which it never
	// served either.
	notListed
)

// take returns the listed object at key for a refresh, listing the set when
// it is worth it.
func (rc *refreshCache) take(ctx context.Context, tenant, kind, key string, list lister) (any, taken) {
	k := refreshKey{tenant, kind}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	s := rc.sets[k]
	if s == nil {
		s = &refreshSet{}
		rc.sets[k] = s
	}
	s.refreshes++
	for {
		fresh := !s.listed.IsZero() && rc.now().Sub(s.listed) < refreshMaxAge
		if fresh {
			if v, ok := s.items[key]; ok {
				delete(s.items, key)
				s.served[key] = true
				return v, fromList
			}
			if !s.served[key] {
				return nil, notListed
			}
			// Served once already: a second refresh reads the object again,
			// so that it never sees an older copy than the first did.
			return nil, askServer
		}
		if s.listing != nil {
			wait := s.listing
			rc.mu.Unlock()
			select {
			case <-wait:
			case <-ctx.Done():
				rc.mu.Lock()
				return nil, askServer
			}
			rc.mu.Lock()
			if rc.sets[k] != s || s.listed.IsZero() || s.failed {
				// A write dropped the set while the list ran, or the
				// list failed.
				return nil, askServer
			}
			continue
		}
		if s.failed || s.refreshes <= refreshListAfter {
			// The list failed, or a list is not worth it yet.
			return nil, askServer
		}
		// List the set; the refreshes that come meanwhile wait for it.
		done := make(chan struct{})
		s.listing = done
		generation := rc.gen(tenant)
		rc.mu.Unlock()
		items, err := list(ctx)
		rc.mu.Lock()
		s.listing = nil
		close(done)
		switch {
		case rc.sets[k] != s || rc.gen(tenant) != generation:
			// A write to the tenant during the list: it may predate it.
			return nil, askServer
		case err != nil:
			s.failed = true
			return nil, askServer
		}
		s.items, s.served, s.listed = items, map[string]bool{}, rc.now()
	}
}

// refresh reads one object for a resource's Read: from the list of its set
// when the cache has it, with get otherwise. missing, unless nil, is the
// error for an object that a list of its set lacks; nil asks get.
func refresh[T any](ctx context.Context, c *Client, tenant, kind, key string, list func(ctx context.Context) ([]T, error),
	keyOf func(*T) string, get func() (*T, error), missing func() error,
) (*T, error) {
	if c.refresh == nil {
		return get()
	}
	v, how := c.refresh.take(ctx, tenant, kind, key, func(ctx context.Context) (map[string]any, error) {
		all, err := list(ctx)
		if err != nil {
			return nil, err
		}
		items := make(map[string]any, len(all))
		for i := range all {
			items[keyOf(&all[i])] = &all[i]
		}
		return items, nil
	})
	switch how {
	case fromList:
		if t, ok := v.(*T); ok {
			return t, nil
		}
	case notListed:
		if missing != nil {
			return nil, missing()
		}
	}
	return get()
}

// refresh reads one object of a tenant for a resource's Read; see
// refreshCache. keyOf is the key of a listed object. An object a list of
// the tenant lacks is ErrNotFound: the list answered, so the tenant exists
// and is within the token's reach (otherwise the list fails, and the
// object's own GET says why, ErrOutOfReach included).
func (k tenantObjects[T]) refresh(ctx context.Context, c *Client, tenant, key string, keyOf func(*T) string) (*T, error) {
	return refresh(ctx, c, tenant, k.plural, key,
		func(ctx context.Context) ([]T, error) { return k.list(ctx, c, tenant, nil) },
		keyOf,
		func() (*T, error) { return k.get(ctx, c, tenant, key) },
		func() error {
			return &APIError{
				StatusCode: http.StatusNotFound, Code: api.CodeNotFound, Method: http.MethodGet, Path: k.path(tenant),
				Message: fmt.Sprintf("no %s %q in the list of tenant %q's %s", k.keyField, key, tenant, k.plural),
			}
		})
}

// RefreshTenant reads a tenant for a resource's refresh; see refreshCache.
// ErrNotFound when it is gone. A tenant the list of tenants lacks is read
// with its own GET: a token of one tenant lists only its own, and the GET
// tells a tenant that is gone from one out of the token's reach.
func (c *Client) RefreshTenant(ctx context.Context, slug string) (*api.Tenant, error) {
	return refresh(ctx, c, "", api.KindTenant, slug,
		func(ctx context.Context) ([]api.Tenant, error) { return c.ListTenants(ctx, nil) },
		func(t *api.Tenant) string { return t.Slug },
		func() (*api.Tenant, error) { return c.GetTenant(ctx, slug) }, nil)
}

// RefreshEnvironment reads an environment for a resource's refresh; see
// refreshCache. ErrNotFound when it is gone.
func (c *Client) RefreshEnvironment(ctx context.Context, tenant, name string) (*api.Environment, error) {
	return environments.refresh(ctx, c, tenant, name, func(e *api.Environment) string { return e.Name })
}

// RefreshUser reads a user for a resource's refresh; see refreshCache.
// ErrNotFound when it is gone.
func (c *Client) RefreshUser(ctx context.Context, tenant, userID string) (*api.User, error) {
	return users.refresh(ctx, c, tenant, userID, func(u *api.User) string { return u.UserID })
}

// RefreshRoleBinding reads a role binding for a resource's refresh; see
// refreshCache. ErrNotFound when it is gone.
func (c *Client) RefreshRoleBinding(ctx context.Context, tenant, bindingID string) (*api.RoleBinding, error) {
	return roleBindings.refresh(ctx, c, tenant, bindingID, func(b *api.RoleBinding) string { return b.BindingID })
}

// RefreshFeatureFlag reads a feature flag for a resource's refresh; see
// refreshCache. ErrNotFound when it is gone.
func (c *Client) RefreshFeatureFlag(ctx context.Context, tenant, key string) (*api.FeatureFlag, error) {
	return featureFlags.refresh(ctx, c, tenant, key, func(f *api.FeatureFlag) string { return f.Key })
}

// RefreshIntegration reads an integration for a resource's refresh; see
// refreshCache. ErrNotFound when it is gone.
func (c *Client) RefreshIntegration(ctx context.Context, tenant, name string) (*api.Integration, error) {
	return integrations.refresh(ctx, c, tenant, name, func(i *api.Integration) string { return i.Name })
}
