package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validate"
)

func (s *Server) roleBindingRoutes() []route {
	return []route{
		{"GET /v1/tenants/{tenant}/role-bindings", tenantViewer, s.listRoleBindings},
		{"POST /v1/tenants/{tenant}/role-bindings", tenantAdmin, s.createRoleBinding},
		{"GET /v1/tenants/{tenant}/role-bindings/{binding}", tenantViewer, s.getRoleBinding},
		{"PATCH /v1/tenants/{tenant}/role-bindings/{binding}", tenantAdmin, s.patchRoleBinding},
		{"DELETE /v1/tenants/{tenant}/role-bindings/{binding}", tenantAdmin, s.deleteRoleBinding},
	}
}

// isTenantAdminBinding reports whether a binding makes its user an
// administrator of the whole tenant, which a tenant must keep one of.
func isTenantAdminBinding(b api.RoleBindingSpec) bool {
	return b.Role == api.RoleTenantAdmin && b.Environment == nil
}

func envLabel(env *string) string {
	if env == nil {
		return "every environment"
	}
	return fmt.Sprintf("environment %q", *env)
}

// checkGrant refuses to let a caller grant, change or remove a role above its own.
func checkGrant(p *principal, role, verb string) error {
	if !p.atLeast(role) {
		return errForbidden("role", "the token %q has role %s and cannot %s a %s binding; nobody grants a role above their own",
			p.Name, p.Role, verb, role)
	}
	return nil
}

// checkBinding validates a binding against its tenant: the role, the user
// and the environment exist, and the user holds no other binding of the same
// role and environment. self is the binding being changed ("" on create).
func checkBinding(ctx context.Context, tx store.Tx, tenant string, b api.RoleBindingSpec, self string) error {
	if err := validate.OneOf(b.Role, api.TenantRoles); err != nil {
		return invalidField("role", err)
	}
	if b.UserID == "" {
		return errInvalid("user_id", "user_id is required: the user_id of a user of tenant %q, such as tenancy_user.NAME.user_id", tenant)
	}
	if _, err := tx.Get(ctx, tenant, api.KindUser, b.UserID); errors.Is(err, store.ErrNotFound) {
		return errInvalid("user_id", "user_id: user %q does not exist in tenant %q; create the user first", b.UserID, tenant)
	} else if err != nil {
		return err
	}
	if b.Environment != nil {
		_, err := tx.Get(ctx, tenant, api.KindEnvironment, *b.Environment)
		if errors.Is(err, store.ErrNotFound) {
			return errInvalid("environment", "environment: %q does not exist in tenant %q; create it first, or leave environment unset to bind every environment",
				*b.Environment, tenant)
		} else if err != nil {
			return err
		}
	}
	bindings, err := allObjects[api.RoleBinding](ctx, tx, tenant, api.KindRoleBinding)
	if err != nil {
		return err
	}
	for _, o := range bindings {
		if o.BindingID != self && o.UserID == b.UserID && o.Role == b.Role && sameEnvironment(o.Environment, b.Environment) {
			return errConflict("role", "user %q already holds role %s in %s through binding %s; "+
				"a user holds at most one binding per role and environment (import it: terraform import tenancy_role_binding.NAME %s)",
				b.UserID, b.Role, envLabel(b.Environment), o.BindingID, o.ID)
		}
	}
	return nil
}

func sameEnvironment(a, b *string) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// checkKeepsAdmin refuses a change that takes away the tenant's last
// tenant-wide tenant_admin binding, so that a tenant cannot lose its
// administrator by mistake. A tenant that never had one is left alone. The
// one exception is a platform admin taking down a tenant whose
// deletion_protection is off: that is how `terraform destroy` removes a
// whole customer, binding before user before tenant, once the protection
// is lifted.
func checkKeepsAdmin(ctx context.Context, tx store.Tx, p *principal, tenant string, cur api.RoleBinding, what string) error {
	if !isTenantAdminBinding(cur.RoleBindingSpec) {
		return nil
	}
	bindings, err := allObjects[api.RoleBinding](ctx, tx, tenant, api.KindRoleBinding)
	if err != nil {
		return err
	}
	for _, b := range bindings {
		if b.BindingID != cur.BindingID && isTenantAdminBinding(b.RoleBindingSpec) {
			return nil
		}
	}
	return lastAdminRule(ctx, tx, p, tenant, fmt.Sprintf("binding %s is the last tenant-wide tenant_admin binding of tenant %q, so %s would leave the tenant without an administrator",
		cur.BindingID, tenant, what))
}

// lastAdminRule decides a change that takes a tenant's last tenant-wide
// tenant_admin binding away, which why describes: refused, unless a
// platform admin makes it while the tenant's deletion_protection is off.
func lastAdminRule(ctx context.Context, tx store.Tx, p *principal, tenant, why string) error {
	const fix = "bind another user as tenant_admin, with environment unset, first"
	if p.Role != api.RolePlatformAdmin {
		return errConflict("", "%s; %s", why, fix)
	}
	t, err := loadTenant(ctx, tx, tenant)
	if err != nil {
		return err
	}
	if t.DeletionProtection != nil && !*t.DeletionProtection {
		return nil // The customer is being taken down.
	}
	return errConflict("", "%s, and its deletion_protection is on; %s, or, to take the whole tenant down, set its deletion_protection to false first",
		why, fix)
}

// newRoleBinding checks a create request and returns the binding it would make.
func newRoleBinding(ctx context.Context, tx store.Tx, p *principal, tenant string, body []byte) (api.RoleBinding, error) {
	var spec api.RoleBindingSpec
	if err := decodeStrict(body, &spec); err != nil {
		return api.RoleBinding{}, err
	}
	if err := validate.OneOf(spec.Role, api.TenantRoles); err != nil {
		return api.RoleBinding{}, invalidField("role", err)
	}
	if err := checkGrant(p, spec.Role, "grant"); err != nil {
		return api.RoleBinding{}, err
	}
	if _, err := loadTenant(ctx, tx, tenant); err != nil {
		return api.RoleBinding{}, err
	}
	if err := checkBinding(ctx, tx, tenant, spec, ""); err != nil {
		return api.RoleBinding{}, err
	}
	id := newID("rb")
	return api.RoleBinding{RoleBindingSpec: spec, TenantID: tenant, BindingID: id, ID: tenant + "/" + id}, nil
}

func (s *Server) createRoleBinding(w http.ResponseWriter, r *http.Request, p *principal) error {
	return createIn(s, w, r, p, creation[api.RoleBinding]{
		kind: api.KindRoleBinding,
		check: func(ctx context.Context, tx store.Tx, tenant string, body []byte) (api.RoleBinding, error) {
			return newRoleBinding(ctx, tx, p, tenant, body)
		},
		key:    func(b api.RoleBinding) string { return b.BindingID },
		detail: bindingDetail,
	})
}

// loadRoleBinding reads a binding of a tenant that exists, answering 404 for either.
func loadRoleBinding(ctx context.Context, tx store.Tx, tenant, id string) (api.RoleBinding, error) {
	return getChild[api.RoleBinding](ctx, tx, tenant, api.KindRoleBinding, id, fmt.Sprintf("role binding %q", id))
}

func (s *Server) getRoleBinding(w http.ResponseWriter, r *http.Request, _ *principal) error {
	return s.viewOne(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		id := r.PathValue("binding")
		return answerRead[api.RoleBinding](childObject(ctx, tx, r.PathValue("tenant"), api.KindRoleBinding, id, fmt.Sprintf("role binding %q", id)))
	})
}

// listRoleBindings lists a tenant's bindings in binding_id order, optionally
// only those of one user (user_id=) or role (role=).
func (s *Server) listRoleBindings(w http.ResponseWriter, r *http.Request, _ *principal) error {
	after, size, err := page(r)
	if err != nil {
		return err
	}
	slug := r.PathValue("tenant")
	q := r.URL.Query()
	userID, role := q.Get("user_id"), q.Get("role")
	if role != "" {
		if err := validate.OneOf(role, api.TenantRoles); err != nil {
			return errBadRequest("role", "role: %v", err)
		}
	}
	var keep func(api.RoleBinding) bool
	if userID != "" || role != "" {
		keep = func(b api.RoleBinding) bool {
			return (userID == "" || b.UserID == userID) && (role == "" || b.Role == role)
		}
	}
	return s.view(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		if _, err := loadTenant(ctx, tx, slug); err != nil {
			return nil, err
		}
		return listPageOf[api.RoleBinding](ctx, tx, slug, api.KindRoleBinding, after, size, keep)
	})
}

// patchRoleBinding applies a JSON merge patch (RFC 7396) to a binding's role
// and environment; its user is fixed.
func (s *Server) patchRoleBinding(w http.ResponseWriter, r *http.Request, p *principal) error {
	slug, id := r.PathValue("tenant"), r.PathValue("binding")
	return updateIn(s, w, r, p, update[api.RoleBinding]{
		tenant: slug, kind: api.KindRoleBinding, key: id, what: fmt.Sprintf("role binding %q", id),
		load: func(ctx context.Context, tx store.Tx) (api.RoleBinding, error) {
			return loadRoleBinding(ctx, tx, slug, id)
		},
		apply: func(ctx context.Context, tx store.Tx, cur api.RoleBinding, body []byte) (api.RoleBinding, error) {
			next, err := applyMergePatch(cur.RoleBindingSpec, body)
			if err != nil {
				return cur, err
			}
			if next.UserID != cur.UserID {
				return cur, errInvalid("user_id", "user_id is immutable: binding %s belongs to user %q; create a new binding for user %q instead",
					id, cur.UserID, next.UserID)
			}
			if err := validate.OneOf(next.Role, api.TenantRoles); err != nil {
				return cur, invalidField("role", err)
			}
			if err := checkGrant(p, cur.Role, "change"); err != nil {
				return cur, err
			}
			if err := checkGrant(p, next.Role, "grant"); err != nil {
				return cur, err
			}
			if err := checkBinding(ctx, tx, slug, next, id); err != nil {
				return cur, err
			}
			if !isTenantAdminBinding(next) {
				what := fmt.Sprintf("changing it to role %s in %s", next.Role, envLabel(next.Environment))
				if err := checkKeepsAdmin(ctx, tx, p, slug, cur, what); err != nil {
					return cur, err
				}
			}
			cur.RoleBindingSpec = next
			return cur, nil
		},
		detail: func(_, _ api.RoleBinding, body []byte) string { return changedFields(body) },
	})
}

func (s *Server) deleteRoleBinding(w http.ResponseWriter, r *http.Request, p *principal) error {
	slug, id := r.PathValue("tenant"), r.PathValue("binding")
	return deleteIn(s, w, r, p, deletion[api.RoleBinding]{
		tenant: slug, kind: api.KindRoleBinding, key: id, what: fmt.Sprintf("role binding %q", id),
		load: func(ctx context.Context, tx store.Tx) (api.RoleBinding, error) {
			return loadRoleBinding(ctx, tx, slug, id)
		},
		cascade: func(ctx context.Context, tx store.Tx, b api.RoleBinding) (string, error) {
			if err := checkGrant(p, b.Role, "remove"); err != nil {
				return "", err
			}
			if err := checkKeepsAdmin(ctx, tx, p, slug, b, "deleting it"); err != nil {
				return "", err
			}
			return bindingDetail(b), nil
		},
	})
}

// bindingDetail is what the audit log says of a binding.
func bindingDetail(b api.RoleBinding) string {
	return fmt.Sprintf("user %s, role %s, %s", b.UserID, b.Role, envLabel(b.Environment))
}

// removeBinding deletes a binding with its audit event, for another write
// that takes it away; why says which.
func (s *Server) removeBinding(ctx context.Context, tx store.Tx, p *principal, b api.RoleBinding, why string) error {
	return s.remove(ctx, tx, p, b.TenantID, api.KindRoleBinding, b.BindingID, b.Revision, bindingDetail(b)+"; "+why)
}
