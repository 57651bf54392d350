package client

import (
	"context"
	"encoding/json"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// featureFlags reaches a tenant's feature flags, keyed by key.
var featureFlags = tenantObjects[api.FeatureFlag]{"feature-flags", "key"}

// CreateFeatureFlag creates a feature flag in a tenant; every environment it
// names must exist.
func (c *Client) CreateFeatureFlag(ctx context.Context, tenant string, spec api.FeatureFlagSpec) (*api.FeatureFlag, error) {
	return featureFlags.create(ctx, c, tenant, spec.Key, spec)
}

// GetFeatureFlag reads a feature flag; ErrNotFound if the tenant has no flag with key.
func (c *Client) GetFeatureFlag(ctx context.Context, tenant, key string) (*api.FeatureFlag, error) {
	return featureFlags.get(ctx, c, tenant, key)
}

// ListFeatureFlags reads every feature flag of a tenant, in key order.
func (c *Client) ListFeatureFlags(ctx context.Context, tenant string) ([]api.FeatureFlag, error) {
	return featureFlags.list(ctx, c, tenant, nil)
}

// UpdateFeatureFlag applies a merge patch to a feature flag: the
// environments it names change, an environment set to null loses its entry,
// and the others are left alone. ifMatch, unless 0, is the revision the update requires.
func (c *Client) UpdateFeatureFlag(ctx context.Context, tenant, key string, patch json.RawMessage, ifMatch int64) (*api.FeatureFlag, error) {
	return featureFlags.update(ctx, c, tenant, key, patch, ifMatch)
}

// DeleteFeatureFlag deletes a feature flag in every environment, whatever
// its revision: promotions, and writes to environments Terraform does not
// manage, change a flag without changing what Terraform manages of it.
func (c *Client) DeleteFeatureFlag(ctx context.Context, tenant, key string) error {
	return featureFlags.delete(ctx, c, tenant, key, 0)
}
