package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

const (
	quotaTenantPath = "/v1/tenants/acme/quota"
	quotaProdPath   = "/v1/tenants/acme/environments/production/quota"
	quotaStagePath  = "/v1/tenants/acme/environments/staging/quota"
)

func TestQuotaTenantWideLifecycle(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	envWantError(t, ts.call(t, ts.admin, "GET", quotaTenantPath, nil), http.StatusNotFound, "", "tenant-wide quota of tenant \"acme\" is not set")

	var q api.Quota
	r := ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", quotaTenantPath, map[string]any{"cpu_millicores": 8000, "max_users": 10})
	r.json(t, &q)
	if q.ID != "acme" || q.TenantID != "acme" || q.Environment != nil || *q.CPUMillicores != 8000 || *q.MaxUsers != 10 ||
		q.MemoryMB != nil || q.Revision != 1 || r.header.Get("ETag") != `"1"` {
		t.Fatalf("created %+v (ETag %s)", q, r.header.Get("ETag"))
	}
	// The same PUT again changes nothing, not even the revision.
	ts.mustCall(t, http.StatusOK, ts.admin, "PUT", quotaTenantPath, map[string]any{"cpu_millicores": 8000, "max_users": 10}).json(t, &q)
	if q.Revision != 1 {
		t.Errorf("an unchanged PUT made revision %d", q.Revision)
	}
	// PUT replaces every limit: left out is unlimited.
	q = api.Quota{}
	ts.mustCall(t, http.StatusOK, ts.admin, "PUT", quotaTenantPath, `{"memory_mb": 4096, "max_users": null}`, "If-Match", `"1"`).json(t, &q)
	if q.CPUMillicores != nil || q.MaxUsers != nil || *q.MemoryMB != 4096 || q.Revision != 2 {
		t.Errorf("replaced %+v", q)
	}
	envWantError(t, ts.call(t, ts.admin, "PUT", quotaTenantPath, `{"memory_mb": 1}`, "If-Match", `"1"`),
		http.StatusPreconditionFailed, "", "at revision 2, not 1")

	// A dry run checks and answers, and writes nothing.
	ts.mustCall(t, http.StatusOK, ts.admin, "PUT", quotaTenantPath+"?dry_run=true", `{"memory_mb": 1}`).json(t, &q)
	if *q.MemoryMB != 1 {
		t.Errorf("dry run answered %+v", q)
	}
	q = api.Quota{}
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", quotaTenantPath, nil).json(t, &q)
	if *q.MemoryMB != 4096 || q.Revision != 2 {
		t.Errorf("after a dry run the quota is %+v", q)
	}

	envWantError(t, ts.call(t, ts.admin, "DELETE", quotaTenantPath, nil, "If-Match", `"9"`), http.StatusPreconditionFailed, "", "at revision 2, not 9")
	ts.mustCall(t, http.StatusNoContent, ts.admin, "DELETE", quotaTenantPath, nil)
	ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", quotaTenantPath, nil)
	ts.mustCall(t, http.StatusNotFound, ts.admin, "DELETE", quotaTenantPath, nil)
	// If-Match on a quota that is not set is stale by definition.
	ts.mustCall(t, http.StatusPreconditionFailed, ts.admin, "PUT", quotaTenantPath, `{}`, "If-Match", `"2"`)

	if got := strings.Join(ts.envAudit(t, "acme", "quota", api.TenantQuotaKey), ","); got != "quota.create,quota.update,quota.delete" {
		t.Errorf("audit %s", got)
	}
}

func TestQuotaEnvironmentLifecycle(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	envWantError(t, ts.call(t, ts.admin, "PUT", quotaProdPath, `{}`), http.StatusNotFound, "", `environment "production" not found`)
	ts.envCreate(t, "acme", "production", "production")
	envWantError(t, ts.call(t, ts.admin, "GET", quotaProdPath, nil), http.StatusNotFound, "", `quota of environment "production" of tenant "acme" is not set`)

	var q api.Quota
	ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", quotaProdPath, map[string]any{"cpu_millicores": 4000, "api_requests_per_minute": 600}).json(t, &q)
	if q.ID != "acme/production" || q.Environment == nil || *q.Environment != "production" || *q.APIRequestsPerMinute != 600 {
		t.Fatalf("created %+v", q)
	}
	r := ts.mustCall(t, http.StatusOK, ts.admin, "GET", quotaProdPath, nil)
	if r.header.Get("ETag") != `"1"` {
		t.Errorf("ETag %q", r.header.Get("ETag"))
	}
	ts.mustCall(t, http.StatusNoContent, ts.admin, "DELETE", quotaProdPath, nil)
	ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", quotaProdPath, nil)
}

func TestQuotaBadInput(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ts.envCreate(t, "acme", "production", "production")
	for _, tc := range []struct {
		name         string
		body         any
		status       int
		field, error string
	}{
		{"negative", `{"cpu_millicores": -1}`, 422, "cpu_millicores", "-1 is out of range; use a whole number from 0 to 1000000000000"},
		{"absurd", `{"storage_gb": 1000000000001}`, 422, "storage_gb", "out of range"},
		{"fraction", `{"memory_mb": 1.5}`, 400, "memory_mb", "expected int64"},
		{"string", `{"max_users": "10"}`, 400, "max_users", "expected int64"},
		{"unknown dimension", `{"gpus": 1}`, 400, "gpus", "unknown field"},
		{"empty body", ``, 400, "", "request body is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{quotaTenantPath, quotaProdPath} {
				envWantError(t, ts.call(t, ts.admin, "PUT", path, tc.body), tc.status, tc.field, tc.error)
			}
		})
	}
	envWantError(t, ts.call(t, ts.admin, "PUT", "/v1/tenants/acme/environments/..%2F/quota", `{}`), http.StatusBadRequest, "name", "environment name in the path")
	envWantError(t, ts.call(t, ts.admin, "PUT", "/v1/tenants/nope/quota", `{}`), http.StatusNotFound, "", `tenant "nope" not found`)
}

func TestQuotaRoles(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ts.createTenant(t, "globex")
	ts.envCreate(t, "acme", "production", "production")
	ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", quotaTenantPath, `{"cpu_millicores": 1000}`)
	viewer := ts.token(t, "acme", api.RoleTenantViewer)
	user := ts.token(t, "acme", api.RoleTenantUser)
	admin := ts.token(t, "acme", api.RoleTenantAdmin)
	stranger := ts.token(t, "globex", api.RoleTenantAdmin)

	ts.mustCall(t, http.StatusOK, viewer, "GET", quotaTenantPath, nil)
	ts.mustCall(t, http.StatusForbidden, admin, "PUT", quotaTenantPath, `{"cpu_millicores": 9000}`)
	ts.mustCall(t, http.StatusForbidden, admin, "DELETE", quotaTenantPath, nil)
	ts.mustCall(t, http.StatusForbidden, user, "PUT", quotaProdPath, `{"cpu_millicores": 500}`)
	ts.mustCall(t, http.StatusCreated, admin, "PUT", quotaProdPath, `{"cpu_millicores": 500}`)
	ts.mustCall(t, http.StatusOK, viewer, "GET", quotaProdPath, nil)
	ts.mustCall(t, http.StatusForbidden, viewer, "DELETE", quotaProdPath, nil)
	ts.mustCall(t, http.StatusNoContent, admin, "DELETE", quotaProdPath, nil)
	for _, path := range []string{quotaTenantPath, quotaProdPath} {
		for _, method := range []string{"GET", "PUT", "DELETE"} {
			r := ts.call(t, stranger, method, path, `{}`)
			// The tenant-wide PUT and DELETE need a platform admin before anything else.
			if r.status != http.StatusNotFound && r.status != http.StatusForbidden {
				t.Errorf("%s %s with another tenant's token: %d %s", method, path, r.status, r.body)
			}
		}
	}
}

// TestQuotaEnvironmentsMustFit shows the arithmetic at the API: environment
// quotas are shares of the tenant-wide quota.
func TestQuotaEnvironmentsMustFit(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ts.envCreate(t, "acme", "production", "production")
	ts.envCreate(t, "acme", "staging", "staging")
	ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", quotaTenantPath, `{"cpu_millicores": 5000, "memory_mb": 1000}`)
	ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", quotaProdPath, `{"cpu_millicores": 4000, "storage_gb": 999999}`)

	const want = `the quota of environment "staging" of tenant "acme" cannot be set: ` +
		`cpu_millicores: environment quotas add up to 6000 (production 4000, staging 2000), above the tenant quota of 5000`
	for _, path := range []string{quotaStagePath + "?dry_run=true", quotaStagePath} {
		r := ts.call(t, ts.admin, "PUT", path, `{"cpu_millicores": 2000}`)
		envWantError(t, r, http.StatusConflict, "cpu_millicores", want)
	}
	ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", quotaStagePath, nil)
	// Every dimension that does not fit is named.
	r := ts.call(t, ts.admin, "PUT", quotaStagePath, `{"cpu_millicores": 2000, "memory_mb": 1001}`)
	envWantError(t, r, http.StatusConflict, "cpu_millicores", "; memory_mb: environment quotas add up to 1001 (staging 1001), above the tenant quota of 1000")
	// What fits, fits: exactly the rest.
	ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", quotaStagePath, `{"cpu_millicores": 1000}`)
	// Growing one environment's share past the rest is refused too.
	envWantError(t, ts.call(t, ts.admin, "PUT", quotaProdPath, `{"cpu_millicores": 4001}`), http.StatusConflict, "cpu_millicores",
		"add up to 5001 (production 4001, staging 1000), above the tenant quota of 5000")
}

// TestQuotaLoweringBelowUse refuses a tenant-wide quota under what is
// already given out or used, saying the use and the limit.
func TestQuotaLoweringBelowUse(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ts.envCreate(t, "acme", "production", "production")
	ts.envCreate(t, "acme", "staging", "staging")
	ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", quotaTenantPath, `{"cpu_millicores": 8000}`)
	ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", quotaProdPath, `{"cpu_millicores": 4000}`)
	ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", quotaStagePath, `{"cpu_millicores": 2000}`)
	for i := range 3 {
		id := fmt.Sprintf("usr_%d", i)
		envSeed[api.User](t, ts, "acme", api.KindUser, id, api.User{
			UserSpec: api.UserSpec{Email: id + "@example.com", DisplayName: id}, TenantID: "acme", UserID: id, ID: "acme/" + id,
		})
	}

	for _, path := range []string{quotaTenantPath + "?dry_run=true", quotaTenantPath} {
		envWantError(t, ts.call(t, ts.admin, "PUT", path, `{"cpu_millicores": 5000}`), http.StatusConflict, "cpu_millicores",
			"cpu_millicores: environment quotas add up to 6000 (production 4000, staging 2000), above the tenant quota of 5000")
		envWantError(t, ts.call(t, ts.admin, "PUT", path, `{"cpu_millicores": 6000, "max_users": 2}`), http.StatusConflict, "max_users",
			"max_users: the tenant has 3 users, above the new limit of 2")
	}
	var q api.Quota
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", quotaTenantPath, nil).json(t, &q)
	if *q.CPUMillicores != 8000 || q.MaxUsers != nil || q.Revision != 1 {
		t.Errorf("a refused PUT changed the quota: %+v", q)
	}
	ts.mustCall(t, http.StatusOK, ts.admin, "PUT", quotaTenantPath, `{"cpu_millicores": 6000, "max_users": 3}`)
	// Lifting a limit always fits.
	ts.mustCall(t, http.StatusOK, ts.admin, "PUT", quotaTenantPath, `{}`)
}

// TestQuotaConcurrentEnvironmentPutsNeverOvershoot races 50 environment
// quotas for a tenant quota that holds 10 of them.
func TestQuotaConcurrentEnvironmentPutsNeverOvershoot(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTenant(t, "acme")
	ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", quotaTenantPath, `{"cpu_millicores": 10000, "memory_mb": 50}`)
	const n = 50
	for i := range n {
		ts.envCreate(t, "acme", fmt.Sprintf("env-%02d", i), "sandbox")
	}
	admin := ts.token(t, "acme", api.RoleTenantAdmin)

	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := ts.call(t, admin, "PUT", fmt.Sprintf("/v1/tenants/acme/environments/env-%02d/quota", i), `{"cpu_millicores": 1000, "memory_mb": 1}`)
			statuses[i] = r.status
			if r.status == http.StatusConflict && !strings.Contains(r.apiError(t).Message, "above the tenant quota of 10000") {
				t.Errorf("refusal without the numbers: %s", r.body)
			}
		})
	}
	wg.Wait()

	created := 0
	for i, st := range statuses {
		switch st {
		case http.StatusCreated:
			created++
		case http.StatusConflict, http.StatusUnprocessableEntity:
		default:
			t.Errorf("PUT %d answered %d; want 201 or a refusal", i, st)
		}
	}
	var sum int64
	var stored int
	err := ts.store.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		envs, err := environmentQuotas(ctx, tx, "acme")
		for _, q := range envs {
			sum += *q.CPUMillicores
			if q.MemoryMB == nil || *q.MemoryMB != 1 {
				t.Errorf("half-written quota %+v", q)
			}
		}
		stored = len(envs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if created != 10 || stored != created || sum != 10000 {
		t.Errorf("%d PUTs succeeded, %d quotas stored adding up to %d; want 10, 10 and 10000", created, stored, sum)
	}
	var events api.List[api.AuditEvent]
	ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/tenants/acme/audit-events?object_kind=quota&page_size=500", nil).json(t, &events)
	if len(events.Items) != created+1 {
		t.Errorf("%d quota audit events; want one per success plus the tenant quota's, %d", len(events.Items), created+1)
	}
}
