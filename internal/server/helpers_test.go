package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
)

// testServer is a tenancyd over a fresh SQLite file, served by httptest.
type testServer struct {
	*httptest.Server
	srv   *Server
	store store.Store
	admin string // a platform-admin token
}

func newTestServer(t testing.TB, cfg ...func(*Config)) *testServer {
	t.Helper()
	st, err := store.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	admin := "tny_test_admin_0123456789"
	if _, err := Bootstrap(t.Context(), st, admin); err != nil {
		t.Fatal(err)
	}
	c := Config{Store: st}
	for _, f := range cfg {
		f(&c)
	}
	if c.Data == nil {
		c.Data = testPlane(t)
	}
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return &testServer{Server: hs, srv: s, store: st, admin: admin}
}

// testPlane is a tenant data plane of SQLite files in a directory of the test.
func testPlane(t testing.TB) tenantdata.Plane {
	t.Helper()
	p, err := tenantdata.OpenSQLite(filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// withData makes a server use a data plane, as replicas share one.
func withData(p tenantdata.Plane) func(*Config) {
	return func(c *Config) { c.Data = p }
}

// response is an answer as a test sees it.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the answer into v, failing the test when it cannot.
func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// apiError decodes an error answer.
func (r response) apiError(t testing.TB) api.ErrorDetail {
	t.Helper()
	var e api.ErrorBody
	r.json(t, &e)
	return e.Error
}

// call sends a request with a token (none when ""), a body (a string or
// []byte as is, anything else as JSON; nil for none) and extra headers as
// name/value pairs.
func (ts *testServer) call(t testing.TB, token, method, path string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// mustCall is call that fails the test unless the status is want.
func (ts *testServer) mustCall(t testing.TB, want int, token, method, path string, body any, headers ...string) response {
	t.Helper()
	r := ts.call(t, token, method, path, body, headers...)
	if r.status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

// createTenant makes an active tenant (the test server provisions at once).
func (ts *testServer) createTenant(t testing.TB, slug string) api.Tenant {
	t.Helper()
	var tn api.Tenant
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants",
		map[string]any{"slug": slug, "display_name": slug, "region": "us-east", "deletion_protection": false}).json(t, &tn)
	return tn
}

// token mints a token for a tenant and role with the platform-admin token.
func (ts *testServer) token(t testing.TB, tenant, role string) string {
	t.Helper()
	var tok api.Token
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tokens",
		api.TokenRequest{Name: role + "@" + tenant, Tenant: tenant, Role: role, TTLSeconds: int64(time.Hour / time.Second)}).json(t, &tok)
	return tok.Token
}
