package client

import (
	"context"
	"testing"
	"time"
)

// TestRefreshCacheAge checks the cache against a clock: a list serves
// refreshes only while it is younger than refreshMaxAge, and each of its
// objects once; an older list is made again before it serves anything.
func TestRefreshCacheAge(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rc := newRefreshCache()
	rc.now = func() time.Time { return now }
	lists := 0
	list := func(context.Context) (map[string]any, error) {
		lists++
		return map[string]any{"a": lists, "b": lists, "c": lists}, nil
	}
	take := func(key string) (any, taken) { return rc.take(t.Context(), "acme", "feature-flags", key, list) }

	if _, how := take("a"); how != askServer || lists != 0 {
		t.Fatalf("first refresh: %v after %d lists; want its own GET and no list", how, lists)
	}
	if v, how := take("b"); how != fromList || v != 1 {
		t.Fatalf("second refresh: %v %v; want it from the first list", v, how)
	}
	if _, how := take("b"); how != askServer {
		t.Errorf("b again: %v; want its own GET, each listed object being served once", how)
	}
	if _, how := take("gone"); how != notListed {
		t.Errorf("an object the list lacks: %v; want notListed", how)
	}
	now = now.Add(refreshMaxAge)
	if v, how := take("c"); how != fromList || v != 2 || lists != 2 {
		t.Errorf("c after %s: %v %v after %d lists; want it from a second list", refreshMaxAge, v, how, lists)
	}
	if v, how := take("b"); how != fromList || v != 2 {
		t.Errorf("b from the new list: %v %v; want the new list's copy", v, how)
	}
}

// TestRefreshCacheForgetsEveryTenantsList checks that a write to any tenant
// drops the list of tenants, which holds that tenant too, and nothing of the
// other tenants' objects.
func TestRefreshCacheForgetsEveryTenantsList(t *testing.T) {
	rc := newRefreshCache()
	for _, k := range []refreshKey{{"", "tenants"}, {"acme", "users"}, {"globex", "users"}} {
		rc.sets[k] = &refreshSet{}
	}
	rc.forget("acme")
	for k, want := range map[refreshKey]bool{{"", "tenants"}: false, {"acme", "users"}: false, {"globex", "users"}: true} {
		if _, kept := rc.sets[k]; kept != want {
			t.Errorf("after a write to acme, set %v kept: %v, want %v", k, kept, want)
		}
	}
}
