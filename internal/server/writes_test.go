package server

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// TestWriteThatChangesNothingKeepsTheRevision sends, for every kind with a
// PATCH or PUT, a write that changes nothing: it answers 200 with the
// object at the revision it had (the ETag too) and writes no audit event.
// The same object then takes a real change, which does both, so the first
// half cannot pass by counting the wrong events.
func TestWriteThatChangesNothingKeepsTheRevision(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	withEnvironment(t, ts, "acme", "staging", api.EnvStaging)
	var user api.User
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/users",
		map[string]any{"email": "alice@example.com", "display_name": "Alice"}).json(t, &user)
	var binding api.RoleBinding
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/role-bindings",
		map[string]any{"user_id": user.UserID, "role": api.RoleTenantViewer}).json(t, &binding)
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/feature-flags",
		map[string]any{"key": "new-billing", "description": "d", "environments": map[string]any{"staging": map[string]any{"enabled": true}}})
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/integrations",
		map[string]any{"name": "hook", "kind": "webhook", "config": map[string]string{"url": "https://example.com/hook"}, "secret": "s3cret"})
	tenantQuota := map[string]any{"cpu_millicores": 4000, "max_users": 10}
	ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", "/v1/tenants/acme/quota", tenantQuota)
	envQuota := map[string]any{"cpu_millicores": 1000}
	ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", "/v1/tenants/acme/environments/staging/quota", envQuota)
	migrations := map[string]any{"migrations": map[string]string{"1": "CREATE TABLE items (id INTEGER PRIMARY KEY)"}}
	ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", "/v1/tenants/acme/environments/staging/schema", migrations)

	for _, c := range []struct {
		kind, key, method, path string
		// same changes nothing; change changes something.
		same, change any
	}{
		{api.KindTenant, "acme", "PATCH", "/v1/tenants/acme", map[string]any{}, map[string]any{"display_name": "Acme"}},
		{api.KindTenant, "acme", "PATCH", "/v1/tenants/acme", map[string]any{"display_name": "Acme", "deletion_protection": false}, map[string]any{"display_name": "Acme Inc."}},
		{api.KindEnvironment, "staging", "PATCH", "/v1/tenants/acme/environments/staging", map[string]any{}, map[string]any{"settings": map[string]string{"log_level": "debug"}}},
		{api.KindUser, user.UserID, "PATCH", "/v1/tenants/acme/users/" + user.UserID, map[string]any{}, map[string]any{"display_name": "Alice B."}},
		{api.KindRoleBinding, binding.BindingID, "PATCH", "/v1/tenants/acme/role-bindings/" + binding.BindingID, map[string]any{}, map[string]any{"role": api.RoleTenantUser}},
		{api.KindRoleBinding, binding.BindingID, "PATCH", "/v1/tenants/acme/role-bindings/" + binding.BindingID, map[string]any{"role": api.RoleTenantUser}, map[string]any{"environment": "staging"}},
		{api.KindFeatureFlag, "new-billing", "PATCH", "/v1/tenants/acme/feature-flags/new-billing", map[string]any{}, map[string]any{"description": "e"}},
		{api.KindIntegration, "hook", "PATCH", "/v1/tenants/acme/integrations/hook", map[string]any{"secret": "s3cret"}, map[string]any{"secret": "other"}},
		{api.KindQuota, api.TenantQuotaKey, "PUT", "/v1/tenants/acme/quota", tenantQuota, map[string]any{"cpu_millicores": 8000, "max_users": 10}},
		{api.KindQuota, "staging", "PUT", "/v1/tenants/acme/environments/staging/quota", envQuota, map[string]any{"cpu_millicores": 2000}},
		{api.KindSchema, "staging", "PUT", "/v1/tenants/acme/environments/staging/schema", migrations,
			map[string]any{"migrations": map[string]string{"1": "CREATE TABLE items (id INTEGER PRIMARY KEY)", "2": "CREATE TABLE more (id INTEGER)"}}},
	} {
		same, err := json.Marshal(c.same)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(c.kind+" "+string(same), func(t *testing.T) {
			query := "&object_kind=" + c.kind + "&object_key=" + c.key
			revision := func(r response) int64 {
				t.Helper()
				var m api.Meta
				r.json(t, &m)
				if got, want := r.header.Get("ETag"), etag(m.Revision); got != want {
					t.Fatalf("%s %s: ETag %s, revision %d", c.method, c.path, got, m.Revision)
				}
				return m.Revision
			}
			before := revision(ts.mustCall(t, http.StatusOK, ts.admin, "GET", c.path, nil))
			events := len(auditOf(t, ts, "acme", query))

			if got := revision(ts.mustCall(t, http.StatusOK, ts.admin, c.method, c.path, c.same)); got != before {
				t.Errorf("a write that changes nothing moved the revision from %d to %d", before, got)
			}
			if got := revision(ts.mustCall(t, http.StatusOK, ts.admin, "GET", c.path, nil)); got != before {
				t.Errorf("after a write that changes nothing, the object is at revision %d, not %d", got, before)
			}
			if n := len(auditOf(t, ts, "acme", query)); n != events {
				t.Errorf("a write that changes nothing wrote %d audit events", n-events)
			}

			if got := revision(ts.mustCall(t, http.StatusOK, ts.admin, c.method, c.path, c.change)); got != before+1 {
				t.Errorf("a change moved the revision from %d to %d, want %d", before, got, before+1)
			}
			if n := len(auditOf(t, ts, "acme", query)); n != events+1 {
				t.Errorf("a change wrote %d audit events, want 1", n-events)
			}
		})
	}
}

// TestWritesStampTheServersClock moves the server's clock (Config.Now) far
// from the real time: objects' created_at and updated_at, which the store
// stamps, and audit events, which the server stamps, follow it alike.
func TestWritesStampTheServersClock(t *testing.T) {
	t.Parallel()
	clock := newStepClock()
	clock.Advance(-240 * time.Hour)
	ts := newTestServer(t, withClock(clock))
	at := func() time.Time { return clock.Now().UTC().Truncate(time.Microsecond) }

	created := at()
	tn := ts.createTenant(t, "acme")
	if !tn.CreatedAt.Equal(created) || !tn.UpdatedAt.Equal(created) {
		t.Errorf("a new tenant: created_at %s, updated_at %s; the clock says %s", tn.CreatedAt, tn.UpdatedAt, created)
	}
	clock.Advance(time.Hour)
	updated := at()
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme", map[string]any{"display_name": "Acme"}).json(t, &tn)
	if !tn.CreatedAt.Equal(created) || !tn.UpdatedAt.Equal(updated) {
		t.Errorf("an updated tenant: created_at %s, updated_at %s; want %s and %s", tn.CreatedAt, tn.UpdatedAt, created, updated)
	}
	events := auditOf(t, ts, "acme", "&object_kind=tenant")
	for _, e := range events {
		if want := map[bool]time.Time{true: updated, false: created}[e.Action == "tenant.update"]; !e.Time.Equal(want) {
			t.Errorf("audit event %s at %s, want %s", e.Action, e.Time, want)
		}
	}
	if last := events[len(events)-1]; last.Action != "tenant.update" {
		t.Errorf("the last audit event is %s, want tenant.update", last.Action)
	}
}
