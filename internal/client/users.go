package client

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// users reaches a tenant's users, keyed by the user_id the server chooses.
var users = tenantObjects[api.User]{"users", "user_id"}

// CreateUser creates a user in a tenant; the server chooses its user_id.
func (c *Client) CreateUser(ctx context.Context, tenant string, spec api.UserSpec) (*api.User, error) {
	return users.create(ctx, c, tenant, "", spec)
}

// GetUser reads a user; ErrNotFound if the tenant has no user with userID.
func (c *Client) GetUser(ctx context.Context, tenant, userID string) (*api.User, error) {
	return users.get(ctx, c, tenant, userID)
}

// ListUsers reads every user of a tenant; query may hold email to find one.
func (c *Client) ListUsers(ctx context.Context, tenant string, query url.Values) ([]api.User, error) {
	return users.list(ctx, c, tenant, query)
}

// UpdateUser applies a merge patch (see MergePatch) to a user; ifMatch,
// unless 0, is the revision the update requires.
func (c *Client) UpdateUser(ctx context.Context, tenant, userID string, patch json.RawMessage, ifMatch int64) (*api.User, error) {
	return users.update(ctx, c, tenant, userID, patch, ifMatch)
}

// DeleteUser deletes a user and its role bindings; ifMatch, unless 0, is the
// revision the delete requires.
func (c *Client) DeleteUser(ctx context.Context, tenant, userID string, ifMatch int64) error {
	return users.delete(ctx, c, tenant, userID, ifMatch)
}
