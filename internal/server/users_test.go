package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store/pgtest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
)

// rbUser creates a user through the API with the platform-admin token.
func (ts *testServer) rbUser(t testing.TB, tenant, email string) api.User {
	t.Helper()
	var u api.User
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/"+tenant+"/users",
		api.UserSpec{Email: email, DisplayName: "User " + email}).json(t, &u)
	return u
}

// rbQuota gives a tenant a tenant-wide max_users straight in the store, so
// these tests do not depend on the quota routes.
func (ts *testServer) rbQuota(t testing.TB, tenant string, maxUsers int64) {
	t.Helper()
	err := ts.store.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		q := api.Quota{QuotaSpec: api.QuotaSpec{MaxUsers: &maxUsers}, TenantID: tenant, ID: tenant}
		_, err := createObject[api.Quota](ctx, tx, tenant, api.KindQuota, api.TenantQuotaKey, q)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// rbAudit lists a tenant's audit events of one kind.
func (ts *testServer) rbAudit(t testing.TB, tenant, kind string) []api.AuditEvent {
	t.Helper()
	var list api.List[api.AuditEvent]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/"+tenant+"/audit-events?object_kind="+kind, nil).json(t, &list)
	return list.Items
}

func (ts *testServer) rbUserCount(t testing.TB, tenant string) int {
	t.Helper()
	var list api.List[api.User]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/"+tenant+"/users?page_size=500", nil).json(t, &list)
	return len(list.Items)
}

func wantError(t testing.TB, r response, status int, field string, contains ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	e := r.apiError(t)
	if e.Field != field {
		t.Errorf("field %q, want %q: %s", e.Field, field, r.body)
	}
	for _, c := range contains {
		if !strings.Contains(e.Message, c) {
			t.Errorf("message %q does not contain %q", e.Message, c)
		}
	}
}

func TestUserLifecycle(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")

	u := ts.rbUser(t, "acme", "alice@example.com")
	if !strings.HasPrefix(u.UserID, "usr_") || u.ID != "acme/"+u.UserID || u.TenantID != "acme" || u.Status != api.StatusActive || u.Revision != 1 {
		t.Fatalf("created %+v", u)
	}
	r := ts.mustCall(t, http.StatusOK, ts.token(t, "acme", api.RoleTenantViewer), "GET", "/v1/tenants/acme/users/"+u.UserID, nil)
	if r.header.Get("ETag") != `"1"` {
		t.Errorf("ETag %q", r.header.Get("ETag"))
	}

	var list api.List[api.User]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/users?email=ALICE@example.com", nil).json(t, &list)
	if len(list.Items) != 1 || list.Items[0].UserID != u.UserID {
		t.Errorf("list by email: %+v", list.Items)
	}

	var patched api.User
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme/users/"+u.UserID,
		`{"display_name":"Alice Liddell","email":"alice@wonderland.example"}`, "If-Match", `"1"`).json(t, &patched)
	if patched.DisplayName != "Alice Liddell" || patched.Email != "alice@wonderland.example" || patched.UserID != u.UserID || patched.Revision != 2 {
		t.Errorf("patched %+v", patched)
	}
	r = ts.call(t, ts.admin, "PATCH", "/v1/tenants/acme/users/"+u.UserID, `{"display_name":"Stale"}`, "If-Match", `"1"`)
	wantError(t, r, http.StatusPreconditionFailed, "", "revision 2, not 1")
	wantError(t, ts.call(t, ts.admin, "PATCH", "/v1/tenants/acme/users/"+u.UserID, `{"user_id":"usr_other"}`), http.StatusBadRequest, "user_id")

	ts.mustCall(t, http.StatusNoContent, ts.admin, "DELETE", "/v1/tenants/acme/users/"+u.UserID, nil)
	ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/acme/users/"+u.UserID, nil)
	ts.mustCall(t, http.StatusNotFound, ts.admin, "DELETE", "/v1/tenants/acme/users/"+u.UserID, nil)

	var actions []string
	for _, e := range ts.rbAudit(t, "acme", api.KindUser) {
		actions = append(actions, e.Action+" "+e.Detail)
	}
	want := []string{
		"user.create email alice@example.com",
		"user.update changed: display_name, email",
		"user.delete email alice@wonderland.example, 0 role bindings deleted with it",
	}
	if fmt.Sprint(actions) != fmt.Sprint(want) {
		t.Errorf("audit %q, want %q", actions, want)
	}
}

func TestUserValidation(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ts.createTenant(t, "other")
	post := func(token string, body any) response {
		return ts.call(t, token, "POST", "/v1/tenants/acme/users", body)
	}
	wantError(t, post(ts.admin, api.UserSpec{Email: "not-an-email", DisplayName: "X"}), http.StatusUnprocessableEntity, "email", "not-an-email")
	wantError(t, post(ts.admin, api.UserSpec{Email: "Alice <alice@example.com>", DisplayName: "X"}), http.StatusUnprocessableEntity, "email")
	wantError(t, post(ts.admin, api.UserSpec{Email: "a@example.com", DisplayName: " "}), http.StatusUnprocessableEntity, "display_name", "must not be empty")
	wantError(t, post(ts.admin, api.UserSpec{Email: "a@example.com", DisplayName: strings.Repeat("é", 201)}), http.StatusUnprocessableEntity, "display_name", "201 characters")
	wantError(t, post(ts.admin, `{"email":"a@example.com","display_name":"A","status":"active"}`), http.StatusBadRequest, "status", "unknown field")
	wantError(t, post(ts.admin, `{"email":42}`), http.StatusBadRequest, "email")
	wantError(t, post(ts.token(t, "acme", api.RoleTenantUser), api.UserSpec{Email: "a@example.com", DisplayName: "A"}), http.StatusForbidden, "")
	wantError(t, post(ts.token(t, "other", api.RoleTenantAdmin), api.UserSpec{Email: "a@example.com", DisplayName: "A"}), http.StatusNotFound, "", `tenant "acme" not found`)
	wantError(t, ts.call(t, ts.admin, "POST", "/v1/tenants/nope/users", api.UserSpec{Email: "a@example.com", DisplayName: "A"}), http.StatusNotFound, "")
	for _, id := range []string{"..%2F..%2Fv1%2Ftenants", strings.Repeat("x", 10<<10), "%E2%98%83", "usr_1'%20OR%201=1--"} {
		wantError(t, ts.call(t, ts.admin, "GET", "/v1/tenants/acme/users/"+id, nil), http.StatusNotFound, "")
	}
	if n := ts.rbUserCount(t, "acme"); n != 0 {
		t.Errorf("%d users after refused creates", n)
	}
}

func TestUserEmailUniqueIgnoringCase(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ts.createTenant(t, "other")
	alice := ts.rbUser(t, "acme", "Alice@Example.com")
	bob := ts.rbUser(t, "acme", "bob@example.com")
	ts.rbUser(t, "other", "alice@example.com") // Another tenant may have the same address.

	r := ts.call(t, ts.admin, "POST", "/v1/tenants/acme/users", api.UserSpec{Email: "alice@EXAMPLE.com", DisplayName: "Dup"})
	wantError(t, r, http.StatusConflict, "email", `"alice@EXAMPLE.com"`, alice.UserID, "acme/"+alice.UserID)
	r = ts.call(t, ts.admin, "PATCH", "/v1/tenants/acme/users/"+bob.UserID, `{"email":"alice@example.com"}`)
	wantError(t, r, http.StatusConflict, "email", alice.UserID)
	// A user may change the case of its own address.
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme/users/"+alice.UserID, `{"email":"alice@example.com"}`)
}

func TestUserMaxUsers(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ts.rbQuota(t, "acme", 2)
	ts.rbUser(t, "acme", "a@example.com")
	ts.rbUser(t, "acme", "b@example.com")
	third := api.UserSpec{Email: "c@example.com", DisplayName: "C"}
	wantError(t, ts.call(t, ts.admin, "POST", "/v1/tenants/acme/users", third), http.StatusConflict, "max_users", "has 2 users", "max_users = 2")
	wantError(t, ts.call(t, ts.admin, "POST", "/v1/tenants/acme/users?dry_run=true", third), http.StatusConflict, "max_users", "has 2 users")
	if n := ts.rbUserCount(t, "acme"); n != 2 {
		t.Errorf("%d users, want 2", n)
	}
}

// TestUserMaxUsersConcurrent sends 50 creates at once to a tenant with room
// for 10: the tenant lock makes the quota check and the insert one step.
func TestUserMaxUsersConcurrent(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ts.rbQuota(t, "acme", 10)
	rbCreateConcurrently(t, []*testServer{ts}, 10, 50)
}

// TestUserMaxUsersConcurrentPostgres does the same against two tenancyd
// replicas sharing one PostgreSQL database, where only the database lock
// stands between the replicas.
func TestUserMaxUsersConcurrentPostgres(t *testing.T) {
	t.Parallel()
	dsn := pgtest.URL(t)
	a, b := rbReplica(t, dsn), rbReplica(t, dsn)
	a.createTenant(t, "acme")
	a.rbQuota(t, "acme", 10)
	rbCreateConcurrently(t, []*testServer{a, b}, 10, 50)
}

// rbReplica is a tenancyd with a connection pool of its own on a shared database.
func rbReplica(t testing.TB, dsn string) *testServer {
	t.Helper()
	st, err := store.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	admin := "tny_test_admin_0123456789"
	if _, err := Bootstrap(t.Context(), st, admin); err != nil {
		t.Fatal(err)
	}
	data, err := tenantdata.Open(t.Context(), dsn, "", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = data.Close() })
	srv, err := New(Config{Store: st, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &testServer{Server: hs, store: st, admin: admin}
}

// rbCreateConcurrently sends attempts user creates to tenant acme at once,
// spread over the servers, and checks that exactly limit succeed.
func rbCreateConcurrently(t *testing.T, servers []*testServer, limit, attempts int) {
	t.Helper()
	statuses := make([]int, attempts)
	errs := make([]error, attempts)
	var wg sync.WaitGroup
	for i := range attempts {
		wg.Go(func() {
			ts := servers[i%len(servers)]
			body, _ := json.Marshal(api.UserSpec{Email: fmt.Sprintf("user%d@example.com", i), DisplayName: "Concurrent"})
			req, err := http.NewRequestWithContext(t.Context(), "POST", ts.URL+"/v1/tenants/acme/users", bytes.NewReader(body))
			if err != nil {
				errs[i] = err
				return
			}
			req.Header.Set("Authorization", "Bearer "+ts.admin)
			resp, err := ts.Client().Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			_ = resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	created, refused := 0, 0
	for i, st := range statuses {
		switch {
		case errs[i] != nil:
			t.Errorf("request %d: %v", i, errs[i])
		case st == http.StatusCreated:
			created++
		case st == http.StatusConflict:
			refused++
		default:
			t.Errorf("request %d: status %d", i, st)
		}
	}
	if created != limit || refused != attempts-limit {
		t.Errorf("%d created and %d refused; want %d and %d", created, refused, limit, attempts-limit)
	}
	if n := servers[0].rbUserCount(t, "acme"); n != limit {
		t.Errorf("%d users stored, want %d", n, limit)
	}
	if n := len(servers[0].rbAudit(t, "acme", api.KindUser)); n != limit {
		t.Errorf("%d audit events, want %d", n, limit)
	}
}

func TestUserDryRun(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	var u api.User
	ts.mustCall(t, http.StatusOK, ts.admin, "POST", "/v1/tenants/acme/users?dry_run=true",
		api.UserSpec{Email: "a@example.com", DisplayName: "A"}, api.HeaderIdempotencyKey, "k1").json(t, &u)
	if u.Email != "a@example.com" || u.Status != api.StatusActive || u.Revision != 0 {
		t.Errorf("dry run answered %+v", u)
	}
	if n := ts.rbUserCount(t, "acme"); n != 0 {
		t.Errorf("dry run stored %d users", n)
	}
	if n := len(ts.rbAudit(t, "acme", api.KindUser)); n != 0 {
		t.Errorf("dry run wrote %d audit events", n)
	}
	// The key was not spent on the dry run: the real create goes through.
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/users",
		api.UserSpec{Email: "a@example.com", DisplayName: "A"}, api.HeaderIdempotencyKey, "k1")
	wantError(t, ts.call(t, ts.admin, "POST", "/v1/tenants/acme/users?dry_run=true",
		api.UserSpec{Email: "A@example.com", DisplayName: "A"}), http.StatusConflict, "email")
	wantError(t, ts.call(t, ts.admin, "POST", "/v1/tenants/acme/users?dry_run=yes",
		api.UserSpec{Email: "b@example.com", DisplayName: "B"}), http.StatusBadRequest, "dry_run")
}

func TestUserIdempotentCreate(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	spec := api.UserSpec{Email: "a@example.com", DisplayName: "A"}
	var first, second api.User
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/users", spec, api.HeaderIdempotencyKey, "create-a").json(t, &first)
	r := ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/users", spec, api.HeaderIdempotencyKey, "create-a")
	r.json(t, &second)
	if first.UserID != second.UserID || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry made %s after %s", second.UserID, first.UserID)
	}
	if n := ts.rbUserCount(t, "acme"); n != 1 {
		t.Errorf("%d users, want 1", n)
	}
}

func TestUserDeleteRemovesItsBindings(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ts.rbEnvironment(t, "acme", "staging")
	admin := ts.rbUser(t, "acme", "admin@example.com")
	ts.rbBinding(t, "acme", admin.UserID, api.RoleTenantAdmin, nil)
	u := ts.rbUser(t, "acme", "u@example.com")
	viewer := ts.rbBinding(t, "acme", u.UserID, api.RoleTenantViewer, nil)
	staging := "staging"
	user := ts.rbBinding(t, "acme", u.UserID, api.RoleTenantUser, &staging)

	ts.mustCall(t, http.StatusNoContent, ts.admin, "DELETE", "/v1/tenants/acme/users/"+u.UserID, nil)
	for _, b := range []api.RoleBinding{viewer, user} {
		ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/acme/role-bindings/"+b.BindingID, nil)
	}
	deleted := map[string]string{}
	for _, e := range ts.rbAudit(t, "acme", api.KindRoleBinding) {
		if e.Action == "role_binding.delete" {
			deleted[e.ObjectKey] = e.Detail
		}
	}
	if len(deleted) != 2 || !strings.Contains(deleted[viewer.BindingID], "user "+u.UserID+" deleted") || deleted[user.BindingID] == "" {
		t.Errorf("binding deletions audited: %q", deleted)
	}
	var list api.List[api.RoleBinding]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/role-bindings", nil).json(t, &list)
	if len(list.Items) != 1 || list.Items[0].UserID != admin.UserID {
		t.Errorf("bindings left: %+v", list.Items)
	}
}

func TestUserDeleteKeepsLastAdmin(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	alice := ts.rbUser(t, "acme", "alice@example.com")
	ts.rbBinding(t, "acme", alice.UserID, api.RoleTenantAdmin, nil)
	ts.rbBinding(t, "acme", alice.UserID, api.RoleTenantViewer, nil)

	r := ts.call(t, ts.token(t, "acme", api.RoleTenantAdmin), "DELETE", "/v1/tenants/acme/users/"+alice.UserID, nil)
	wantError(t, r, http.StatusConflict, "", "last tenant-wide tenant_admin binding", "bind another user as tenant_admin")
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/users/"+alice.UserID, nil)
	var list api.List[api.RoleBinding]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/role-bindings", nil).json(t, &list)
	if len(list.Items) != 2 {
		t.Errorf("refused delete left %d bindings, want 2", len(list.Items))
	}

	bob := ts.rbUser(t, "acme", "bob@example.com")
	ts.rbBinding(t, "acme", bob.UserID, api.RoleTenantAdmin, nil)
	ts.mustCall(t, http.StatusNoContent, ts.admin, "DELETE", "/v1/tenants/acme/users/"+alice.UserID, nil)

	// A platform admin is refused too while the tenant is protected, and
	// may once its protection is off: that is taking the tenant down.
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme", `{"deletion_protection":true}`)
	wantError(t, ts.call(t, ts.admin, "DELETE", "/v1/tenants/acme/users/"+bob.UserID, nil), http.StatusConflict, "",
		"last tenant-wide tenant_admin binding", "deletion_protection is on", "set its deletion_protection to false first")
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme", `{"deletion_protection":false}`)
	ts.mustCall(t, http.StatusNoContent, ts.admin, "DELETE", "/v1/tenants/acme/users/"+bob.UserID, nil)
}

// TestUserPatchThatChangesNothingKeepsTheRevision checks that a no-op PATCH
// makes no new revision and no audit event, as for the other objects.
func TestUserPatchThatChangesNothingKeepsTheRevision(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	u := ts.rbUser(t, "acme", "alice@example.com")
	var got api.User
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme/users/"+u.UserID, map[string]any{"email": u.Email}).json(t, &got)
	if got.Revision != u.Revision {
		t.Errorf("a PATCH that changes nothing moved the revision from %d to %d", u.Revision, got.Revision)
	}
}
