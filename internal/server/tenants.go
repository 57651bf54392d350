package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validate"
)

func (s *Server) tenantRoutes() []route {
	return []route{
		{"GET /v1/tenants", authenticated, s.listTenants},
		{"POST /v1/tenants", platformAdmin, s.createTenant},
		{"GET /v1/tenants/{tenant}", tenantViewer, s.getTenant},
		{"PATCH /v1/tenants/{tenant}", tenantAdmin, s.patchTenant},
		{"DELETE /v1/tenants/{tenant}", platformAdmin, s.deleteTenant},
		{"GET /v1/tenants/{tenant}/audit-events", tenantViewer, s.listAuditEvents},
		{"GET /v1/regions", authenticated, s.listRegions},
	}
}

// listRegions lists the regions tenants may be placed in, so that a client
// can check a region before it asks for a tenant there.
func (s *Server) listRegions(w http.ResponseWriter, r *http.Request, _ *principal) error {
	after, size, err := page(r)
	if err != nil {
		return err
	}
	regions := s.regions
	if after != "" {
		i := slices.Index(regions, after)
		if i < 0 {
			return errBadRequest("page_token", "page_token is not one this server returned; start again without it")
		}
		regions = regions[i+1:]
	}
	list := api.List[api.Region]{Items: []api.Region{}}
	for _, name := range regions {
		if len(list.Items) == size {
			list.NextPageToken = pageToken(list.Items[size-1].Name)
			break
		}
		list.Items = append(list.Items, api.Region{Name: name})
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func tenantFromObject(o store.Object) (api.Tenant, error) { return fromObject[api.Tenant](o) }

func tenantObject(t api.Tenant) (store.Object, error) {
	return toObject[api.Tenant](t.Slug, api.KindTenant, t.Slug, t)
}

// loadTenant reads a tenant that the caller may see.
func loadTenant(ctx context.Context, tx store.Tx, slug string) (api.Tenant, error) {
	o, err := loadTenantObject(ctx, tx, slug)
	if err != nil {
		return api.Tenant{}, err
	}
	return tenantFromObject(o)
}

func loadTenantObject(ctx context.Context, tx store.Tx, slug string) (store.Object, error) {
	o, err := tx.Get(ctx, slug, api.KindTenant, slug)
	if errors.Is(err, store.ErrNotFound) {
		return o, errTenantNotFound(slug)
	}
	return o, err
}

// checkTenantSpec fills in a tenant's defaults and validates every field,
// answering with the first problem and the field it is in.
func (s *Server) checkTenantSpec(t *api.TenantSpec) error {
	if t.Isolation == "" {
		t.Isolation = api.DefaultIsolation
	}
	if t.Timezone == "" {
		t.Timezone = api.DefaultTimezone
	}
	if t.Language == "" {
		t.Language = api.DefaultLanguage
	}
	if t.DataRetentionDays == nil {
		t.DataRetentionDays = ptr(int64(api.DefaultDataRetentionDays))
	}
	if t.DeletionProtection == nil {
		t.DeletionProtection = ptr(true)
	}
	if p := t.SecurityPolicy; p != nil {
		if p.MFARequired == nil {
			p.MFARequired = ptr(false)
		}
		if p.SessionTimeoutMinutes == nil {
			p.SessionTimeoutMinutes = ptr(int64(api.DefaultSessionTimeoutMinutes))
		}
	}

	checks := []struct {
		field string
		err   error
	}{
		{"slug", validate.Slug(t.Slug)},
		{"display_name", displayName(t.DisplayName)},
		{"isolation", validate.OneOf(t.Isolation, api.Isolations)},
		{"region", validate.OneOf(t.Region, s.regions)},
		{"timezone", validate.Timezone(t.Timezone)},
		{"language", validate.Language(t.Language)},
		{"data_retention_days", validate.IntRange(*t.DataRetentionDays, api.MinDataRetentionDays, api.MaxDataRetentionDays)},
	}
	if t.Domain != nil {
		checks = append(checks, struct {
			field string
			err   error
		}{"domain", validate.Hostname(*t.Domain)})
	}
	for _, c := range checks {
		if c.err != nil {
			return invalidField(c.field, c.err)
		}
	}
	if b := t.Branding; b != nil {
		if b.LogoURL != nil {
			if err := validate.HTTPSURL(*b.LogoURL); err != nil {
				return invalidField("branding.logo_url", err)
			}
		}
		if b.PrimaryColor != nil {
			if err := validate.HexColor(*b.PrimaryColor); err != nil {
				return invalidField("branding.primary_color", err)
			}
		}
	}
	for k, v := range t.Labels {
		if err := validate.LabelKey(k); err != nil {
			return invalidField("labels", fmt.Errorf("key %q: %w", k, err))
		}
		if err := validate.LabelValue(v); err != nil {
			return invalidField("labels."+k, err)
		}
	}
	if p := t.SecurityPolicy; p != nil {
		if err := validate.IntRange(*p.SessionTimeoutMinutes, api.MinSessionTimeoutMinutes, api.MaxSessionTimeoutMinutes); err != nil {
			return invalidField("security_policy.session_timeout_minutes", err)
		}
		for i, c := range p.AllowedCIDRs {
			if err := validate.CIDR(c); err != nil {
				return invalidField(fmt.Sprintf("security_policy.allowed_cidrs[%d]", i), err)
			}
		}
		if dup := firstDuplicate(p.AllowedCIDRs); dup != "" {
			return errInvalid("security_policy.allowed_cidrs", "security_policy.allowed_cidrs: %q is listed twice", dup)
		}
	}
	return nil
}

func displayName(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("must not be empty")
	}
	if n := len([]rune(s)); n > 200 {
		return fmt.Errorf("is %d characters long; at most 200 are allowed", n)
	}
	return nil
}

func firstDuplicate(values []string) string {
	seen := make(map[string]bool, len(values))
	for _, v := range values {
		if seen[v] {
			return v
		}
		seen[v] = true
	}
	return ""
}

func ptr[T any](v T) *T { return &v }

// sameDomain compares two optional domains as the platform does: hostnames
// are case-insensitive.
func sameDomain(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return strings.EqualFold(*a, *b)
}

// checkDomainFree refuses a domain another tenant already uses; the caller
// holds the platform lock, so two tenants cannot claim one domain at once.
func checkDomainFree(ctx context.Context, tx store.Tx, domain *string, self string) error {
	if domain == nil {
		return nil
	}
	objs, err := tx.List(ctx, store.ListQuery{Kind: api.KindTenant})
	if err != nil {
		return err
	}
	for _, o := range objs {
		t, err := tenantFromObject(o)
		if err != nil {
			return err
		}
		if t.Slug != self && t.Domain != nil && strings.EqualFold(*t.Domain, *domain) {
			return errConflict("domain", "domain %q is already used by another tenant; domains are unique on the platform", *domain)
		}
	}
	return nil
}

func (s *Server) createTenant(w http.ResponseWriter, r *http.Request, p *principal) error {
	if s.provisioningDelay <= 0 {
		// Provisioned at once: resource allocation, the one step with work
		// before the tenant has environments, happens now.
		if err := s.data.Ping(r.Context()); err != nil {
			s.log.ErrorContext(r.Context(), "the tenant data plane", "error", err)
			return newError(http.StatusServiceUnavailable, api.CodeInternal, "",
				"the tenant data plane is unavailable, so no tenant can be provisioned now; the server log says why: retry later")
		}
	}
	return s.mutate(w, r, p, []string{lockPlatform}, func(ctx context.Context, tx store.Tx, body []byte) (int, any, error) {
		var spec api.TenantSpec
		if err := decodeStrict(body, &spec); err != nil {
			return 0, nil, err
		}
		if err := s.checkTenantSpec(&spec); err != nil {
			return 0, nil, err
		}
		if err := tx.Lock(ctx, lockTenant(spec.Slug)); err != nil {
			return 0, nil, err
		}
		if _, err := tx.Get(ctx, spec.Slug, api.KindTenant, spec.Slug); err == nil {
			return 0, nil, errConflict("slug", "tenant %q already exists; import it (terraform import tenancy_tenant.NAME %s) or choose another slug", spec.Slug, spec.Slug)
		} else if !errors.Is(err, store.ErrNotFound) {
			return 0, nil, err
		}
		if err := checkDomainFree(ctx, tx, spec.Domain, spec.Slug); err != nil {
			return 0, nil, err
		}
		t := api.Tenant{TenantSpec: spec, ID: spec.Slug, Status: api.StatusProvisioning, ProvisioningStep: api.ProvisioningSteps[0]}
		if s.provisioningDelay <= 0 {
			t.Status, t.ProvisioningStep = api.StatusActive, api.ProvisioningSteps[len(api.ProvisioningSteps)-1]
		}
		o, err := tenantObject(t)
		if err != nil {
			return 0, nil, err
		}
		if o, err = tx.Create(ctx, o); err != nil {
			return 0, nil, err
		}
		if err := s.audit(ctx, tx, p, auditEntry{tenant: t.Slug, action: actionTenantCreate, kind: api.KindTenant, key: t.Slug, after: o.Revision}); err != nil {
			return 0, nil, err
		}
		if err := s.recordProvisioning(ctx, tx, t.Slug, o.Revision, "", t.ProvisioningStep); err != nil {
			return 0, nil, err
		}
		created, err := tenantFromObject(o)
		return http.StatusCreated, created, err
	})
}

func (s *Server) getTenant(w http.ResponseWriter, r *http.Request, _ *principal) error {
	return s.viewOne(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		return answerRead[api.Tenant](loadTenantObject(ctx, tx, r.PathValue("tenant")))
	})
}

// listTenants lists the tenants the caller can see, filtered by
// label=key=value (repeatable), status and region.
func (s *Server) listTenants(w http.ResponseWriter, r *http.Request, p *principal) error {
	after, size, err := page(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	labels := map[string]string{}
	for _, l := range q["label"] {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return errBadRequest("label", "label filter must look like key=value; got %q", l)
		}
		labels[k] = v
	}
	status, region := q.Get("status"), q.Get("region")
	if status != "" && !slices.Contains(api.Statuses, status) {
		return errBadRequest("status", "status must be one of %s; got %q", strings.Join(api.Statuses, ", "), status)
	}
	keep := func(o store.Object) (bool, error) {
		if !p.canSee(o.Tenant) {
			return false, nil
		}
		t, err := tenantFromObject(o)
		if err != nil {
			return false, err
		}
		if (status != "" && t.Status != status) || (region != "" && t.Region != region) {
			return false, nil
		}
		for k, v := range labels {
			if got, ok := t.Labels[k]; !ok || got != v {
				return false, nil
			}
		}
		return true, nil
	}
	list := api.List[api.Tenant]{Items: []api.Tenant{}}
	err = s.store.View(r.Context(), func(ctx context.Context, tx store.Tx) error {
		if p.Tenant != "" {
			// A tenant's token sees its own tenant at most; scanning the
			// others would let the paging reveal that they exist.
			o, err := tx.Get(ctx, p.Tenant, api.KindTenant, p.Tenant)
			if errors.Is(err, store.ErrNotFound) || (err == nil && after >= p.Tenant) {
				return nil
			}
			ok, err := keepErr(o, err, keep)
			if !ok {
				return err
			}
			t, err := tenantFromObject(o)
			list.Items = append(list.Items, t)
			return err
		}
		objs, next, err := listPage(ctx, tx, store.ListQuery{Kind: api.KindTenant, After: after}, size, keep)
		if err != nil {
			return err
		}
		list.NextPageToken = next
		for _, o := range objs {
			t, err := tenantFromObject(o)
			if err != nil {
				return err
			}
			list.Items = append(list.Items, t)
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// patchTenant applies a JSON merge patch (RFC 7396) to a tenant. When its
// isolation (or an earlier change that did not finish) calls for an
// environment's data store to be elsewhere, the data moves first, checked
// by row counts and checksums; if a move fails, the tenant keeps its
// isolation, the environments moved so far stay moved (each says where it
// is), and the same change, applied again, moves the rest.
func (s *Server) patchTenant(w http.ResponseWriter, r *http.Request, p *principal) error {
	slug := r.PathValue("tenant")
	ifMatch, err := parseIfMatch(r)
	if err != nil {
		return err
	}
	u := update[api.Tenant]{
		tenant: slug, kind: api.KindTenant, key: slug, what: fmt.Sprintf("tenant %q", slug),
		load: func(ctx context.Context, tx store.Tx) (api.Tenant, error) { return loadTenant(ctx, tx, slug) },
		apply: func(ctx context.Context, tx store.Tx, cur api.Tenant, body []byte) (api.Tenant, error) {
			return s.applyTenantPatch(ctx, tx, p, cur, body)
		},
		detail: func(_, _ api.Tenant, body []byte) string { return changedFields(body) },
	}
	var moves []*storeMove
	revs := map[string]int64{}
	return s.writeData(w, r, p, dataWrite{
		locks: []string{lockPlatform, lockTenant(slug)},
		prepare: func(ctx context.Context, tx store.Tx, body []byte) (func(context.Context) error, error) {
			_, next, err := prepareUpdate(ctx, tx, u, ifMatch, body)
			if err != nil {
				return nil, err
			}
			envs, err := allObjects[api.Environment](ctx, tx, slug, api.KindEnvironment)
			if err != nil {
				return nil, err
			}
			for _, e := range envs {
				if m := s.moveFor(next, e, e.Type); m != nil {
					moves = append(moves, m)
					revs[e.Name] = e.Revision
				}
			}
			if len(moves) == 0 {
				return nil, nil
			}
			return func(ctx context.Context) error { return runMoves(ctx, moves) }, nil
		},
		commit: func(ctx context.Context, tx store.Tx, body []byte, workErr error) (int, any, error) {
			var moveErr error
			for _, m := range moves {
				if !m.done && m.err == nil {
					continue // Not tried: an earlier move failed.
				}
				e, err := loadEnvironment(ctx, tx, slug, m.env)
				if err != nil {
					return 0, nil, err
				}
				if err := s.recordMove(ctx, tx, p, m, workErr, revs[m.env], &e); err != nil {
					moveErr = err
					continue
				}
				if _, err := putObject[api.Environment](ctx, tx, slug, api.KindEnvironment, m.env, e); err != nil {
					return 0, nil, err
				}
			}
			if moveErr != nil {
				return errorAnswer(ctx, moveErr)
			}
			return runUpdate(ctx, tx, s, p, u, ifMatch, body)
		},
		after: func(ctx context.Context) { s.afterMove(ctx, moves...) },
	})
}

// applyTenantPatch checks a patch of a tenant and returns the tenant as it
// would be.
func (s *Server) applyTenantPatch(ctx context.Context, tx store.Tx, p *principal, cur api.Tenant, body []byte) (api.Tenant, error) {
	slug := cur.Slug
	next, err := applyMergePatch(cur.TenantSpec, body)
	if err != nil {
		return cur, err
	}
	// Defaults first, so that a field patched to null is compared as the
	// value it falls back to.
	if err := s.checkTenantSpec(&next); err != nil {
		return cur, err
	}
	switch {
	case next.Slug != cur.Slug:
		return cur, errInvalid("slug", "slug is immutable: %q cannot become %q; create a new tenant instead", cur.Slug, next.Slug)
	case next.Region != cur.Region:
		return cur, errInvalid("region", "region is immutable (data residency): %q cannot become %q; create a new tenant in that region instead", cur.Region, next.Region)
	case next.Isolation != cur.Isolation && p.Role != api.RolePlatformAdmin:
		return cur, errForbidden("isolation", "changing isolation needs a platform_admin token")
	case !sameDomain(next.Domain, cur.Domain) && p.Role != api.RolePlatformAdmin:
		// Refused before the domain is looked up, so that the answer
		// says nothing about whether another tenant uses it.
		return cur, errForbidden("domain", "setting, changing or removing domain needs a platform_admin token: "+
			"a domain is unique on the platform and routes its traffic to the tenant; ask a platform admin to change it")
	}
	if err := checkDomainFree(ctx, tx, next.Domain, slug); err != nil {
		return cur, err
	}
	t := cur
	t.TenantSpec = next
	return t, nil
}

// keepErr applies a list filter to an object that was read with err.
func keepErr(o store.Object, err error, keep func(store.Object) (bool, error)) (bool, error) {
	if err != nil {
		return false, err
	}
	return keep(o)
}

// deleteTenant decommissions a tenant: a final backup of everything it
// owns, its records and every table and row of its environments' data
// stores, kept for its data_retention_days; then deletion, and the stores
// are dropped. It is no deletion (see deleteIn): a tenant is removed with
// every object it owns at once (store.Tx.DeleteTenant), its tokens are
// revoked with it, and the answer is its final backup, not a 204.
func (s *Server) deleteTenant(w http.ResponseWriter, r *http.Request, p *principal) error {
	slug := r.PathValue("tenant")
	ifMatch, err := parseIfMatch(r)
	if err != nil {
		return err
	}
	var dumps map[string]*tenantdata.Dump
	var refs []tenantdata.Ref
	revs := map[string]int64{}
	return s.writeData(w, r, p, dataWrite{
		locks: []string{lockPlatform, lockTenant(slug)},
		prepare: func(ctx context.Context, tx store.Tx, _ []byte) (func(context.Context) error, error) {
			t, envs, err := s.deletableTenant(ctx, tx, slug, ifMatch)
			if err != nil {
				return nil, err
			}
			revs[slug] = t.Revision
			for _, e := range envs {
				revs[e.Name+"/"] = e.Revision
			}
			return func(ctx context.Context) error {
				dumps, err = s.dumpStores(ctx, t, envs)
				return err
			}, nil
		},
		commit: func(ctx context.Context, tx store.Tx, _ []byte, workErr error) (int, any, error) {
			if workErr != nil {
				return 0, nil, fmt.Errorf("the final backup of tenant %q could not be taken, so it is not deleted: %w", slug, workErr)
			}
			t, envs, err := s.deletableTenant(ctx, tx, slug, ifMatch)
			if err != nil {
				return 0, nil, err
			}
			if t.Revision != revs[slug] || len(envs)+1 != len(revs) {
				return 0, nil, changedDuringBackup("tenant", slug, revs[slug], t.Revision)
			}
			for _, e := range envs {
				if e.Revision != revs[e.Name+"/"] {
					return 0, nil, changedDuringBackup("environment", e.Name, revs[e.Name+"/"], e.Revision)
				}
			}
			objs, err := exportTenant(ctx, tx, slug)
			if err != nil {
				return 0, nil, err
			}
			b, err := s.newBackup(api.BackupFinal, t, "", *t.DataRetentionDays, objs, dumps)
			if err != nil {
				return 0, nil, err
			}
			if err := tx.PutBackup(ctx, b); err != nil {
				return 0, nil, err
			}
			if err := tx.DeleteTenant(ctx, slug); err != nil {
				return 0, nil, err
			}
			// Its tokens die with it, so a tenant re-created under the same slug
			// does not inherit them.
			if err := tx.RevokeTenantTokens(ctx, slug, s.now().UTC()); err != nil {
				return 0, nil, err
			}
			refs = refs[:0]
			for _, e := range envs {
				if e.Database == nil {
					continue
				}
				ref := storeRef(t, e)
				refs = append(refs, ref)
				if err := s.scheduleDrop(ctx, tx, ref, fmt.Sprintf("tenant %q deleted", slug)); err != nil {
					return 0, nil, err
				}
			}
			v := backupView(b)
			if err := s.audit(ctx, tx, p, auditEntry{tenant: slug, action: "tenant.delete", kind: api.KindTenant, key: slug,
				before: t.Revision, detail: fmt.Sprintf("final backup %s (%d records, %s) kept until %s", b.ID, v.Records,
					storesLine(v.Stores), b.RetainUntil.Format(time.RFC3339))}); err != nil {
				return 0, nil, err
			}
			return http.StatusOK, api.TenantDeletion{Slug: slug, Backup: v}, nil
		},
		after: func(ctx context.Context) {
			if err := s.runDrops(ctx, refs...); len(refs) > 0 && err != nil {
				s.log.WarnContext(ctx, "dropping the data stores of a deleted tenant; retried later", "tenant", slug, "error", err)
			}
		},
	})
}

// deletableTenant loads a tenant that may be deleted now, and its environments.
func (s *Server) deletableTenant(ctx context.Context, tx store.Tx, slug string, ifMatch precondition) (api.Tenant, []api.Environment, error) {
	t, err := loadTenant(ctx, tx, slug)
	if err != nil {
		return t, nil, err
	}
	if err := checkRevision(ifMatch, t.Revision, fmt.Sprintf("tenant %q", slug)); err != nil {
		return t, nil, err
	}
	if t.DeletionProtection != nil && *t.DeletionProtection {
		return t, nil, errConflict("deletion_protection",
			"tenant %q has deletion_protection enabled; set deletion_protection = false and apply before destroying it", slug)
	}
	envs, err := allObjects[api.Environment](ctx, tx, slug, api.KindEnvironment)
	return t, envs, err
}
