package server

import (
	"context"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

// envSeed stores an object directly, for tests whose subject is not how the
// object was made.
func envSeed[T any, P document[T]](t testing.TB, ts *testServer, tenant, kind, key string, v T) T {
	t.Helper()
	var out T
	err := ts.store.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = createObject[T, P](ctx, tx, tenant, kind, key, v)
		return err
	})
	if err != nil {
		t.Fatalf("seed %s %s/%s: %v", kind, tenant, key, err)
	}
	return out
}

// envCreate makes an environment with the platform-admin token.
func (ts *testServer) envCreate(t testing.TB, tenant, name, typ string) api.Environment {
	t.Helper()
	var e api.Environment
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/"+tenant+"/environments",
		api.EnvironmentSpec{Name: name, Type: typ}).json(t, &e)
	return e
}

// envAudit lists a tenant's audit actions for one object, oldest first.
func (ts *testServer) envAudit(t testing.TB, tenant, kind, key string) []string {
	t.Helper()
	var list api.List[api.AuditEvent]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/"+tenant+"/audit-events?object_kind="+kind+"&object_key="+key, nil).json(t, &list)
	var out []string
	for _, e := range list.Items {
		out = append(out, e.Action)
	}
	return out
}

func envWantError(t testing.TB, r response, status int, field, fragment string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	e := r.apiError(t)
	if e.Field != field || !strings.Contains(e.Message, fragment) {
		t.Errorf("error %+v; want field %q and a message containing %q", e, field, fragment)
	}
}

func TestEnvironmentLifecycle(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	const base = "/v1/tenants/acme/environments"

	var created api.Environment
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", base, map[string]any{
		"name": "staging", "type": "staging", "settings": map[string]string{"log_level": "debug", "db.pool_size": "10"},
	}).json(t, &created)
	if created.ID != "acme/staging" || created.TenantID != "acme" || created.Status != api.StatusActive || created.Revision != 1 ||
		created.Settings["log_level"] != "debug" {
		t.Fatalf("created %+v", created)
	}
	r := ts.mustCall(t, http.StatusOK, ts.admin, "GET", base+"/staging", nil)
	if r.header.Get("ETag") != `"1"` {
		t.Errorf("ETag %q; want \"1\"", r.header.Get("ETag"))
	}

	// Null and empty settings stay apart.
	prod := ts.envCreate(t, "acme", "production", "production")
	if prod.Settings != nil {
		t.Errorf("settings of an environment created without them: %#v; want null", prod.Settings)
	}
	var empty api.Environment
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", base, map[string]any{"name": "dev", "type": "development", "settings": map[string]string{}}).json(t, &empty)
	if empty.Settings == nil || len(empty.Settings) != 0 {
		t.Errorf("settings created empty: %#v; want {}", empty.Settings)
	}

	var list api.List[api.Environment]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", base, nil).json(t, &list)
	if len(list.Items) != 3 || list.Items[0].Name != "dev" || list.Items[1].Name != "production" || list.Items[2].Name != "staging" {
		t.Errorf("list %+v; want dev, production, staging", list.Items)
	}
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", base+"?type=production", nil).json(t, &list)
	if len(list.Items) != 1 || list.Items[0].Name != "production" {
		t.Errorf("list of production environments %+v", list.Items)
	}
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", base+"?page_size=2", nil).json(t, &list)
	if len(list.Items) != 2 || list.NextPageToken == "" {
		t.Errorf("first page %+v; want 2 items and a next page", list)
	}
	envWantError(t, ts.call(t, ts.admin, "GET", base+"?type=qa", nil), http.StatusBadRequest, "type", `"qa" is not allowed`)

	// A merge patch changes only the settings it names; null removes one.
	var patched api.Environment
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", base+"/staging",
		`{"settings":{"log_level":"info","db.pool_size":null,"region":"eu"}}`, "If-Match", `"1"`).json(t, &patched)
	want := map[string]string{"log_level": "info", "region": "eu"}
	if !maps.Equal(patched.Settings, want) || patched.Revision != 2 || patched.Type != "staging" {
		t.Errorf("patched %+v; want settings %v at revision 2", patched, want)
	}
	// A patch that changes nothing makes no new revision.
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", base+"/staging", `{"settings":{"log_level":"info"}}`).json(t, &patched)
	if patched.Revision != 2 {
		t.Errorf("no-op patch made revision %d; want 2", patched.Revision)
	}
	// The type can change in place (tenant_admin or above).
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", base+"/staging", `{"type":"sandbox"}`).json(t, &patched)
	if patched.Type != "sandbox" || patched.Revision != 3 {
		t.Errorf("retyped %+v", patched)
	}
	envWantError(t, ts.call(t, ts.admin, "PATCH", base+"/staging", `{"settings":{"x":"y"}}`, "If-Match", `"1"`),
		http.StatusPreconditionFailed, "", "is at revision 3, not 1")
	envWantError(t, ts.call(t, ts.admin, "PATCH", base+"/staging", `{"name":"qa"}`), http.StatusUnprocessableEntity, "name", "name is immutable")
	envWantError(t, ts.call(t, ts.admin, "PATCH", base+"/staging", `{"status":"gone"}`), http.StatusBadRequest, "status", "unknown field")
	envWantError(t, ts.call(t, ts.admin, "PATCH", base+"/staging", `{"type":"qa"}`), http.StatusUnprocessableEntity, "type", `"qa" is not allowed`)
	envWantError(t, ts.call(t, ts.admin, "PATCH", base+"/staging", `[]`), http.StatusBadRequest, "", "JSON object")

	if got := ts.envAudit(t, "acme", "environment", "staging"); strings.Join(got, ",") != "environment.create,environment.update,environment.update" {
		t.Errorf("audit %v", got)
	}

	ts.mustCall(t, http.StatusNoContent, ts.admin, "DELETE", base+"/staging", nil)
	envWantError(t, ts.call(t, ts.admin, "GET", base+"/staging", nil), http.StatusNotFound, "", `environment "staging" not found`)
	envWantError(t, ts.call(t, ts.admin, "DELETE", base+"/staging", nil), http.StatusNotFound, "", `environment "staging" not found`)
	envWantError(t, ts.call(t, ts.admin, "GET", "/v1/tenants/nope/environments", nil), http.StatusNotFound, "", `tenant "nope" not found`)
}

func TestEnvironmentBadInput(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ts.envCreate(t, "acme", "staging", "staging")
	const base = "/v1/tenants/acme/environments"
	for _, tc := range []struct {
		name         string
		body         any
		status       int
		field, error string
	}{
		{"bad name", map[string]any{"name": "Staging", "type": "staging"}, 422, "name", `"Staging" is not a name`},
		{"empty name", map[string]any{"type": "staging"}, 422, "name", "it is empty"},
		{"bad type", map[string]any{"name": "qa", "type": "qa"}, 422, "type", `use one of "production", "staging", "development", "sandbox"`},
		{"bad settings key", map[string]any{"name": "qa", "type": "sandbox", "settings": map[string]string{"Log Level": "x"}}, 422, "settings", `"Log Level" is not a label key`},
		{"long setting", map[string]any{"name": "qa", "type": "sandbox", "settings": map[string]string{"blob": strings.Repeat("x", 4097)}}, 422, "settings.blob", "4097 bytes long; at most 4096"},
		{"setting of the wrong type", `{"name":"qa","type":"sandbox","settings":{"n":1}}`, 400, "settings", "expected string"},
		{"unknown field", map[string]any{"name": "qa", "type": "sandbox", "status": "active"}, 400, "status", "unknown field"},
		{"taken", map[string]any{"name": "staging", "type": "staging"}, 409, "name", "terraform import tenancy_environment.NAME acme/staging"},
		{"not JSON", "{", 400, "", "truncated JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			envWantError(t, ts.call(t, ts.admin, "POST", base, tc.body), tc.status, tc.field, tc.error)
		})
	}
	settings := map[string]string{}
	for i := range api.MaxSettings + 1 {
		settings["k"+strings.Repeat("x", i%50)+string(rune('a'+i%26))+strings.Repeat("y", i/26)] = "v"
	}
	envWantError(t, ts.call(t, ts.admin, "POST", base, map[string]any{"name": "many", "type": "sandbox", "settings": settings}),
		http.StatusUnprocessableEntity, "settings", "at most 256")

	for _, hostile := range []string{"..%2F..%2Fetc", strings.Repeat("a", 10<<10), "%E2%80%8Bstaging", "'%3B%20DROP%20TABLE%20objects%3B--", "Staging"} {
		for _, method := range []string{"GET", "PATCH", "DELETE"} {
			r := ts.call(t, ts.admin, method, base+"/"+hostile, `{}`)
			if r.status != http.StatusBadRequest || r.apiError(t).Field != "name" {
				t.Errorf("%s %.40s: %d %s; want 400 naming the field", method, hostile, r.status, r.body)
			}
		}
	}
}

func TestEnvironmentDryRun(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	var e api.Environment
	ts.mustCall(t, http.StatusOK, ts.admin, "POST", "/v1/tenants/acme/environments?dry_run=true",
		api.EnvironmentSpec{Name: "qa", Type: "sandbox"}, api.HeaderIdempotencyKey, "k1").json(t, &e)
	if e.ID != "acme/qa" || e.Revision != 0 {
		t.Errorf("dry run answered %+v", e)
	}
	ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/acme/environments/qa", nil)
	if got := ts.envAudit(t, "acme", "environment", "qa"); len(got) != 0 {
		t.Errorf("a dry run left audit events %v", got)
	}
	envWantError(t, ts.call(t, ts.admin, "POST", "/v1/tenants/acme/environments?dry_run=true", api.EnvironmentSpec{Name: "qa", Type: "qa"}),
		http.StatusUnprocessableEntity, "type", "not allowed")
	envWantError(t, ts.call(t, ts.admin, "POST", "/v1/tenants/acme/environments?dry_run=maybe", api.EnvironmentSpec{Name: "qa", Type: "sandbox"}),
		http.StatusBadRequest, "dry_run", `"maybe"`)
	// The same key on the real create is a new request: the dry run kept no record.
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/environments",
		api.EnvironmentSpec{Name: "qa", Type: "sandbox"}, api.HeaderIdempotencyKey, "k1")
}

func TestEnvironmentRoles(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ts.createTenant(t, "globex")
	ts.envCreate(t, "acme", "production", "production")
	viewer := ts.token(t, "acme", api.RoleTenantViewer)
	user := ts.token(t, "acme", api.RoleTenantUser)
	admin := ts.token(t, "acme", api.RoleTenantAdmin)
	stranger := ts.token(t, "globex", api.RoleTenantAdmin)
	const base = "/v1/tenants/acme/environments"
	spec := api.EnvironmentSpec{Name: "qa", Type: "sandbox"}

	ts.mustCall(t, http.StatusOK, viewer, "GET", base, nil)
	ts.mustCall(t, http.StatusOK, viewer, "GET", base+"/production", nil)
	ts.mustCall(t, http.StatusForbidden, viewer, "PATCH", base+"/production", `{"settings":{"a":"b"}}`)
	ts.mustCall(t, http.StatusForbidden, viewer, "POST", base, spec)
	ts.mustCall(t, http.StatusForbidden, user, "POST", base, spec)
	// Production changes by a tenant_admin, as promotions into it do.
	envWantError(t, ts.call(t, user, "PATCH", base+"/production", `{"settings":{"a":"b"}}`), http.StatusForbidden, "settings", "only role tenant_admin changes")
	ts.mustCall(t, http.StatusOK, admin, "PATCH", base+"/production", `{"settings":{"a":"b"}}`)
	envWantError(t, ts.call(t, user, "PATCH", base+"/production", `{"type":"sandbox"}`), http.StatusForbidden, "type", "needs role tenant_admin")
	ts.mustCall(t, http.StatusForbidden, user, "DELETE", base+"/production", nil)
	ts.mustCall(t, http.StatusCreated, admin, "POST", base, spec)
	ts.mustCall(t, http.StatusOK, admin, "PATCH", base+"/qa", `{"type":"development"}`)
	ts.mustCall(t, http.StatusNoContent, admin, "DELETE", base+"/qa", nil)
	for _, method := range []string{"GET", "POST", "PATCH", "DELETE"} {
		path := base + "/production"
		if method == "POST" {
			path = base
		}
		envWantError(t, ts.call(t, stranger, method, path, spec), http.StatusNotFound, "", `tenant "acme" not found`)
	}
}

func TestEnvironmentDeleteCascades(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ts.envCreate(t, "acme", "staging", "staging")
	ts.envCreate(t, "acme", "production", "production")
	ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", "/v1/tenants/acme/environments/staging/quota", map[string]any{"cpu_millicores": 1000})
	ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", "/v1/tenants/acme/environments/production/quota", map[string]any{"cpu_millicores": 2000})
	staging, production := "staging", "production"
	envSeed[api.User](t, ts, "acme", api.KindUser, "usr_1", api.User{UserSpec: api.UserSpec{Email: "a@example.com", DisplayName: "A"}, TenantID: "acme", UserID: "usr_1", ID: "acme/usr_1"})
	envSeed[api.RoleBinding](t, ts, "acme", api.KindRoleBinding, "rb_staging", api.RoleBinding{
		RoleBindingSpec: api.RoleBindingSpec{UserID: "usr_1", Role: api.RoleTenantUser, Environment: &staging}, TenantID: "acme", BindingID: "rb_staging", ID: "acme/rb_staging"})
	envSeed[api.RoleBinding](t, ts, "acme", api.KindRoleBinding, "rb_prod", api.RoleBinding{
		RoleBindingSpec: api.RoleBindingSpec{UserID: "usr_1", Role: api.RoleTenantUser, Environment: &production}, TenantID: "acme", BindingID: "rb_prod", ID: "acme/rb_prod"})
	envSeed[api.RoleBinding](t, ts, "acme", api.KindRoleBinding, "rb_all", api.RoleBinding{
		RoleBindingSpec: api.RoleBindingSpec{UserID: "usr_1", Role: api.RoleTenantViewer}, TenantID: "acme", BindingID: "rb_all", ID: "acme/rb_all"})
	envSeed[api.FeatureFlag](t, ts, "acme", api.KindFeatureFlag, "new-billing", api.FeatureFlag{FeatureFlagSpec: api.FeatureFlagSpec{
		Key: "new-billing", Environments: map[string]api.FlagEnvironment{"staging": {Enabled: true, RolloutPercentage: 50}, "production": {}},
	}, TenantID: "acme", ID: "acme/new-billing"})
	envSeed[api.FeatureFlag](t, ts, "acme", api.KindFeatureFlag, "other", api.FeatureFlag{FeatureFlagSpec: api.FeatureFlagSpec{
		Key: "other", Environments: map[string]api.FlagEnvironment{"production": {}},
	}, TenantID: "acme", ID: "acme/other"})

	ts.mustCall(t, http.StatusNoContent, ts.admin, "DELETE", "/v1/tenants/acme/environments/staging", nil)

	err := ts.store.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		for _, gone := range [][2]string{{api.KindQuota, "staging"}, {api.KindRoleBinding, "rb_staging"}, {api.KindEnvironment, "staging"}} {
			if _, err := tx.Get(ctx, "acme", gone[0], gone[1]); err == nil {
				t.Errorf("%s %s survived its environment", gone[0], gone[1])
			}
		}
		for _, kept := range [][2]string{{api.KindQuota, "production"}, {api.KindRoleBinding, "rb_prod"}, {api.KindRoleBinding, "rb_all"}} {
			if _, err := tx.Get(ctx, "acme", kept[0], kept[1]); err != nil {
				t.Errorf("%s %s: %v", kept[0], kept[1], err)
			}
		}
		for key, rev := range map[string]int64{"new-billing": 2, "other": 1} {
			o, err := tx.Get(ctx, "acme", api.KindFeatureFlag, key)
			if err != nil {
				return err
			}
			f, err := fromObject[api.FeatureFlag](o)
			if err != nil {
				return err
			}
			if _, ok := f.Environments["staging"]; ok || len(f.Environments) != 1 || f.Revision != rev {
				t.Errorf("flag %s after the delete: %+v; want only production at revision %d", key, f, rev)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for kind, key := range map[string]string{"quota": "staging", "role_binding": "rb_staging", "feature_flag": "new-billing", "environment": "staging"} {
		got := ts.envAudit(t, "acme", kind, key)
		if len(got) == 0 || !strings.HasSuffix(got[len(got)-1], ".delete") && !strings.HasSuffix(got[len(got)-1], ".update") {
			t.Errorf("audit of %s %s: %v; want the cascade recorded", kind, key, got)
		}
	}
}
