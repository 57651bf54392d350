package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

// rbEnvironment stores an environment straight in the store, so these tests
// do not depend on the environment routes.
func (ts *testServer) rbEnvironment(t testing.TB, tenant, name string) {
	t.Helper()
	err := ts.store.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		e := api.Environment{EnvironmentSpec: api.EnvironmentSpec{Name: name, Type: api.EnvStaging}, TenantID: tenant, ID: tenant + "/" + name, Status: api.StatusActive}
		_, err := createObject[api.Environment](ctx, tx, tenant, api.KindEnvironment, name, e)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// rbBinding creates a role binding with the platform-admin token.
func (ts *testServer) rbBinding(t testing.TB, tenant, userID, role string, env *string) api.RoleBinding {
	t.Helper()
	var b api.RoleBinding
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/"+tenant+"/role-bindings",
		api.RoleBindingSpec{UserID: userID, Role: role, Environment: env}).json(t, &b)
	return b
}

func (ts *testServer) rbBindings(t testing.TB, tenant, query string) []api.RoleBinding {
	t.Helper()
	var list api.List[api.RoleBinding]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/"+tenant+"/role-bindings"+query, nil).json(t, &list)
	return list.Items
}

func TestRoleBindingLifecycle(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ts.rbEnvironment(t, "acme", "staging")
	alice := ts.rbUser(t, "acme", "alice@example.com")
	bob := ts.rbUser(t, "acme", "bob@example.com")

	staging := "staging"
	b := ts.rbBinding(t, "acme", alice.UserID, api.RoleTenantUser, &staging)
	if !strings.HasPrefix(b.BindingID, "rb_") || b.ID != "acme/"+b.BindingID || b.TenantID != "acme" || b.Revision != 1 ||
		b.Environment == nil || *b.Environment != "staging" {
		t.Fatalf("created %+v", b)
	}
	ts.rbBinding(t, "acme", bob.UserID, api.RoleTenantViewer, nil)

	r := ts.mustCall(t, http.StatusOK, ts.token(t, "acme", api.RoleTenantViewer), "GET", "/v1/tenants/acme/role-bindings/"+b.BindingID, nil)
	if r.header.Get("ETag") != `"1"` {
		t.Errorf("ETag %q", r.header.Get("ETag"))
	}
	if got := ts.rbBindings(t, "acme", "?user_id="+alice.UserID); len(got) != 1 || got[0].BindingID != b.BindingID {
		t.Errorf("bindings of alice: %+v", got)
	}
	if got := ts.rbBindings(t, "acme", "?role=tenant_viewer"); len(got) != 1 || got[0].UserID != bob.UserID {
		t.Errorf("viewer bindings: %+v", got)
	}
	wantError(t, ts.call(t, ts.admin, "GET", "/v1/tenants/acme/role-bindings?role=owner", nil), http.StatusBadRequest, "role")

	// Widen the binding to every environment and raise the role.
	var patched api.RoleBinding
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme/role-bindings/"+b.BindingID,
		`{"role":"tenant_admin","environment":null}`, "If-Match", `"1"`).json(t, &patched)
	if patched.Role != api.RoleTenantAdmin || patched.Environment != nil || patched.Revision != 2 || patched.BindingID != b.BindingID {
		t.Errorf("patched %+v", patched)
	}
	wantError(t, ts.call(t, ts.admin, "PATCH", "/v1/tenants/acme/role-bindings/"+b.BindingID, `{"user_id":"`+bob.UserID+`"}`),
		http.StatusUnprocessableEntity, "user_id", "immutable")
	wantError(t, ts.call(t, ts.admin, "PATCH", "/v1/tenants/acme/role-bindings/"+b.BindingID, `{"role":"tenant_user"}`, "If-Match", `"1"`),
		http.StatusPreconditionFailed, "")

	// Alice is now the only tenant-wide admin; a second one lets her go.
	ts.rbBinding(t, "acme", bob.UserID, api.RoleTenantAdmin, nil)
	ts.mustCall(t, http.StatusNoContent, ts.admin, "DELETE", "/v1/tenants/acme/role-bindings/"+b.BindingID, nil)
	ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/acme/role-bindings/"+b.BindingID, nil)

	var actions []string
	for _, e := range ts.rbAudit(t, "acme", api.KindRoleBinding) {
		if e.ObjectKey == b.BindingID {
			actions = append(actions, e.Action)
		}
	}
	if strings.Join(actions, " ") != "role_binding.create role_binding.update role_binding.delete" {
		t.Errorf("audit of %s: %q", b.BindingID, actions)
	}
}

func TestRoleBindingValidation(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ts.createTenant(t, "other")
	alice := ts.rbUser(t, "acme", "alice@example.com")
	stranger := ts.rbUser(t, "other", "stranger@example.com")
	post := func(body any) response { return ts.call(t, ts.admin, "POST", "/v1/tenants/acme/role-bindings", body) }
	nowhere := "nowhere"

	wantError(t, post(api.RoleBindingSpec{Role: api.RoleTenantUser}), http.StatusUnprocessableEntity, "user_id", "required")
	wantError(t, post(api.RoleBindingSpec{UserID: "usr_missing", Role: api.RoleTenantUser}), http.StatusUnprocessableEntity, "user_id", `"usr_missing" does not exist`)
	wantError(t, post(api.RoleBindingSpec{UserID: stranger.UserID, Role: api.RoleTenantUser}), http.StatusUnprocessableEntity, "user_id", "does not exist in tenant \"acme\"")
	wantError(t, post(api.RoleBindingSpec{UserID: alice.UserID, Role: "owner"}), http.StatusUnprocessableEntity, "role", `"owner"`, `"tenant_admin"`)
	wantError(t, post(api.RoleBindingSpec{UserID: alice.UserID, Role: api.RolePlatformAdmin}), http.StatusUnprocessableEntity, "role")
	wantError(t, post(api.RoleBindingSpec{UserID: alice.UserID, Role: api.RoleTenantUser, Environment: &nowhere}), http.StatusUnprocessableEntity, "environment", `"nowhere" does not exist`)
	wantError(t, post(`{"user_id":"`+alice.UserID+`","role":"tenant_user","binding_id":"rb_mine"}`), http.StatusBadRequest, "binding_id", "unknown field")
	wantError(t, ts.call(t, ts.admin, "POST", "/v1/tenants/nope/role-bindings", api.RoleBindingSpec{UserID: alice.UserID, Role: api.RoleTenantUser}), http.StatusNotFound, "")
	wantError(t, ts.call(t, ts.token(t, "other", api.RoleTenantAdmin), "GET", "/v1/tenants/acme/role-bindings", nil), http.StatusNotFound, "")
	if got := ts.rbBindings(t, "acme", ""); len(got) != 0 {
		t.Errorf("refused creates stored %+v", got)
	}
}

func TestRoleBindingOnePerRoleAndEnvironment(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ts.rbEnvironment(t, "acme", "staging")
	ts.rbEnvironment(t, "acme", "production")
	alice := ts.rbUser(t, "acme", "alice@example.com")
	staging, production := "staging", "production"

	first := ts.rbBinding(t, "acme", alice.UserID, api.RoleTenantUser, &staging)
	r := ts.call(t, ts.admin, "POST", "/v1/tenants/acme/role-bindings", api.RoleBindingSpec{UserID: alice.UserID, Role: api.RoleTenantUser, Environment: &staging})
	wantError(t, r, http.StatusConflict, "role", first.BindingID, `environment "staging"`)
	// Another environment, another role, or every environment are other bindings.
	ts.rbBinding(t, "acme", alice.UserID, api.RoleTenantUser, &production)
	ts.rbBinding(t, "acme", alice.UserID, api.RoleTenantViewer, &staging)
	all := ts.rbBinding(t, "acme", alice.UserID, api.RoleTenantUser, nil)
	wantError(t, ts.call(t, ts.admin, "POST", "/v1/tenants/acme/role-bindings", api.RoleBindingSpec{UserID: alice.UserID, Role: api.RoleTenantUser}),
		http.StatusConflict, "role", all.BindingID, "every environment")
	// A PATCH cannot make a duplicate either.
	wantError(t, ts.call(t, ts.admin, "PATCH", "/v1/tenants/acme/role-bindings/"+all.BindingID, `{"environment":"staging"}`),
		http.StatusConflict, "role", first.BindingID)
}

func TestRoleBindingGrantAboveOwnRole(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	alice := ts.rbUser(t, "acme", "alice@example.com")
	bob := ts.rbUser(t, "acme", "bob@example.com")
	admin := ts.token(t, "acme", api.RoleTenantAdmin)
	user := ts.token(t, "acme", api.RoleTenantUser)

	// A tenant_admin may grant every tenant role, tenant_admin included.
	for _, role := range api.TenantRoles {
		ts.mustCall(t, http.StatusCreated, admin, "POST", "/v1/tenants/acme/role-bindings", api.RoleBindingSpec{UserID: alice.UserID, Role: role})
	}
	// A tenant_user may grant nothing, neither above nor below its own role,
	// nor check a grant with a dry run.
	for _, role := range api.TenantRoles {
		for _, q := range []string{"", "?dry_run=true"} {
			r := ts.call(t, user, "POST", "/v1/tenants/acme/role-bindings"+q, api.RoleBindingSpec{UserID: bob.UserID, Role: role})
			wantError(t, r, http.StatusForbidden, "", "has role tenant_user")
		}
	}
	if got := ts.rbBindings(t, "acme", "?user_id="+bob.UserID); len(got) != 0 {
		t.Errorf("tenant_user granted %+v", got)
	}
	// Whatever lets a token through the route, the handler still refuses a
	// grant above the caller's role.
	for _, tc := range []struct {
		role, grant string
		ok          bool
	}{
		{api.RoleTenantUser, api.RoleTenantAdmin, false},
		{api.RoleTenantUser, api.RoleTenantUser, true},
		{api.RoleTenantViewer, api.RoleTenantUser, false},
		{api.RoleTenantAdmin, api.RoleTenantAdmin, true},
		{api.RolePlatformAdmin, api.RoleTenantAdmin, true},
	} {
		err := checkGrant(&principal{Name: "t", Role: tc.role}, tc.grant, "grant")
		if (err == nil) != tc.ok {
			t.Errorf("%s granting %s: %v", tc.role, tc.grant, err)
		}
		if err != nil && (toAPIError(err).status != http.StatusForbidden || !strings.Contains(err.Error(), "has role "+tc.role+" and cannot grant a "+tc.grant)) {
			t.Errorf("%s granting %s: %v", tc.role, tc.grant, err)
		}
	}
}

func TestRoleBindingKeepsLastTenantAdmin(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	// The rule keeps a tenant from losing its administrator: it binds the
	// tenant's own tokens always, and a platform admin while the tenant is
	// protected from deletion.
	adm := ts.token(t, "acme", api.RoleTenantAdmin)
	ts.rbEnvironment(t, "acme", "staging")
	alice := ts.rbUser(t, "acme", "alice@example.com")
	bob := ts.rbUser(t, "acme", "bob@example.com")
	staging := "staging"

	// A tenant without a tenant-wide admin is fine: bindings come and go.
	scoped := ts.rbBinding(t, "acme", bob.UserID, api.RoleTenantAdmin, &staging)
	viewer := ts.rbBinding(t, "acme", bob.UserID, api.RoleTenantViewer, nil)
	ts.mustCall(t, http.StatusNoContent, ts.admin, "DELETE", "/v1/tenants/acme/role-bindings/"+viewer.BindingID, nil)

	last := ts.rbBinding(t, "acme", alice.UserID, api.RoleTenantAdmin, nil)
	path := "/v1/tenants/acme/role-bindings/" + last.BindingID
	wantError(t, ts.call(t, adm, "DELETE", path, nil), http.StatusConflict, "", "last tenant-wide tenant_admin binding", "without an administrator")
	wantError(t, ts.call(t, adm, "PATCH", path, `{"role":"tenant_user"}`), http.StatusConflict, "", "changing it to role tenant_user in every environment")
	wantError(t, ts.call(t, adm, "PATCH", path, `{"environment":"staging"}`), http.StatusConflict, "", `in environment "staging"`)
	// An environment-scoped admin is no administrator of the tenant.
	ts.mustCall(t, http.StatusNoContent, ts.admin, "DELETE", "/v1/tenants/acme/role-bindings/"+scoped.BindingID, nil)
	// A PATCH that keeps it tenant-wide tenant_admin is no removal.
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", path, `{"role":"tenant_admin"}`)

	bobAdmin := ts.rbBinding(t, "acme", bob.UserID, api.RoleTenantAdmin, nil)
	ts.mustCall(t, http.StatusOK, adm, "PATCH", path, `{"role":"tenant_viewer"}`)
	if got := ts.rbBindings(t, "acme", "?role=tenant_admin"); len(got) != 1 || got[0].UserID != bob.UserID {
		t.Errorf("admins %+v", got)
	}
	// Nor may a platform admin take the last one away while the tenant is
	// protected from deletion; once its protection is off, it may, as
	// destroying a whole customer with Terraform does.
	bobPath := "/v1/tenants/acme/role-bindings/" + bobAdmin.BindingID
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme", `{"deletion_protection":true}`)
	wantError(t, ts.call(t, ts.admin, "DELETE", bobPath, nil), http.StatusConflict, "", "last tenant-wide tenant_admin binding", "deletion_protection is on")
	wantError(t, ts.call(t, ts.admin, "PATCH", bobPath, `{"role":"tenant_user"}`), http.StatusConflict, "", "deletion_protection is on")
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme", `{"deletion_protection":false}`)
	wantError(t, ts.call(t, adm, "DELETE", bobPath, nil), http.StatusConflict, "", "last tenant-wide tenant_admin binding")
	ts.mustCall(t, http.StatusNoContent, ts.admin, "DELETE", bobPath, nil)
}

func TestRoleBindingDryRun(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	alice := ts.rbUser(t, "acme", "alice@example.com")
	spec := api.RoleBindingSpec{UserID: alice.UserID, Role: api.RoleTenantAdmin}

	var b api.RoleBinding
	r := ts.mustCall(t, http.StatusOK, ts.token(t, "acme", api.RoleTenantAdmin), "POST", "/v1/tenants/acme/role-bindings?dry_run=true", spec)
	r.json(t, &b)
	if b.UserID != alice.UserID || b.Role != api.RoleTenantAdmin || b.TenantID != "acme" || b.Revision != 0 {
		t.Errorf("dry run answered %+v", b)
	}
	if got := ts.rbBindings(t, "acme", ""); len(got) != 0 {
		t.Errorf("dry run stored %+v", got)
	}
	if got := ts.rbAudit(t, "acme", api.KindRoleBinding); len(got) != 0 {
		t.Errorf("dry run audited %+v", got)
	}
	// A dry run runs every check.
	wantError(t, ts.call(t, ts.admin, "POST", "/v1/tenants/acme/role-bindings?dry_run=true", api.RoleBindingSpec{UserID: "usr_nobody", Role: api.RoleTenantUser}),
		http.StatusUnprocessableEntity, "user_id")
	ts.rbBinding(t, "acme", alice.UserID, api.RoleTenantAdmin, nil)
	wantError(t, ts.call(t, ts.admin, "POST", "/v1/tenants/acme/role-bindings?dry_run=true", spec), http.StatusConflict, "role")
	wantError(t, ts.call(t, ts.admin, "POST", "/v1/tenants/acme/role-bindings?dry_run=1", spec), http.StatusBadRequest, "dry_run")
}
