package client_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

func TestRoleBindingCalls(t *testing.T) {
	type call struct{ method, path, query, ifMatch, body string }
	var calls []call
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		calls = append(calls, call{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("If-Match"), string(b)})
		switch {
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodGet && r.URL.Path == "/v1/tenants/acme/role-bindings":
			writeJSON(w, http.StatusOK, api.List[api.RoleBinding]{Items: []api.RoleBinding{{BindingID: "rb_1", TenantID: "acme"}}})
		case r.URL.Query().Get("dry_run") == "true":
			writeError(w, http.StatusForbidden, api.CodePermissionDenied, `the token "ci" has role tenant_user`, "")
		default:
			writeJSON(w, http.StatusOK, api.RoleBinding{BindingID: "rb_1", TenantID: "acme", Meta: api.Meta{Revision: 2}})
		}
	}))
	ctx := t.Context()
	spec := api.RoleBindingSpec{UserID: "usr_1", Role: api.RoleTenantAdmin}
	if b, err := c.CreateRoleBinding(ctx, "acme", spec); err != nil || b.BindingID != "rb_1" {
		t.Errorf("CreateRoleBinding = %+v, %v", b, err)
	}
	// The provider checks no binding in a dry run; the generic Create reaches it.
	if _, err := client.Create[api.RoleBinding](ctx, c, "/v1/tenants/acme/role-bindings?dry_run=true", spec); !errors.Is(err, client.ErrPermissionDenied) {
		t.Errorf("Create of a binding in a dry run: %v; want ErrPermissionDenied", err)
	}
	if b, err := c.GetRoleBinding(ctx, "acme", "rb_1"); err != nil || b.Revision != 2 {
		t.Errorf("GetRoleBinding = %+v, %v", b, err)
	}
	if got, err := c.ListRoleBindings(ctx, "acme", url.Values{"user_id": {"usr_1"}}); err != nil || len(got) != 1 {
		t.Errorf("ListRoleBindings = %+v, %v", got, err)
	}
	if _, err := c.UpdateRoleBinding(ctx, "acme", "rb_1", json.RawMessage(`{"role":"tenant_user"}`), 2); err != nil {
		t.Errorf("UpdateRoleBinding: %v", err)
	}
	if err := c.DeleteRoleBinding(ctx, "acme", "rb_1", 3); err != nil {
		t.Errorf("DeleteRoleBinding: %v", err)
	}
	body := `{"user_id":"usr_1","role":"tenant_admin"}`
	want := []call{
		{"POST", "/v1/tenants/acme/role-bindings", "", "", body},
		{"POST", "/v1/tenants/acme/role-bindings", "dry_run=true", "", body},
		{"GET", "/v1/tenants/acme/role-bindings/rb_1", "", "", ""},
		{"GET", "/v1/tenants/acme/role-bindings", "page_size=500&user_id=usr_1", "", ""},
		{"PATCH", "/v1/tenants/acme/role-bindings/rb_1", "", `"2"`, `{"role":"tenant_user"}`},
		{"DELETE", "/v1/tenants/acme/role-bindings/rb_1", "", `"3"`, ""},
	}
	if len(calls) != len(want) {
		t.Fatalf("calls %+v; want %+v", calls, want)
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Errorf("call %d: %+v; want %+v", i, calls[i], want[i])
		}
	}
}
