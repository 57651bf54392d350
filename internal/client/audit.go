package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// ObjectHistory returns up to limit of an object's newest audit events,
// newest first.
func (c *Client) ObjectHistory(ctx context.Context, tenant, kind, key string, limit int) ([]api.AuditEvent, error) {
	page, err := c.historyPage(ctx, tenant, kind, key, limit, "")
	if err != nil || page == nil {
		return nil, err
	}
	return page.Items, nil
}

// historySincePages bounds how far back ObjectHistorySince reads.
const historySincePages = 10

// ObjectHistorySince returns the audit events of an object's changes since
// it was at revision, newest first: the events after the one that made that
// revision. complete says whether they reach back to that event (or to the
// start of the object's history); it is false when the object has more
// changes since than ObjectHistorySince reads, some thousands.
func (c *Client) ObjectHistorySince(ctx context.Context, tenant, kind, key string, revision int64) (events []api.AuditEvent, complete bool, err error) {
	token := ""
	for range historySincePages {
		page, err := c.historyPage(ctx, tenant, kind, key, api.MaxPageSize, token)
		if err != nil || page == nil {
			return events, false, err
		}
		for _, e := range page.Items {
			// A revision at or before the one asked about: everything since is read.
			if e.RevisionAfter != 0 && e.RevisionAfter <= revision {
				return events, true, nil
			}
			events = append(events, e)
		}
		if page.NextPageToken == "" || page.NextPageToken == token {
			return events, true, nil
		}
		token = page.NextPageToken
	}
	return events, false, nil
}

// historyPage reads one page of an object's audit events, newest first.
func (c *Client) historyPage(ctx context.Context, tenant, kind, key string, size int, token string) (*api.List[api.AuditEvent], error) {
	q := url.Values{
		"object_kind": {kind}, "object_key": {key}, "order": {"desc"}, "page_size": {strconv.Itoa(size)},
	}
	if token != "" {
		q.Set("page_token", token)
	}
	return send[api.List[api.AuditEvent]](ctx, c, request{
		method: http.MethodGet, path: PathEscape("v1", "tenants", tenant, "audit-events"), query: q,
		expectItems: identity{"tenant": tenant, "object_kind": kind, "object_key": key},
	})
}
