package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

func environmentsPath(tenant string) string {
	return PathEscape("v1", "tenants", tenant, "environments")
}

func environmentIdentity(tenant, name string) identity {
	return inTenant(tenant).with("name", name)
}

func environmentPath(tenant, name string) string {
	return PathEscape("v1", "tenants", tenant, "environments", name)
}

// CreateEnvironment creates an environment in a tenant.
func (c *Client) CreateEnvironment(ctx context.Context, tenant string, spec api.EnvironmentSpec) (*api.Environment, error) {
	return create[api.Environment](ctx, c, environmentsPath(tenant), spec, environmentIdentity(tenant, spec.Name))
}

// CheckEnvironment asks the server whether CreateEnvironment would succeed
// (a dry run: every check, no write) and returns the environment as it would be.
func (c *Client) CheckEnvironment(ctx context.Context, tenant string, spec api.EnvironmentSpec) (*api.Environment, error) {
	body, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	return send[api.Environment](ctx, c, request{
		method: http.MethodPost, path: environmentsPath(tenant), query: url.Values{"dry_run": {"true"}},
		body: body, contentType: contentJSON, expect: environmentIdentity(tenant, spec.Name),
	})
}

// GetEnvironment reads an environment; ErrNotFound if the tenant has none with name.
func (c *Client) GetEnvironment(ctx context.Context, tenant, name string) (*api.Environment, error) {
	return get[api.Environment](ctx, c, environmentPath(tenant, name), environmentIdentity(tenant, name))
}

// ListEnvironments reads every environment of a tenant, in name order; query
// may hold type to narrow the list.
func (c *Client) ListEnvironments(ctx context.Context, tenant string, query url.Values) ([]api.Environment, error) {
	return listAll[api.Environment](ctx, c, environmentsPath(tenant), query, inTenant(tenant))
}

// UpdateEnvironment applies a merge patch (see MergePatch) to an
// environment: settings keys it names change, a key set to null is removed,
// and the others are left alone. ifMatch, unless 0, is the revision the
// update requires.
func (c *Client) UpdateEnvironment(ctx context.Context, tenant, name string, patch json.RawMessage, ifMatch int64) (*api.Environment, error) {
	return patchAs[api.Environment](ctx, c, environmentPath(tenant, name), patch, ifMatch, environmentIdentity(tenant, name))
}

// DeleteEnvironment deletes an environment together with its quota, the
// role bindings scoped to it and its entries in feature flags, whatever its
// revision: promotions change environments' settings as well as Terraform
// does, so the revision Terraform last recorded is often behind without
// anything Terraform manages having changed.
func (c *Client) DeleteEnvironment(ctx context.Context, tenant, name string) error {
	_, err := Delete[json.RawMessage](ctx, c, environmentPath(tenant, name), 0)
	return err
}
