package client

import (
	"context"
	"errors"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// Identify asks the platform about the client's own token (GET
// /v1/tokens/self) and remembers the answer: from then on, a 404 for an
// object of a tenant that a tenant-scoped token may not see is an
// *OutOfReachError, not ErrNotFound. ErrNoRoute says that the endpoint is
// not tenancyd's root URL, ErrUnauthenticated that the token is not valid.
func (c *Client) Identify(ctx context.Context) (*api.TokenInfo, error) {
	info, err := Get[api.TokenInfo](ctx, c, "/v1/tokens/self")
	if err != nil {
		return nil, err
	}
	if info == nil || info.Role == "" {
		return nil, errors.New("GET /v1/tokens/self: the answer does not describe a token; is the endpoint a tenancyd?")
	}
	c.self.Store(info)
	return info, nil
}

// CreateToken mints a token; the answer is the only one that holds its secret.
func (c *Client) CreateToken(ctx context.Context, req api.TokenRequest) (*api.Token, error) {
	return create[api.Token](ctx, c, "/v1/tokens", req, identity{"name": req.Name, "tenant": req.Tenant, "role": req.Role})
}
