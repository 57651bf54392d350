package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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

// Names tenancyd itself uses in the audit log: the actor of its own work
// (provisioning, expiring backups) and the first platform-admin token.
const (
	systemActor        = "tenancyd"
	bootstrapTokenName = "bootstrap"
	maxTokenNameLength = 100 // characters
)

// reservedTokenNames may not be minted, in any case or spacing, so that no
// token passes for tenancyd or its bootstrap token in the audit log.
var reservedTokenNames = []string{systemActor, bootstrapTokenName, "system"}

// tokenRoutes: minting, listing and revoking tokens.
func (s *Server) tokenRoutes() []route {
	return []route{
		{"GET /v1/tokens", authenticated, s.listTokens},
		{"GET /v1/tokens/self", authenticated, s.tokenSelf},
		{"POST /v1/tokens", authenticated, s.createToken},
		{"DELETE /v1/tokens/{id}", authenticated, s.revokeToken},
		{"GET /v1/audit-events", platformAdmin, s.listPlatformAuditEvents},
	}
}

// checkTokenName refuses names an audit log reader could be misled by:
// control or invisible characters, surrounding spaces, and names of the
// server's own.
func checkTokenName(name string) error {
	switch n := utf8.RuneCountInString(name); {
	case !utf8.ValidString(name) || n == 0 || n > maxTokenNameLength:
		return errInvalid("name", "name must be 1 to %d characters of UTF-8 text; got %s", maxTokenNameLength, shortQuote(name))
	case strings.ContainsFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }):
		return errInvalid("name", "name %s holds a control or invisible character; use printable text such as \"ci-deploy\"", shortQuote(name))
	case strings.TrimSpace(name) != name:
		return errInvalid("name", "name %s starts or ends with a space; remove it", shortQuote(name))
	}
	folded := strings.Join(strings.Fields(name), " ")
	for _, reserved := range reservedTokenNames {
		if strings.EqualFold(folded, reserved) {
			return errInvalid("name", "name %q is reserved for tenancyd itself (%s); choose another, such as \"ci-deploy\"",
				name, strings.Join(reservedTokenNames, ", "))
		}
	}
	return nil
}

// tokenSelf describes the token the request presents, so that a client can
// learn what it may reach before it reads anything (a tenant-scoped token
// gets 404 for another tenant's objects, the same answer as for objects
// that do not exist). Any valid token may ask; the secret is never shown.
func (s *Server) tokenSelf(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.view(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		tok, err := tx.Token(ctx, p.TokenID)
		if err != nil {
			return nil, err
		}
		return api.TokenInfo{
			ID: tok.ID, Name: tok.Name, Tenant: tok.Tenant, Role: tok.Role,
			ExpiresAt: tok.ExpiresAt, CreatedAt: tok.CreatedAt,
		}, nil
	})
}

// createToken mints a token for a tenant (or the platform). Nobody mints a
// token above their own role, nor for a tenant they cannot see.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.mutate(w, r, p, []string{lockPlatform}, func(ctx context.Context, tx store.Tx, body []byte) (int, any, error) {
		var req api.TokenRequest
		if err := decodeStrict(body, &req); err != nil {
			return 0, nil, err
		}
		if err := checkTokenName(req.Name); err != nil {
			return 0, nil, err
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
			CreatedBy: p.Name, CreatedByID: p.TokenID, CreatedAt: now, ExpiresAt: &expires,
		}
		if err := tx.CreateToken(ctx, rec); err != nil {
			return 0, nil, err
		}
		if err := s.audit(ctx, tx, p, auditEntry{tenant: req.Tenant, action: "token.create", kind: api.KindToken, key: rec.ID,
			detail: "name " + req.Name + ", role " + req.Role}); err != nil {
			return 0, nil, err
		}
		minted := tokenView(rec)
		minted.Token = secret
		return http.StatusCreated, mintedToken{minted}, nil
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

// tokenView is a token as the API shows it, never with its secret or hash.
func tokenView(t store.TokenRecord) api.Token {
	return api.Token{
		ID: t.ID, Name: t.Name, Tenant: t.Tenant, Role: t.Role, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt,
		CreatedBy: t.CreatedBy, CreatedByID: t.CreatedByID, CreatedAt: t.CreatedAt,
	}
}

// revokeToken revokes a token and every token minted from it, directly or
// not, so that a leaked token leaves nothing behind: any token may revoke
// itself, a tenant admin the tokens of its tenant, a platform admin any
// token. Each token revoked gets an audit event in its tenant's log (the
// platform's for platform tokens). It is no deletion (see deleteIn): a
// token is a record of its own table, without revisions, and is kept,
// revoked.
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
		revoked, err := tx.RevokeToken(ctx, id, s.now().UTC())
		if err != nil {
			return 0, nil, err
		}
		for _, rid := range revoked {
			e := auditEntry{tenant: tok.Tenant, action: "token.revoke", kind: api.KindToken, key: rid}
			if rid != id {
				d, err := tx.Token(ctx, rid)
				if err != nil {
					return 0, nil, err
				}
				e.tenant, e.detail = d.Tenant, "minted (directly or not) by revoked token "+id
			} else if n := len(revoked) - 1; n > 0 {
				e.detail = fmt.Sprintf("with the %d tokens minted from it", n)
			}
			if err := s.audit(ctx, tx, p, e); err != nil {
				return 0, nil, err
			}
		}
		return http.StatusNoContent, nil, nil
	})
}

// listTokens lists the tokens the caller may manage, in id order, revoked
// and expired ones included, never their secrets or hashes: every token
// for a platform admin, or those of one tenant with ?tenant=slug (tokens
// outlive their tenant, so the slug need not exist any more); the tokens of
// its own tenant for a tenant admin.
func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, p *principal) error {
	after, size, err := page(r)
	if err != nil {
		return err
	}
	q := store.TokenQuery{Tenant: p.Tenant, After: after, Limit: size + 1}
	// Another tenant answers as a missing one, before the role is checked,
	// as authorize does.
	if tenant := r.URL.Query().Get("tenant"); tenant != "" {
		if err := validate.Slug(tenant); err != nil {
			return errBadRequest("tenant", "tenant: %v", err)
		}
		if !p.canSee(tenant) {
			return errTenantNotFound(tenant)
		}
		q.Tenant = tenant
	} else if p.Role == api.RolePlatformAdmin {
		q.All = true
	}
	if !p.atLeast(api.RoleTenantAdmin) {
		return errForbidden("", "listing tokens needs role tenant_admin or above; the token %q has role %s", p.Name, p.Role)
	}
	var tokens []store.TokenRecord
	err = s.store.View(r.Context(), func(ctx context.Context, tx store.Tx) error {
		tokens, err = tx.ListTokens(ctx, q)
		return err
	})
	if err != nil {
		return err
	}
	list := api.List[api.Token]{Items: []api.Token{}}
	for i, t := range tokens {
		if i == size {
			list.NextPageToken = pageToken(tokens[size-1].ID)
			break
		}
		list.Items = append(list.Items, tokenView(t))
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}
