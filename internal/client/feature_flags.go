package client

import (
	"context"
	"encoding/json"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

func featureFlagsPath(tenant string) string {
	return PathEscape("v1", "tenants", tenant, "feature-flags")
}

func flagIdentity(tenant, key string) identity {
	return inTenant(tenant).with("key", key)
}

func featureFlagPath(tenant, key string) string {
	return PathEscape("v1", "tenants", tenant, "feature-flags", key)
}

// CreateFeatureFlag creates a feature flag in a tenant; every environment it
// names must exist.
func (c *Client) CreateFeatureFlag(ctx context.Context, tenant string, spec api.FeatureFlagSpec) (*api.FeatureFlag, error) {
	return create[api.FeatureFlag](ctx, c, featureFlagsPath(tenant), spec, flagIdentity(tenant, spec.Key))
}

// GetFeatureFlag reads a feature flag; ErrNotFound if the tenant has no flag with key.
func (c *Client) GetFeatureFlag(ctx context.Context, tenant, key string) (*api.FeatureFlag, error) {
	return get[api.FeatureFlag](ctx, c, featureFlagPath(tenant, key), flagIdentity(tenant, key))
}

// ListFeatureFlags reads every feature flag of a tenant, in key order.
func (c *Client) ListFeatureFlags(ctx context.Context, tenant string) ([]api.FeatureFlag, error) {
	return listAll[api.FeatureFlag](ctx, c, featureFlagsPath(tenant), nil, inTenant(tenant))
}

// UpdateFeatureFlag applies a merge patch to a feature flag: the
// environments it names change, an environment set to null loses its entry,
// and the others are left alone. ifMatch, unless 0, is the revision the update requires.
func (c *Client) UpdateFeatureFlag(ctx context.Context, tenant, key string, patch json.RawMessage, ifMatch int64) (*api.FeatureFlag, error) {
	return patchAs[api.FeatureFlag](ctx, c, featureFlagPath(tenant, key), patch, ifMatch, flagIdentity(tenant, key))
}

// DeleteFeatureFlag deletes a feature flag in every environment, whatever
// its revision: promotions, and writes to environments Terraform does not
// manage, change a flag without changing what Terraform manages of it.
func (c *Client) DeleteFeatureFlag(ctx context.Context, tenant, key string) error {
	_, err := Delete[json.RawMessage](ctx, c, featureFlagPath(tenant, key), 0)
	return err
}
