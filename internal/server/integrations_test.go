package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

// The secrets of these tests: distinctive, so a search for them cannot miss.
const (
	testSecret        = "whsec_FIRST-s3cr3t-value-0001"
	testSecretRotated = "whsec_SECOND-s3cr3t-value-0002"
)

// lockedBuffer collects the server's log lines from concurrent handlers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// secretWatch is a server whose every answer and log line the test can
// search for the secrets.
type secretWatch struct {
	*testServer
	log    *lockedBuffer
	bodies []string
}

func newSecretWatch(t *testing.T) *secretWatch {
	t.Helper()
	log := &lockedBuffer{}
	ts := newTestServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ts.createTenant(t, "acme")
	return &secretWatch{testServer: ts, log: log}
}

// call is testServer.call that remembers the answer.
func (sw *secretWatch) call(t *testing.T, want int, token, method, path string, body any, headers ...string) response {
	t.Helper()
	r := sw.mustCall(t, want, token, method, path, body, headers...)
	sw.bodies = append(sw.bodies, string(r.body))
	return r
}

// assertNoSecret fails if any answer, the log, an audit event or an
// idempotency replay holds a secret.
func (sw *secretWatch) assertNoSecret(t *testing.T) {
	t.Helper()
	var events api.List[api.AuditEvent]
	r := sw.mustCall(t, http.StatusOK, sw.admin, "GET", "/v1/tenants/acme/audit-events?page_size=500", nil)
	r.json(t, &events)
	if len(events.Items) == 0 {
		t.Fatal("no audit events to check")
	}
	places := map[string]string{"the log": sw.log.String(), "the audit log": string(r.body)}
	for i, b := range sw.bodies {
		places[fmt.Sprintf("answer %d", i+1)] = b
	}
	for where, text := range places {
		for _, s := range []string{testSecret, testSecretRotated, "s3cr3t"} {
			if strings.Contains(text, s) {
				t.Errorf("%s contains the secret %q:\n%s", where, s, text)
			}
		}
	}
}

// secretInStore reads the secret the store holds, which the API never shows.
func secretInStore(t *testing.T, ts *testServer, name string) *string {
	t.Helper()
	var secret *string
	err := ts.store.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		o, err := tx.Get(ctx, "acme", api.KindIntegration, name)
		if err != nil {
			return err
		}
		i, err := fromObject[storedIntegration](o)
		secret = i.Plain
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

func webhook(secret any) map[string]any {
	b := map[string]any{"name": "deploys", "kind": "webhook", "config": map[string]any{"url": "https://hooks.example.com/deploys"}}
	if secret != nil {
		b["secret"] = secret
	}
	return b
}

func TestIntegrationSecretIsWriteOnly(t *testing.T) {
	t.Parallel()
	sw := newSecretWatch(t)
	const path = "/v1/tenants/acme/integrations/deploys"

	var i api.Integration
	sw.call(t, http.StatusCreated, sw.admin, "POST", "/v1/tenants/acme/integrations", webhook(testSecret), "Idempotency-Key", "k1").json(t, &i)
	if !i.SecretSet || i.ID != "acme/deploys" || i.Config["url"] != "https://hooks.example.com/deploys" {
		t.Fatalf("created %+v", i)
	}
	// A retried create replays the first answer, which has no secret either.
	replay := sw.call(t, http.StatusCreated, sw.admin, "POST", "/v1/tenants/acme/integrations", webhook(testSecret), "Idempotency-Key", "k1")
	if replay.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry was not replayed")
	}
	if got := secretInStore(t, sw.testServer, "deploys"); got == nil || *got != testSecret {
		t.Fatalf("the store holds secret %v", got)
	}
	sw.call(t, http.StatusOK, sw.admin, "GET", path, nil).json(t, &i)
	if !i.SecretSet {
		t.Errorf("GET says secret_set false")
	}
	sw.call(t, http.StatusOK, sw.admin, "GET", "/v1/tenants/acme/integrations", nil)

	// Refused writes that carry the secret do not echo it.
	sw.call(t, http.StatusConflict, sw.admin, "POST", "/v1/tenants/acme/integrations", webhook(testSecret))
	bad := webhook(testSecret)
	bad["config"] = map[string]any{"url": "http://hooks.example.com"}
	sw.call(t, http.StatusUnprocessableEntity, sw.admin, "POST", "/v1/tenants/acme/integrations", bad)
	sw.call(t, http.StatusUnprocessableEntity, sw.admin, "POST", "/v1/tenants/acme/integrations", webhook(strings.Repeat(testSecret, 200)))
	sw.call(t, http.StatusBadRequest, sw.admin, "POST", "/v1/tenants/acme/integrations", `{"name":"x","secret":"`+testSecret+`","extra":1}`)
	sw.call(t, http.StatusOK, sw.admin, "POST", "/v1/tenants/acme/integrations?dry_run=true",
		map[string]any{"name": "dry", "kind": "slack", "config": map[string]any{"channel": "#ops"}, "secret": testSecret})
	sw.call(t, http.StatusNotFound, sw.admin, "GET", "/v1/tenants/acme/integrations/dry", nil)
	sw.call(t, http.StatusPreconditionFailed, sw.admin, "PATCH", path, `{"secret":"`+testSecretRotated+`"}`, "If-Match", `"7"`)

	// Rotation: the store holds the new secret, the answer still does not.
	sw.call(t, http.StatusOK, sw.admin, "PATCH", path, `{"secret":"`+testSecretRotated+`"}`).json(t, &i)
	if !i.SecretSet || i.Revision != 2 {
		t.Errorf("after rotation %+v", i)
	}
	if got := secretInStore(t, sw.testServer, "deploys"); got == nil || *got != testSecretRotated {
		t.Errorf("after rotation the store holds %v", got)
	}
	// A patch of the config keeps the secret.
	sw.call(t, http.StatusOK, sw.admin, "PATCH", path, `{"config":{"url":"https://hooks.example.com/v2"}}`).json(t, &i)
	if got := secretInStore(t, sw.testServer, "deploys"); !i.SecretSet || got == nil || *got != testSecretRotated {
		t.Errorf("a config patch lost the secret: %+v, %v", i, got)
	}
	// null clears it.
	sw.call(t, http.StatusOK, sw.admin, "PATCH", path, `{"secret":null}`).json(t, &i)
	if i.SecretSet || secretInStore(t, sw.testServer, "deploys") != nil {
		t.Errorf("after clearing %+v", i)
	}

	var events api.List[api.AuditEvent]
	sw.mustCall(t, http.StatusOK, sw.admin, "GET", "/v1/tenants/acme/audit-events?object_kind=integration&object_key=deploys", nil).json(t, &events)
	var got []string
	for _, e := range events.Items {
		got = append(got, e.Action+" "+e.Detail)
	}
	want := []string{
		"integration.create kind webhook, with a secret",
		"integration.update changed: secret",
		"integration.update changed: config.url",
		"integration.update changed: secret (removed)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	sw.assertNoSecret(t)
}

func TestIntegrationInvalidInput(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	withConfig := func(kind string, config map[string]any) map[string]any {
		return map[string]any{"name": "x", "kind": kind, "config": config}
	}
	cases := []struct {
		name   string
		body   any
		status int
		field  string
		want   string
	}{
		{"bad name", map[string]any{"name": "Ops Hook", "kind": "slack", "config": map[string]any{"channel": "#ops"}}, 422, "name", "name:"},
		{"bad kind", withConfig("email", nil), 422, "kind", `use one of "webhook", "oidc", "slack"`},
		{"webhook without url", withConfig("webhook", nil), 422, "config.url", `config.url is required when kind is "webhook", which needs url`},
		{"webhook over http", withConfig("webhook", map[string]any{"url": "http://example.com"}), 422, "config.url", `"https://"`},
		{"oidc without client_id", withConfig("oidc", map[string]any{"issuer_url": "https://id.example.com"}), 422, "config.client_id", "issuer_url, client_id"},
		{"oidc issuer over http", withConfig("oidc", map[string]any{"issuer_url": "http://id.example.com", "client_id": "c"}), 422, "config.issuer_url", "https"},
		{"slack without channel", withConfig("slack", map[string]any{"channel": " "}), 422, "config.channel", "required"},
		{"any _url is https", withConfig("slack", map[string]any{"channel": "#ops", "icon_url": "ftp://x"}), 422, "config.icon_url", "https"},
		{"bad config key", withConfig("slack", map[string]any{"channel": "#ops", "Bad Key": "v"}), 422, "config", `"Bad Key"`},
		{"long config value", withConfig("slack", map[string]any{"channel": strings.Repeat("c", 4097)}), 422, "config.channel", "4097 bytes"},
		{"empty secret", map[string]any{"name": "x", "kind": "slack", "config": map[string]any{"channel": "#ops"}, "secret": ""}, 422, "secret", "or null to remove"},
		{"config value not a string", withConfig("slack", map[string]any{"channel": 5}), 400, "config", "expected string"},
		{"secret_set is not writable", map[string]any{"name": "x", "kind": "slack", "secret_set": true}, 400, "secret_set", "unknown field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := ts.mustCall(t, tc.status, ts.admin, "POST", "/v1/tenants/acme/integrations", tc.body).apiError(t)
			if e.Field != tc.field || !strings.Contains(e.Message, tc.want) {
				t.Errorf("error %+v; want field %q and a message with %q", e, tc.field, tc.want)
			}
		})
	}

	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/integrations",
		map[string]any{"name": "sso", "kind": "oidc", "config": map[string]any{"issuer_url": "https://id.example.com", "client_id": "tenancy"}})
	patches := []struct {
		name, body string
		field      string
	}{
		{"name is immutable", `{"name":"other"}`, "name"},
		{"kind is immutable", `{"kind":"webhook"}`, "kind"},
		{"removing a required key", `{"config":{"client_id":null}}`, "config.client_id"},
	}
	for _, tc := range patches {
		t.Run(tc.name, func(t *testing.T) {
			e := ts.mustCall(t, http.StatusUnprocessableEntity, ts.admin, "PATCH", "/v1/tenants/acme/integrations/sso", tc.body).apiError(t)
			if e.Field != tc.field {
				t.Errorf("error %+v; want field %q", e, tc.field)
			}
		})
	}
	var i api.Integration
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/integrations/sso", nil).json(t, &i)
	if i.Revision != 1 || i.SecretSet {
		t.Errorf("refused patches changed the integration: %+v", i)
	}
	// A no-op patch keeps the revision.
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme/integrations/sso", `{"config":{"client_id":"tenancy"}}`).json(t, &i)
	if i.Revision != 1 {
		t.Errorf("no-op patch moved the revision to %d", i.Revision)
	}
}

func TestIntegrationRolesAndDelete(t *testing.T) {
	t.Parallel()
	sw := newSecretWatch(t)
	sw.createTenant(t, "other")
	viewer := sw.token(t, "acme", api.RoleTenantViewer)
	user := sw.token(t, "acme", api.RoleTenantUser)
	admin := sw.token(t, "acme", api.RoleTenantAdmin)
	stranger := sw.token(t, "other", api.RoleTenantAdmin)
	const path = "/v1/tenants/acme/integrations/deploys"

	sw.call(t, http.StatusForbidden, user, "POST", "/v1/tenants/acme/integrations", webhook(testSecret))
	sw.call(t, http.StatusCreated, admin, "POST", "/v1/tenants/acme/integrations", webhook(testSecret))
	var i api.Integration
	sw.call(t, http.StatusOK, viewer, "GET", path, nil).json(t, &i)
	if !i.SecretSet {
		t.Errorf("viewer sees %+v", i)
	}
	sw.call(t, http.StatusOK, viewer, "GET", "/v1/tenants/acme/integrations", nil)
	sw.call(t, http.StatusForbidden, user, "PATCH", path, `{"secret":null}`)
	sw.call(t, http.StatusForbidden, viewer, "DELETE", path, nil)
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/tenants/acme/integrations"}, {"POST", "/v1/tenants/acme/integrations"},
		{"GET", path}, {"PATCH", path}, {"DELETE", path},
	} {
		e := sw.call(t, http.StatusNotFound, stranger, c.method, c.path, `{"secret":"`+testSecretRotated+`"}`).apiError(t)
		if e.Message != `tenant "acme" not found` {
			t.Errorf("%s %s with another tenant's token: %+v", c.method, c.path, e)
		}
	}
	sw.call(t, http.StatusNoContent, admin, "DELETE", path, nil)
	sw.call(t, http.StatusNotFound, admin, "GET", path, nil)
	sw.call(t, http.StatusNotFound, admin, "PATCH", path, `{"secret":"`+testSecretRotated+`"}`)
	sw.assertNoSecret(t)
}
