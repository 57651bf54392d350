package server

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/promotion"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/quota"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validate"
)

// promotionRoutes serves promotions and promotion links. Any role reads
// them; tenant_user may promote into (and roll back, and unlink) a
// non-production environment, and the handlers demand tenant_admin for a
// production target and for any change to a quota.
func (s *Server) promotionRoutes() []route {
	return []route{
		{"GET /v1/tenants/{tenant}/promotions", tenantViewer, s.listPromotions},
		{"POST /v1/tenants/{tenant}/promotions", tenantUser, s.createPromotion},
		{"GET /v1/tenants/{tenant}/promotions/{id}", tenantViewer, s.getPromotion},
		{"POST /v1/tenants/{tenant}/promotions/{id}/rollback", tenantUser, s.rollbackPromotion},
		{"GET /v1/tenants/{tenant}/promotion-links", tenantViewer, s.listPromotionLinks},
		{"GET /v1/tenants/{tenant}/promotion-links/{target}", tenantViewer, s.getPromotionLink},
		{"DELETE /v1/tenants/{tenant}/promotion-links/{target}", tenantUser, s.deletePromotionLink},
	}
}

// storedPromotion is a promotion as tenancyd keeps it: with its place in the
// tenant's history and the target's before-image, which the API never shows.
type storedPromotion struct {
	api.Promotion
	// Sequence orders a tenant's promotions: 1 for the first, then one more
	// than the highest so far (the tenant lock makes it unique).
	Sequence int64 `json:"sequence"`
	// Before puts back what the promotion changed in the target.
	Before promotion.Patch `json:"before"`
}

// public is the promotion as the API shows it.
func (sp storedPromotion) public() api.Promotion {
	p := sp.Promotion
	p.Include = slices.Clone(p.Include)
	p.Changes = slices.Clone(p.Changes)
	if p.Changes == nil {
		p.Changes = []string{}
	}
	return p
}

// scene is what a promotion or rollback reads of a tenant: the two
// environments, every flag and every quota.
type scene struct {
	tenant         string
	source, target api.Environment
	flags          []api.FeatureFlag
	envQuotas      map[string]api.Quota // by environment name
	tenantQuota    *api.QuotaSpec
}

// loadScene reads the flags and quotas of a tenant around two environments
// already read (source may be the zero Environment for a rollback).
func loadScene(ctx context.Context, tx store.Tx, tenant string, source, target api.Environment) (*scene, error) {
	sc := &scene{tenant: tenant, source: source, target: target, envQuotas: map[string]api.Quota{}}
	var err error
	if sc.flags, err = allObjects[api.FeatureFlag](ctx, tx, tenant, api.KindFeatureFlag); err != nil {
		return nil, err
	}
	quotas, err := allObjects[api.Quota](ctx, tx, tenant, api.KindQuota)
	if err != nil {
		return nil, err
	}
	for _, q := range quotas {
		if q.Environment == nil {
			sc.tenantQuota = &q.QuotaSpec
			continue
		}
		sc.envQuotas[*q.Environment] = q
	}
	return sc, nil
}

// env is what promotion reads of one environment of the scene.
func (sc *scene) env(e api.Environment) promotion.Env {
	out := promotion.Env{Settings: e.Settings, Flags: map[string]api.FlagEnvironment{}}
	for _, f := range sc.flags {
		if v, ok := f.Environments[e.Name]; ok {
			out.Flags[f.Key] = v
		}
	}
	if q, ok := sc.envQuotas[e.Name]; ok {
		out.Quota = &q.QuotaSpec
	}
	return out
}

// checkQuotaPatch refuses a quota change that the caller may not make or
// that takes the environment quotas past the tenant-wide quota.
func (sc *scene) checkQuotaPatch(p *principal, qp *promotion.QuotaPatch, what string) error {
	if qp == nil {
		return nil
	}
	if !p.atLeast(api.RoleTenantAdmin) {
		return errForbidden("include",
			"%s would change the quota of environment %q, which needs role %s; the token %q has role %s. "+
				"Leave %q out of include, or use a %s token",
			what, sc.target.Name, api.RoleTenantAdmin, p.Name, p.Role, api.ScopeQuotas, api.RoleTenantAdmin)
	}
	if sc.tenantQuota == nil {
		return nil
	}
	envs := make(map[string]api.QuotaSpec, len(sc.envQuotas)+1)
	for name, q := range sc.envQuotas {
		envs[name] = q.QuotaSpec
	}
	var before api.QuotaSpec
	if q, ok := sc.envQuotas[sc.target.Name]; ok {
		before = q.QuotaSpec
	}
	delete(envs, sc.target.Name)
	var after api.QuotaSpec
	if qp.Limits != nil {
		after = *qp.Limits
		envs[sc.target.Name] = after
	}
	changed := quota.Changed(before, after)
	var msgs []string
	for _, v := range quota.Fit(sc.tenantQuota, envs) {
		if slices.Contains(changed, v.Dimension) {
			msgs = append(msgs, v.Message)
		}
	}
	if len(msgs) > 0 {
		return errConflict("", "%s would set the quota of environment %q past the tenant quota of tenant %q: %s. "+
			"Raise the tenant quota, lower the source's quota, or leave %q out of include",
			what, sc.target.Name, sc.tenant, strings.Join(msgs, "; "), api.ScopeQuotas)
	}
	return nil
}

// patchCause says, in the audit events of a patch, why it was written:
// why in the detail, and the id of the promotion that writes it or whose
// rollback does.
type patchCause struct {
	why       string
	promotion string
}

// apply writes a patch to the target environment of the scene, one object
// at a time with one audit event each, and returns the patch as written:
// entries of flags deleted since are left out (and said in skipped), as is
// anything already equal, so no object gets a revision for nothing.
func (s *Server) applyPatch(ctx context.Context, tx store.Tx, p *principal, sc *scene, patch promotion.Patch, cause patchCause) (skipped []string, err error) {
	tenant, env, why := sc.tenant, sc.target.Name, cause.why
	if sp := patch.Settings; sp != nil && !maps.Equal(sc.target.Settings, sp.Values) {
		before := sc.target.Revision
		next := sc.target
		next.Settings = maps.Clone(sp.Values)
		updated, err := putObject[api.Environment](ctx, tx, tenant, api.KindEnvironment, env, next)
		if err != nil {
			return nil, err
		}
		if err := s.audit(ctx, tx, p, auditEntry{tenant: tenant, action: "environment.update", kind: api.KindEnvironment,
			key: env, before: before, after: updated.Revision, detail: "changed: settings (" + why + ")", promotion: cause.promotion}); err != nil {
			return nil, err
		}
		sc.target = updated
	}
	for _, key := range patch.FlagKeys() {
		i := slices.IndexFunc(sc.flags, func(f api.FeatureFlag) bool { return f.Key == key })
		if i < 0 {
			skipped = append(skipped, key)
			continue
		}
		f := sc.flags[i]
		cur, had := f.Environments[env]
		want := patch.Flags[key]
		if (want == nil && !had) || (want != nil && had && *want == cur) {
			continue
		}
		before := f.Revision
		f.Environments = maps.Clone(f.Environments)
		detail := "changed: environments." + env
		if want == nil {
			delete(f.Environments, env)
			detail = "removed: environments." + env
		} else {
			if f.Environments == nil {
				f.Environments = map[string]api.FlagEnvironment{}
			}
			f.Environments[env] = *want
		}
		updated, err := putObject[api.FeatureFlag](ctx, tx, tenant, api.KindFeatureFlag, key, f)
		if err != nil {
			return nil, err
		}
		if err := s.audit(ctx, tx, p, auditEntry{tenant: tenant, action: "feature_flag.update", kind: api.KindFeatureFlag,
			key: key, before: before, after: updated.Revision, detail: detail + " (" + why + ")", promotion: cause.promotion}); err != nil {
			return nil, err
		}
		sc.flags[i] = updated
	}
	if qp := patch.Quota; qp != nil {
		if err := s.writeQuota(ctx, tx, p, sc, qp.Limits, cause); err != nil {
			return nil, err
		}
	}
	return skipped, nil
}

// writeQuota sets (or, with nil limits, removes) the target's quota.
func (s *Server) writeQuota(ctx context.Context, tx store.Tx, p *principal, sc *scene, limits *api.QuotaSpec, cause patchCause) error {
	tenant, env, why := sc.tenant, sc.target.Name, cause.why
	cur, had := sc.envQuotas[env]
	switch {
	case limits == nil && !had:
		return nil
	case limits == nil:
		if err := tx.Delete(ctx, tenant, api.KindQuota, env, cur.Revision); err != nil {
			return err
		}
		delete(sc.envQuotas, env)
		return s.audit(ctx, tx, p, auditEntry{tenant: tenant, action: "quota.delete", kind: api.KindQuota, key: env,
			before: cur.Revision, detail: "removed (" + why + ")", promotion: cause.promotion})
	case !had:
		q := api.Quota{QuotaSpec: *limits, TenantID: tenant, Environment: &env, ID: tenant + "/" + env}
		created, err := createObject[api.Quota](ctx, tx, tenant, api.KindQuota, env, q)
		if err != nil {
			return err
		}
		sc.envQuotas[env] = created
		return s.audit(ctx, tx, p, auditEntry{tenant: tenant, action: "quota.create", kind: api.KindQuota, key: env,
			after: created.Revision, detail: "created (" + why + ")", promotion: cause.promotion})
	}
	changed := quota.Changed(cur.QuotaSpec, *limits)
	if len(changed) == 0 {
		return nil
	}
	next := cur
	next.QuotaSpec = *limits
	updated, err := putObject[api.Quota](ctx, tx, tenant, api.KindQuota, env, next)
	if err != nil {
		return err
	}
	sc.envQuotas[env] = updated
	return s.audit(ctx, tx, p, auditEntry{tenant: tenant, action: "quota.update", kind: api.KindQuota, key: env,
		before: cur.Revision, after: updated.Revision, detail: "changed: " + strings.Join(changed, ", ") + " (" + why + ")",
		promotion: cause.promotion})
}

// promotionEnvironment reads one of a promotion's environments, answering
// 422 on field when the tenant has no such environment.
func promotionEnvironment(ctx context.Context, tx store.Tx, tenant, field, name string) (api.Environment, error) {
	if name == "" {
		return api.Environment{}, errInvalid(field, "%s is required: the name of an environment of tenant %q", field, tenant)
	}
	if err := validate.Name(name); err != nil {
		return api.Environment{}, invalidField(field, err)
	}
	o, err := tx.Get(ctx, tenant, api.KindEnvironment, name)
	if errors.Is(err, store.ErrNotFound) {
		return api.Environment{}, errInvalid(field, "%s: tenant %q has no environment %q", field, tenant, name)
	}
	if err != nil {
		return api.Environment{}, err
	}
	return fromObject[api.Environment](o)
}

// checkTargetAccess demands tenant_admin for a production target.
func checkTargetAccess(p *principal, target api.Environment, what string) error {
	if target.Type == api.EnvProduction && !p.atLeast(api.RoleTenantAdmin) {
		return errForbidden("target_environment",
			"%s environment %q, of type %s, needs role %s; the token %q has role %s",
			what, target.Name, api.EnvProduction, api.RoleTenantAdmin, p.Name, p.Role)
	}
	return nil
}

// preparedPromotion is a checked promotion request with what it would do.
type preparedPromotion struct {
	req    api.PromotionRequest
	scopes []string
	scene  *scene
	result promotion.Result
	// staleLink is a link of the target that may be replaced (see linkOf).
	staleLink *api.PromotionLink
	// schema is what the schema scope applies (see promotion_schema.go).
	schema *schemaPromotion
}

// preparePromotion runs every check of a promotion and computes its changes;
// the dry run and the promotion share it, so a dry run fails exactly when
// the promotion would.
func (s *Server) preparePromotion(ctx context.Context, tx store.Tx, p *principal, tenant string, body []byte) (*preparedPromotion, error) {
	var req api.PromotionRequest
	if err := decodeStrict(body, &req); err != nil {
		return nil, err
	}
	if _, err := loadTenant(ctx, tx, tenant); err != nil {
		return nil, err
	}
	scopes, err := promotion.Scopes(req.Include)
	if err != nil {
		return nil, errInvalid("include", "include: %v", err)
	}
	source, err := promotionEnvironment(ctx, tx, tenant, "source_environment", req.SourceEnvironment)
	if err != nil {
		return nil, err
	}
	if req.TargetEnvironment == req.SourceEnvironment {
		return nil, errInvalid("target_environment",
			"target_environment must differ from source_environment; both are %q", req.TargetEnvironment)
	}
	target, err := promotionEnvironment(ctx, tx, tenant, "target_environment", req.TargetEnvironment)
	if err != nil {
		return nil, err
	}
	if err := checkTargetAccess(p, target, "promoting into"); err != nil {
		return nil, err
	}
	sc, err := loadScene(ctx, tx, tenant, source, target)
	if err != nil {
		return nil, err
	}
	pp := &preparedPromotion{req: req, scopes: scopes, scene: sc, result: promotion.Diff(sc.env(source), sc.env(target), scopes)}
	if slices.Contains(scopes, api.ScopeSchema) {
		if pp.schema, err = s.planSchemaPromotion(ctx, tx, p, tenant, source, target); err != nil {
			return nil, err
		}
		pp.result.Changes = append(pp.result.Changes, pp.schema.lines...)
		promotion.SortLines(pp.result.Changes)
	}
	what := fmt.Sprintf("promoting %q to %q", source.Name, target.Name)
	if err := sc.checkQuotaPatch(p, pp.result.Forward.Quota, what); err != nil {
		return nil, err
	}
	if want := req.ExpectChanges; want != nil && !slices.Equal(sortedCopy(*want), pp.result.Changes) {
		return nil, newError(http.StatusPreconditionFailed, api.CodePreconditionFailed, "expect_changes",
			"%s would now change %s, not the expected %s: the source or the target changed since the preview. Preview again",
			what, linesOrNothing(pp.result.Changes), linesOrNothing(*want))
	}
	switch {
	case req.Link:
		if pp.staleLink, err = checkLinkFree(ctx, tx, tenant, target); err != nil {
			return nil, err
		}
	case req.Linked:
		if err := checkLinkedFrom(ctx, tx, tenant, source.Name, target.Name); err != nil {
			return nil, err
		}
	}
	return pp, nil
}

func sortedCopy(lines []string) []string {
	out := slices.Clone(lines)
	if out == nil {
		out = []string{}
	}
	promotion.SortLines(out)
	return out
}

// linesOrNothing quotes change lines for a message.
func linesOrNothing(lines []string) string {
	if len(lines) == 0 {
		return "nothing"
	}
	q := make([]string, len(lines))
	for i, l := range lines {
		q[i] = strconv.Quote(l)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// createPromotion previews (dry_run true in the body, or ?dry_run=true) or
// makes a promotion. A promotion writes every change in one transaction
// under the tenant lock, keeps the target's before-image for rollback, and
// is recorded even when it changes nothing.
func (s *Server) createPromotion(w http.ResponseWriter, r *http.Request, p *principal) error {
	tenant := r.PathValue("tenant")
	dryQuery, err := dryRunParam(r)
	if err != nil {
		return err
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var probe api.PromotionRequest
	if err := decodeStrict(body, &probe); err != nil {
		return err
	}
	if probe.DryRun || dryQuery {
		var out api.Promotion
		err := s.store.View(r.Context(), func(ctx context.Context, tx store.Tx) error {
			pp, err := s.preparePromotion(ctx, tx, p, tenant, body)
			if err != nil {
				return err
			}
			out = api.Promotion{
				TenantID: tenant, SourceEnvironment: pp.req.SourceEnvironment, TargetEnvironment: pp.req.TargetEnvironment,
				Include: pp.scopes, Changes: pp.result.Changes, DryRun: true,
				Source: promotion.Describe(pp.scene.env(pp.scene.source), pp.scopes),
				Target: promotion.Describe(pp.scene.env(pp.scene.target), pp.scopes),
			}
			if slices.Contains(pp.scopes, api.ScopeSchema) {
				// So that a client can preview migrations planned for the
				// source but not applied there yet.
				out.Source.Schema, out.Target.Schema = s.describeSchemas(ctx, tx, tenant, pp)
			}
			return nil
		})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	// The schema scope's migrations run first, outside the transaction.
	r, err = s.promoteSchemaFirst(r, p, tenant, func(ctx context.Context, tx store.Tx) (*schemaPromotion, string, error) {
		pp, err := s.preparePromotion(ctx, tx, p, tenant, body)
		if err != nil {
			return nil, "", err
		}
		return pp.schema, pp.req.SourceEnvironment, nil
	})
	if err != nil {
		return err
	}
	// mutate reads the body again, for its idempotency record.
	r.Body = io.NopCloser(bytes.NewReader(body))
	return s.mutate(w, r, p, []string{lockTenant(tenant)}, func(ctx context.Context, tx store.Tx, body []byte) (int, any, error) {
		pp, err := s.preparePromotion(ctx, tx, p, tenant, body)
		if err != nil {
			return 0, nil, err
		}
		seq, err := nextSequence(ctx, tx, tenant)
		if err != nil {
			return 0, nil, err
		}
		id, now := newID("prm"), s.now().UTC()
		cause := patchCause{why: fmt.Sprintf("promotion %s from %q", id, pp.req.SourceEnvironment), promotion: id}
		if _, err := s.applyPatch(ctx, tx, p, pp.scene, pp.result.Forward, cause); err != nil {
			return 0, nil, err
		}
		sp := storedPromotion{
			Promotion: api.Promotion{
				ID: id, TenantID: tenant, SourceEnvironment: pp.req.SourceEnvironment, TargetEnvironment: pp.req.TargetEnvironment,
				Include: pp.scopes, Changes: pp.result.Changes, PromotedBy: p.Name, PromotedAt: &now,
				Linked: pp.req.Link || pp.req.Linked,
			},
			Sequence: seq, Before: pp.result.Backward,
		}
		created, err := createObject[storedPromotion](ctx, tx, tenant, api.KindPromotion, id, sp)
		if err != nil {
			return 0, nil, err
		}
		detail := fmt.Sprintf("%q -> %q: %d changes", pp.req.SourceEnvironment, pp.req.TargetEnvironment, len(pp.result.Changes))
		if err := s.audit(ctx, tx, p, auditEntry{tenant: tenant, action: "promotion.create", kind: api.KindPromotion,
			key: id, after: created.Revision, detail: detail}); err != nil {
			return 0, nil, err
		}
		if pp.req.Link {
			if err := s.createLink(ctx, tx, p, tenant, pp.scene.source.Name, pp.scene.target.Name, pp.staleLink); err != nil {
				return 0, nil, err
			}
		}
		return http.StatusCreated, created.public(), nil
	})
}

// nextSequence is the sequence number of a tenant's next promotion.
func nextSequence(ctx context.Context, tx store.Tx, tenant string) (int64, error) {
	all, err := allObjects[storedPromotion](ctx, tx, tenant, api.KindPromotion)
	if err != nil {
		return 0, err
	}
	var top int64
	for _, sp := range all {
		top = max(top, sp.Sequence)
	}
	return top + 1, nil
}

// promotionIDPattern matches the ids newID("prm") makes.
var promotionIDPattern = regexp.MustCompile(`^prm_[0-9a-f]{1,64}$`)

// promotionID reads the {id} path segment; what can never be a promotion's
// id is not found, without reaching the store.
func promotionID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !promotionIDPattern.MatchString(id) {
		return "", errNotFound("promotion %s not found in tenant %q: promotion ids look like prm_0123456789abcdef0123",
			quotePromotionID(id), r.PathValue("tenant"))
	}
	return id, nil
}

// quotePromotionID quotes a value for a message, cut to a length that cannot flood it.
func quotePromotionID(v string) string {
	const limit = 80
	if r := []rune(v); len(r) > limit {
		return strconv.Quote(string(r[:limit])) + "…"
	}
	return strconv.Quote(v)
}

func (s *Server) getPromotion(w http.ResponseWriter, r *http.Request, _ *principal) error {
	tenant := r.PathValue("tenant")
	id, err := promotionID(r)
	if err != nil {
		return err
	}
	return s.view(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		if _, err := loadTenant(ctx, tx, tenant); err != nil {
			return nil, err
		}
		sp, err := getObject[storedPromotion](ctx, tx, tenant, api.KindPromotion, id, fmt.Sprintf("promotion %q", id))
		if err != nil {
			return nil, err
		}
		out := sp.public()
		return &out, nil
	})
}

// listPromotions lists a tenant's promotion history newest first (by the
// order they were made), optionally only those into target_environment or
// from source_environment.
func (s *Server) listPromotions(w http.ResponseWriter, r *http.Request, _ *principal) error {
	tenant := r.PathValue("tenant")
	after, size, err := page(r)
	if err != nil {
		return err
	}
	var before int64
	if after != "" {
		if before, err = strconv.ParseInt(after, 10, 64); err != nil || before <= 0 {
			return errBadRequest("page_token", "page_token is not one this server returned; start again without it")
		}
	}
	q := r.URL.Query()
	target, source := q.Get("target_environment"), q.Get("source_environment")
	return s.view(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		if _, err := loadTenant(ctx, tx, tenant); err != nil {
			return nil, err
		}
		all, err := allObjects[storedPromotion](ctx, tx, tenant, api.KindPromotion)
		if err != nil {
			return nil, err
		}
		all = slices.DeleteFunc(all, func(sp storedPromotion) bool {
			return (target != "" && sp.TargetEnvironment != target) || (source != "" && sp.SourceEnvironment != source) ||
				(before > 0 && sp.Sequence >= before)
		})
		slices.SortFunc(all, func(a, b storedPromotion) int { return cmp.Compare(b.Sequence, a.Sequence) })
		list := api.List[api.Promotion]{Items: []api.Promotion{}}
		for i, sp := range all {
			if i == size {
				list.NextPageToken = pageToken(strconv.FormatInt(all[i-1].Sequence, 10))
				break
			}
			list.Items = append(list.Items, sp.public())
		}
		return list, nil
	})
}

// rollbackPromotion puts back the before-image of a tenant's latest
// promotion into its target that is not rolled back yet. Flags deleted since
// the promotion are skipped (the audit event says which).
func (s *Server) rollbackPromotion(w http.ResponseWriter, r *http.Request, p *principal) error {
	tenant := r.PathValue("tenant")
	id, err := promotionID(r)
	if err != nil {
		return err
	}
	return s.mutate(w, r, p, []string{lockTenant(tenant)}, func(ctx context.Context, tx store.Tx, _ []byte) (int, any, error) {
		if _, err := loadTenant(ctx, tx, tenant); err != nil {
			return 0, nil, err
		}
		sp, err := getObject[storedPromotion](ctx, tx, tenant, api.KindPromotion, id, fmt.Sprintf("promotion %q", id))
		if err != nil {
			return 0, nil, err
		}
		if sp.RolledBackAt != nil {
			return 0, nil, errConflict("", "promotion %s was already rolled back at %s by %q",
				id, sp.RolledBackAt.UTC().Format(time.RFC3339), sp.RolledBackBy)
		}
		all, err := allObjects[storedPromotion](ctx, tx, tenant, api.KindPromotion)
		if err != nil {
			return 0, nil, err
		}
		for _, o := range all {
			if o.TargetEnvironment == sp.TargetEnvironment && o.RolledBackAt == nil && o.Sequence > sp.Sequence {
				return 0, nil, errConflict("",
					"promotion %s into %q cannot be rolled back: promotion %s (from %q at %s) is newer and not rolled back. "+
						"Only the latest promotion into an environment can be rolled back; roll back %s first",
					id, sp.TargetEnvironment, o.ID, o.SourceEnvironment, o.PromotedAt.UTC().Format(time.RFC3339), o.ID)
			}
		}
		o, err := tx.Get(ctx, tenant, api.KindEnvironment, sp.TargetEnvironment)
		if errors.Is(err, store.ErrNotFound) {
			return 0, nil, errConflict("", "promotion %s cannot be rolled back: its target environment %q no longer exists", id, sp.TargetEnvironment)
		}
		if err != nil {
			return 0, nil, err
		}
		target, err := fromObject[api.Environment](o)
		if err != nil {
			return 0, nil, err
		}
		if err := checkTargetAccess(p, target, "rolling back a promotion into"); err != nil {
			return 0, nil, err
		}
		sc, err := loadScene(ctx, tx, tenant, api.Environment{}, target)
		if err != nil {
			return 0, nil, err
		}
		patch := sp.Before
		if err := sc.checkQuotaPatch(p, patch.Quota, "rolling back promotion "+id); err != nil {
			return 0, nil, err
		}
		lines := promotion.Changes(sc.env(target), withoutMissingFlags(patch, sc.flags))
		skipped, err := s.applyPatch(ctx, tx, p, sc, patch, patchCause{why: "rollback of promotion " + id, promotion: id})
		if err != nil {
			return 0, nil, err
		}
		before, now := sp.Revision, s.now().UTC()
		sp.RolledBackAt, sp.RolledBackBy, sp.RollbackChanges = &now, p.Name, lines
		updated, err := putObject[storedPromotion](ctx, tx, tenant, api.KindPromotion, id, sp)
		if err != nil {
			return 0, nil, err
		}
		detail := fmt.Sprintf("restored %q as before the promotion: %d changes", sp.TargetEnvironment, len(lines))
		if len(skipped) > 0 {
			detail += "; flags deleted since, not restored: " + strings.Join(skipped, ", ")
		}
		if err := s.audit(ctx, tx, p, auditEntry{tenant: tenant, action: "promotion.rollback", kind: api.KindPromotion,
			key: id, before: before, after: updated.Revision, detail: detail}); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, updated.public(), nil
	})
}

// withoutMissingFlags drops from a patch the flags that no longer exist.
func withoutMissingFlags(p promotion.Patch, flags []api.FeatureFlag) promotion.Patch {
	out := p
	out.Flags = maps.Clone(p.Flags)
	maps.DeleteFunc(out.Flags, func(key string, _ *api.FlagEnvironment) bool {
		return !slices.ContainsFunc(flags, func(f api.FeatureFlag) bool { return f.Key == key })
	})
	return out
}

// Promotion links. A link says that a tenancy_environment_promotion promotes
// its source into its target; it is created with the resource's first
// promotion (link: true, in the same transaction) and deleted with the
// resource. A target has at most one link, stored under the target's name,
// so a second resource for the same target fails with a 409 that names the
// first one's source instead of fighting it plan after plan.

// linkWhat names a link in messages.
func linkWhat(l api.PromotionLink) string {
	return fmt.Sprintf("promotion link %s (from %q, created by %q at %s)",
		l.ID, l.SourceEnvironment, l.CreatedBy, l.CreatedAt.UTC().Format(time.RFC3339))
}

// checkLinkFree refuses a link into target when one exists. A link is stale,
// and may be replaced, when its source environment no longer exists or its
// target was deleted and created again after it; the stale link is returned.
func checkLinkFree(ctx context.Context, tx store.Tx, tenant string, target api.Environment) (*api.PromotionLink, error) {
	o, err := tx.Get(ctx, tenant, api.KindPromotionLink, target.Name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	l, err := fromObject[api.PromotionLink](o)
	if err != nil {
		return nil, err
	}
	switch _, err := tx.Get(ctx, tenant, api.KindEnvironment, l.SourceEnvironment); {
	case errors.Is(err, store.ErrNotFound):
		return &l, nil
	case err != nil:
		return nil, err
	case target.CreatedAt.After(l.CreatedAt):
		return &l, nil
	}
	return nil, errConflict("target_environment",
		"environment %q is already the target of %s; an environment can be the target of only one tenancy_environment_promotion. "+
			"Import that one (terraform import tenancy_environment_promotion.NAME %s) or destroy it first",
		target.Name, linkWhat(l), l.ID)
}

// checkLinkedFrom refuses a promotion that says it is made by the holder of
// the target's link when the target has no link from source.
func checkLinkedFrom(ctx context.Context, tx store.Tx, tenant, source, target string) error {
	o, err := tx.Get(ctx, tenant, api.KindPromotionLink, target)
	if errors.Is(err, store.ErrNotFound) {
		return errConflict("linked",
			"linked: environment %q has no promotion link, so no tenancy_environment_promotion promotes into it; "+
				"send link instead of linked to create one, or neither for a promotion by hand", target)
	}
	if err != nil {
		return err
	}
	l, err := fromObject[api.PromotionLink](o)
	if err != nil {
		return err
	}
	if l.SourceEnvironment != source {
		return errConflict("linked", "linked: environment %q is promoted from %q by %s, not from %q",
			target, l.SourceEnvironment, linkWhat(l), source)
	}
	return nil
}

// createLink stores the link of a target, replacing a stale one.
func (s *Server) createLink(ctx context.Context, tx store.Tx, p *principal, tenant, source, target string, stale *api.PromotionLink) error {
	l := api.PromotionLink{
		TenantID: tenant, SourceEnvironment: source, TargetEnvironment: target,
		ID: tenant + "/" + source + "/" + target, CreatedBy: p.Name,
	}
	if stale != nil {
		if err := tx.Delete(ctx, tenant, api.KindPromotionLink, target, stale.Revision); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, p, auditEntry{tenant: tenant, action: "promotion_link.delete", kind: api.KindPromotionLink,
			key: target, before: stale.Revision, detail: "stale: replaced by a link from " + strconv.Quote(source)}); err != nil {
			return err
		}
	}
	created, err := createObject[api.PromotionLink](ctx, tx, tenant, api.KindPromotionLink, target, l)
	if err != nil {
		return err
	}
	return s.audit(ctx, tx, p, auditEntry{tenant: tenant, action: "promotion_link.create", kind: api.KindPromotionLink,
		key: target, after: created.Revision, detail: fmt.Sprintf("%q -> %q", source, target)})
}

// linkTarget reads the {target} path segment.
func linkTarget(r *http.Request) (string, error) {
	target := r.PathValue("target")
	if err := validate.Name(target); err != nil {
		return "", errBadRequest("target_environment", "target environment name in the path: %v", err)
	}
	return target, nil
}

func loadLink(ctx context.Context, tx store.Tx, tenant, target string) (api.PromotionLink, error) {
	if _, err := loadTenant(ctx, tx, tenant); err != nil {
		return api.PromotionLink{}, err
	}
	return getObject[api.PromotionLink](ctx, tx, tenant, api.KindPromotionLink, target,
		fmt.Sprintf("promotion link into environment %q", target))
}

func (s *Server) getPromotionLink(w http.ResponseWriter, r *http.Request, _ *principal) error {
	tenant := r.PathValue("tenant")
	target, err := linkTarget(r)
	if err != nil {
		return err
	}
	return s.view(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		l, err := loadLink(ctx, tx, tenant, target)
		return &l, err
	})
}

// listPromotionLinks lists a tenant's links in target order.
func (s *Server) listPromotionLinks(w http.ResponseWriter, r *http.Request, _ *principal) error {
	tenant := r.PathValue("tenant")
	after, size, err := page(r)
	if err != nil {
		return err
	}
	return s.view(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		if _, err := loadTenant(ctx, tx, tenant); err != nil {
			return nil, err
		}
		return listPageOf[api.PromotionLink](ctx, tx, tenant, api.KindPromotionLink, after, size, nil)
	})
}

// deletePromotionLink removes a target's link; it changes no environment.
// Unlinking a production environment needs tenant_admin, as promoting into
// it does.
func (s *Server) deletePromotionLink(w http.ResponseWriter, r *http.Request, p *principal) error {
	tenant := r.PathValue("tenant")
	target, err := linkTarget(r)
	if err != nil {
		return err
	}
	return deleteIn(s, w, r, p, deletion[api.PromotionLink]{
		tenant: tenant, kind: api.KindPromotionLink, key: target, what: fmt.Sprintf("promotion link into environment %q", target),
		load: func(ctx context.Context, tx store.Tx) (api.PromotionLink, error) {
			return loadLink(ctx, tx, tenant, target)
		},
		cascade: func(ctx context.Context, tx store.Tx, l api.PromotionLink) (string, error) {
			switch o, err := tx.Get(ctx, tenant, api.KindEnvironment, target); {
			case err == nil:
				env, err := fromObject[api.Environment](o)
				if err != nil {
					return "", err
				}
				if err := checkTargetAccess(p, env, "unlinking"); err != nil {
					return "", err
				}
			case !errors.Is(err, store.ErrNotFound):
				return "", err
			}
			return fmt.Sprintf("%q -> %q", l.SourceEnvironment, target), nil
		},
	})
}
