package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/quota"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

// quotaRoutes serves quotas. Only a platform admin sets a tenant's
// tenant-wide quota, its budget on the platform; a tenant admin shares that
// budget out among the tenant's environments.
func (s *Server) quotaRoutes() []route {
	return []route{
		{"GET /v1/tenants/{tenant}/quota", tenantViewer, s.getTenantQuota},
		{"PUT /v1/tenants/{tenant}/quota", platformAdmin, s.putTenantQuota},
		{"DELETE /v1/tenants/{tenant}/quota", platformAdmin, s.deleteTenantQuota},
		{"GET /v1/tenants/{tenant}/environments/{env}/quota", tenantViewer, s.getEnvironmentQuota},
		{"PUT /v1/tenants/{tenant}/environments/{env}/quota", tenantAdmin, s.putEnvironmentQuota},
		{"DELETE /v1/tenants/{tenant}/environments/{env}/quota", tenantAdmin, s.deleteEnvironmentQuota},
	}
}

// tenantQuota reads a tenant's tenant-wide quota; nil when it has none.
func tenantQuota(ctx context.Context, tx store.Tx, tenant string) (*api.Quota, error) {
	o, err := tx.Get(ctx, tenant, api.KindQuota, api.TenantQuotaKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	q, err := fromObject[api.Quota](o)
	return &q, err
}

// quotaTarget is the quota a request is about: the tenant-wide one (env "")
// or an environment's.
type quotaTarget struct {
	tenant, env string
}

func (t quotaTarget) key() string {
	if t.env == "" {
		return api.TenantQuotaKey
	}
	return t.env
}

func (t quotaTarget) id() string {
	if t.env == "" {
		return t.tenant
	}
	return t.tenant + "/" + t.env
}

// what names the quota in messages.
func (t quotaTarget) what() string {
	if t.env == "" {
		return fmt.Sprintf("the tenant-wide quota of tenant %q", t.tenant)
	}
	return fmt.Sprintf("the quota of environment %q of tenant %q", t.env, t.tenant)
}

func (t quotaTarget) environment() *string {
	if t.env == "" {
		return nil
	}
	return &t.env
}

// quotaTargetOf reads the quota a request's path names.
func quotaTargetOf(r *http.Request, perEnvironment bool) (quotaTarget, error) {
	t := quotaTarget{tenant: r.PathValue("tenant")}
	if perEnvironment {
		env, err := environmentName(r)
		if err != nil {
			return t, err
		}
		t.env = env
	}
	return t, nil
}

// loadQuotaOwner checks that the tenant and, for an environment quota, the
// environment exist.
func loadQuotaOwner(ctx context.Context, tx store.Tx, t quotaTarget) error {
	if t.env != "" {
		_, err := loadEnvironment(ctx, tx, t.tenant, t.env)
		return err
	}
	_, err := loadTenant(ctx, tx, t.tenant)
	return err
}

// loadQuota reads the quota t names, answering 404 when it is not set. A
// quota goes with its tenant or environment, so one found proves its owner
// exists; the owner is read only to word a miss.
func loadQuota(ctx context.Context, tx store.Tx, t quotaTarget) (api.Quota, error) {
	o, err := loadQuotaObject(ctx, tx, t)
	if err != nil {
		return api.Quota{}, err
	}
	return fromObject[api.Quota](o)
}

func loadQuotaObject(ctx context.Context, tx store.Tx, t quotaTarget) (store.Object, error) {
	o, err := tx.Get(ctx, t.tenant, api.KindQuota, t.key())
	switch {
	case err == nil:
		return o, nil
	case !errors.Is(err, store.ErrNotFound):
		return o, err
	}
	if err := loadQuotaOwner(ctx, tx, t); err != nil {
		return o, err
	}
	return o, errNotFound("%s is not set (no quota means no limit)", t.what())
}

// environmentQuotas reads every environment quota of a tenant, by environment.
func environmentQuotas(ctx context.Context, tx store.Tx, tenant string) (map[string]api.QuotaSpec, error) {
	all, err := allObjects[api.Quota](ctx, tx, tenant, api.KindQuota)
	if err != nil {
		return nil, err
	}
	out := make(map[string]api.QuotaSpec, len(all))
	for _, q := range all {
		if q.Environment != nil {
			out[*q.Environment] = q.QuotaSpec
		}
	}
	return out, nil
}

// checkQuotaFits refuses a quota that, once written, would not fit: an
// environment quota that takes the environment quotas past the tenant-wide
// quota, or a tenant-wide quota below the sum of the environment quotas or
// below what the tenant holds now (its users, for max_users). The caller
// holds the tenant lock, so the check and the write are atomic. The 409
// names every dimension that does not fit, with the numbers.
func checkQuotaFits(ctx context.Context, tx store.Tx, tenant, env string, spec api.QuotaSpec) error {
	envs, err := environmentQuotas(ctx, tx, tenant)
	if err != nil {
		return err
	}
	var violations []quota.Violation
	if env == "" {
		violations = quota.Fit(&spec, envs)
		users, err := tx.Count(ctx, tenant, api.KindUser)
		if err != nil {
			return err
		}
		violations = append(violations,
			quota.BelowUse(spec, quota.Use{quota.MaxUsers: int64(users)}, map[string]string{quota.MaxUsers: "users"})...)
	} else {
		tq, err := tenantQuota(ctx, tx, tenant)
		if err != nil || tq == nil {
			return err
		}
		envs[env] = spec
		violations = quota.Fit(&tq.QuotaSpec, envs)
	}
	if len(violations) == 0 {
		return nil
	}
	msgs := make([]string, len(violations))
	for i, v := range violations {
		msgs[i] = v.Message
	}
	return errConflict(violations[0].Dimension, "%s cannot be set: %s", quotaTarget{tenant, env}.what(), strings.Join(msgs, "; "))
}

func (s *Server) getTenantQuota(w http.ResponseWriter, r *http.Request, _ *principal) error {
	return s.getQuota(w, r, false)
}

func (s *Server) getEnvironmentQuota(w http.ResponseWriter, r *http.Request, _ *principal) error {
	return s.getQuota(w, r, true)
}

func (s *Server) getQuota(w http.ResponseWriter, r *http.Request, perEnvironment bool) error {
	t, err := quotaTargetOf(r, perEnvironment)
	if err != nil {
		return err
	}
	return s.viewOne(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		return answerRead[api.Quota](loadQuotaObject(ctx, tx, t))
	})
}

func (s *Server) putTenantQuota(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.putQuota(w, r, p, false)
}

func (s *Server) putEnvironmentQuota(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.putQuota(w, r, p, true)
}

// putQuota sets a quota, replacing every limit: a limit left out or null is
// unlimited. It honours If-Match and ?dry_run=true.
func (s *Server) putQuota(w http.ResponseWriter, r *http.Request, p *principal, perEnvironment bool) error {
	t, err := quotaTargetOf(r, perEnvironment)
	if err != nil {
		return err
	}
	err = updateIn(s, w, r, p, update[api.Quota]{
		tenant: t.tenant, kind: api.KindQuota, key: t.key(), what: t.what(),
		// The quota as it is; revision 0 when there is none, which the PUT creates.
		load: func(ctx context.Context, tx store.Tx) (api.Quota, error) {
			if err := loadQuotaOwner(ctx, tx, t); err != nil {
				return api.Quota{}, err
			}
			o, err := tx.Get(ctx, t.tenant, api.KindQuota, t.key())
			if errors.Is(err, store.ErrNotFound) {
				return api.Quota{}, nil
			}
			if err != nil {
				return api.Quota{}, err
			}
			return fromObject[api.Quota](o)
		},
		apply: func(ctx context.Context, tx store.Tx, cur api.Quota, body []byte) (api.Quota, error) {
			var spec api.QuotaSpec
			if err := decodeStrict(body, &spec); err != nil {
				return cur, err
			}
			if dim, err := quota.Validate(spec); err != nil {
				return cur, invalidField(dim, err)
			}
			if err := checkQuotaFits(ctx, tx, t.tenant, t.env, spec); err != nil {
				return cur, err
			}
			return api.Quota{QuotaSpec: spec, TenantID: t.tenant, Environment: t.environment(), ID: t.id(), Meta: cur.Meta}, nil
		},
		same: func(cur, next api.Quota) bool { return len(quota.Changed(cur.QuotaSpec, next.QuotaSpec)) == 0 },
		detail: func(cur, next api.Quota, _ []byte) string {
			if cur.Revision == 0 {
				return quotaLimits(next.QuotaSpec)
			}
			return "changed: " + strings.Join(quota.Changed(cur.QuotaSpec, next.QuotaSpec), ", ")
		},
	})
	if err == nil && t.env == "" {
		s.quotaChanged(t.tenant)
	}
	return err
}

// quotaLimits lists the limits a quota sets for the audit log, such as
// "cpu_millicores 4000, max_users 10"; "no limits" when it sets none.
func quotaLimits(q api.QuotaSpec) string {
	var parts []string
	for _, d := range quota.Dimensions {
		if v := quota.Limit(q, d); v != nil {
			parts = append(parts, fmt.Sprintf("%s %d", d, *v))
		}
	}
	if len(parts) == 0 {
		return "no limits"
	}
	return strings.Join(parts, ", ")
}

func (s *Server) deleteTenantQuota(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.deleteQuota(w, r, p, false)
}

func (s *Server) deleteEnvironmentQuota(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.deleteQuota(w, r, p, true)
}

// deleteQuota removes a quota, which lifts its limits; it honours If-Match.
func (s *Server) deleteQuota(w http.ResponseWriter, r *http.Request, p *principal, perEnvironment bool) error {
	t, err := quotaTargetOf(r, perEnvironment)
	if err != nil {
		return err
	}
	err = deleteIn(s, w, r, p, deletion[api.Quota]{
		tenant: t.tenant, kind: api.KindQuota, key: t.key(), what: t.what(),
		load: func(ctx context.Context, tx store.Tx) (api.Quota, error) { return loadQuota(ctx, tx, t) },
		cascade: func(_ context.Context, _ store.Tx, q api.Quota) (string, error) {
			return "was " + quotaLimits(q.QuotaSpec), nil
		},
	})
	if err == nil && t.env == "" {
		s.quotaChanged(t.tenant)
	}
	return err
}

// removeQuota deletes a quota with its audit event, for another write
// that takes it away (env "" is the tenant-wide one); why says which. It
// returns store.ErrNotFound when the quota is not set.
func (s *Server) removeQuota(ctx context.Context, tx store.Tx, p *principal, tenant, env, why string) error {
	t := quotaTarget{tenant: tenant, env: env}
	o, err := tx.Get(ctx, tenant, api.KindQuota, t.key())
	if err != nil {
		return err
	}
	q, err := fromObject[api.Quota](o)
	if err != nil {
		return err
	}
	return s.remove(ctx, tx, p, tenant, api.KindQuota, t.key(), o.Revision, "was "+quotaLimits(q.QuotaSpec)+"; "+why)
}
