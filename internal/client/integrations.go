package client

import (
	"context"
	"encoding/json"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

func integrationsPath(tenant string) string {
	return PathEscape("v1", "tenants", tenant, "integrations")
}

func integrationIdentity(tenant, name string) identity {
	return inTenant(tenant).with("name", name)
}

func integrationPath(tenant, name string) string {
	return PathEscape("v1", "tenants", tenant, "integrations", name)
}

// CreateIntegration creates an integration in a tenant. Its secret, if
// spec has one, is sent once and never comes back: the answer only says
// secret_set.
func (c *Client) CreateIntegration(ctx context.Context, tenant string, spec api.IntegrationSpec) (*api.Integration, error) {
	return create[api.Integration](ctx, c, integrationsPath(tenant), spec, integrationIdentity(tenant, spec.Name))
}

// GetIntegration reads an integration, without its secret; ErrNotFound if
// the tenant has no integration with name.
func (c *Client) GetIntegration(ctx context.Context, tenant, name string) (*api.Integration, error) {
	return get[api.Integration](ctx, c, integrationPath(tenant, name), integrationIdentity(tenant, name))
}

// UpdateIntegration applies a merge patch to an integration: "secret" sets a
// new secret and "secret": null removes it. ifMatch, unless 0, is the
// revision the update requires.
func (c *Client) UpdateIntegration(ctx context.Context, tenant, name string, patch json.RawMessage, ifMatch int64) (*api.Integration, error) {
	return patchAs[api.Integration](ctx, c, integrationPath(tenant, name), patch, ifMatch, integrationIdentity(tenant, name))
}

// DeleteIntegration deletes an integration and its secret; ifMatch, unless
// 0, is the revision the delete requires.
func (c *Client) DeleteIntegration(ctx context.Context, tenant, name string, ifMatch int64) error {
	_, err := Delete[json.RawMessage](ctx, c, integrationPath(tenant, name), ifMatch)
	return err
}
