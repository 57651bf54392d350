package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validate"
)

// environmentRoutes serves environments: any role reads them, tenant_user may
// change their settings, and tenant_admin creates, deletes and retypes them.
func (s *Server) environmentRoutes() []route {
	return []route{
		{"GET /v1/tenants/{tenant}/environments", tenantViewer, s.listEnvironments},
		{"POST /v1/tenants/{tenant}/environments", tenantAdmin, s.createEnvironment},
		{"GET /v1/tenants/{tenant}/environments/{env}", tenantViewer, s.getEnvironment},
		{"PATCH /v1/tenants/{tenant}/environments/{env}", tenantUser, s.patchEnvironment},
		{"DELETE /v1/tenants/{tenant}/environments/{env}", tenantAdmin, s.deleteEnvironment},
	}
}

// environmentName reads the {env} path segment, refusing what can never be
// an environment's name before it reaches the store.
func environmentName(r *http.Request) (string, error) {
	name := r.PathValue("env")
	if err := validate.Name(name); err != nil {
		return "", errBadRequest("name", "environment name in the path: %v", err)
	}
	return name, nil
}

// loadEnvironment reads an environment of a tenant that exists; a missing
// tenant and a missing environment are both 404s that say which is missing.
func loadEnvironment(ctx context.Context, tx store.Tx, tenant, name string) (api.Environment, error) {
	if _, err := loadTenant(ctx, tx, tenant); err != nil {
		return api.Environment{}, err
	}
	return getObject[api.Environment](ctx, tx, tenant, store.KindEnvironment, name, fmt.Sprintf("environment %q", name))
}

// checkEnvironmentSpec validates what a caller may write, naming the field at fault.
func checkEnvironmentSpec(e api.EnvironmentSpec) error {
	if err := validate.Name(e.Name); err != nil {
		return invalidField("name", err)
	}
	if err := validate.OneOf(e.Type, api.EnvironmentTypes); err != nil {
		return invalidField("type", err)
	}
	if n := len(e.Settings); n > api.MaxSettings {
		return errInvalid("settings", "settings has %d entries; at most %d are allowed", n, api.MaxSettings)
	}
	for _, k := range slices.Sorted(maps.Keys(e.Settings)) {
		if err := validate.LabelKey(k); err != nil {
			return errInvalid("settings", "settings: key %s", err.Error())
		}
		v := e.Settings[k]
		switch {
		case !utf8.ValidString(v):
			return errInvalid("settings."+k, "settings.%s: the value is not valid UTF-8", k)
		case len(v) > api.MaxSettingValueBytes:
			return errInvalid("settings."+k, "settings.%s: the value is %d bytes long; at most %d are allowed", k, len(v), api.MaxSettingValueBytes)
		}
	}
	return nil
}

// newEnvironment decodes and checks an environment to create; the dry run
// and the create share it, so a dry run runs every check the create does.
func newEnvironment(ctx context.Context, tx store.Tx, tenant string, body []byte) (api.Environment, error) {
	var spec api.EnvironmentSpec
	if err := decodeStrict(body, &spec); err != nil {
		return api.Environment{}, err
	}
	if err := checkEnvironmentSpec(spec); err != nil {
		return api.Environment{}, err
	}
	if _, err := loadTenant(ctx, tx, tenant); err != nil {
		return api.Environment{}, err
	}
	if _, err := tx.Get(ctx, tenant, store.KindEnvironment, spec.Name); err == nil {
		return api.Environment{}, errConflict("name",
			"environment %q already exists in tenant %q; import it (terraform import tenancy_environment.NAME %s/%s) or choose another name",
			spec.Name, tenant, tenant, spec.Name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return api.Environment{}, err
	}
	return api.Environment{EnvironmentSpec: spec, TenantID: tenant, ID: tenant + "/" + spec.Name, Status: api.StatusActive}, nil
}

func (s *Server) createEnvironment(w http.ResponseWriter, r *http.Request, p *principal) error {
	return createIn(s, w, r, p, creation[api.Environment]{
		kind: store.KindEnvironment, check: newEnvironment,
		key:    func(e api.Environment) string { return e.Name },
		detail: func(e api.Environment) string { return "type " + e.Type },
	})
}

func (s *Server) getEnvironment(w http.ResponseWriter, r *http.Request, _ *principal) error {
	name, err := environmentName(r)
	if err != nil {
		return err
	}
	return s.view(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		e, err := loadEnvironment(ctx, tx, r.PathValue("tenant"), name)
		return &e, err
	})
}

// listEnvironments lists a tenant's environments in name order, optionally
// only those of one type (type=).
func (s *Server) listEnvironments(w http.ResponseWriter, r *http.Request, _ *principal) error {
	after, size, err := page(r)
	if err != nil {
		return err
	}
	slug := r.PathValue("tenant")
	var keep func(api.Environment) bool
	if typ := r.URL.Query().Get("type"); typ != "" {
		if err := validate.OneOf(typ, api.EnvironmentTypes); err != nil {
			return errBadRequest("type", "type: %v", err)
		}
		keep = func(e api.Environment) bool { return e.Type == typ }
	}
	return s.view(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		if _, err := loadTenant(ctx, tx, slug); err != nil {
			return nil, err
		}
		return listPageOf[api.Environment](ctx, tx, slug, store.KindEnvironment, after, size, keep)
	})
}

// patchEnvironment applies a JSON merge patch (RFC 7396) to an environment;
// a patch of settings changes only the keys it names (null removes one). The
// name is fixed. Changing the type needs tenant_admin: the type decides who
// may promote into the environment, so a tenant_user must not lower it.
func (s *Server) patchEnvironment(w http.ResponseWriter, r *http.Request, p *principal) error {
	slug := r.PathValue("tenant")
	name, err := environmentName(r)
	if err != nil {
		return err
	}
	ifMatch, err := parseIfMatch(r)
	if err != nil {
		return err
	}
	return s.mutate(w, r, p, []string{lockTenant(slug)}, func(ctx context.Context, tx store.Tx, body []byte) (int, any, error) {
		cur, err := loadEnvironment(ctx, tx, slug, name)
		if err != nil {
			return 0, nil, err
		}
		if err := checkRevision(ifMatch, cur.Revision, fmt.Sprintf("environment %q", name)); err != nil {
			return 0, nil, err
		}
		next, err := applyMergePatch(cur.EnvironmentSpec, body)
		if err != nil {
			return 0, nil, err
		}
		switch {
		case next.Name != cur.Name:
			return 0, nil, errInvalid("name", "name is immutable: environment %q cannot become %q; create a new environment instead",
				cur.Name, next.Name)
		case next.Type != cur.Type && !p.atLeast(api.RoleTenantAdmin):
			return 0, nil, errForbidden("type", "changing the type of environment %q from %s to %s needs role tenant_admin; the token %q has role %s",
				name, cur.Type, next.Type, p.Name, p.Role)
		}
		if err := checkEnvironmentSpec(next); err != nil {
			return 0, nil, err
		}
		if reflect.DeepEqual(next, cur.EnvironmentSpec) {
			// Nothing changes: no new revision, so nobody sees drift that is not there.
			return http.StatusOK, cur, nil
		}
		if err := checkNotProduction(ctx, tx, p, slug, name, "settings"); err != nil {
			return 0, nil, err
		}
		before := cur.Revision
		cur.EnvironmentSpec = next
		e, err := putObject[api.Environment](ctx, tx, slug, store.KindEnvironment, name, cur)
		if err != nil {
			return 0, nil, err
		}
		if err := s.audit(ctx, tx, p, auditEntry{tenant: slug, action: "environment.update", kind: store.KindEnvironment, key: name,
			before: before, after: e.Revision, detail: environmentChanges(body)}); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, e, nil
	})
}

// environmentChanges says for the audit log which fields and settings keys
// a merge patch touches, such as "changed: settings.log_level, type".
func environmentChanges(patch []byte) string {
	var m struct {
		Settings map[string]any `json:"settings"`
	}
	detail := changedFields(patch)
	if json.Unmarshal(patch, &m) != nil || len(m.Settings) == 0 {
		return detail
	}
	keys := make([]string, 0, len(m.Settings))
	for _, k := range slices.Sorted(maps.Keys(m.Settings)) {
		keys = append(keys, "settings."+k)
	}
	return strings.Replace(detail, "settings", strings.Join(keys, ", "), 1)
}

// deleteEnvironment deletes an environment and, in the same transaction,
// what belongs to it: its quota, the role bindings scoped to it and its entry
// in every feature flag, each with an audit event of its own.
func (s *Server) deleteEnvironment(w http.ResponseWriter, r *http.Request, p *principal) error {
	slug := r.PathValue("tenant")
	name, err := environmentName(r)
	if err != nil {
		return err
	}
	ifMatch, err := parseIfMatch(r)
	if err != nil {
		return err
	}
	return s.mutate(w, r, p, []string{lockTenant(slug)}, func(ctx context.Context, tx store.Tx, _ []byte) (int, any, error) {
		e, err := loadEnvironment(ctx, tx, slug, name)
		if err != nil {
			return 0, nil, err
		}
		if err := checkRevision(ifMatch, e.Revision, fmt.Sprintf("environment %q", name)); err != nil {
			return 0, nil, err
		}
		why := fmt.Sprintf("environment %q deleted", name)
		if err := s.removeQuota(ctx, tx, p, slug, name, why); err != nil && !errors.Is(err, store.ErrNotFound) {
			return 0, nil, err
		}
		bindings, err := allObjects[api.RoleBinding](ctx, tx, slug, store.KindRoleBinding)
		if err != nil {
			return 0, nil, err
		}
		for _, b := range bindings {
			if b.Environment != nil && *b.Environment == name {
				if err := s.removeBinding(ctx, tx, p, b, why); err != nil {
					return 0, nil, err
				}
			}
		}
		if err := s.removeEnvironmentFromFlags(ctx, tx, p, slug, name); err != nil {
			return 0, nil, err
		}
		if err := tx.Delete(ctx, slug, store.KindEnvironment, name, e.Revision); err != nil {
			return 0, nil, err
		}
		if err := s.audit(ctx, tx, p, auditEntry{tenant: slug, action: "environment.delete", kind: store.KindEnvironment, key: name,
			before: e.Revision, detail: "type " + e.Type}); err != nil {
			return 0, nil, err
		}
		return http.StatusNoContent, nil, nil
	})
}
