package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// quotaPath is the tenant-wide quota's path when environment is "", and
// the environment's quota's path otherwise.
func quotaPath(tenant, environment string) string {
	if environment == "" {
		return PathEscape("v1", "tenants", tenant, "quota")
	}
	return PathEscape("v1", "tenants", tenant, "environments", environment, "quota")
}

// quotaIdentity is a tenant-wide quota's (environment "") or an
// environment's quota's identity.
func quotaIdentity(tenant, environment string) identity {
	return inTenant(tenant).with("environment", environment)
}

// GetQuota reads a tenant's tenant-wide quota (environment "") or an
// environment's quota; ErrNotFound when it is not set.
func (c *Client) GetQuota(ctx context.Context, tenant, environment string) (*api.Quota, error) {
	return get[api.Quota](ctx, c, quotaPath(tenant, environment), quotaIdentity(tenant, environment))
}

// SetQuota sets a quota (environment "" for the tenant-wide one), replacing
// every limit: a nil limit is unlimited. ifMatch, unless 0, is the revision
// the write requires. A quota that does not fit (environment quotas above
// the tenant-wide quota, or a limit below current use) is ErrConflict, with
// the numbers in the message and the dimension as the field.
func (c *Client) SetQuota(ctx context.Context, tenant, environment string, spec api.QuotaSpec, ifMatch int64) (*api.Quota, error) {
	return put[api.Quota](ctx, c, quotaPath(tenant, environment), spec, ifMatch, quotaIdentity(tenant, environment))
}

// CheckQuota asks the server whether SetQuota would succeed (a dry run:
// every check, no write) and returns the quota as it would be.
func (c *Client) CheckQuota(ctx context.Context, tenant, environment string, spec api.QuotaSpec) (*api.Quota, error) {
	body, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	return send[api.Quota](ctx, c, request{
		method: http.MethodPut, path: quotaPath(tenant, environment), query: url.Values{"dry_run": {"true"}},
		body: body, contentType: contentJSON, expect: quotaIdentity(tenant, environment),
	})
}

// DeleteQuota removes a quota, lifting its limits, whatever its revision:
// promotions change environments' quotas as well as Terraform does.
func (c *Client) DeleteQuota(ctx context.Context, tenant, environment string) error {
	_, err := Delete[json.RawMessage](ctx, c, quotaPath(tenant, environment), 0)
	return err
}
