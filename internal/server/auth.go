package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

// principal is who a request acts as: the token it presented.
type principal struct {
	TokenID string
	Name    string
	Tenant  string // "" for a platform token
	Role    string
	// CreatedByID is the id of the token that minted this one.
	CreatedByID string
}

// access is what a route demands of its caller. It is declared once per
// route, in the route list of the route's area (tenantRoutes in tenants.go,
// userRoutes in users.go, ...), which routeTable gathers, and checked only
// in authorize.
type access int

const (
	public access = iota
	// authenticated admits any valid token; the handler narrows what it sees.
	authenticated
	platformAdmin
	tenantViewer
	tenantUser
	tenantAdmin
)

var accessRole = map[access]string{
	platformAdmin: api.RolePlatformAdmin,
	tenantViewer:  api.RoleTenantViewer,
	tenantUser:    api.RoleTenantUser,
	tenantAdmin:   api.RoleTenantAdmin,
}

// canSee reports whether p may know that a tenant exists at all.
func (p *principal) canSee(tenant string) bool {
	return p.Role == api.RolePlatformAdmin || p.Tenant == tenant
}

// atLeast reports whether p holds role or a higher one.
func (p *principal) atLeast(role string) bool {
	return api.RoleAtLeast(p.Role, role)
}

// authorize applies a route's access rule. A tenant-scoped token asking for
// another tenant gets the very answer a missing tenant gets.
func authorize(p *principal, acc access, tenant string) error {
	switch acc {
	case public, authenticated:
		return nil
	case platformAdmin:
		if p.Role != api.RolePlatformAdmin {
			return errForbidden("", "this needs a platform_admin token; the token %q has role %s", p.Name, p.Role)
		}
		return nil
	}
	if !p.canSee(tenant) {
		return errTenantNotFound(tenant)
	}
	if need := accessRole[acc]; !p.atLeast(need) {
		return errForbidden("", "this needs role %s or above in tenant %q; the token %q has role %s", need, tenant, p.Name, p.Role)
	}
	return nil
}

func errTenantNotFound(slug string) error {
	return errNotFound("tenant %q not found", slug)
}

// hashToken is how a token is stored: only its SHA-256. Tokens are 256 random
// bits, so a slow password hash would add latency and no safety.
func hashToken(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// newTokenSecret makes a bearer token with a prefix that secret scanners know.
func newTokenSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "tny_" + base64.RawURLEncoding.EncodeToString(b)
}

// authenticate resolves the bearer token of a request.
func (s *Server) authenticate(ctx context.Context, r *http.Request) (*principal, error) {
	h := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
		return nil, unauthenticated("missing bearer token: send Authorization: Bearer <token>")
	}
	hash := sha256.Sum256([]byte(strings.TrimSpace(secret)))
	if e, ok := s.tokens.get(hash); ok {
		if e.expiresAt != nil && !s.now().Before(*e.expiresAt) {
			return nil, errTokenExpired(e.p.Name, *e.expiresAt)
		}
		p := e.p
		return &p, nil
	}
	epoch, readAt := s.tokens.begin(), time.Now()
	var tok store.TokenRecord
	err := s.store.Read(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		tok, err = tx.TokenByHash(ctx, hash[:])
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, unauthenticated("the bearer token is not valid")
	case err != nil:
		return nil, err
	case tok.RevokedAt != nil:
		return nil, unauthenticated("the bearer token %q was revoked", tok.Name)
	case tok.ExpiresAt != nil && !s.now().Before(*tok.ExpiresAt):
		return nil, errTokenExpired(tok.Name, *tok.ExpiresAt)
	}
	p := principal{TokenID: tok.ID, Name: tok.Name, Tenant: tok.Tenant, Role: tok.Role, CreatedByID: tok.CreatedByID}
	s.tokens.put(hash, cachedToken{p: p, expiresAt: tok.ExpiresAt, read: readAt}, epoch)
	return &p, nil
}

func errTokenExpired(name string, at time.Time) error {
	return unauthenticated("the bearer token %q expired at %s", name, at.UTC().Format(time.RFC3339))
}

func unauthenticated(format string, args ...any) *apiError {
	e := newError(http.StatusUnauthorized, api.CodeUnauthenticated, "", format, args...)
	e.header = http.Header{"Www-Authenticate": {`Bearer realm="tenancyd"`}}
	return e
}

// Bootstrap gives an empty database its first platform-admin token: secret
// when given (TENANCY_BOOTSTRAP_TOKEN), a generated one otherwise. It returns
// the secret only when it generated it, so the caller can print it once.
// A database that has tokens already is left alone.
func Bootstrap(ctx context.Context, st store.Store, secret string) (generated string, err error) {
	err = st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.Lock(ctx, lockPlatform); err != nil {
			return err
		}
		n, err := tx.CountTokens(ctx)
		if err != nil || n > 0 {
			return err
		}
		if secret == "" {
			secret = newTokenSecret()
			generated = secret
		} else if len(secret) < 16 {
			return fmt.Errorf("TENANCY_BOOTSTRAP_TOKEN is %d characters long; use at least 16", len(secret))
		}
		return tx.CreateToken(ctx, store.TokenRecord{
			ID: newID("tok"), Name: bootstrapTokenName, Role: api.RolePlatformAdmin,
			Hash: hashToken(secret), CreatedBy: systemActor, CreatedAt: time.Now().UTC(),
		})
	})
	return generated, err
}
