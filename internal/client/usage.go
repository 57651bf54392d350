package client

import (
	"context"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// GetUsage reads a tenant's usage: API calls and errors counted by the
// platform, and the users, environments and storage it holds now.
func (c *Client) GetUsage(ctx context.Context, tenant string) (*api.Usage, error) {
	return get[api.Usage](ctx, c, PathEscape("v1", "tenants", tenant, "usage"), inTenant(tenant))
}
