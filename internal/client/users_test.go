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

func TestUserCalls(t *testing.T) {
	type call struct{ method, path, query, ifMatch, body string }
	var calls []call
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		calls = append(calls, call{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("If-Match"), string(b)})
		switch r.Method {
		case http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case http.MethodGet:
			if r.URL.Path == "/v1/tenants/acme/users" {
				writeJSON(w, http.StatusOK, api.List[api.User]{Items: []api.User{{UserID: "usr_1", TenantID: "acme"}}})
				return
			}
			writeError(w, http.StatusNotFound, api.CodeNotFound, `user "usr_/x" not found`, "")
		default:
			writeJSON(w, http.StatusCreated, api.User{UserSpec: api.UserSpec{Email: "a@example.com"}, UserID: "usr_1", TenantID: "acme", Meta: api.Meta{Revision: 1}})
		}
	}))
	ctx := t.Context()
	if u, err := c.CreateUser(ctx, "acme", api.UserSpec{Email: "a@example.com", DisplayName: "A"}); err != nil || u.UserID != "usr_1" {
		t.Errorf("CreateUser = %+v, %v", u, err)
	}
	if _, err := c.GetUser(ctx, "acme", "usr_/x"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("GetUser of a missing user: %v; want ErrNotFound", err)
	}
	if got, err := c.ListUsers(ctx, "acme", url.Values{"email": {"a@example.com"}}); err != nil || len(got) != 1 {
		t.Errorf("ListUsers = %+v, %v", got, err)
	}
	if _, err := c.UpdateUser(ctx, "acme", "usr_1", json.RawMessage(`{"display_name":"B"}`), 3); err != nil {
		t.Errorf("UpdateUser: %v", err)
	}
	if err := c.DeleteUser(ctx, "acme", "usr_1", 0); err != nil {
		t.Errorf("DeleteUser: %v", err)
	}
	want := []call{
		{"POST", "/v1/tenants/acme/users", "", "", `{"email":"a@example.com","display_name":"A"}`},
		{"GET", "/v1/tenants/acme/users/usr_%2Fx", "", "", ""},
		{"GET", "/v1/tenants/acme/users", "email=a%40example.com&page_size=500", "", ""},
		{"PATCH", "/v1/tenants/acme/users/usr_1", "", `"3"`, `{"display_name":"B"}`},
		{"DELETE", "/v1/tenants/acme/users/usr_1", "", "", ""},
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
