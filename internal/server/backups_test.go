package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

// exported lists a tenant's objects as kind/key and data, without what a
// restore may change (revisions and timestamps), and leaving out usage
// counters, which are not the tenant's data.
func exported(t testing.TB, st store.Store, tenant string) []string {
	t.Helper()
	var out []string
	err := st.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		objs, err := tx.Export(ctx, tenant)
		for _, o := range objs {
			if o.Kind != "usage" {
				out = append(out, fmt.Sprintf("%s/%s %s", o.Kind, o.Key, o.Data))
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// deleteForGood lifts a tenant's deletion protection and deletes it.
func deleteForGood(t testing.TB, ts *testServer, slug string) api.TenantDeletion {
	t.Helper()
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/"+slug, map[string]any{"deletion_protection": false})
	var del api.TenantDeletion
	ts.mustCall(t, http.StatusOK, ts.admin, "DELETE", "/v1/tenants/"+slug, nil).json(t, &del)
	return del
}

func TestBackupRestoreBringsBackEverything(t *testing.T) {
	t.Parallel()
	clock := newStepClock()
	ts := newTestServer(t, withClock(clock))
	w := buildWorld(t, ts, "acme", "zeta")
	acme := w.tenants["acme"]
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme", map[string]any{"domain": "acme.example.com"})
	fillStore(t, ts, "acme", "staging", 25)
	dataBefore := storeDump(t, ts, "acme", "staging")
	before := exported(t, ts.store, "acme")
	kinds := map[string]bool{}
	for _, line := range before {
		kinds[strings.Split(line, "/")[0]] = true
	}
	del := deleteForGood(t, ts, "acme")
	if got := exported(t, ts.store, "acme"); len(got) != 0 {
		t.Fatalf("after deletion the tenant still has %v", got)
	}

	// The final backup holds the data: its tables, rows and checksums.
	if got := storeSummary(del.Backup, "staging"); got != tablesOf(dataBefore) {
		t.Errorf("the final backup holds %s of staging; the store held %s", got, tablesOf(dataBefore))
	}

	// A dry run checks and writes nothing.
	var preview api.RestoreResult
	ts.mustCall(t, http.StatusOK, ts.admin, "POST", "/v1/backups/"+del.Backup.ID+"/restore?dry_run=true", nil).json(t, &preview)
	if preview.Tenant == nil || preview.Tenant.Slug != "acme" || preview.Tenant.Revision != 1 || !preview.DryRun || len(preview.Stores) != 2 {
		t.Errorf("dry run answered %+v", preview)
	}
	ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/acme", nil)

	var res api.RestoreResult
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/backups/"+del.Backup.ID+"/restore", nil).json(t, &res)
	if restored := res.Tenant; restored == nil || restored.Slug != "acme" || restored.Revision != 1 || *restored.Domain != "acme.example.com" {
		t.Errorf("restored %+v", res)
	}
	dataAfter := storeDump(t, ts, "acme", "staging")
	if tablesOf(dataAfter) != tablesOf(dataBefore) {
		t.Errorf("the data came back as %s; it was %s", tablesOf(dataAfter), tablesOf(dataBefore))
	}
	t.Logf("round trip through a final backup: staging held %s, and holds %s after the restore", tablesOf(dataBefore), tablesOf(dataAfter))
	after := exported(t, ts.store, "acme")
	// The tenant comes back with its deletion protection off, as it was
	// deleted; everything else exactly as it was.
	for i, line := range before {
		if strings.HasPrefix(line, "tenant/") {
			before[i] = strings.Replace(line, `"deletion_protection":true`, `"deletion_protection":false`, 1)
		}
	}
	if !slices.Equal(before, after) {
		t.Errorf("restored objects differ\nbefore: %q\n after: %q", before, after)
	}
	t.Logf("restored %d objects of kinds %v", len(after), slices.Sorted(func(yield func(string) bool) {
		for k := range kinds {
			if !yield(k) {
				return
			}
		}
	}))
	// The objects answer through the API again.
	for collection, key := range acme.keys {
		if collection == "tokens" || strings.Contains(collection, ":") || collection == "promotions" {
			continue
		}
		path := "/v1/tenants/acme/" + collection + "/" + key
		ts.mustCall(t, http.StatusOK, ts.admin, "GET", path, nil)
	}
	// Its tokens stay revoked: deletion ended them for good.
	ts.mustCall(t, http.StatusUnauthorized, acme.tokens[api.RoleTenantAdmin], "GET", "/v1/tenants/acme", nil)

	// The restore is audited, naming the backup.
	events := auditOf(t, ts, "acme", "&order=desc")
	if len(events) == 0 || events[0].Action != "tenant.restore" || events[0].Actor != "bootstrap" ||
		!strings.Contains(events[0].Detail, del.Backup.ID) || events[0].RevisionAfter != 1 {
		t.Errorf("last audit event %+v", events[:min(1, len(events))])
	}

	// A second restore finds the tenant there, with data it would replace.
	expectError(t, ts.call(t, ts.admin, "POST", "/v1/backups/"+del.Backup.ID+"/restore", nil), http.StatusConflict, "replace", "holds data")
	expectError(t, ts.call(t, ts.admin, "POST", "/v1/backups/"+del.Backup.ID+"/restore?dry_run=true", nil), http.StatusConflict, "replace", "items (25 rows)")
}

func TestBackupRestoreRefusals(t *testing.T) {
	t.Parallel()
	clock := newStepClock()
	ts := newTestServer(t, withClock(clock))
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants", map[string]any{
		"slug": "acme", "display_name": "Acme", "region": "eu-west", "domain": "acme.example.com",
		"data_retention_days": 7, "deletion_protection": false,
	})
	var del api.TenantDeletion
	ts.mustCall(t, http.StatusOK, ts.admin, "DELETE", "/v1/tenants/acme", nil).json(t, &del)
	restore := "/v1/backups/" + del.Backup.ID + "/restore"

	// Its domain went to another tenant meanwhile.
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants", map[string]any{
		"slug": "other", "display_name": "Other", "region": "eu-west", "domain": "acme.example.com", "deletion_protection": false,
	})
	expectError(t, ts.call(t, ts.admin, "POST", restore, nil), http.StatusConflict, "domain", "acme.example.com")
	ts.mustCall(t, http.StatusOK, ts.admin, "DELETE", "/v1/tenants/other", nil)

	// Another tenant's backup is, to a tenant's token, as missing as one
	// that does not exist; a missing backup is a 404.
	other := ts.createTenant(t, "zeta")
	for _, role := range api.TenantRoles {
		ts.mustCall(t, http.StatusNotFound, ts.token(t, other.Slug, role), "POST", restore, nil)
	}
	expectError(t, ts.call(t, ts.admin, "POST", "/v1/backups/bkp_00000000000000000000/restore", nil), http.StatusNotFound, "", "bkp_00000000000000000000")
	expectError(t, ts.call(t, ts.admin, "POST", restore+"?dry_run=perhaps", nil), http.StatusBadRequest, "dry_run", "perhaps")

	// Past its retention the backup is refused, even the day after.
	clock.Advance(7*24*time.Hour + time.Second)
	expectError(t, ts.call(t, ts.admin, "POST", restore, nil), http.StatusConflict, "retain_until", "expired")
	ts.mustCall(t, http.StatusNotFound, ts.admin, "GET", "/v1/tenants/acme", nil)
	// Within it (the clock set back) it works.
	clock.Advance(-2 * time.Second)
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", restore, nil)
}

func TestBackupList(t *testing.T) {
	t.Parallel()
	clock := newStepClock()
	ts := newTestServer(t, withClock(clock))
	var ids []string
	for _, slug := range []string{"acme", "bravo", "acme", "charlie"} {
		ts.createTenant(t, slug)
		var del api.TenantDeletion
		ts.mustCall(t, http.StatusOK, ts.admin, "DELETE", "/v1/tenants/"+slug, nil).json(t, &del)
		ids = append(ids, del.Backup.ID)
		clock.Advance(time.Minute)
	}
	list := func(query string) ([]string, string) {
		t.Helper()
		var l api.List[api.Backup]
		ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/backups"+query, nil).json(t, &l)
		var out []string
		for _, b := range l.Items {
			out = append(out, b.ID)
			if b.RetainUntil.Sub(b.TakenAt) != 30*24*time.Hour {
				t.Errorf("backup %s retained %v", b.ID, b.RetainUntil.Sub(b.TakenAt))
			}
		}
		return out, l.NextPageToken
	}
	if got, next := list(""); !slices.Equal(got, ids) || next != "" {
		t.Errorf("all backups %v (next %q), want %v, oldest first", got, next, ids)
	}
	if got, _ := list("?tenant=acme"); !slices.Equal(got, []string{ids[0], ids[2]}) {
		t.Errorf("acme's backups %v", got)
	}
	if got, _ := list("?tenant=nobody"); len(got) != 0 {
		t.Errorf("nobody's backups %v", got)
	}
	var paged []string
	token := ""
	for range len(ids) + 1 {
		got, next := list("?page_size=3&page_token=" + token)
		paged = append(paged, got...)
		if token = next; token == "" {
			break
		}
	}
	if !slices.Equal(paged, ids) {
		t.Errorf("pages of 3: %v, want %v", paged, ids)
	}
	for _, tc := range []struct{ query, field string }{
		{"?tenant=Not%20A%20Slug", "tenant"}, {"?page_size=0", "page_size"}, {"?page_token=bm9wZQ", "page_token"},
	} {
		r := ts.call(t, ts.admin, "GET", "/v1/backups"+tc.query, nil)
		if r.status != http.StatusBadRequest || r.apiError(t).Field != tc.field {
			t.Errorf("GET /v1/backups%s: %d %s, want 400 naming %s", tc.query, r.status, r.body, tc.field)
		}
	}
	ts.createTenant(t, "delta")
	for _, role := range api.TenantRoles {
		ts.mustCall(t, http.StatusForbidden, ts.token(t, "delta", role), "GET", "/v1/backups", nil)
	}
}

// TestExpiredBackupsAreDeleted moves the clock past backups' retain_until
// on two replicas of one database (PostgreSQL and a shared SQLite file)
// expiring at once: each expired backup is deleted exactly once, with one
// platform-level audit event by tenancyd naming the backup and its tenant,
// and cannot be restored; a backup still retained stays.
func TestExpiredBackupsAreDeleted(t *testing.T) {
	t.Parallel()
	for name, url := range replicaDatabases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := newStepClock()
			db := url(t)
			rs := [2]*testServer{serveStore(t, openStore(t, db), withClock(clock)), serveStore(t, openStore(t, db), withClock(clock))}
			ts := rs[0]
			for slug, days := range map[string]int{"short": 1, "long": 30} {
				ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants", map[string]any{
					"slug": slug, "display_name": slug, "region": "eu-west", "data_retention_days": days, "deletion_protection": false,
				})
			}
			short, long := deleteForGood(t, ts, "short").Backup, deleteForGood(t, ts, "long").Backup
			expire := func() int {
				t.Helper()
				counts := make(chan int, 4)
				var wg sync.WaitGroup
				for _, r := range rs {
					for range 2 {
						wg.Go(func() {
							n, err := r.srv.expireBackups(t.Context())
							if err != nil {
								t.Error(err)
							}
							counts <- n
						})
					}
				}
				wg.Wait()
				close(counts)
				total := 0
				for n := range counts {
					total += n
				}
				return total
			}
			listed := func() []string {
				t.Helper()
				var list api.List[api.Backup]
				rs[1].mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/backups", nil).json(t, &list)
				var ids []string
				for _, b := range list.Items {
					ids = append(ids, b.ID)
				}
				return ids
			}

			if n := expire(); n != 0 || len(listed()) != 2 {
				t.Fatalf("nothing is expired yet, but %d backups were deleted; %v left", n, listed())
			}
			clock.Advance(2 * 24 * time.Hour)
			if n := expire(); n != 1 || !slices.Equal(listed(), []string{long.ID}) {
				t.Errorf("two days on: %d deleted, %v left; want %s deleted once, %s left", n, listed(), short.ID, long.ID)
			}
			expectError(t, ts.call(t, ts.admin, "POST", "/v1/backups/"+short.ID+"/restore", nil), http.StatusNotFound, "", "not found")
			clock.Advance(29 * 24 * time.Hour)
			if n := expire(); n != 1 || len(listed()) != 0 {
				t.Errorf("thirty-one days on: %d deleted, %v left", n, listed())
			}

			var events api.List[api.AuditEvent]
			ts.mustCall(t, http.StatusOK, ts.admin, "GET", "/v1/audit-events?object_kind=backup", nil).json(t, &events)
			got := map[string]int{}
			for _, e := range events.Items {
				got[e.ObjectKey]++
				if e.Action != "backup.expire" || e.Actor != "tenancyd" || e.ActorTokenID != "" || e.Tenant != "" {
					t.Errorf("event %+v", e)
				}
				if want := map[string]string{short.ID: `"short"`, long.ID: `"long"`}[e.ObjectKey]; !strings.Contains(e.Detail, want) {
					t.Errorf("event %+v does not name the tenant %s", e, want)
				}
			}
			if len(got) != 2 || got[short.ID] != 1 || got[long.ID] != 1 {
				t.Errorf("expiry events per backup %v; want one each", got)
			}
		})
	}
}
