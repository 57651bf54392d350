package server

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

func TestCredentials(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	ts := newTestServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	e := withEnvironment(t, ts, "acme", "staging", api.EnvStaging)
	admin := ts.token(t, "acme", api.RoleTenantAdmin)
	path := "/v1/tenants/acme/environments/staging/credentials"

	var preview api.Credentials
	ts.mustCall(t, http.StatusOK, admin, "POST", path+"?dry_run=true", api.CredentialsRequest{TTLSeconds: 600}).json(t, &preview)
	if preview.Username != "" || preview.Password != "" || preview.DSN != "" {
		t.Errorf("a dry run minted %+v", preview)
	}

	var c api.Credentials
	r := ts.mustCall(t, http.StatusCreated, admin, "POST", path, api.CredentialsRequest{TTLSeconds: 600}, api.HeaderIdempotencyKey, "mint-1")
	r.json(t, &c)
	if c.Username == "" || !strings.Contains(c.DSN, e.Database.Name) || c.TenantID != "acme" || c.Environment != "staging" {
		t.Errorf("credentials %+v", c)
	}
	if d := time.Until(c.ExpiresAt); d < 9*time.Minute || d > 11*time.Minute {
		t.Errorf("expires in %v; want ten minutes", d)
	}
	// The DSN works as a client would use it (SQLite: the file itself).
	if got := storeQuery(t, strings.TrimSuffix(strings.TrimPrefix(c.DSN, "file:"), "?mode=rw"), "SELECT count(*) FROM "+api.SchemaTable); len(got) != 1 {
		t.Errorf("the DSN %s reads %v", c.DSN, got)
	}
	// A retry is told, not shown the password again.
	expectError(t, ts.call(t, admin, "POST", path, api.CredentialsRequest{TTLSeconds: 600}, api.HeaderIdempotencyKey, "mint-1"),
		http.StatusConflict, "", "shown only then")

	for _, ttl := range []int64{1, 59, 86401, -5} {
		expectError(t, ts.call(t, admin, "POST", path, api.CredentialsRequest{TTLSeconds: ttl}), http.StatusUnprocessableEntity, "ttl_seconds", "")
	}
	var def api.Credentials
	ts.mustCall(t, http.StatusCreated, admin, "POST", path, map[string]any{}).json(t, &def)
	if d := time.Until(def.ExpiresAt); d < 14*time.Minute || d > 16*time.Minute {
		t.Errorf("the default lasts %v; want fifteen minutes", d)
	}

	// Revoking: done once, then gone; names that cannot be logins are 404s.
	ts.mustCall(t, http.StatusNoContent, admin, "DELETE", path+"/"+c.Username, nil)
	for _, name := range []string{"postgres", "sqlite_0", "a b"} {
		ts.mustCall(t, http.StatusNotFound, admin, "DELETE", path+"/"+strings.ReplaceAll(name, " ", "%20"), nil)
	}
	// Lesser roles mint nothing.
	for _, role := range []string{api.RoleTenantUser, api.RoleTenantViewer} {
		ts.mustCall(t, http.StatusForbidden, ts.token(t, "acme", role), "POST", path, api.CredentialsRequest{})
	}

	// Audited, and the password is in no audit event and no log line.
	events := auditOf(t, ts, "acme", "&object_kind=credentials")
	if len(events) != 3 || events[0].Action != "credentials.create" || !strings.Contains(events[0].Detail, c.Username) {
		t.Errorf("audit events %+v", events)
	}
	for _, ev := range events {
		if c.Password != "" && strings.Contains(ev.Detail, c.Password) {
			t.Errorf("an audit event shows the password: %+v", ev)
		}
	}
	if c.Password != "" && strings.Contains(logs.String(), c.Password) {
		t.Error("the log shows the password")
	}
}
