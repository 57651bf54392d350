package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validate"
)

// featureFlagRoutes serves feature flags: any role reads them, and
// tenant_user is enough to write them ("limited writes").
func (s *Server) featureFlagRoutes() []route {
	return []route{
		{"GET /v1/tenants/{tenant}/feature-flags", tenantViewer, s.listFeatureFlags},
		{"POST /v1/tenants/{tenant}/feature-flags", tenantUser, s.createFeatureFlag},
		{"GET /v1/tenants/{tenant}/feature-flags/{key}", tenantViewer, s.getFeatureFlag},
		{"PATCH /v1/tenants/{tenant}/feature-flags/{key}", tenantUser, s.patchFeatureFlag},
		{"DELETE /v1/tenants/{tenant}/feature-flags/{key}", tenantUser, s.deleteFeatureFlag},
	}
}

func flagWhat(tenant, key string) string {
	return fmt.Sprintf("feature flag %q of tenant %q", key, tenant)
}

// loadFeatureFlag reads a flag of a tenant that exists; a missing tenant and
// a missing flag are both 404s that say which one is missing.
func loadFeatureFlag(ctx context.Context, tx store.Tx, tenant, key string) (api.FeatureFlag, error) {
	return getChild[api.FeatureFlag](ctx, tx, tenant, api.KindFeatureFlag, key, fmt.Sprintf("feature flag %q", key))
}

// checkFlagSpec validates what a caller may write, naming the field at fault.
func checkFlagSpec(f api.FeatureFlagSpec) error {
	if err := validate.Name(f.Key); err != nil {
		return invalidField("key", err)
	}
	if n := utf8.RuneCountInString(f.Description); n > api.MaxFlagDescriptionLength {
		return errInvalid("description", "description is %d characters long; at most %d are allowed", n, api.MaxFlagDescriptionLength)
	}
	for _, env := range slices.Sorted(maps.Keys(f.Environments)) {
		if err := validate.Name(env); err != nil {
			return errInvalid("environments", "environments: key %s", err.Error())
		}
		field := "environments." + env + ".rollout_percentage"
		if err := validate.IntRange(f.Environments[env].RolloutPercentage, api.MinRolloutPercentage, api.MaxRolloutPercentage); err != nil {
			return invalidField(field, err)
		}
	}
	return nil
}

// checkFlagEnvironments refuses an entry for an environment the tenant does
// not have. Entries that were already there unchanged are not checked again,
// so a patch of the description never fails on someone else's entry.
func checkFlagEnvironments(ctx context.Context, tx store.Tx, tenant string, next, cur map[string]api.FlagEnvironment) error {
	for _, env := range slices.Sorted(maps.Keys(next)) {
		if old, ok := cur[env]; ok && old == next[env] {
			continue
		}
		_, err := tx.Get(ctx, tenant, api.KindEnvironment, env)
		if errors.Is(err, store.ErrNotFound) {
			return errInvalid("environments."+env,
				"environments.%s: tenant %q has no environment %q; create the environment first or remove this entry", env, tenant, env)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkProductionEntries refuses to let a tenant_user change a flag's entry
// in a production environment: production changes by a tenant_admin,
// directly or through a promotion, which has the same rule.
func checkProductionEntries(ctx context.Context, tx store.Tx, p *principal, tenant string, next, cur map[string]api.FlagEnvironment) error {
	if p.atLeast(api.RoleTenantAdmin) {
		return nil
	}
	envs := slices.Collect(maps.Keys(next))
	for env := range cur {
		if _, ok := next[env]; !ok {
			envs = append(envs, env)
		}
	}
	slices.Sort(envs)
	for _, env := range envs {
		n, inNext := next[env]
		c, inCur := cur[env]
		if inNext == inCur && n == c {
			continue
		}
		if err := checkNotProduction(ctx, tx, p, tenant, env, "environments."+env); err != nil {
			return err
		}
	}
	return nil
}

// checkNotProduction refuses a tenant_user's write to a production
// environment, naming the field that asked for it.
func checkNotProduction(ctx context.Context, tx store.Tx, p *principal, tenant, env, field string) error {
	if p.atLeast(api.RoleTenantAdmin) {
		return nil
	}
	o, err := tx.Get(ctx, tenant, api.KindEnvironment, env)
	if errors.Is(err, store.ErrNotFound) {
		return nil // Refused elsewhere, with the reason.
	}
	if err != nil {
		return err
	}
	e, err := fromObject[api.Environment](o)
	if err != nil {
		return err
	}
	if e.Type == api.EnvProduction {
		return errForbidden(field, "%s: environment %q is a production environment, which only role tenant_admin changes (directly or by promotion); the token %q has role %s",
			field, env, p.Name, p.Role)
	}
	return nil
}

// newFeatureFlag decodes and checks a flag to create; the dry run and the
// create share it, so a dry run runs every check the create does.
func newFeatureFlag(ctx context.Context, tx store.Tx, p *principal, tenant string, body []byte) (api.FeatureFlag, error) {
	var in api.FeatureFlagInput
	if err := decodeStrict(body, &in); err != nil {
		return api.FeatureFlag{}, err
	}
	spec := in.Spec()
	if err := checkFlagSpec(spec); err != nil {
		return api.FeatureFlag{}, err
	}
	if _, err := loadTenant(ctx, tx, tenant); err != nil {
		return api.FeatureFlag{}, err
	}
	if _, err := tx.Get(ctx, tenant, api.KindFeatureFlag, spec.Key); err == nil {
		return api.FeatureFlag{}, errConflict("key",
			"feature flag %q already exists in tenant %q; import it (terraform import tenancy_feature_flag.NAME %s/%s) or choose another key",
			spec.Key, tenant, tenant, spec.Key)
	} else if !errors.Is(err, store.ErrNotFound) {
		return api.FeatureFlag{}, err
	}
	if err := checkFlagEnvironments(ctx, tx, tenant, spec.Environments, nil); err != nil {
		return api.FeatureFlag{}, err
	}
	if err := checkProductionEntries(ctx, tx, p, tenant, spec.Environments, nil); err != nil {
		return api.FeatureFlag{}, err
	}
	return api.FeatureFlag{FeatureFlagSpec: spec, TenantID: tenant, ID: tenant + "/" + spec.Key}, nil
}

func (s *Server) createFeatureFlag(w http.ResponseWriter, r *http.Request, p *principal) error {
	return createIn(s, w, r, p, creation[api.FeatureFlag]{
		kind: api.KindFeatureFlag,
		check: func(ctx context.Context, tx store.Tx, tenant string, body []byte) (api.FeatureFlag, error) {
			return newFeatureFlag(ctx, tx, p, tenant, body)
		},
		key:    func(f api.FeatureFlag) string { return f.Key },
		detail: func(f api.FeatureFlag) string { return flagChanges(api.FeatureFlagSpec{}, f.FeatureFlagSpec) },
	})
}

func (s *Server) getFeatureFlag(w http.ResponseWriter, r *http.Request, _ *principal) error {
	return s.viewOne(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		key := r.PathValue("key")
		return answerRead[api.FeatureFlag](childObject(ctx, tx, r.PathValue("tenant"), api.KindFeatureFlag, key, fmt.Sprintf("feature flag %q", key)))
	})
}

// listFeatureFlags lists a tenant's flags in key order.
func (s *Server) listFeatureFlags(w http.ResponseWriter, r *http.Request, _ *principal) error {
	after, size, err := page(r)
	if err != nil {
		return err
	}
	tenant := r.PathValue("tenant")
	return s.view(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		if _, err := loadTenant(ctx, tx, tenant); err != nil {
			return nil, err
		}
		return listPageOf[api.FeatureFlag](ctx, tx, tenant, api.KindFeatureFlag, after, size, nil)
	})
}

// patchFeatureFlag applies a JSON merge patch (RFC 7396). Environments merge
// entry by entry: a patch naming only "staging" leaves every other entry as
// it is, and "production": null removes that entry.
func (s *Server) patchFeatureFlag(w http.ResponseWriter, r *http.Request, p *principal) error {
	tenant, key := r.PathValue("tenant"), r.PathValue("key")
	return updateIn(s, w, r, p, update[api.FeatureFlag]{
		tenant: tenant, kind: api.KindFeatureFlag, key: key, what: flagWhat(tenant, key),
		load: func(ctx context.Context, tx store.Tx) (api.FeatureFlag, error) {
			return loadFeatureFlag(ctx, tx, tenant, key)
		},
		apply: func(ctx context.Context, tx store.Tx, cur api.FeatureFlag, body []byte) (api.FeatureFlag, error) {
			// An entry the patch adds without rollout_percentage gets the
			// default; entries already there keep theirs.
			merged, err := applyMergePatch(cur.Input(), body)
			if err != nil {
				return cur, err
			}
			next := merged.Spec()
			if next.Key != cur.Key {
				return cur, errInvalid("key", "key is immutable: %q cannot become %q; create a new flag instead", cur.Key, next.Key)
			}
			if err := checkFlagSpec(next); err != nil {
				return cur, err
			}
			if err := checkFlagEnvironments(ctx, tx, tenant, next.Environments, cur.Environments); err != nil {
				return cur, err
			}
			if err := checkProductionEntries(ctx, tx, p, tenant, next.Environments, cur.Environments); err != nil {
				return cur, err
			}
			cur.FeatureFlagSpec = next
			return cur, nil
		},
		detail: func(cur, next api.FeatureFlag, _ []byte) string {
			return flagChanges(cur.FeatureFlagSpec, next.FeatureFlagSpec)
		},
	})
}

func (s *Server) deleteFeatureFlag(w http.ResponseWriter, r *http.Request, p *principal) error {
	tenant, key := r.PathValue("tenant"), r.PathValue("key")
	return deleteIn(s, w, r, p, deletion[api.FeatureFlag]{
		tenant: tenant, kind: api.KindFeatureFlag, key: key, what: flagWhat(tenant, key),
		load: func(ctx context.Context, tx store.Tx) (api.FeatureFlag, error) {
			return loadFeatureFlag(ctx, tx, tenant, key)
		},
		cascade: func(ctx context.Context, tx store.Tx, cur api.FeatureFlag) (string, error) {
			return "", checkProductionEntries(ctx, tx, p, tenant, nil, cur.Environments)
		},
	})
}

// removeEnvironmentFromFlags deletes an environment's entry from every flag
// of a tenant that has one, with one audit event per flag; deleting an
// environment calls it, inside the same transaction and tenant lock.
func (s *Server) removeEnvironmentFromFlags(ctx context.Context, tx store.Tx, p *principal, tenant, env string) error {
	flags, err := allObjects[api.FeatureFlag](ctx, tx, tenant, api.KindFeatureFlag)
	if err != nil {
		return err
	}
	for _, f := range flags {
		if _, ok := f.Environments[env]; !ok {
			continue
		}
		before := f.Revision
		f.Environments = maps.Clone(f.Environments)
		delete(f.Environments, env)
		updated, err := putObject[api.FeatureFlag](ctx, tx, tenant, api.KindFeatureFlag, f.Key, f)
		if err != nil {
			return err
		}
		if err := s.audit(ctx, tx, p, auditEntry{tenant: tenant, action: "feature_flag.update", kind: api.KindFeatureFlag,
			key: f.Key, before: before, after: updated.Revision,
			detail: "removed: environments." + env + " (environment deleted)"}); err != nil {
			return err
		}
	}
	return nil
}

// flagChanges says for the audit log what a write changes, field by field
// and environment by environment, such as
// "changed: description, environments.staging; removed: environments.qa";
// "" when nothing changes.
func flagChanges(from, to api.FeatureFlagSpec) string {
	var changed, removed []string
	if from.Description != to.Description {
		changed = append(changed, "description")
	}
	if (from.Environments == nil) != (to.Environments == nil) && len(from.Environments) == 0 && len(to.Environments) == 0 {
		changed = append(changed, "environments")
	}
	for _, env := range slices.Sorted(maps.Keys(to.Environments)) {
		if old, ok := from.Environments[env]; !ok || old != to.Environments[env] {
			changed = append(changed, "environments."+env)
		}
	}
	for _, env := range slices.Sorted(maps.Keys(from.Environments)) {
		if _, ok := to.Environments[env]; !ok {
			removed = append(removed, "environments."+env)
		}
	}
	var parts []string
	if len(changed) > 0 {
		parts = append(parts, "changed: "+strings.Join(changed, ", "))
	}
	if len(removed) > 0 {
		parts = append(parts, "removed: "+strings.Join(removed, ", "))
	}
	return strings.Join(parts, "; ")
}
