package client_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// TestObjectHistorySince reads an object's audit events newest first, page
// after page, up to the event that made the revision asked about, and says
// whether it got there.
func TestObjectHistorySince(t *testing.T) {
	// One event per revision, 1 to latest, served two to a page.
	history := func(latest int64) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			if r.URL.Path != "/v1/tenants/acme/audit-events" || q.Get("object_kind") != "environment" ||
				q.Get("object_key") != "production" || q.Get("order") != "desc" {
				t.Errorf("request %s", r.URL)
			}
			from := latest
			if tok := q.Get("page_token"); tok != "" {
				from, _ = strconv.ParseInt(tok, 10, 64)
				from--
			}
			list := api.List[api.AuditEvent]{Items: []api.AuditEvent{}}
			for rev := from; rev >= 1 && rev > from-2; rev-- {
				list.Items = append(list.Items, api.AuditEvent{
					ID: rev, Tenant: "acme", ObjectKind: "environment", ObjectKey: "production",
					RevisionBefore: rev - 1, RevisionAfter: rev,
				})
			}
			if last := from - 2; last >= 1 {
				list.NextPageToken = strconv.FormatInt(last+1, 10)
			}
			writeJSON(w, http.StatusOK, list)
		}
	}
	for _, tc := range []struct {
		name             string
		latest, revision int64
		want             int
		complete         bool
	}{
		{"on the first page", 5, 4, 1, true},
		{"across pages", 9, 2, 7, true},
		{"from the object's creation", 3, 0, 3, true},
		{"the revision itself", 6, 6, 0, true},
		{"further back than it reads", 100, 1, 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, history(tc.latest))
			events, complete, err := c.ObjectHistorySince(t.Context(), "acme", "environment", "production", tc.revision)
			if err != nil || len(events) != tc.want || complete != tc.complete {
				t.Fatalf("ObjectHistorySince = %d events, complete %t, %v; want %d, %t", len(events), complete, err, tc.want, tc.complete)
			}
			for i, e := range events {
				if e.RevisionAfter != tc.latest-int64(i) {
					t.Errorf("event %d is of revision %d; want %d, newest first", i, e.RevisionAfter, tc.latest-int64(i))
				}
			}
		})
	}
}
