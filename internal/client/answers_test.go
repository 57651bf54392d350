package client_test

import (
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

// TestEmptyAnswerIsAnError answers 200 (and 204) without a body where an
// object is expected: every read and write says so with ErrEmptyAnswer
// instead of handing the caller a nil object (the provider dereferenced it
// and crashed); a delete, which has nothing to answer, is fine with it.
func TestEmptyAnswerIsAnError(t *testing.T) {
	for _, answer := range []struct {
		name   string
		status int
		body   string
	}{{"200 without a body", 200, ""}, {"200 with whitespace", 200, " \n"}, {"204", 204, ""}} {
		t.Run(answer.name, func(t *testing.T) {
			c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(answer.status)
				_, _ = w.Write([]byte(answer.body))
			}))
			ctx := t.Context()
			calls := map[string]func() (any, error){
				"GetTenant":      func() (any, error) { return c.GetTenant(ctx, "acme") },
				"UpdateTenant":   func() (any, error) { return c.UpdateTenant(ctx, "acme", json.RawMessage(`{}`), 1) },
				"CreateTenant":   func() (any, error) { return c.CreateTenant(ctx, api.TenantSpec{Slug: "acme"}) },
				"GetEnvironment": func() (any, error) { return c.GetEnvironment(ctx, "acme", "staging") },
				"GetUser":        func() (any, error) { return c.GetUser(ctx, "acme", "usr_1") },
				"GetRoleBinding": func() (any, error) { return c.GetRoleBinding(ctx, "acme", "rb_1") },
				"GetQuota":       func() (any, error) { return c.GetQuota(ctx, "acme", "") },
				"SetQuota":       func() (any, error) { return c.SetQuota(ctx, "acme", "", api.QuotaSpec{}, 0) },
				"CheckQuota":     func() (any, error) { return c.CheckQuota(ctx, "acme", "", api.QuotaSpec{}) },
				"GetFeatureFlag": func() (any, error) { return c.GetFeatureFlag(ctx, "acme", "f") },
				"GetIntegration": func() (any, error) { return c.GetIntegration(ctx, "acme", "hook") },
				"GetPromotion":   func() (any, error) { return c.GetPromotion(ctx, "acme", "prm_1") },
				"GetUsage":       func() (any, error) { return c.GetUsage(ctx, "acme") },
				"ListTenants":    func() (any, error) { return c.ListTenants(ctx, nil) },
				"ListUsers":      func() (any, error) { return c.ListUsers(ctx, "acme", nil) },
			}
			for name, call := range calls {
				got, err := call()
				if !errors.Is(err, client.ErrEmptyAnswer) || !strings.Contains(err.Error(), "no body where the object was expected") {
					t.Errorf("%s: %v; want ErrEmptyAnswer", name, err)
				}
				if s := fmt.Sprint(got); s != "<nil>" && s != "[]" {
					t.Errorf("%s returned %v with its error", name, got)
				}
			}
			if err := c.DeleteUser(ctx, "acme", "usr_1", 3); err != nil {
				t.Errorf("DeleteUser with an empty answer: %v", err)
			}
		})
	}
}

// TestRedirectsAreNotFollowed answers every status of redirect, to the same
// host over plain HTTP and to another host: the client follows none of
// them, so the token goes nowhere else, and says why in the error.
func TestRedirectsAreNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	var leaked atomic.Value
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		leaked.Store(r.Header.Get("Authorization"))
		writeJSON(w, http.StatusOK, api.Tenant{TenantSpec: api.TenantSpec{Slug: "acme"}})
	}))
	t.Cleanup(target.Close)
	// The endpoint is HTTPS; the redirect points at plain HTTP on the same
	// address family (loopback), which Go's client would follow with the
	// Authorization header, since only the host is compared.
	for _, status := range []int{301, 302, 303, 307, 308} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			front := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target.URL+r.URL.Path+"?token="+testToken, status)
			}))
			t.Cleanup(front.Close)
			caFile := filepath.Join(t.TempDir(), "ca.pem")
			if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: front.Certificate().Raw}), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := client.New(client.Config{Endpoint: front.URL, Token: testToken, CACertFile: caFile, MaxRetries: 2,
				RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.GetTenant(t.Context(), "acme")
			if !errors.Is(err, client.ErrRedirect) || got != nil {
				t.Fatalf("GetTenant = %v, %v; want ErrRedirect", got, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, fmt.Sprintf("answered %d", status)) || !strings.Contains(msg, target.URL) || !strings.Contains(msg, "set endpoint") {
				t.Errorf("error %q does not say where the redirect pointed and what to do", msg)
			}
			if strings.Contains(msg, testToken) {
				t.Errorf("error %q holds the token", msg)
			}
			if _, err := c.CreateTenant(t.Context(), api.TenantSpec{Slug: "acme"}); !errors.Is(err, client.ErrRedirect) {
				t.Errorf("CreateTenant: %v; want ErrRedirect", err)
			}
		})
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests (Authorization %q); want none", n, leaked.Load())
	}
}

// TestAnswerAboutAnotherObjectIsRefused answers requests about acme with
// objects of another tenant, or of another key, as a confused or hostile
// proxy might: every call fails with a *WrongObjectError naming the field,
// and returns no object that could reach the state.
func TestAnswerAboutAnotherObjectIsRefused(t *testing.T) {
	var answer atomic.Pointer[any]
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, *answer.Load())
	}))
	ctx := t.Context()
	cases := []struct {
		name        string
		answer      any
		call        func() (any, error)
		field, want string
	}{
		{"tenant slug", api.Tenant{TenantSpec: api.TenantSpec{Slug: "victim"}, ID: "victim"},
			func() (any, error) { return c.GetTenant(ctx, "acme") }, "slug", "acme"},
		{"updated tenant", api.Tenant{TenantSpec: api.TenantSpec{Slug: "victim"}},
			func() (any, error) { return c.UpdateTenant(ctx, "acme", json.RawMessage(`{}`), 0) }, "slug", "acme"},
		{"environment of another tenant", api.Environment{EnvironmentSpec: api.EnvironmentSpec{Name: "staging"}, TenantID: "victim"},
			func() (any, error) { return c.GetEnvironment(ctx, "acme", "staging") }, "tenant_id", "acme"},
		{"another environment", api.Environment{EnvironmentSpec: api.EnvironmentSpec{Name: "production"}, TenantID: "acme"},
			func() (any, error) { return c.GetEnvironment(ctx, "acme", "staging") }, "name", "staging"},
		{"another user", api.User{UserID: "usr_2", TenantID: "acme"},
			func() (any, error) { return c.GetUser(ctx, "acme", "usr_1") }, "user_id", "usr_1"},
		{"another binding", api.RoleBinding{BindingID: "rb_2", TenantID: "acme"},
			func() (any, error) { return c.GetRoleBinding(ctx, "acme", "rb_1") }, "binding_id", "rb_1"},
		{"an environment quota for the tenant quota", api.Quota{TenantID: "acme", Environment: new("production")},
			func() (any, error) { return c.GetQuota(ctx, "acme", "") }, "environment", ""},
		{"another flag", api.FeatureFlag{FeatureFlagSpec: api.FeatureFlagSpec{Key: "other"}, TenantID: "acme"},
			func() (any, error) { return c.GetFeatureFlag(ctx, "acme", "new-billing") }, "key", "new-billing"},
		{"another integration", api.Integration{Name: "other", TenantID: "acme"},
			func() (any, error) { return c.GetIntegration(ctx, "acme", "hook") }, "name", "hook"},
		{"a list holding another tenant's user", api.List[api.User]{Items: []api.User{{UserID: "usr_1", TenantID: "acme"}, {UserID: "usr_9", TenantID: "victim"}}},
			func() (any, error) { return c.ListUsers(ctx, "acme", nil) }, "tenant_id", "acme"},
		{"a token of another role", api.Token{ID: "tok_1", Name: "ci", Role: api.RolePlatformAdmin},
			func() (any, error) {
				return c.CreateToken(ctx, api.TokenRequest{Name: "ci", Tenant: "acme", Role: api.RoleTenantViewer})
			}, "role", api.RoleTenantViewer},
	}
	for _, tc := range cases {
		answer.Store(&tc.answer)
		got, err := tc.call()
		var wrong *client.WrongObjectError
		if !errors.As(err, &wrong) || !errors.Is(err, client.ErrWrongObject) {
			t.Errorf("%s: %v; want a *WrongObjectError", tc.name, err)
			continue
		}
		if wrong.Field != tc.field || wrong.Want != tc.want || !strings.Contains(err.Error(), "proxy or server") {
			t.Errorf("%s: %+v (%v); want field %q, wanted %q", tc.name, wrong, err, tc.field, tc.want)
		}
		if s := fmt.Sprint(got); s != "<nil>" && s != "[]" {
			t.Errorf("%s returned %v with its error", tc.name, got)
		}
	}
}
