package client

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// roleBindings reaches a tenant's role bindings, keyed by the binding_id
// the server chooses.
var roleBindings = tenantObjects[api.RoleBinding]{"role-bindings", "binding_id"}

// CreateRoleBinding grants a user a role in a tenant; the server chooses its
// binding_id.
func (c *Client) CreateRoleBinding(ctx context.Context, tenant string, spec api.RoleBindingSpec) (*api.RoleBinding, error) {
	return roleBindings.create(ctx, c, tenant, "", spec)
}

// GetRoleBinding reads a role binding; ErrNotFound if the tenant has none with bindingID.
func (c *Client) GetRoleBinding(ctx context.Context, tenant, bindingID string) (*api.RoleBinding, error) {
	return roleBindings.get(ctx, c, tenant, bindingID)
}

// ListRoleBindings reads every role binding of a tenant; query may hold
// user_id and role to narrow the list.
func (c *Client) ListRoleBindings(ctx context.Context, tenant string, query url.Values) ([]api.RoleBinding, error) {
	return roleBindings.list(ctx, c, tenant, query)
}

// UpdateRoleBinding applies a merge patch (see MergePatch) to a binding's
// role and environment; ifMatch, unless 0, is the revision the update requires.
func (c *Client) UpdateRoleBinding(ctx context.Context, tenant, bindingID string, patch json.RawMessage, ifMatch int64) (*api.RoleBinding, error) {
	return roleBindings.update(ctx, c, tenant, bindingID, patch, ifMatch)
}

// DeleteRoleBinding deletes a role binding; ifMatch, unless 0, is the
// revision the delete requires.
func (c *Client) DeleteRoleBinding(ctx context.Context, tenant, bindingID string, ifMatch int64) error {
	return roleBindings.delete(ctx, c, tenant, bindingID, ifMatch)
}
