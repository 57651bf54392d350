package client

import (
	"context"
	"encoding/json"
	"maps"
	"net/url"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

const tenantsPath = "/v1/tenants"

func tenantPath(slug string) string { return PathEscape("v1", "tenants", slug) }

// tenantIdentity is what an answer about the tenant slug must say it is.
func tenantIdentity(slug string) identity { return identity{"slug": slug} }

// inTenant is what an answer about any object of a tenant must say.
func inTenant(tenant string) identity { return identity{"tenant_id": tenant} }

// with is id plus more fields.
func (id identity) with(kv ...string) identity {
	out := maps.Clone(id)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// CreateTenant creates a tenant; it starts in provisioning.
func (c *Client) CreateTenant(ctx context.Context, spec api.TenantSpec) (*api.Tenant, error) {
	return create[api.Tenant](ctx, c, tenantsPath, spec, tenantIdentity(spec.Slug))
}

// GetTenant reads a tenant; ErrNotFound if there is none with slug.
func (c *Client) GetTenant(ctx context.Context, slug string) (*api.Tenant, error) {
	return get[api.Tenant](ctx, c, tenantPath(slug), tenantIdentity(slug))
}

// ListTenants reads every tenant the token may see that matches query.
func (c *Client) ListTenants(ctx context.Context, query url.Values) ([]api.Tenant, error) {
	return ListAll[api.Tenant](ctx, c, tenantsPath, query)
}

// UpdateTenant applies a merge patch (see MergePatch) to a tenant; ifMatch,
// unless 0, is the revision the update requires.
func (c *Client) UpdateTenant(ctx context.Context, slug string, patch json.RawMessage, ifMatch int64) (*api.Tenant, error) {
	return patchAs[api.Tenant](ctx, c, tenantPath(slug), patch, ifMatch, tenantIdentity(slug))
}

// DeleteTenant decommissions a tenant and says where its final backup is;
// ifMatch, unless 0, is the revision the delete requires.
func (c *Client) DeleteTenant(ctx context.Context, slug string, ifMatch int64) (*api.TenantDeletion, error) {
	return deleteAs[api.TenantDeletion](ctx, c, tenantPath(slug), ifMatch, identity{"slug": slug})
}

// ListRegions lists the regions the platform offers.
func (c *Client) ListRegions(ctx context.Context) ([]string, error) {
	regions, err := ListAll[api.Region](ctx, c, "/v1/regions", nil)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(regions))
	for i, r := range regions {
		names[i] = r.Name
	}
	return names, nil
}
