package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validate"
)

// Token lifetimes: the default when ttl_seconds is left out, and the bounds.
const (
	defaultTokenTTL = 30 * 24 * time.Hour
	minTokenTTL     = time.Minute
	maxTokenTTL     = 365 * 24 * time.Hour
)

// createToken mints a token for a tenant (or the platform). Nobody mints a
// token above their own role, nor for a tenant they cannot see.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.mutate(w, r, p, []string{lockPlatform}, func(ctx context.Context, tx store.Tx, body []byte) (int, any, error) {
		var req api.TokenRequest
		if err := decodeStrict(body, &req); err != nil {
			return 0, nil, err
		}
		if strings.TrimSpace(req.Name) == "" || len(req.Name) > 100 {
			return 0, nil, errInvalid("name", "name must be 1 to 100 characters; got %q", req.Name)
		}
		ttl := defaultTokenTTL
		if req.TTLSeconds != 0 {
			ttl = time.Duration(req.TTLSeconds) * time.Second
			if err := validate.IntRange(req.TTLSeconds, int64(minTokenTTL/time.Second), int64(maxTokenTTL/time.Second)); err != nil {
				return 0, nil, invalidField("ttl_seconds", err)
			}
		}
		switch {
		case req.Role == api.RolePlatformAdmin && req.Tenant != "":
			return 0, nil, errInvalid("tenant", "a platform_admin token belongs to no tenant; leave tenant out")
		case req.Role == api.RolePlatformAdmin:
		case req.Tenant == "":
			return 0, nil, errInvalid("tenant", "a %s token needs the tenant it belongs to", req.Role)
		default:
			if err := validate.OneOf(req.Role, api.TenantRoles); err != nil {
				return 0, nil, invalidField("role", err)
			}
		}
		if req.Tenant != "" {
			if !p.canSee(req.Tenant) {
				return 0, nil, errTenantNotFound(req.Tenant)
			}
			if _, err := loadTenant(ctx, tx, req.Tenant); err != nil {
				return 0, nil, err
			}
		}
		if !p.atLeast(api.RoleTenantAdmin) || !p.atLeast(req.Role) {
			return 0, nil, errForbidden("role", "the token %q has role %s and cannot mint a %s token; nobody grants above their own role", p.Name, p.Role, req.Role)
		}
		now := s.now().UTC()
		expires := now.Add(ttl)
		// A token never outlives the token that minted it, so a short-lived
		// token cannot turn itself into a long-lived one.
		parent, err := tx.Token(ctx, p.TokenID)
		if err != nil {
			return 0, nil, err
		}
		if parent.ExpiresAt != nil && parent.ExpiresAt.Before(expires) {
			expires = *parent.ExpiresAt
		}
		secret := newTokenSecret()
		rec := store.TokenRecord{
			ID: newID("tok"), Name: req.Name, Tenant: req.Tenant, Role: req.Role, Hash: hashToken(secret),
			CreatedBy: p.Name, CreatedAt: now, ExpiresAt: &expires,
		}
		if err := tx.CreateToken(ctx, rec); err != nil {
			return 0, nil, err
		}
		if err := s.audit(ctx, tx, p, auditEntry{tenant: req.Tenant, action: "token.create", kind: api.KindToken, key: rec.ID,
			detail: "name " + req.Name + ", role " + req.Role}); err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, mintedToken{api.Token{
			ID: rec.ID, Name: rec.Name, Tenant: rec.Tenant, Role: rec.Role, Token: secret,
			ExpiresAt: rec.ExpiresAt, CreatedAt: rec.CreatedAt,
		}}, nil
	})
}

// mintedToken is the answer to a token's creation, the one place its secret
// is ever shown. Only the secret's hash is stored, so a request replayed with
// the same Idempotency-Key cannot get it again.
type mintedToken struct{ api.Token }

func (t mintedToken) replay() *apiError {
	return errConflict("", "token %q (%s) was minted by an earlier request with this Idempotency-Key, and its secret is shown only once; "+
		"if that answer was lost, revoke %s and mint a new token", t.Name, t.ID, t.ID)
}

// revokeToken revokes a token: any token may revoke itself, a tenant admin
// the tokens of its tenant, a platform admin any token.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := r.PathValue("id")
	return s.mutate(w, r, p, []string{lockPlatform}, func(ctx context.Context, tx store.Tx, _ []byte) (int, any, error) {
		tok, err := tx.Token(ctx, id)
		notFound := errNotFound("token %q not found", id)
		if errors.Is(err, store.ErrNotFound) {
			return 0, nil, notFound
		}
		if err != nil {
			return 0, nil, err
		}
		self := tok.ID == p.TokenID
		if !self && !p.canSee(tok.Tenant) {
			return 0, nil, notFound
		}
		if mayRevoke := p.atLeast(api.RoleTenantAdmin) && p.atLeast(tok.Role); !self && !mayRevoke {
			return 0, nil, errForbidden("", "the token %q has role %s and cannot revoke a %s token", p.Name, p.Role, tok.Role)
		}
		if tok.RevokedAt == nil {
			if err := tx.RevokeToken(ctx, id, s.now().UTC()); err != nil {
				return 0, nil, err
			}
			if err := s.audit(ctx, tx, p, auditEntry{tenant: tok.Tenant, action: "token.revoke", kind: api.KindToken, key: id}); err != nil {
				return 0, nil, err
			}
		}
		return http.StatusNoContent, nil, nil
	})
}
