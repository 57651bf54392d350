package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validate"
)

// userRoutes lists the routes of users and of their role bindings.
func (s *Server) userRoutes() []route {
	return slices.Concat([]route{
		{"GET /v1/tenants/{tenant}/users", tenantViewer, s.listUsers},
		{"POST /v1/tenants/{tenant}/users", tenantAdmin, s.createUser},
		{"GET /v1/tenants/{tenant}/users/{user}", tenantViewer, s.getUser},
		{"PATCH /v1/tenants/{tenant}/users/{user}", tenantAdmin, s.patchUser},
		{"DELETE /v1/tenants/{tenant}/users/{user}", tenantAdmin, s.deleteUser},
	}, s.roleBindingRoutes())
}

// checkUserSpec validates every field a caller writes of a user.
func checkUserSpec(u api.UserSpec) error {
	if err := validate.Email(u.Email); err != nil {
		return invalidField("email", err)
	}
	if err := displayName(u.DisplayName); err != nil {
		return invalidField("display_name", err)
	}
	return nil
}

// loadUser reads a user of a tenant that exists, answering 404 for either.
func loadUser(ctx context.Context, tx store.Tx, tenant, userID string) (api.User, error) {
	return getChild[api.User](ctx, tx, tenant, api.KindUser, userID, fmt.Sprintf("user %q", userID))
}

// checkEmailFree refuses an e-mail address another user of the tenant has,
// compared without case as mail systems do; the caller holds the tenant lock.
func checkEmailFree(ctx context.Context, tx store.Tx, tenant, email, self string) error {
	users, err := allObjects[api.User](ctx, tx, tenant, api.KindUser)
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.UserID != self && strings.EqualFold(u.Email, email) {
			return errConflict("email", "email %q is already used by user %s in tenant %q (e-mail addresses are unique within a tenant, ignoring case); "+
				"import that user (terraform import tenancy_user.NAME %s) or use another address", email, u.UserID, tenant, u.ID)
		}
	}
	return nil
}

// checkUserQuota refuses a new user when the tenant already holds the
// tenant quota's max_users; the caller holds the tenant lock, so concurrent
// creates cannot both take the last place.
func checkUserQuota(ctx context.Context, tx store.Tx, tenant string) error {
	q, err := tenantQuota(ctx, tx, tenant)
	if err != nil || q == nil || q.MaxUsers == nil {
		return err
	}
	n, err := tx.Count(ctx, tenant, api.KindUser)
	if err != nil {
		return err
	}
	if int64(n) >= *q.MaxUsers {
		return errConflict("max_users", "tenant %q has %d users and its quota allows max_users = %d; "+
			"raise max_users in the tenant quota or delete a user first", tenant, n, *q.MaxUsers)
	}
	return nil
}

// newUser checks a create request and returns the user it would make.
func newUser(ctx context.Context, tx store.Tx, tenant string, body []byte) (api.User, error) {
	var spec api.UserSpec
	if err := decodeStrict(body, &spec); err != nil {
		return api.User{}, err
	}
	if err := checkUserSpec(spec); err != nil {
		return api.User{}, err
	}
	if _, err := loadTenant(ctx, tx, tenant); err != nil {
		return api.User{}, err
	}
	if err := checkEmailFree(ctx, tx, tenant, spec.Email, ""); err != nil {
		return api.User{}, err
	}
	if err := checkUserQuota(ctx, tx, tenant); err != nil {
		return api.User{}, err
	}
	id := newID("usr")
	return api.User{UserSpec: spec, TenantID: tenant, UserID: id, ID: tenant + "/" + id, Status: api.StatusActive}, nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	return createIn(s, w, r, p, creation[api.User]{
		kind: api.KindUser, check: newUser,
		key:    func(u api.User) string { return u.UserID },
		detail: func(u api.User) string { return "email " + u.Email },
	})
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, _ *principal) error {
	return s.viewOne(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		user := r.PathValue("user")
		return answerRead[api.User](childObject(ctx, tx, r.PathValue("tenant"), api.KindUser, user, fmt.Sprintf("user %q", user)))
	})
}

// listUsers lists a tenant's users in user_id order, optionally only the one
// with an e-mail address (email=, ignoring case).
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, _ *principal) error {
	after, size, err := page(r)
	if err != nil {
		return err
	}
	slug := r.PathValue("tenant")
	var keep func(api.User) bool
	if email := r.URL.Query().Get("email"); email != "" {
		keep = func(u api.User) bool { return strings.EqualFold(u.Email, email) }
	}
	return s.view(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		if _, err := loadTenant(ctx, tx, slug); err != nil {
			return nil, err
		}
		return listPageOf[api.User](ctx, tx, slug, api.KindUser, after, size, keep)
	})
}

// patchUser applies a JSON merge patch (RFC 7396) to a user's email and
// display_name.
func (s *Server) patchUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	slug, id := r.PathValue("tenant"), r.PathValue("user")
	return updateIn(s, w, r, p, update[api.User]{
		tenant: slug, kind: api.KindUser, key: id, what: fmt.Sprintf("user %q", id),
		load: func(ctx context.Context, tx store.Tx) (api.User, error) { return loadUser(ctx, tx, slug, id) },
		apply: func(ctx context.Context, tx store.Tx, cur api.User, body []byte) (api.User, error) {
			next, err := applyMergePatch(cur.UserSpec, body)
			if err != nil {
				return cur, err
			}
			if err := checkUserSpec(next); err != nil {
				return cur, err
			}
			if err := checkEmailFree(ctx, tx, slug, next.Email, id); err != nil {
				return cur, err
			}
			cur.UserSpec = next
			return cur, nil
		},
		detail: func(_, _ api.User, body []byte) string { return changedFields(body) },
	})
}

// deleteUser deletes a user and its role bindings, unless they hold the
// tenant's last tenant-wide tenant_admin binding (see lastAdminRule).
func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	slug, id := r.PathValue("tenant"), r.PathValue("user")
	return deleteIn(s, w, r, p, deletion[api.User]{
		tenant: slug, kind: api.KindUser, key: id, what: fmt.Sprintf("user %q", id),
		load: func(ctx context.Context, tx store.Tx) (api.User, error) { return loadUser(ctx, tx, slug, id) },
		cascade: func(ctx context.Context, tx store.Tx, u api.User) (string, error) {
			bindings, err := allObjects[api.RoleBinding](ctx, tx, slug, api.KindRoleBinding)
			if err != nil {
				return "", err
			}
			var own []api.RoleBinding
			admins, ownAdmins := 0, 0
			for _, b := range bindings {
				if isTenantAdminBinding(b.RoleBindingSpec) {
					admins++
				}
				if b.UserID != id {
					continue
				}
				own = append(own, b)
				if isTenantAdminBinding(b.RoleBindingSpec) {
					ownAdmins++
				}
			}
			if ownAdmins > 0 && ownAdmins == admins {
				why := fmt.Sprintf("user %q holds the last tenant-wide tenant_admin binding of tenant %q, and deleting the user would delete it, "+
					"leaving the tenant without an administrator", id, slug)
				if err := lastAdminRule(ctx, tx, p, slug, why); err != nil {
					return "", err
				}
			}
			for _, b := range own {
				if err := s.removeBinding(ctx, tx, p, b, "user "+id+" deleted"); err != nil {
					return "", err
				}
			}
			return fmt.Sprintf("email %s, %d role bindings deleted with it", u.Email, len(own)), nil
		},
	})
}
