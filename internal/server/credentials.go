package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validate"
)

// credentialsRoutes mint and revoke logins to an environment's data store:
// whoever holds one reads and writes the tenant's data, so it takes
// tenant_admin in that tenant.
func (s *Server) credentialsRoutes() []route {
	return []route{
		{"POST /v1/tenants/{tenant}/environments/{env}/credentials", tenantAdmin, s.createCredentials},
		{"DELETE /v1/tenants/{tenant}/environments/{env}/credentials/{username}", tenantAdmin, s.revokeCredentials},
	}
}

// mintedCredentials is an answer holding a password: a retry of the mint
// is told what happened instead of being shown the password again, since
// the password is stored nowhere, not even in the idempotency record.
type mintedCredentials struct {
	api.Credentials
}

func (c mintedCredentials) replay() *apiError {
	return errConflict("", "these credentials (%s) were minted by an earlier request with this Idempotency-Key; their password was shown only then: mint new ones, and revoke those",
		c.Username)
}

func checkCredentialsRequest(body []byte) (time.Duration, error) {
	var req api.CredentialsRequest
	if err := decodeStrict(body, &req); err != nil {
		return 0, err
	}
	if req.TTLSeconds == 0 {
		req.TTLSeconds = api.DefaultCredentialsTTLSeconds
	}
	if err := validate.IntRange(req.TTLSeconds, api.MinCredentialsTTLSeconds, api.MaxCredentialsTTLSeconds); err != nil {
		return 0, invalidField("ttl_seconds", err)
	}
	return time.Duration(req.TTLSeconds) * time.Second, nil
}

// createCredentials mints a login for an environment's data store that
// expires after ttl_seconds (fifteen minutes unless told). Its password is
// in this answer only: it is neither logged nor stored. ?dry_run=true runs
// every check and answers the credentials as they would be, without any.
func (s *Server) createCredentials(w http.ResponseWriter, r *http.Request, p *principal) error {
	slug := r.PathValue("tenant")
	env, err := environmentName(r)
	if err != nil {
		return err
	}
	dry, err := dryRunParam(r)
	if err != nil {
		return err
	}
	if dry {
		return s.checkOnly(w, r, func(ctx context.Context, tx store.Tx, body []byte) (any, error) {
			ttl, err := checkCredentialsRequest(body)
			if err != nil {
				return nil, err
			}
			if _, _, _, err := activeStore(ctx, tx, slug, env); err != nil {
				return nil, err
			}
			return api.Credentials{TenantID: slug, Environment: env, ExpiresAt: s.now().UTC().Add(ttl).Truncate(time.Second)}, nil
		})
	}
	var minted tenantdata.Credentials
	var ref tenantdata.Ref
	return s.writeData(w, r, p, dataWrite{
		locks: []string{lockTenant(slug)},
		prepare: func(ctx context.Context, tx store.Tx, body []byte) (func(context.Context) error, error) {
			ttl, err := checkCredentialsRequest(body)
			if err != nil {
				return nil, err
			}
			if _, _, ref, err = activeStore(ctx, tx, slug, env); err != nil {
				return nil, err
			}
			return func(ctx context.Context) error {
				minted, err = s.data.MintCredentials(ctx, ref, ttl)
				return err
			}, nil
		},
		commit: func(ctx context.Context, tx store.Tx, _ []byte, workErr error) (int, any, error) {
			if workErr != nil {
				return 0, nil, dataError(slug, env, workErr)
			}
			if err := s.audit(ctx, tx, p, auditEntry{tenant: slug, action: "credentials.create", kind: api.KindCredentials, key: env + "/" + minted.Username,
				detail: fmt.Sprintf("login %s to environment %q's data store, expires at %s", minted.Username, env, minted.ExpiresAt.UTC().Format(time.RFC3339))}); err != nil {
				return 0, nil, err
			}
			return http.StatusCreated, mintedCredentials{api.Credentials{
				TenantID: slug, Environment: env, Username: minted.Username, Password: minted.Password, DSN: minted.DSN, ExpiresAt: minted.ExpiresAt.UTC(),
			}}, nil
		},
	})
}

// usernamePattern is what a login's name can be; anything else is no login.
var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,63}$`)

// revokeCredentials drops a login of an environment's data store before it
// expires and ends its sessions. It is no deletion (see deleteIn): a login
// is no object of the platform's records, but a role in the data plane. A login that is not one of this store's,
// or is gone already (expired and removed, or revoked), is a 404: either
// way it reaches nothing of the store.
func (s *Server) revokeCredentials(w http.ResponseWriter, r *http.Request, p *principal) error {
	slug := r.PathValue("tenant")
	env, err := environmentName(r)
	if err != nil {
		return err
	}
	ifMatch, err := parseIfMatch(r)
	if err != nil {
		return err
	}
	if ifMatch.header != "" && !ifMatch.any {
		// No ETag is ever served for a login, so no tag can be current.
		return newError(http.StatusPreconditionFailed, api.CodePreconditionFailed, "",
			"credentials have no revision, so If-Match %s cannot match; send no If-Match, or *", shortQuote(ifMatch.header))
	}
	username := r.PathValue("username")
	if !usernamePattern.MatchString(username) {
		return errNotFound("no login %s in environment %q of tenant %q: logins are named with letters, digits, _ . and -", shortQuote(username), env, slug)
	}
	return s.writeData(w, r, p, dataWrite{
		locks: []string{lockTenant(slug)},
		prepare: func(ctx context.Context, tx store.Tx, _ []byte) (func(context.Context) error, error) {
			_, _, ref, err := activeStore(ctx, tx, slug, env)
			if err != nil {
				return nil, err
			}
			return func(ctx context.Context) error { return s.data.RevokeCredentials(ctx, ref, username) }, nil
		},
		commit: func(ctx context.Context, tx store.Tx, _ []byte, workErr error) (int, any, error) {
			if errors.Is(workErr, tenantdata.ErrNoSuchLogin) {
				return 0, nil, errNotFound("no login %s in environment %q of tenant %q: it expired and was removed, was revoked, or was never one of this environment's",
					shortQuote(username), env, slug)
			}
			if workErr != nil {
				return 0, nil, dataError(slug, env, workErr)
			}
			return http.StatusNoContent, nil, s.audit(ctx, tx, p, auditEntry{tenant: slug, action: "credentials.revoke", kind: api.KindCredentials,
				key: env + "/" + username, detail: fmt.Sprintf("login %s to environment %q's data store revoked", username, env)})
		},
	})
}
