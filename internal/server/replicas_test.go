package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store/pgtest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
)

// openStore opens a database for a test and closes it when the test ends.
func openStore(t testing.TB, url string) store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// serveStore serves a tenancyd over an open store, as newTestServer does
// over a fresh SQLite file; several may share one database, as replicas do.
func serveStore(t testing.TB, st store.Store, cfg ...func(*Config)) *testServer {
	t.Helper()
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

// replicaPair is two tenancyd replicas, each with its own store handle and
// HTTP server, on one database.
func replicaPair(t *testing.T, url string) [2]*testServer {
	t.Helper()
	data := withData(testPlane(t))
	a := serveStore(t, openStore(t, url), data)
	b := serveStore(t, openStore(t, url), data)
	return [2]*testServer{a, b}
}

// replicaDatabases are the databases the replica tests run on: one
// PostgreSQL database, and one SQLite file opened twice.
func replicaDatabases(t *testing.T) map[string]func(t *testing.T) string {
	t.Helper()
	return map[string]func(t *testing.T) string{
		"postgres": func(t *testing.T) string { return pgtest.URL(t) },
		"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "shared.db") },
	}
}

// TestReplicasConditionalWrites sends conflicting PATCHes with one If-Match
// through two replicas at once: exactly one wins, every other gets 412.
func TestReplicasConditionalWrites(t *testing.T) {
	t.Parallel()
	for name, url := range replicaDatabases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rs := replicaPair(t, url(t))
			rs[0].createTenant(t, "acme")
			const writers = 12
			for round := range 5 {
				var tn api.Tenant
				r := rs[round%2].mustCall(t, http.StatusOK, rs[0].admin, "GET", "/v1/tenants/acme", nil)
				r.json(t, &tn)
				etag := r.header.Get("ETag")
				statuses := make([]int, writers)
				var wg sync.WaitGroup
				for i := range writers {
					wg.Go(func() {
						r := rs[i%2].call(t, rs[0].admin, "PATCH", "/v1/tenants/acme",
							map[string]any{"display_name": fmt.Sprintf("writer %d of round %d", i, round)}, "If-Match", etag)
						statuses[i] = r.status
					})
				}
				wg.Wait()
				won, lost := 0, 0
				for _, st := range statuses {
					switch st {
					case http.StatusOK:
						won++
					case http.StatusPreconditionFailed:
						lost++
					}
				}
				if won != 1 || lost != writers-1 {
					t.Fatalf("round %d: statuses %v; want one 200 and %d 412", round, statuses, writers-1)
				}
				var after api.Tenant
				rs[(round+1)%2].mustCall(t, http.StatusOK, rs[0].admin, "GET", "/v1/tenants/acme", nil).json(t, &after)
				if after.Revision != tn.Revision+1 {
					t.Errorf("round %d: revision %d after one write on %d", round, after.Revision, tn.Revision)
				}
			}
		})
	}
}

// TestReplicasNeverLoseAnUpdate sends unconditional merge patches through
// two replicas at once, each adding its own label: every label arrives,
// and every write has its revision and audit event.
func TestReplicasNeverLoseAnUpdate(t *testing.T) {
	t.Parallel()
	for name, url := range replicaDatabases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rs := replicaPair(t, url(t))
			rs[0].createTenant(t, "acme")
			const writers = 24
			var wg sync.WaitGroup
			for i := range writers {
				wg.Go(func() {
					r := rs[i%2].call(t, rs[0].admin, "PATCH", "/v1/tenants/acme",
						map[string]any{"labels": map[string]string{fmt.Sprintf("writer-%02d", i): "done"}})
					if r.status != http.StatusOK {
						t.Errorf("writer %d: %d %s", i, r.status, r.body)
					}
				})
			}
			wg.Wait()
			var tn api.Tenant
			rs[1].mustCall(t, http.StatusOK, rs[0].admin, "GET", "/v1/tenants/acme", nil).json(t, &tn)
			if len(tn.Labels) != writers || tn.Revision != 1+writers {
				t.Errorf("%d labels at revision %d, want %d at %d: %v", len(tn.Labels), tn.Revision, writers, 1+writers, tn.Labels)
			}
			updates := 0
			for _, e := range auditOf(t, rs[0], "acme", "&object_kind=tenant") {
				if e.Action == "tenant.update" {
					updates++
				}
			}
			if updates != writers {
				t.Errorf("%d update events, want %d", updates, writers)
			}
		})
	}
}

// TestReplicasCreateOnce creates one tenant through both replicas at once
// with the same slug, and with the same Idempotency-Key: one tenant, one
// creation; the others are told it exists or get the first answer.
func TestReplicasCreateOnce(t *testing.T) {
	t.Parallel()
	for name, url := range replicaDatabases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rs := replicaPair(t, url(t))
			const callers = 10
			for _, key := range []string{"", "create-acme"} {
				slug := "acme"
				if key != "" {
					slug = "keyed"
				}
				statuses := make([]int, callers)
				bodies := make([]string, callers)
				var wg sync.WaitGroup
				for i := range callers {
					wg.Go(func() {
						r := rs[i%2].call(t, rs[0].admin, "POST", "/v1/tenants",
							map[string]any{"slug": slug, "display_name": "Acme", "region": "eu-west"}, api.HeaderIdempotencyKey, key)
						statuses[i], bodies[i] = r.status, string(r.body)
					})
				}
				wg.Wait()
				created := 0
				for i, st := range statuses {
					switch {
					case st == http.StatusCreated:
						created++
						if key != "" && bodies[i] != bodies[0] {
							t.Errorf("replayed answers differ:\n%s\n%s", bodies[0], bodies[i])
						}
					case st == http.StatusConflict && key == "":
					default:
						t.Errorf("key %q, caller %d: %d %s", key, i, st, bodies[i])
					}
				}
				if want := map[bool]int{true: 1, false: callers}[key == ""]; created != want {
					t.Errorf("key %q: %d creations answered, want %d: %v", key, created, want, statuses)
				}
				creates := 0
				for _, e := range auditOf(t, rs[1], slug, "") {
					if e.Action == "tenant.create" {
						creates++
					}
				}
				if creates != 1 {
					t.Errorf("key %q: %d tenant.create events, want 1", key, creates)
				}
			}
		})
	}
}

// TestReplicasProvisionOnce runs the provisioning of both replicas at once
// over a moving clock: each step is recorded once.
func TestReplicasProvisionOnce(t *testing.T) {
	t.Parallel()
	for name, url := range replicaDatabases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := newStepClock()
			db := url(t)
			cfg := func(c *Config) { c.Now, c.ProvisioningDelay = clock.Now, 8*time.Second }
			data := withData(testPlane(t))
			rs := [2]*testServer{serveStore(t, openStore(t, db), cfg, data), serveStore(t, openStore(t, db), cfg, data)}
			for _, slug := range []string{"acme", "bravo", "charlie"} {
				rs[0].mustCall(t, http.StatusCreated, rs[0].admin, "POST", "/v1/tenants",
					map[string]any{"slug": slug, "display_name": slug, "region": "eu-west"})
			}
			for range 5 {
				clock.Advance(2 * time.Second)
				var wg sync.WaitGroup
				for _, r := range rs {
					for range 3 {
						wg.Go(func() {
							if err := r.srv.provisionDue(t.Context()); err != nil {
								t.Error(err)
							}
						})
					}
				}
				wg.Wait()
			}
			for _, slug := range []string{"acme", "bravo", "charlie"} {
				var steps []string
				for _, e := range auditOf(t, rs[1], slug, "") {
					if step, ok := strings.CutPrefix(e.Action, "tenant.provisioning."); ok {
						steps = append(steps, step)
					}
				}
				if !slices.Equal(steps, api.ProvisioningSteps) {
					t.Errorf("%s: provisioning events %v, want each of %v once", slug, steps, api.ProvisioningSteps)
				}
			}
		})
	}
}

// TestReplicasDataStores creates and deletes environments through two
// replicas at once, each with a data plane of its own on one PostgreSQL
// server, as tenancyd replicas run: their stores' roles, grants and
// schemas are made and dropped side by side on the server's catalogs.
// Every environment becomes active, and every store is gone once its
// environment is deleted.
func TestReplicasDataStores(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	var rs [2]*testServer
	for i := range rs {
		plane, err := tenantdata.OpenPostgres(t.Context(), db, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = plane.Close() })
		rs[i] = serveStore(t, openStore(t, db), withData(plane))
	}
	isolations := []string{api.IsolationShared, api.IsolationDedicated, api.IsolationHybrid}
	envs := []string{api.EnvProduction, api.EnvStaging, api.EnvDevelopment}
	const tenants = 8
	slug := func(i int) string { return fmt.Sprintf("replica-%d", i) }
	for i := range tenants {
		rs[0].mustCall(t, http.StatusCreated, rs[0].admin, "POST", "/v1/tenants", map[string]any{
			"slug": slug(i), "display_name": slug(i), "region": "eu-west", "isolation": isolations[i%3], "deletion_protection": false,
		})
	}
	// The environments of one tenant are made one after the other (the
	// tenant's lock); those of different tenants at once.
	each := func(do func(r *testServer, tenant, env string)) {
		var wg sync.WaitGroup
		for i := range tenants {
			wg.Go(func() {
				for j, env := range envs {
					do(rs[(i+j)%2], slug(i), env)
				}
			})
		}
		wg.Wait()
	}
	var mu sync.Mutex
	var refs []tenantdata.Ref
	each(func(r *testServer, tenant, env string) {
		resp := r.call(t, r.admin, "POST", "/v1/tenants/"+tenant+"/environments", map[string]any{"name": env, "type": env})
		var e api.Environment
		if resp.status != http.StatusCreated || json.Unmarshal(resp.body, &e) != nil || e.Status != api.StatusActive || e.Database == nil {
			t.Errorf("creating %s/%s: status %d: %s", tenant, env, resp.status, resp.body)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		refs = append(refs, tenantdata.Ref{Tenant: tenant, Environment: env, Placement: e.Database.Isolation})
	})
	if len(refs) != tenants*len(envs) {
		t.Fatalf("%d of %d environments made active", len(refs), tenants*len(envs))
	}
	each(func(r *testServer, tenant, env string) {
		if resp := r.call(t, r.admin, "DELETE", "/v1/tenants/"+tenant+"/environments/"+env, nil); resp.status != http.StatusNoContent {
			t.Errorf("deleting %s/%s: status %d: %s", tenant, env, resp.status, resp.body)
		}
	})
	for _, ref := range refs {
		if ok, err := rs[0].srv.data.Exists(t.Context(), ref); err != nil || ok {
			t.Errorf("the store %s is still there after its environment was deleted (%v)", ref, err)
		}
	}
}
