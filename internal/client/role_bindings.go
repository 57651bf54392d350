package client

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

func roleBindingsPath(tenant string) string {
	return PathEscape("v1", "tenants", tenant, "role-bindings")
}

func bindingIdentity(tenant, bindingID string) identity {
	return inTenant(tenant).with("binding_id", bindingID)
}

func roleBindingPath(tenant, bindingID string) string {
	return PathEscape("v1", "tenants", tenant, "role-bindings", bindingID)
}

// CreateRoleBinding grants a user a role in a tenant; the server chooses its
// binding_id.
func (c *Client) CreateRoleBinding(ctx context.Context, tenant string, spec api.RoleBindingSpec) (*api.RoleBinding, error) {
	return create[api.RoleBinding](ctx, c, roleBindingsPath(tenant), spec, inTenant(tenant))
}

// GetRoleBinding reads a role binding; ErrNotFound if the tenant has none with bindingID.
func (c *Client) GetRoleBinding(ctx context.Context, tenant, bindingID string) (*api.RoleBinding, error) {
	return get[api.RoleBinding](ctx, c, roleBindingPath(tenant, bindingID), bindingIdentity(tenant, bindingID))
}

// ListRoleBindings reads every role binding of a tenant; query may hold
// user_id and role to narrow the list.
func (c *Client) ListRoleBindings(ctx context.Context, tenant string, query url.Values) ([]api.RoleBinding, error) {
	return listAll[api.RoleBinding](ctx, c, roleBindingsPath(tenant), query, inTenant(tenant))
}

// UpdateRoleBinding applies a merge patch (see MergePatch) to a binding's
// role and environment; ifMatch, unless 0, is the revision the update requires.
func (c *Client) UpdateRoleBinding(ctx context.Context, tenant, bindingID string, patch json.RawMessage, ifMatch int64) (*api.RoleBinding, error) {
	return patchAs[api.RoleBinding](ctx, c, roleBindingPath(tenant, bindingID), patch, ifMatch, bindingIdentity(tenant, bindingID))
}

// DeleteRoleBinding deletes a role binding; ifMatch, unless 0, is the
// revision the delete requires.
func (c *Client) DeleteRoleBinding(ctx context.Context, tenant, bindingID string, ifMatch int64) error {
	_, err := Delete[json.RawMessage](ctx, c, roleBindingPath(tenant, bindingID), ifMatch)
	return err
}
