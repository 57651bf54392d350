package client_test

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

func TestTenantDataCalls(t *testing.T) {
	type seen struct{ method, path, query, ifMatch, body string }
	var got []seen
	var keys []string
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("If-Match"), string(b)})
		keys = append(keys, r.Header.Get(api.HeaderIdempotencyKey))
		p := r.URL.Path
		switch {
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case strings.HasSuffix(p, "/schema") && strings.Contains(string(b), "DROP"):
			writeError(w, http.StatusUnprocessableEntity, api.CodeInvalid,
				"migration 1 is applied with checksum ab12; applied migrations are immutable: add a new version instead", "migrations.1")
		case strings.HasSuffix(p, "/schema"):
			writeJSON(w, http.StatusOK, api.Schema{ID: "acme/staging", Pending: []string{"2"}, Meta: api.Meta{Revision: 3}})
		case strings.HasSuffix(p, "/credentials"):
			writeJSON(w, http.StatusCreated, api.Credentials{Username: "u1", Password: "pw", DSN: "postgres://u1@/db"})
		case strings.HasSuffix(p, "/restore"):
			writeJSON(w, http.StatusCreated, api.RestoreResult{BackupID: "bkp_1", TargetTenant: "beta"})
		case r.Method == http.MethodGet && (p == "/v1/tenants/acme/backups" || p == "/v1/backups"):
			writeJSON(w, http.StatusOK, api.List[api.Backup]{Items: []api.Backup{{ID: "bkp_1"}}})
		default:
			writeJSON(w, http.StatusCreated, api.Backup{ID: "bkp_1", Tenant: "acme", SizeBytes: 10})
		}
	}))
	ctx := t.Context()
	spec := api.SchemaSpec{Migrations: map[string]string{"1": "CREATE TABLE t (id int)", "2": "ALTER TABLE t ADD COLUMN n text"}}

	if s, err := c.GetSchema(ctx, "acme", "staging"); err != nil || s.Revision != 3 {
		t.Errorf("GetSchema = %+v, %v", s, err)
	}
	if s, err := c.SetSchema(ctx, "acme", "staging", spec, 3, 90*time.Second); err != nil || s.ID != "acme/staging" {
		t.Errorf("SetSchema = %+v, %v", s, err)
	}
	if s, err := c.CheckSchema(ctx, "acme", "staging", spec); err != nil || len(s.Pending) != 1 {
		t.Errorf("CheckSchema = %+v, %v", s, err)
	}
	_, err := c.SetSchema(ctx, "acme", "staging", api.SchemaSpec{Migrations: map[string]string{"1": "DROP TABLE t"}}, 0, 0)
	var apiErr *client.APIError
	if !errors.Is(err, client.ErrInvalid) || !errors.As(err, &apiErr) || apiErr.Field != "migrations.1" {
		t.Errorf("SetSchema changing an applied migration: %v; want ErrInvalid on migrations.1", err)
	}
	if cr, err := c.CreateCredentials(ctx, "acme", "staging", 10*time.Minute); err != nil || cr.Password != "pw" {
		t.Errorf("CreateCredentials = %+v, %v", cr, err)
	}
	if err := c.RevokeCredentials(ctx, "acme", "staging", "u 1"); err != nil {
		t.Errorf("RevokeCredentials: %v", err)
	}
	env := "staging"
	if b, err := c.CreateBackup(ctx, "acme", api.BackupRequest{Environment: &env}); err != nil || b.ID != "bkp_1" {
		t.Errorf("CreateBackup = %+v, %v", b, err)
	}
	if _, err := c.CheckBackup(ctx, "acme", api.BackupRequest{}); err != nil {
		t.Errorf("CheckBackup: %v", err)
	}
	if b, err := c.GetBackup(ctx, "acme", "bkp_1"); err != nil || b.SizeBytes != 10 {
		t.Errorf("GetBackup = %+v, %v", b, err)
	}
	// The provider lists no backups and restores none; the generic calls
	// reach those routes.
	if list, err := client.ListAll[api.Backup](ctx, c, "/v1/tenants/acme/backups", nil); err != nil || len(list) != 1 {
		t.Errorf("ListAll of a tenant's backups = %+v, %v", list, err)
	}
	if list, err := client.ListAll[api.Backup](ctx, c, "/v1/backups", url.Values{"tenant": {"gone"}}); err != nil || len(list) != 1 {
		t.Errorf("ListAll of every backup = %+v, %v", list, err)
	}
	if err := c.DeleteBackup(ctx, "acme", "bkp_1"); err != nil {
		t.Errorf("DeleteBackup: %v", err)
	}
	restore := api.RestoreRequest{TargetTenant: "beta", TargetEnvironment: "sandbox", Move: true}
	if res, err := client.Create[api.RestoreResult](ctx, c, client.PathEscape("v1", "backups", "bkp_1", "restore"), restore); err != nil || res.TargetTenant != "beta" {
		t.Errorf("Create of a restore = %+v, %v", res, err)
	}

	want := []seen{
		{"GET", "/v1/tenants/acme/environments/staging/schema", "", "", ""},
		{"PUT", "/v1/tenants/acme/environments/staging/schema", "timeout=1m30s", `"3"`,
			`{"migrations":{"1":"CREATE TABLE t (id int)","2":"ALTER TABLE t ADD COLUMN n text"}}`},
		{"PUT", "/v1/tenants/acme/environments/staging/schema", "dry_run=true", "",
			`{"migrations":{"1":"CREATE TABLE t (id int)","2":"ALTER TABLE t ADD COLUMN n text"}}`},
		{"PUT", "/v1/tenants/acme/environments/staging/schema", "", "", `{"migrations":{"1":"DROP TABLE t"}}`},
		{"POST", "/v1/tenants/acme/environments/staging/credentials", "", "", `{"ttl_seconds":600}`},
		{"DELETE", "/v1/tenants/acme/environments/staging/credentials/u%201", "", "", ""},
		{"POST", "/v1/tenants/acme/backups", "", "", `{"environment":"staging"}`},
		{"POST", "/v1/tenants/acme/backups", "dry_run=true", "", `{"environment":null}`},
		{"GET", "/v1/tenants/acme/backups/bkp_1", "", "", ""},
		{"GET", "/v1/tenants/acme/backups", "page_size=500", "", ""},
		{"GET", "/v1/backups", "page_size=500&tenant=gone", "", ""},
		{"DELETE", "/v1/tenants/acme/backups/bkp_1", "", "", ""},
		{"POST", "/v1/backups/bkp_1/restore", "", "", `{"target_tenant":"beta","target_environment":"sandbox","move":true}`},
	}
	if len(got) != len(want) {
		t.Fatalf("requests %+v; want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d: %+v; want %+v", i, got[i], want[i])
		}
		if w := want[i].method; (w == "GET") != (keys[i] == "") {
			t.Errorf("request %d (%s): Idempotency-Key %q; want one on every write and none on reads", i, w, keys[i])
		}
	}
}
