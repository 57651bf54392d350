package client

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// environments reaches a tenant's environments, keyed by name.
var environments = tenantObjects[api.Environment]{"environments", "name"}

// CreateEnvironment creates an environment in a tenant.
func (c *Client) CreateEnvironment(ctx context.Context, tenant string, spec api.EnvironmentSpec) (*api.Environment, error) {
	return environments.create(ctx, c, tenant, spec.Name, spec)
}

// CheckEnvironment asks the server whether CreateEnvironment would succeed
// (a dry run: every check, no write) and returns the environment as it would be.
func (c *Client) CheckEnvironment(ctx context.Context, tenant string, spec api.EnvironmentSpec) (*api.Environment, error) {
	return environments.check(ctx, c, tenant, spec.Name, spec)
}

// GetEnvironment reads an environment; ErrNotFound if the tenant has none with name.
func (c *Client) GetEnvironment(ctx context.Context, tenant, name string) (*api.Environment, error) {
	return environments.get(ctx, c, tenant, name)
}

// ListEnvironments reads every environment of a tenant, in name order; query
// may hold type to narrow the list.
func (c *Client) ListEnvironments(ctx context.Context, tenant string, query url.Values) ([]api.Environment, error) {
	return environments.list(ctx, c, tenant, query)
}

// UpdateEnvironment applies a merge patch (see MergePatch) to an
// environment: settings keys it names change, a key set to null is removed,
// and the others are left alone. ifMatch, unless 0, is the revision the
// update requires.
func (c *Client) UpdateEnvironment(ctx context.Context, tenant, name string, patch json.RawMessage, ifMatch int64) (*api.Environment, error) {
	return environments.update(ctx, c, tenant, name, patch, ifMatch)
}

// DeleteEnvironment deletes an environment together with its quota, the
// role bindings scoped to it and its entries in feature flags, whatever its
// revision: promotions change environments' settings as well as Terraform
// does, so the revision Terraform last recorded is often behind without
// anything Terraform manages having changed.
func (c *Client) DeleteEnvironment(ctx context.Context, tenant, name string) error {
	return environments.delete(ctx, c, tenant, name, 0)
}
