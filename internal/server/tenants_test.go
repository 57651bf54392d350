package server

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

func TestTenantCreateAndGet(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	created := ts.createTenant(t, "acme")
	if created.Status != api.StatusActive || created.Revision != 1 || created.Timezone != "UTC" || *created.DeletionProtection || created.Labels != nil {
		t.Fatalf("created %+v", created)
	}
	r := ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme", nil)
	if r.header.Get("ETag") != `"1"` {
		t.Errorf("ETag %q", r.header.Get("ETag"))
	}
}

// stepClock is a clock that stands still until the test moves it, for
// Config.Now: the server's clock and the one its store stamps times with. It
// starts at the real time.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func newStepClock() *stepClock { return &stepClock{now: time.Now()} }

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func withClock(c *stepClock) func(*Config) { return func(cfg *Config) { cfg.Now = c.Now } }

// auditOf reads a tenant's audit events, oldest first.
func auditOf(t testing.TB, ts *testServer, tenant, query string) []api.AuditEvent {
	t.Helper()
	var list api.List[api.AuditEvent]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/"+tenant+"/audit-events?page_size=500"+query, nil).json(t, &list)
	return list.Items
}

// expectError checks an error answer's status and field, and that its
// message says something useful.
func expectError(t testing.TB, r response, status int, field, fragment string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	e := r.apiError(t)
	if e.Field != field {
		t.Errorf("field %q, want %q: %s", e.Field, field, r.body)
	}
	if !strings.Contains(e.Message, fragment) {
		t.Errorf("message %q does not contain %q", e.Message, fragment)
	}
}

func TestTenantCreateValidates(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	valid := func(extra map[string]any) map[string]any {
		b := map[string]any{"slug": "acme", "display_name": "Acme", "region": "eu-west"}
		maps.Copy(b, extra)
		return b
	}
	for _, tc := range []struct {
		body            map[string]any
		status          int
		field, fragment string
	}{
		{valid(map[string]any{"slug": "Acme"}), 422, "slug", "Acme"},
		{valid(map[string]any{"slug": "a"}), 422, "slug", ""},
		{valid(map[string]any{"display_name": "  "}), 422, "display_name", "empty"},
		{valid(map[string]any{"region": "mars-north"}), 422, "region", "mars-north"},
		{valid(map[string]any{"isolation": "solo"}), 422, "isolation", "solo"},
		{valid(map[string]any{"timezone": "Mars/Olympus"}), 422, "timezone", "Mars/Olympus"},
		{valid(map[string]any{"language": "xx-!!"}), 422, "language", ""},
		{valid(map[string]any{"domain": "not a host"}), 422, "domain", ""},
		{valid(map[string]any{"data_retention_days": 0}), 422, "data_retention_days", ""},
		{valid(map[string]any{"branding": map[string]any{"logo_url": "http://x.example.com/l.png"}}), 422, "branding.logo_url", ""},
		{valid(map[string]any{"branding": map[string]any{"primary_color": "red"}}), 422, "branding.primary_color", "red"},
		{valid(map[string]any{"labels": map[string]string{"Bad Key": "v"}}), 422, "labels", "Bad Key"},
		{valid(map[string]any{"security_policy": map[string]any{"allowed_cidrs": []string{"10.0.0.0/8", "nope"}}}), 422, "security_policy.allowed_cidrs[1]", "nope"},
		{valid(map[string]any{"security_policy": map[string]any{"allowed_cidrs": []string{"10.0.0.0/8", "10.0.0.0/8"}}}), 422, "security_policy.allowed_cidrs", "twice"},
		{valid(map[string]any{"security_policy": map[string]any{"session_timeout_minutes": 1}}), 422, "security_policy.session_timeout_minutes", ""},
		{valid(map[string]any{"slugg": "typo"}), 400, "slugg", "unknown field"},
		// encoding/json names an unknown nested field without its parent.
		{valid(map[string]any{"branding": map[string]any{"colour": "#fff"}}), 400, "colour", "unknown field"},
		{valid(map[string]any{"data_retention_days": "thirty"}), 400, "data_retention_days", "int64"},
		{valid(map[string]any{"labels": []string{"a"}}), 400, "labels", ""},
	} {
		r := ts.call(t, ts.admin, "POST", "/v1/tenants", tc.body)
		t.Run(tc.field, func(t *testing.T) { expectError(t, r, tc.status, tc.field, tc.fragment) })
	}
	ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/acme", nil)
	if snap := storeSnapshot(t, ts.store); !strings.Contains(snap, "count tenant: 0\n") || !strings.Contains(snap, "audit events 0,") {
		t.Errorf("refused creates wrote:\n%s", snap)
	}
}

func TestTenantCreateConflicts(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants",
		map[string]any{"slug": "acme", "display_name": "Acme", "region": "eu-west", "domain": "acme.example.com"})
	expectError(t, ts.call(t, ts.admin, "POST", "/v1/tenants",
		map[string]any{"slug": "acme", "display_name": "Again", "region": "eu-west"}), http.StatusConflict, "slug", "terraform import")
	expectError(t, ts.call(t, ts.admin, "POST", "/v1/tenants",
		map[string]any{"slug": "other", "display_name": "Other", "region": "eu-west", "domain": "acme.example.com"}),
		http.StatusConflict, "domain", "acme.example.com")
}

func TestTenantListFiltersAndPages(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	for i, spec := range []struct {
		slug, region string
		labels       map[string]string
	}{
		{"alpha", "eu-west", map[string]string{"tier": "gold", "team": "core"}},
		{"bravo", "eu-west", map[string]string{"tier": "gold"}},
		{"charlie", "us-east", map[string]string{"tier": "gold", "team": "core"}},
		{"delta", "us-east", nil},
		{"echo", "eu-west", map[string]string{"tier": "silver", "team": "core"}},
		{"foxtrot", "ap-southeast", map[string]string{"team": "core"}},
		{"golf", "eu-west", map[string]string{"tier": "gold", "team": "edge"}},
	} {
		ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants", map[string]any{
			"slug": spec.slug, "display_name": fmt.Sprint("Tenant ", i), "region": spec.region, "labels": spec.labels,
		})
	}
	slugsOf := func(query string) ([]string, string) {
		t.Helper()
		var list api.List[api.Tenant]
		ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants"+query, nil).json(t, &list)
		out := []string{}
		for _, tn := range list.Items {
			out = append(out, tn.Slug)
		}
		return out, list.NextPageToken
	}
	for query, want := range map[string][]string{
		"":                                 {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"},
		"?region=eu-west":                  {"alpha", "bravo", "echo", "golf"},
		"?label=tier=gold":                 {"alpha", "bravo", "charlie", "golf"},
		"?label=tier=gold&label=team=core": {"alpha", "charlie"},
		"?label=tier=gold&region=us-east":  {"charlie"},
		"?label=team=":                     {},
		"?status=active":                   {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"},
		"?status=provisioning":             {},
		"?region=mars":                     {},
	} {
		if got, next := slugsOf(query); !slices.Equal(got, want) || next != "" {
			t.Errorf("GET /v1/tenants%s: %v (next %q), want %v", query, got, next, want)
		}
	}

	// Pages of three, then of one with a filter, are stable and complete.
	for _, tc := range []struct {
		query string
		size  int
		want  []string
	}{
		{"", 3, []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"}},
		{"&label=team=core", 1, []string{"alpha", "charlie", "echo", "foxtrot"}},
	} {
		var all []string
		token, pages := "", 0
		for {
			got, next := slugsOf(fmt.Sprintf("?page_size=%d%s&page_token=%s", tc.size, tc.query, token))
			pages++
			if len(got) > tc.size {
				t.Fatalf("page of %d items, page_size %d", len(got), tc.size)
			}
			all = append(all, got...)
			if next == "" {
				break
			}
			if pages > 10 {
				t.Fatal("paging does not end")
			}
			token = next
		}
		if !slices.Equal(all, tc.want) {
			t.Errorf("pages of %d%s: %v, want %v", tc.size, tc.query, all, tc.want)
		}
	}

	for _, tc := range []struct{ query, field string }{
		{"?status=gone", "status"}, {"?label=tier", "label"}, {"?label==gold", "label"},
		{"?page_size=0", "page_size"}, {"?page_size=501", "page_size"}, {"?page_size=ten", "page_size"},
		{"?page_token=!!!", "page_token"},
	} {
		r := ts.call(t, ts.admin, "GET", "/v1/tenants"+tc.query, nil)
		if r.status != http.StatusBadRequest || r.apiError(t).Field != tc.field {
			t.Errorf("GET /v1/tenants%s: %d %s, want 400 naming %s", tc.query, r.status, r.body, tc.field)
		}
	}
}

func TestTenantPatch(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants", map[string]any{
		"slug": "acme", "display_name": "Acme", "region": "eu-west", "domain": "acme.example.com",
		"labels":          map[string]string{"tier": "gold", "team": "core"},
		"branding":        map[string]any{"logo_url": "https://cdn.example.com/acme.png", "primary_color": "#336699"},
		"security_policy": map[string]any{"mfa_required": true, "allowed_cidrs": []string{"10.0.0.0/8"}},
	})
	admin := ts.token(t, "acme", api.RoleTenantAdmin)

	// A change of one field changes that field only, and the revision.
	var tn api.Tenant
	r := ts.mustCall(t, http.StatusOK, admin, "PATCH", "/v1/tenants/acme", map[string]any{"display_name": "Acme Corp"})
	r.json(t, &tn)
	if tn.DisplayName != "Acme Corp" || tn.Revision != 2 || r.header.Get("ETag") != `"2"` ||
		tn.Labels["tier"] != "gold" || *tn.Domain != "acme.example.com" || !*tn.SecurityPolicy.MFARequired {
		t.Fatalf("after PATCH: %+v (ETag %s)", tn, r.header.Get("ETag"))
	}

	// Merge patch: null removes a label, a map entry, a nested object and an
	// optional field. (Each answer is decoded afresh: decoding into a used
	// struct would merge maps.) Only a platform admin may change a domain.
	tn = api.Tenant{}
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme", map[string]any{
		"labels": map[string]any{"team": nil, "env": "prod"}, "domain": nil,
		"branding": map[string]any{"logo_url": nil}, "security_policy": nil,
	}).json(t, &tn)
	switch {
	case !maps.Equal(tn.Labels, map[string]string{"tier": "gold", "env": "prod"}):
		t.Errorf("labels %v", tn.Labels)
	case tn.Domain != nil:
		t.Errorf("domain %v, want removed", *tn.Domain)
	case tn.Branding == nil || tn.Branding.LogoURL != nil || *tn.Branding.PrimaryColor != "#336699":
		t.Errorf("branding %+v", tn.Branding)
	case tn.SecurityPolicy != nil:
		t.Errorf("security_policy %+v, want removed", tn.SecurityPolicy)
	}
	tn = api.Tenant{}
	ts.mustCall(t, http.StatusOK, admin, "PATCH", "/v1/tenants/acme", map[string]any{"labels": nil}).json(t, &tn)
	if tn.Labels != nil {
		t.Errorf("labels %v after labels: null", tn.Labels)
	}
	// A removed domain is free for another tenant.
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants",
		map[string]any{"slug": "other", "display_name": "Other", "region": "eu-west", "domain": "acme.example.com"})

	// Immutable and refused fields, each named.
	expectError(t, ts.call(t, ts.admin, "PATCH", "/v1/tenants/acme", map[string]any{"slug": "acme2"}), 422, "slug", "immutable")
	expectError(t, ts.call(t, ts.admin, "PATCH", "/v1/tenants/acme", map[string]any{"region": "us-east"}), 422, "region", "data residency")
	expectError(t, ts.call(t, admin, "PATCH", "/v1/tenants/acme", map[string]any{"isolation": "dedicated"}), 403, "isolation", "platform_admin")
	expectError(t, ts.call(t, ts.admin, "PATCH", "/v1/tenants/acme", map[string]any{"domain": "acme.example.com"}), 409, "domain", "already used")
	expectError(t, ts.call(t, ts.admin, "PATCH", "/v1/tenants/acme", map[string]any{"timezone": "Nowhere/Else"}), 422, "timezone", "Nowhere/Else")
	expectError(t, ts.call(t, ts.admin, "PATCH", "/v1/tenants/acme", map[string]any{"labelz": map[string]string{}}), 400, "labelz", "unknown field")
	expectError(t, ts.call(t, ts.admin, "PATCH", "/v1/tenants/acme", `["not", "an", "object"]`), 400, "", "merge patch")
	expectError(t, ts.call(t, ts.admin, "PATCH", "/v1/tenants/acme", `null`), 400, "", "merge patch")
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme", map[string]any{"isolation": "dedicated"})
	// Patching isolation to null falls back to the default, which is a change too.
	expectError(t, ts.call(t, admin, "PATCH", "/v1/tenants/acme", `{"isolation": null}`), 403, "isolation", "platform_admin")

	// If-Match: the current revision passes, a stale one is refused, garbage is a 400.
	cur := ts.mustCall(t, http.StatusOK, admin, "GET", "/v1/tenants/acme", nil).header.Get("ETag")
	ts.mustCall(t, http.StatusOK, admin, "PATCH", "/v1/tenants/acme", map[string]any{"display_name": "A"}, "If-Match", cur)
	expectError(t, ts.call(t, admin, "PATCH", "/v1/tenants/acme", map[string]any{"display_name": "B"}, "If-Match", cur),
		http.StatusPreconditionFailed, "", "changed since you read it")
	expectError(t, ts.call(t, admin, "PATCH", "/v1/tenants/acme", map[string]any{"display_name": "B"}, "If-Match", "yesterday"),
		http.StatusBadRequest, "If-Match", "yesterday")
	ts.mustCall(t, http.StatusOK, admin, "PATCH", "/v1/tenants/acme", map[string]any{"display_name": "B"}, "If-Match", "*")

	// The audit log names the fields each update changed, and who changed them.
	var details []string
	for _, e := range auditOf(t, ts, "acme", "&object_kind=tenant&object_key=acme") {
		if e.Action == "tenant.update" {
			details = append(details, e.Actor+": "+e.Detail)
		}
	}
	want := []string{
		"tenant_admin@acme: changed: display_name",
		"bootstrap: changed: branding, domain, labels, security_policy",
		"tenant_admin@acme: changed: labels",
		"bootstrap: changed: isolation",
		"tenant_admin@acme: changed: display_name",
		"tenant_admin@acme: changed: display_name",
	}
	if !slices.Equal(details, want) {
		t.Errorf("audit details\n got %q\nwant %q", details, want)
	}
}

func TestTenantIdempotencyKey(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	body := map[string]any{"slug": "acme", "display_name": "Acme", "region": "eu-west"}
	first := ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants", body, api.HeaderIdempotencyKey, "create-acme-1")
	again := ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants", body, api.HeaderIdempotencyKey, "create-acme-1")
	if !bytes.Equal(first.body, again.body) || again.header.Get("Idempotent-Replayed") != "true" || again.header.Get("ETag") != `"1"` {
		t.Errorf("replay: %s (replayed %q, ETag %q), want the first answer %s",
			again.body, again.header.Get("Idempotent-Replayed"), again.header.Get("ETag"), first.body)
	}
	// One create and its five provisioning steps, all at once without a delay.
	if n := len(auditOf(t, ts, "acme", "&object_kind=tenant")); n != 1+len(api.ProvisioningSteps) {
		t.Errorf("%d audit events after a replayed create, want %d", n, 1+len(api.ProvisioningSteps))
	}
	// The same key with another body is refused, and writes nothing.
	other := map[string]any{"slug": "acme2", "display_name": "Acme", "region": "eu-west"}
	expectError(t, ts.call(t, ts.admin, "POST", "/v1/tenants", other, api.HeaderIdempotencyKey, "create-acme-1"),
		http.StatusUnprocessableEntity, api.HeaderIdempotencyKey, "different request")
	ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/acme2", nil)
	// Keys belong to their token: another token's key is its own.
	viewer := ts.token(t, "acme", api.RoleTenantAdmin)
	ts.mustCall(t, http.StatusOK, viewer, "PATCH", "/v1/tenants/acme", map[string]any{"display_name": "X"}, api.HeaderIdempotencyKey, "create-acme-1")
	// A refused request is not remembered: after fixing the cause, the same key works.
	ts.mustCall(t, http.StatusConflict, ts.admin, "POST", "/v1/tenants", body, api.HeaderIdempotencyKey, "k2")
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme", map[string]any{"deletion_protection": false})
	ts.mustCall(t, http.StatusOK, ts.admin, "DELETE", "/v1/tenants/acme", nil)
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants", body, api.HeaderIdempotencyKey, "k2")
}

func TestTenantDeletion(t *testing.T) {
	t.Parallel()
	clock := newStepClock()
	ts := newTestServer(t, withClock(clock))
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants",
		map[string]any{"slug": "acme", "display_name": "Acme", "region": "eu-west", "data_retention_days": 90})

	// Protected by default: the refusal names the attribute and the way out.
	expectError(t, ts.call(t, ts.admin, "DELETE", "/v1/tenants/acme", nil), http.StatusConflict, "deletion_protection", "deletion_protection = false")
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme", nil)

	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme", map[string]any{"deletion_protection": false})
	expectError(t, ts.call(t, ts.admin, "DELETE", "/v1/tenants/acme", nil, "If-Match", `"1"`), http.StatusPreconditionFailed, "", "revision 2")
	var del api.TenantDeletion
	ts.mustCall(t, http.StatusOK, ts.admin, "DELETE", "/v1/tenants/acme", nil, "If-Match", `"2"`).json(t, &del)
	// Taken at the server's clock, kept for the tenant's data_retention_days.
	if del.Slug != "acme" || del.Backup.ID == "" || del.Backup.Tenant != "acme" ||
		!del.Backup.RetainUntil.Equal(del.Backup.TakenAt.AddDate(0, 0, 90)) || del.Backup.TakenAt.Sub(clock.Now()).Abs() > time.Millisecond {
		t.Errorf("deletion %+v", del)
	}
	ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/acme", nil)
	ts.mustCall(t, http.StatusNotFound, ts.admin, "DELETE", "/v1/tenants/acme", nil)

	var backups api.List[api.Backup]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/backups?tenant=acme", nil).json(t, &backups)
	if len(backups.Items) != 1 || backups.Items[0].ID != del.Backup.ID {
		t.Errorf("backups %+v", backups.Items)
	}
	// The audit log outlives the tenant (in the store; its API path goes
	// with the tenant) and says where the backup is.
	var last api.AuditEvent
	err := ts.store.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		events, err := tx.ListAudit(ctx, store.AuditQuery{Tenant: "acme", Desc: true, Limit: 1})
		if err == nil && len(events) == 1 {
			last = events[0]
		}
		return err
	})
	if err != nil || last.Action != "tenant.delete" || !strings.Contains(last.Detail, del.Backup.ID) || last.RevisionBefore != 2 {
		t.Errorf("last audit event %+v (%v)", last, err)
	}
}

func TestTenantBodyLimits(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *Config) { c.MaxBodyBytes = 1024 })
	ts.createTenant(t, "acme")
	big := map[string]any{"slug": "big", "display_name": strings.Repeat("x", 2000), "region": "eu-west"}
	expectError(t, ts.call(t, ts.admin, "POST", "/v1/tenants", big), http.StatusRequestEntityTooLarge, "", "1024 bytes")
	expectError(t, ts.call(t, ts.admin, "PATCH", "/v1/tenants/acme", map[string]any{"display_name": strings.Repeat("x", 2000)}),
		http.StatusRequestEntityTooLarge, "", "1024 bytes")
	expectError(t, ts.call(t, ts.admin, "POST", "/v1/tenants", ""), http.StatusBadRequest, "", "empty")
	expectError(t, ts.call(t, ts.admin, "POST", "/v1/tenants", `{"slug": "x"} {"slug": "y"}`), http.StatusBadRequest, "", "after the JSON object")
	expectError(t, ts.call(t, ts.admin, "POST", "/v1/tenants", `{"slug": "x"`), http.StatusBadRequest, "", "truncated")
	ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/big", nil)
}

// TestTenantProvisioningSteps moves the clock through a tenant's
// provisioning: each step is recorded once, in order, in the audit log,
// even when the clock jumps over several steps at once.
func TestTenantProvisioningSteps(t *testing.T) {
	t.Parallel()
	clock := newStepClock()
	ts := newTestServer(t, withClock(clock), func(c *Config) { c.ProvisioningDelay = 40 * time.Second })
	var tn api.Tenant
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants",
		map[string]any{"slug": "acme", "display_name": "Acme", "region": "eu-west"}).json(t, &tn)
	if tn.Status != api.StatusProvisioning || tn.ProvisioningStep != "request" {
		t.Fatalf("created %s at step %s", tn.Status, tn.ProvisioningStep)
	}
	steps := func() []string {
		var out []string
		for _, e := range auditOf(t, ts, "acme", "&object_kind=tenant") {
			if step, ok := strings.CutPrefix(e.Action, "tenant.provisioning."); ok {
				out = append(out, fmt.Sprintf("%s@%d", step, e.RevisionAfter))
			}
		}
		return out
	}
	advance := func(d time.Duration) api.Tenant {
		t.Helper()
		clock.Advance(d)
		// Twice, as two replicas would: a step happens once.
		for range 2 {
			if err := ts.srv.provisionDue(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		var now api.Tenant
		ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme", nil).json(t, &now)
		return now
	}
	if got := advance(5 * time.Second); got.ProvisioningStep != "request" || got.Status != api.StatusProvisioning {
		t.Errorf("after 5s of 40s: %s, %s", got.Status, got.ProvisioningStep)
	}
	if got := advance(6 * time.Second); got.ProvisioningStep != "resource_allocation" || got.Revision != 2 {
		t.Errorf("after 11s of 40s: %s at revision %d", got.ProvisioningStep, got.Revision)
	}
	// 31s: two steps at once, both recorded.
	if got := advance(20 * time.Second); got.ProvisioningStep != "configuration" || got.Status != api.StatusProvisioning {
		t.Errorf("after 31s of 40s: %s, %s", got.Status, got.ProvisioningStep)
	}
	tn = advance(10 * time.Second)
	if tn.Status != api.StatusActive || tn.ProvisioningStep != "activation" || tn.Revision != 4 {
		t.Errorf("after 41s of 40s: %s at %s, revision %d", tn.Status, tn.ProvisioningStep, tn.Revision)
	}
	want := []string{"request@1", "resource_allocation@2", "environment_setup@3", "configuration@3", "activation@4"}
	if got := steps(); !slices.Equal(got, want) {
		t.Errorf("provisioning events %v, want %v", got, want)
	}
	if got := advance(time.Hour); got.Revision != 4 || len(steps()) != len(want) {
		t.Errorf("an active tenant moved on: revision %d, events %v", got.Revision, steps())
	}
	for _, e := range auditOf(t, ts, "acme", "&object_kind=tenant") {
		if strings.HasPrefix(e.Action, "tenant.provisioning.") && e.Actor != "tenancyd" {
			t.Errorf("%s by %q, want tenancyd", e.Action, e.Actor)
		}
	}
}

// TestNULInStringsIsRefused checks that a NUL escape in any string is a 400,
// not a database error.
func TestNULInStringsIsRefused(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	r := ts.call(t, ts.admin, "POST", "/v1/tenants", `{"slug":"acme","display_name":"a\u0000b","region":"us-east"}`)
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "NUL") {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
}

// TestAuditOfAReusedSlugStartsAfresh checks that a tenant created under the
// slug of a deleted one cannot read the old tenant's audit log.
func TestAuditOfAReusedSlugStartsAfresh(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme", map[string]any{"display_name": "Old customer"})
	ts.mustCall(t, http.StatusOK, ts.admin, "DELETE", "/v1/tenants/acme", nil)
	ts.createTenant(t, "acme")
	var events api.List[api.AuditEvent]
	ts.mustCall(t, http.StatusOK, ts.token(t, "acme", api.RoleTenantViewer), "GET", "/v1/tenants/acme/audit-events", nil).json(t, &events)
	if len(events.Items) == 0 || events.Items[0].Action != "tenant.create" {
		t.Fatalf("the new tenant's log does not start with its creation: %+v", events.Items)
	}
	for _, e := range events.Items {
		if e.Action == "tenant.update" || e.Action == "tenant.delete" {
			t.Errorf("the new tenant sees the old one's event %+v", e)
		}
	}
}

// TestIdempotencyRecordsExpire checks that a key is honoured within the TTL
// and forgotten after it.
func TestIdempotencyRecordsExpire(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ts := newTestServer(t, func(c *Config) {
		c.Now = func() time.Time { return now }
		c.IdempotencyTTL = time.Hour
	})
	body := map[string]any{"slug": "acme", "display_name": "Acme", "region": "us-east"}
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants", body, api.HeaderIdempotencyKey, "k")
	if err := ts.srv.pruneIdempotency(t.Context()); err != nil {
		t.Fatal(err)
	}
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants", body, api.HeaderIdempotencyKey, "k")
	now = now.Add(2 * time.Hour)
	if err := ts.srv.pruneIdempotency(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Forgotten: the same request now runs again, and meets the tenant it made.
	ts.mustCall(t, http.StatusConflict, ts.admin, "POST", "/v1/tenants", body, api.HeaderIdempotencyKey, "k")
}

// TestTenantDomainIsPlatformAdminOnly checks that only a platform admin
// sets, changes or removes a tenant's domain: a tenant admin gets 403
// naming the field, whether or not another tenant uses the domain, so that
// the answer cannot tell which domains are taken.
func TestTenantDomainIsPlatformAdminOnly(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants",
		map[string]any{"slug": "bravo", "display_name": "Bravo", "region": "us-east", "domain": "bravo.example.com"})
	admin := ts.token(t, "acme", api.RoleTenantAdmin)
	const path = "/v1/tenants/acme"

	taken := ts.call(t, admin, "PATCH", path, map[string]any{"domain": "bravo.example.com"})
	free := ts.call(t, admin, "PATCH", path, map[string]any{"domain": "free.example.com"})
	for _, r := range []response{taken, free} {
		expectError(t, r, http.StatusForbidden, "domain", "needs a platform_admin token")
	}
	if a, b := taken.apiError(t).Message, free.apiError(t).Message; a != b {
		t.Errorf("a taken and a free domain get different answers, which tells the domains apart:\n%s\n%s", a, b)
	}

	// The platform admin sets it (and is told when it is taken).
	expectError(t, ts.call(t, ts.admin, "PATCH", path, map[string]any{"domain": "bravo.example.com"}), http.StatusConflict, "domain", "already used")
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", path, map[string]any{"domain": "acme.example.com"})
	// The tenant admin may not remove or change it...
	for _, v := range []any{nil, "acme.example.org"} {
		expectError(t, ts.call(t, admin, "PATCH", path, map[string]any{"domain": v}), http.StatusForbidden, "domain", "platform_admin")
	}
	// ...but patches everything else, and may send the domain it has.
	ts.mustCall(t, http.StatusOK, admin, "PATCH", path, map[string]any{"display_name": "Acme", "domain": "acme.example.com"})
	var tn api.Tenant
	ts.mustCall(t, http.StatusOK, admin, "GET", path, nil).json(t, &tn)
	if tn.Domain == nil || *tn.Domain != "acme.example.com" || tn.DisplayName != "Acme" {
		t.Errorf("tenant %+v", tn)
	}
}
