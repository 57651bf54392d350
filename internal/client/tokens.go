package client

import (
	"context"
	"encoding/json"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// CreateToken mints a token; the answer is the only one that holds its secret.
func (c *Client) CreateToken(ctx context.Context, req api.TokenRequest) (*api.Token, error) {
	return create[api.Token](ctx, c, "/v1/tokens", req, identity{"name": req.Name, "tenant": req.Tenant, "role": req.Role})
}

// RevokeToken revokes the token with id.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	_, err := Delete[json.RawMessage](ctx, c, PathEscape("v1", "tokens", id), 0)
	return err
}
