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
	q := url.Values{
		"object_kind": {kind}, "object_key": {key}, "order": {"desc"}, "page_size": {strconv.Itoa(limit)},
	}
	page, err := send[api.List[api.AuditEvent]](ctx, c, request{
		method: http.MethodGet, path: PathEscape("v1", "tenants", tenant, "audit-events"), query: q,
		expectItems: identity{"tenant": tenant, "object_kind": kind, "object_key": key},
	})
	if err != nil || page == nil {
		return nil, err
	}
	return page.Items, nil
}
