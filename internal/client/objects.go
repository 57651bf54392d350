package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
)

// tenantObjects is how the client reaches one kind of a tenant's objects:
// at /v1/tenants/{tenant}/{plural}/{key}, each answer naming its tenant
// (tenant_id) and its key (field keyField). The typed methods of each kind
// (GetUser, UpdateRoleBinding, ...) are one call of these.
type tenantObjects[T any] struct {
	plural, keyField string
}

func (k tenantObjects[T]) path(tenant string, key ...string) string {
	return PathEscape(append([]string{"v1", "tenants", tenant, k.plural}, key...)...)
}

// identity is what an answer about the object with key must name; a key of
// "" (a create whose key the server chooses) asks for the tenant alone.
func (k tenantObjects[T]) identity(tenant, key string) identity {
	if key == "" {
		return inTenant(tenant)
	}
	return inTenant(tenant).with(k.keyField, key)
}

// create creates an object; key is its key, or "" when the server chooses it.
func (k tenantObjects[T]) create(ctx context.Context, c *Client, tenant, key string, spec any) (*T, error) {
	return create[T](ctx, c, k.path(tenant), spec, k.identity(tenant, key))
}

// check asks whether create would succeed (a dry run: every check, no
// write) and returns the object as it would be.
func (k tenantObjects[T]) check(ctx context.Context, c *Client, tenant, key string, spec any) (*T, error) {
	body, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	return send[T](ctx, c, request{
		method: http.MethodPost, path: k.path(tenant), query: url.Values{"dry_run": {"true"}},
		body: body, contentType: contentJSON, expect: k.identity(tenant, key),
	})
}

func (k tenantObjects[T]) get(ctx context.Context, c *Client, tenant, key string) (*T, error) {
	return get[T](ctx, c, k.path(tenant, key), k.identity(tenant, key))
}

func (k tenantObjects[T]) list(ctx context.Context, c *Client, tenant string, query url.Values) ([]T, error) {
	return listAll[T](ctx, c, k.path(tenant), query, inTenant(tenant))
}

func (k tenantObjects[T]) update(ctx context.Context, c *Client, tenant, key string, patch json.RawMessage, ifMatch int64) (*T, error) {
	return patchAs[T](ctx, c, k.path(tenant, key), patch, ifMatch, k.identity(tenant, key))
}

func (k tenantObjects[T]) delete(ctx context.Context, c *Client, tenant, key string, ifMatch int64) error {
	_, err := Delete[json.RawMessage](ctx, c, k.path(tenant, key), ifMatch)
	return err
}
