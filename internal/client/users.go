package client

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

func usersPath(tenant string) string { return PathEscape("v1", "tenants", tenant, "users") }

func userIdentity(tenant, userID string) identity {
	return inTenant(tenant).with("user_id", userID)
}

func userPath(tenant, userID string) string {
	return PathEscape("v1", "tenants", tenant, "users", userID)
}

// CreateUser creates a user in a tenant; the server chooses its user_id.
func (c *Client) CreateUser(ctx context.Context, tenant string, spec api.UserSpec) (*api.User, error) {
	return create[api.User](ctx, c, usersPath(tenant), spec, inTenant(tenant))
}

// GetUser reads a user; ErrNotFound if the tenant has no user with userID.
func (c *Client) GetUser(ctx context.Context, tenant, userID string) (*api.User, error) {
	return get[api.User](ctx, c, userPath(tenant, userID), userIdentity(tenant, userID))
}

// ListUsers reads every user of a tenant; query may hold email to find one.
func (c *Client) ListUsers(ctx context.Context, tenant string, query url.Values) ([]api.User, error) {
	return listAll[api.User](ctx, c, usersPath(tenant), query, inTenant(tenant))
}

// UpdateUser applies a merge patch (see MergePatch) to a user; ifMatch,
// unless 0, is the revision the update requires.
func (c *Client) UpdateUser(ctx context.Context, tenant, userID string, patch json.RawMessage, ifMatch int64) (*api.User, error) {
	return patchAs[api.User](ctx, c, userPath(tenant, userID), patch, ifMatch, userIdentity(tenant, userID))
}

// DeleteUser deletes a user and its role bindings; ifMatch, unless 0, is the
// revision the delete requires.
func (c *Client) DeleteUser(ctx context.Context, tenant, userID string, ifMatch int64) error {
	_, err := Delete[json.RawMessage](ctx, c, userPath(tenant, userID), ifMatch)
	return err
}
