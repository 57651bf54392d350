package client_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflogtest"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

const testToken = "tk_s3cr3t-value-that-must-never-leak"

// newClient starts srv's handler and returns a client with fast retries.
func newClient(t *testing.T, h http.Handler, opts ...func(*client.Config)) *client.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := client.Config{
		Endpoint: srv.URL, Token: testToken, MaxRetries: 2, UserAgent: "tenancy-test/1.0",
		RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message, field string) {
	writeJSON(w, status, api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: message, Field: field}})
}

// failing answers status for the first n calls, then a tenant.
func failing(n int32, status int, calls *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= n {
			writeError(w, status, "unavailable", "try again", "")
			return
		}
		writeJSON(w, http.StatusOK, api.Tenant{TenantSpec: api.TenantSpec{Slug: "acme"}, Meta: api.Meta{Revision: 1}})
	}
}

func TestRetryThen503Success(t *testing.T) {
	var calls atomic.Int32
	c := newClient(t, failing(2, http.StatusServiceUnavailable, &calls))

	got, err := c.GetTenant(t.Context(), "acme")
	if err != nil {
		t.Fatalf("GetTenant: %v", err)
	}
	if got.Slug != "acme" || calls.Load() != 3 {
		t.Errorf("got slug %q after %d calls; want acme after 3", got.Slug, calls.Load())
	}
}

func TestRetryAfterDroppedConnection(t *testing.T) {
	var calls atomic.Int32
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		writeJSON(w, http.StatusCreated, api.Tenant{TenantSpec: api.TenantSpec{Slug: "acme"}})
	}))

	got, err := c.CreateTenant(t.Context(), api.TenantSpec{Slug: "acme"})
	if err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	if got.Slug != "acme" || calls.Load() != 2 {
		t.Errorf("got slug %q after %d calls; want acme after 2", got.Slug, calls.Load())
	}
}

// TestRetryAfterUnreadableAnswer: a 2xx answer whose body is cut short or
// is not JSON (a proxy in the way) is retried with the same
// Idempotency-Key, so the server can answer from its record; a body that
// stays unreadable is an error after the retries, naming the call.
func TestRetryAfterUnreadableAnswer(t *testing.T) {
	bad := map[string]func(w http.ResponseWriter){
		"truncated": func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", "200")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"slug":"ac`)
		},
		"html": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, "<html><body>Welcome</body></html>")
		},
		"wrong shape": func(w http.ResponseWriter) {
			writeJSON(w, http.StatusCreated, map[string]any{"slug": 42, "labels": map[string]string{"stale": "yes"}})
		},
	}
	for name, answer := range bad {
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int32
			var mu sync.Mutex
			keys := map[string]bool{}
			c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				keys[r.Header.Get(api.HeaderIdempotencyKey)] = true
				mu.Unlock()
				if calls.Add(1) <= 2 {
					answer(w)
					return
				}
				writeJSON(w, http.StatusCreated, api.Tenant{TenantSpec: api.TenantSpec{Slug: "acme"}})
			}))
			got, err := c.CreateTenant(t.Context(), api.TenantSpec{Slug: "acme"})
			if err != nil {
				t.Fatalf("CreateTenant: %v", err)
			}
			if got.Slug != "acme" || len(got.Labels) != 0 || calls.Load() != 3 || len(keys) != 1 {
				t.Errorf("got %+v after %d calls with %d idempotency keys; want acme, no labels, after 3 calls with one key",
					got, calls.Load(), len(keys))
			}
		})
	}
	t.Run("always", func(t *testing.T) {
		var calls atomic.Int32
		c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			calls.Add(1)
			bad["html"](w)
		}))
		_, err := c.GetTenant(t.Context(), "acme")
		if err == nil || !strings.Contains(err.Error(), "GET /v1/tenants/acme") || !strings.Contains(err.Error(), "not the JSON expected") {
			t.Errorf("error %v; want one naming the call and the unreadable answer", err)
		}
		if calls.Load() != 3 {
			t.Errorf("%d calls; want 3 (MaxRetries 2)", calls.Load())
		}
	})
}

func TestRetriedStatusesGiveTheLastAPIError(t *testing.T) {
	for _, status := range []int{429, 500, 502, 503, 504} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			var calls atomic.Int32
			c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := calls.Add(1)
				w.Header().Set("Retry-After", "0")
				w.Header().Set(api.HeaderRequestID, fmt.Sprintf("r-%d", n))
				writeError(w, status, "busy", fmt.Sprintf("attempt %d failed", n), "")
			}))

			_, err := c.GetTenant(t.Context(), "acme")
			var apiErr *client.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v; want an *APIError", err)
			}
			if calls.Load() != 3 || apiErr.Attempts != 3 || apiErr.StatusCode != status {
				t.Errorf("calls %d, Attempts %d, status %d; want 3, 3, %d", calls.Load(), apiErr.Attempts, apiErr.StatusCode, status)
			}
			want := fmt.Sprintf("GET /v1/tenants/acme: %d busy: attempt 3 failed (request id r-3) (after 3 attempts)", status)
			if err.Error() != want {
				t.Errorf("err = %q; want %q", err, want)
			}
		})
	}
}

func TestNotRetried(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 409, 412, 422, 501} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			var calls atomic.Int32
			c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				writeError(w, status, "nope", "no", "")
			}))

			if _, err := c.GetTenant(t.Context(), "acme"); err == nil {
				t.Fatal("GetTenant succeeded; want an error")
			}
			if calls.Load() != 1 {
				t.Errorf("%d calls; want 1", calls.Load())
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	const waitMin, waitMax, maxRetryAfter = 100 * time.Millisecond, 5 * time.Second, 60 * time.Second
	backoff := client.Backoff(maxRetryAfter)
	// answer fakes a response; status 0 is none, as after a transport error.
	answer := func(status int, retryAfter string) *http.Response {
		if status == 0 {
			return nil
		}
		return &http.Response{StatusCode: status, Header: http.Header{"Retry-After": {retryAfter}}, Body: http.NoBody}
	}

	exact := []struct {
		name       string
		status     int
		retryAfter string
		want       time.Duration
	}{
		{"429 delta-seconds honoured", 429, "7", 7 * time.Second},
		{"503 delta-seconds honoured", 503, "2", 2 * time.Second},
		{"delta-seconds capped", 429, "3600", maxRetryAfter},
		{"huge delta-seconds capped", 429, "99999999999999999", maxRetryAfter},
		{"HTTP-date far ahead capped", 429, time.Now().Add(2 * time.Hour).UTC().Format(http.TimeFormat), maxRetryAfter},
		{"HTTP-date in the past waits the minimum", 503, "Fri, 31 Dec 1999 23:59:59 GMT", waitMin},
		{"zero waits the minimum", 429, "0", waitMin},
	}
	for _, tc := range exact {
		t.Run(tc.name, func(t *testing.T) {
			if got := backoff(waitMin, waitMax, 0, answer(tc.status, tc.retryAfter)); got != tc.want { //nolint:bodyclose // A fake without a connection.
				t.Errorf("backoff = %s; want %s", got, tc.want)
			}
		})
	}

	t.Run("HTTP-date honoured", func(t *testing.T) {
		at := time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)
		if got := backoff(waitMin, waitMax, 0, answer(429, at)); got < 28*time.Second || got > 30*time.Second { //nolint:bodyclose // A fake without a connection.
			t.Errorf("backoff = %s; want about 30s", got)
		}
	})

	// Without a usable Retry-After, the wait is jittered within a ceiling
	// that doubles per attempt up to waitMax.
	jittered := []struct {
		name       string
		status     int
		retryAfter string
		attempt    int
		ceiling    time.Duration
	}{
		{"transport error", 0, "", 0, 2 * waitMin},
		{"Retry-After ignored on 500", 500, "30", 1, 4 * waitMin},
		{"unparseable Retry-After", 429, "soon", 2, 8 * waitMin},
		{"negative Retry-After", 503, "-5", 3, 16 * waitMin},
		{"ceiling is waitMax", 0, "", 10, waitMax},
		{"no overflow", 0, "", 200, waitMax},
	}
	for _, tc := range jittered {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[time.Duration]bool{}
			for range 200 {
				got := backoff(waitMin, waitMax, tc.attempt, answer(tc.status, tc.retryAfter)) //nolint:bodyclose // A fake without a connection.
				if got < waitMin || got > tc.ceiling {
					t.Fatalf("backoff = %s; want within [%s, %s]", got, waitMin, tc.ceiling)
				}
				seen[got] = true
			}
			if len(seen) < 2 {
				t.Errorf("200 waits took %d distinct values; want jitter", len(seen))
			}
		})
	}
}

func TestIdempotencyKey(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	var calls atomic.Int32
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get(api.HeaderIdempotencyKey))
		mu.Unlock()
		if calls.Add(1)%3 != 0 { // Two failures before each success.
			writeError(w, http.StatusServiceUnavailable, "unavailable", "later", "")
			return
		}
		writeJSON(w, http.StatusCreated, api.Token{ID: "tok_1", Name: "ci", Role: api.RoleTenantViewer})
	}))

	for range 2 {
		if _, err := c.CreateToken(t.Context(), api.TokenRequest{Name: "ci", Role: api.RoleTenantViewer}); err != nil {
			t.Fatalf("CreateToken: %v", err)
		}
	}
	if len(keys) != 6 {
		t.Fatalf("%d attempts; want 6", len(keys))
	}
	if keys[0] == "" || keys[0] != keys[1] || keys[1] != keys[2] {
		t.Errorf("first call's keys %q; want one non-empty key on every retry", keys[:3])
	}
	if keys[3] != keys[4] || keys[4] != keys[5] {
		t.Errorf("second call's keys %q; want one key on every retry", keys[3:])
	}
	if keys[0] == keys[3] {
		t.Errorf("both calls used key %q; want a new key per call", keys[0])
	}
}

func TestHeaders(t *testing.T) {
	var got http.Header
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		writeJSON(w, http.StatusOK, api.Tenant{TenantSpec: api.TenantSpec{Slug: "acme"}})
	}))

	if _, err := c.GetTenant(t.Context(), "acme"); err != nil {
		t.Fatalf("GetTenant: %v", err)
	}
	want := map[string]string{
		"Authorization":          "Bearer " + testToken,
		"Accept":                 "application/json",
		"User-Agent":             "tenancy-test/1.0",
		api.HeaderIdempotencyKey: "", // Reads carry none.
		"If-Match":               "",
	}
	for k, v := range want {
		if got.Get(k) != v {
			t.Errorf("header %s = %q; want %q", k, got.Get(k), v)
		}
	}
}

func TestTypedErrors(t *testing.T) {
	sentinels := []error{
		client.ErrInvalid, client.ErrUnauthenticated, client.ErrPermissionDenied, client.ErrNotFound,
		client.ErrNoRoute, client.ErrOutOfReach, client.ErrConflict, client.ErrPreconditionFailed, client.ErrRateLimited,
	}
	tests := []struct {
		status int
		code   string
		want   error
	}{
		{400, "code", client.ErrInvalid},
		{401, "code", client.ErrUnauthenticated},
		{403, "code", client.ErrPermissionDenied},
		{404, api.CodeNotFound, client.ErrNotFound},
		// A path the server does not have is never an object that is gone.
		{404, api.CodeNoRoute, client.ErrNoRoute},
		{404, "code", client.ErrNoRoute},
		{409, "code", client.ErrConflict},
		{412, "code", client.ErrPreconditionFailed},
		{422, "code", client.ErrInvalid},
		{429, "code", client.ErrRateLimited},
		{501, "code", nil},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.status, tc.code), func(t *testing.T) {
			c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				writeError(w, tc.status, tc.code, "message", "security_policy.allowed_cidrs[0]")
			}), func(cfg *client.Config) { cfg.MaxRetries = 0 })

			_, err := c.GetTenant(t.Context(), "acme")
			for _, s := range sentinels {
				if got := errors.Is(err, s); got != errors.Is(s, tc.want) {
					t.Errorf("errors.Is(%v, %q) = %t", err, s, got)
				}
			}
			var apiErr *client.APIError
			if !errors.As(err, &apiErr) || apiErr.Field != "security_policy.allowed_cidrs[0]" {
				t.Errorf("errors.As(%v) gave %+v; want the field", err, apiErr)
			}
		})
	}
}

func TestAPIErrorMessage(t *testing.T) {
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusPreconditionFailed, api.ErrorBody{Error: api.ErrorDetail{
			Code: api.CodePreconditionFailed, Message: "revision 3 is stale, current is 4", Field: "x", RequestID: "r-1",
		}})
	}))

	_, err := c.UpdateTenant(t.Context(), "acme", json.RawMessage(`{}`), 3)
	want := `PATCH /v1/tenants/acme: 412 precondition_failed: revision 3 is stale, current is 4 (field "x") (request id r-1)`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v; want %s", err, want)
	}
}

func TestNonJSONErrorBody(t *testing.T) {
	page := "<html>\n<body>" + strings.Repeat("upstream is down ", 40) + "</body></html>"
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(api.HeaderRequestID, "r-9")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, page)
	}), func(cfg *client.Config) { cfg.MaxRetries = 0 })

	_, err := c.GetTenant(t.Context(), "acme")
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v; want an *APIError", err)
	}
	wantStart := "GET /v1/tenants/acme: 502 Bad Gateway: <html> <body>upstream is down upstream"
	if !strings.HasPrefix(err.Error(), wantStart) || !strings.HasSuffix(err.Error(), "… (request id r-9)") {
		t.Errorf("err = %q; want it to start %q and quote the body's start", err, wantStart)
	}
	if n := len(apiErr.Message); n > 210 {
		t.Errorf("message is %d bytes; want about 200", n)
	}
}

func TestContextCancellationStopsRetries(t *testing.T) {
	var calls atomic.Int32
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "later", "")
	}), func(cfg *client.Config) { cfg.RetryWaitMin, cfg.RetryWaitMax = time.Hour, time.Hour })

	ctx, cancel := context.WithCancel(t.Context())
	stop := time.AfterFunc(50*time.Millisecond, cancel)
	defer stop.Stop()
	start := time.Now()
	_, err := c.GetTenant(ctx, "acme")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v; want context.Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second || calls.Load() != 1 {
		t.Errorf("returned after %s and %d calls; want promptly after 1", elapsed, calls.Load())
	}
}

func TestCancelledContextMakesNoCall(t *testing.T) {
	var calls atomic.Int32
	c := newClient(t, failing(0, 0, &calls))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	if _, err := c.GetTenant(ctx, "acme"); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v; want context.Canceled", err)
	}
	if calls.Load() != 0 {
		t.Errorf("%d calls; want 0", calls.Load())
	}
}

func TestTokenInNoError(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		w.Header().Set(api.HeaderRequestID, auth)
		writeError(w, http.StatusUnauthorized, api.CodeUnauthenticated, "bad credentials: "+auth, auth)
	})
	c := newClient(t, echo)
	_, apiErr := c.GetTenant(t.Context(), "acme")

	down := httptest.NewServer(echo)
	down.Close()
	dc, err := client.New(client.Config{Endpoint: down.URL, Token: testToken, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, transportErr := dc.GetTenant(t.Context(), "acme")
	_, configErr := client.New(client.Config{Endpoint: "ftp://" + testToken, Token: testToken})

	for name, err := range map[string]error{"API": apiErr, "transport": transportErr, "config": configErr} {
		if err == nil {
			t.Errorf("%s error is nil", name)
		} else if strings.Contains(fmt.Sprintf("%+v", err), testToken) {
			t.Errorf("%s error %q holds the token", name, err)
		}
	}
	if !errors.Is(apiErr, client.ErrUnauthenticated) {
		t.Errorf("err = %v; want ErrUnauthenticated", apiErr)
	}
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not-pem.txt")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name    string
		cfg     client.Config
		wantErr string
	}{
		{"ok", client.Config{Endpoint: "https://tenancy.example.com/", Token: "t"}, ""},
		{"ok with base path", client.Config{Endpoint: "http://127.0.0.1:8480/api", Token: "t"}, ""},
		{"relative endpoint", client.Config{Endpoint: "tenancy.example.com", Token: "t"}, "not an absolute http(s) URL"},
		{"other scheme", client.Config{Endpoint: "ftp://tenancy.example.com", Token: "t"}, "not an absolute http(s) URL"},
		{"empty endpoint", client.Config{Token: "t"}, "not an absolute http(s) URL"},
		{"query", client.Config{Endpoint: "https://h/?a=b", Token: "t"}, "query or fragment"},
		{"credentials", client.Config{Endpoint: "https://u:p@h", Token: "t"}, "holds credentials"},
		{"no token", client.Config{Endpoint: "https://h"}, "token is empty"},
		{"negative retries", client.Config{Endpoint: "https://h", Token: "t", MaxRetries: -1}, "max retries is -1"},
		{"negative timeout", client.Config{Endpoint: "https://h", Token: "t", RequestTimeout: -time.Second}, "request timeout is -1s"},
		{"short max alone", client.Config{Endpoint: "https://h", Token: "t", RetryWaitMax: 100 * time.Millisecond}, ""},
		{"min above max", client.Config{Endpoint: "https://h", Token: "t", RetryWaitMin: time.Minute, RetryWaitMax: time.Second}, "retry wait min 1m0s is longer"},
		{"missing CA file", client.Config{Endpoint: "https://h", Token: "t", CACertFile: missing}, missing},
		{"CA file without PEM", client.Config{Endpoint: "https://h", Token: "t", CACertFile: notPEM}, notPEM},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.New(tc.cfg)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("New: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("New: %v; want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestCACertFile(t *testing.T) {
	var handshakes atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, api.Tenant{TenantSpec: api.TenantSpec{Slug: "acme"}})
	}))
	srv.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		handshakes.Add(1)
		return nil, nil
	}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // The failed handshake is expected.
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := client.Config{Endpoint: srv.URL, Token: testToken, MaxRetries: 3, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond}

	untrusting, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := untrusting.GetTenant(t.Context(), "acme"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("err = %v; want a certificate error", err)
	}
	if n := handshakes.Load(); n != 1 {
		t.Errorf("%d handshakes; want 1: a certificate error is not retried", n)
	}

	cfg.CACertFile = caFile
	trusting, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := trusting.GetTenant(t.Context(), "acme"); err != nil || got.Slug != "acme" {
		t.Errorf("GetTenant = %+v, %v; want acme", got, err)
	}
}

func TestPathEscape(t *testing.T) {
	tests := map[string][]string{
		"/v1/tenants/acme":           {"v1", "tenants", "acme"},
		"/v1/tenants/a%2Fb":          {"v1", "tenants", "a/b"},
		"/v1/tenants/%2E%2E":         {"v1", "tenants", ".."},
		"/v1/tenants/a%3Fb=c%23d%20": {"v1", "tenants", "a?b=c#d "},
	}
	for want, segments := range tests {
		if got := client.PathEscape(segments...); got != want {
			t.Errorf("PathEscape(%q) = %q; want %q", segments, got, want)
		}
	}
}

func TestMergePatch(t *testing.T) {
	domain := "acme.example.com"
	original := api.TenantSpec{
		Slug: "acme", DisplayName: "Acme", Domain: &domain,
		Labels: map[string]string{"env": "prod", "team": "core"},
	}
	desired := original
	desired.Domain = nil
	desired.DisplayName = "Acme Corp"
	desired.Labels = map[string]string{"env": "prod"}

	patch, err := client.MergePatch(original, desired)
	if err != nil {
		t.Fatalf("MergePatch: %v", err)
	}
	var got, want map[string]any
	if err := json.Unmarshal(patch, &got); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal([]byte(`{"display_name": "Acme Corp", "domain": null, "labels": {"team": null}}`), &want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("patch = %s; want %v", patch, want)
	}

	if _, err := client.MergePatch(original, func() {}); err == nil {
		t.Error("MergePatch of a func succeeded; want an error")
	}
}

func TestLogsEachAttemptWithoutSecrets(t *testing.T) {
	var calls atomic.Int32
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(api.HeaderRequestID, fmt.Sprintf("r-%d", calls.Add(1)))
		if calls.Load() == 1 {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "later", "")
			return
		}
		writeJSON(w, http.StatusCreated, api.Token{ID: "tok_1", Name: "ci", Role: api.RoleTenantViewer, Token: "minted-secret-value"})
	}))
	var out bytes.Buffer
	ctx := tflogtest.RootLogger(t.Context(), &out)

	if _, err := c.CreateToken(ctx, api.TokenRequest{Name: "ci", Role: api.RoleTenantViewer}); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	for _, secret := range []string{testToken, "minted-secret-value", "Authorization"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("log holds %q:\n%s", secret, out.String())
		}
	}
	entries, err := tflogtest.MultilineJSONDecode(&out)
	if err != nil {
		t.Fatal(err)
	}
	var responses []string
	for _, e := range entries {
		if e["@message"] == "tenancy API response" {
			responses = append(responses, fmt.Sprintf("%v %v attempt %v: %v %v", e["method"], e["path"], e["attempt"], e["status"], e["request_id"]))
		}
	}
	want := []string{"POST /v1/tokens attempt 1: 503 r-1", "POST /v1/tokens attempt 2: 201 r-2"}
	if fmt.Sprint(responses) != fmt.Sprint(want) {
		t.Errorf("logged responses %q; want %q", responses, want)
	}
}

// TestNotFoundOutsideTheTokensReach checks that, once Identify has learned
// that the token belongs to one tenant, a 404 about another tenant is an
// *OutOfReachError and never ErrNotFound, so that nobody takes an object
// the token cannot see for one that is gone; a 404 within the token's own
// tenant, and any 404 for a platform token, stays ErrNotFound.
func TestNotFoundOutsideTheTokensReach(t *testing.T) {
	for _, tc := range []struct {
		tokenTenant, path string
		want              error
	}{
		{"globex", "acme", client.ErrOutOfReach},
		{"globex", "globex", client.ErrNotFound},
		{"", "acme", client.ErrNotFound},
	} {
		t.Run(tc.tokenTenant+"->"+tc.path, func(t *testing.T) {
			role := api.RoleTenantAdmin
			if tc.tokenTenant == "" {
				role = api.RolePlatformAdmin
			}
			c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v1/tokens/self" {
					writeJSON(w, http.StatusOK, api.TokenInfo{ID: "tok_1", Name: "ci", Tenant: tc.tokenTenant, Role: role})
					return
				}
				writeError(w, http.StatusNotFound, api.CodeNotFound, "tenant not found", "")
			}), func(cfg *client.Config) { cfg.MaxRetries = 0 })
			info, err := c.Identify(t.Context())
			if err != nil || info.Tenant != tc.tokenTenant || info.Role != role {
				t.Fatalf("Identify: %+v, %v", info, err)
			}
			_, err = c.GetUser(t.Context(), tc.path, "usr_1")
			if !errors.Is(err, tc.want) {
				t.Fatalf("GetUser in %s with a token of %q: %v; want %v", tc.path, tc.tokenTenant, err, tc.want)
			}
			if errors.Is(tc.want, client.ErrOutOfReach) {
				if errors.Is(err, client.ErrNotFound) {
					t.Errorf("%v also matches ErrNotFound", err)
				}
				for _, part := range []string{`tenant "acme" is out of reach of the token "ci"`, `a tenant_admin token of tenant "globex"`, "platform_admin"} {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("the error does not say %q: %v", part, err)
					}
				}
			}
		})
	}
}

func TestIdentifyAtTheWrongPath(t *testing.T) {
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, api.CodeNoRoute, "no route for GET "+r.URL.Path, "")
	}), func(cfg *client.Config) { cfg.MaxRetries = 0 })
	if _, err := c.Identify(t.Context()); !errors.Is(err, client.ErrNoRoute) || errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Identify against a path the server does not have: %v; want ErrNoRoute only", err)
	}
}
