package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

func promotionsPath(tenant string) string {
	return PathEscape("v1", "tenants", tenant, "promotions")
}

func promotionLinkPath(tenant, target string) string {
	return PathEscape("v1", "tenants", tenant, "promotion-links", target)
}

// promotionIdentity is what a promotion's answer must say it promotes.
func promotionIdentity(tenant string, req api.PromotionRequest) identity {
	return inTenant(tenant).with("source_environment", req.SourceEnvironment, "target_environment", req.TargetEnvironment)
}

// PreviewPromotion asks what promoting req's source to its target would
// change, without changing anything (a dry run): every check of the
// promotion runs, and the answer lists the changes.
func (c *Client) PreviewPromotion(ctx context.Context, tenant string, req api.PromotionRequest) (*api.Promotion, error) {
	req.DryRun = true
	r, err := jsonRequest(http.MethodPost, promotionsPath(tenant), req, 0)
	if err != nil {
		return nil, err
	}
	r.expect = promotionIdentity(tenant, req)
	// A preview writes nothing, so it leaves the refresh cache alone.
	r.readOnly = true
	return send[api.Promotion](ctx, c, r)
}

// Promote promotes req's source to its target and returns the promotion,
// with the changes it made. With req.ExpectChanges set, it fails with
// ErrPreconditionFailed unless it makes exactly those changes.
func (c *Client) Promote(ctx context.Context, tenant string, req api.PromotionRequest) (*api.Promotion, error) {
	req.DryRun = false
	return create[api.Promotion](ctx, c, promotionsPath(tenant), req, promotionIdentity(tenant, req))
}

// GetPromotion reads one promotion of a tenant's history.
func (c *Client) GetPromotion(ctx context.Context, tenant, id string) (*api.Promotion, error) {
	return get[api.Promotion](ctx, c, PathEscape("v1", "tenants", tenant, "promotions", id), inTenant(tenant).with("id", id))
}

// ListPromotions reads a tenant's promotion history, newest first; target,
// unless "", keeps only the promotions into that environment.
func (c *Client) ListPromotions(ctx context.Context, tenant, target string) ([]api.Promotion, error) {
	query := url.Values{}
	if target != "" {
		query.Set("target_environment", target)
	}
	// The largest pages: a drift explanation may read a long history.
	query.Set("page_size", strconv.Itoa(api.MaxPageSize))
	return listAll[api.Promotion](ctx, c, promotionsPath(tenant), query, inTenant(tenant))
}

// RollbackPromotion restores the target's state from before a promotion,
// which must be the latest one into its target not rolled back yet.
func (c *Client) RollbackPromotion(ctx context.Context, tenant, id string) (*api.Promotion, error) {
	return create[api.Promotion](ctx, c, PathEscape("v1", "tenants", tenant, "promotions", id, "rollback"), nil, inTenant(tenant).with("id", id))
}

// GetPromotionLink reads the promotion link into target; ErrNotFound when
// it has none.
func (c *Client) GetPromotionLink(ctx context.Context, tenant, target string) (*api.PromotionLink, error) {
	return get[api.PromotionLink](ctx, c, promotionLinkPath(tenant, target), inTenant(tenant).with("target_environment", target))
}

// DeletePromotionLink removes the promotion link into target; the
// environments are left as they are.
func (c *Client) DeletePromotionLink(ctx context.Context, tenant, target string) error {
	_, err := Delete[json.RawMessage](ctx, c, promotionLinkPath(tenant, target), 0)
	return err
}
