package client

import (
	"context"
	"encoding/json"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// integrations reaches a tenant's integrations, keyed by name.
var integrations = tenantObjects[api.Integration]{"integrations", "name"}

// CreateIntegration creates an integration in a tenant. Its secret, if
// spec has one, is sent once and never comes back: the answer only says
// secret_set.
func (c *Client) CreateIntegration(ctx context.Context, tenant string, spec api.IntegrationSpec) (*api.Integration, error) {
	return integrations.create(ctx, c, tenant, spec.Name, spec)
}

// GetIntegration reads an integration, without its secret; ErrNotFound if
// the tenant has no integration with name.
func (c *Client) GetIntegration(ctx context.Context, tenant, name string) (*api.Integration, error) {
	return integrations.get(ctx, c, tenant, name)
}

// UpdateIntegration applies a merge patch to an integration: "secret" sets a
// new secret and "secret": null removes it. ifMatch, unless 0, is the
// revision the update requires.
func (c *Client) UpdateIntegration(ctx context.Context, tenant, name string, patch json.RawMessage, ifMatch int64) (*api.Integration, error) {
	return integrations.update(ctx, c, tenant, name, patch, ifMatch)
}

// DeleteIntegration deletes an integration and its secret; ifMatch, unless
// 0, is the revision the delete requires.
func (c *Client) DeleteIntegration(ctx context.Context, tenant, name string, ifMatch int64) error {
	return integrations.delete(ctx, c, tenant, name, ifMatch)
}
