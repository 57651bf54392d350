package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"golang.org/x/sync/singleflight"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

// providerData is what Configure hands every resource and data source: the
// API client, what the platform said about the provider's token, and what
// one Terraform operation looks up or plans, shared by all its resources so
// that each lookup is made once and each plan can see what the others plan.
// Terraform runs one provider process per operation, so nothing here
// outlives a plan or an apply.
type providerData struct {
	client *client.Client
	// token is the provider's token as GET /v1/tokens/self describes it:
	// its tenant ("" for a platform token) and role.
	token api.TokenInfo

	// lookups makes the resources that ask the same question at once, as
	// Terraform's parallel walk has them do, wait for one request.
	lookups singleflight.Group

	mu      sync.Mutex
	regions []string
	// tenantQuotas are the platform's tenant-wide quotas, by tenant, as
	// read once in this operation (nil: none, or no such tenant).
	tenantQuotas map[string]*api.QuotaSpec
	// plannedQuotas are the quotas planned in this operation, by tenant and
	// environment ("" for the tenant-wide quota); nil for a quota planned
	// for removal.
	plannedQuotas map[string]map[string]*api.QuotaSpec
	// reported are the plan-time problems already reported in this
	// operation, so that the quotas of one tenant say it once.
	reported map[string]bool
	// isolations are the tenants whose isolation this operation plans to
	// change, and to what, so that their environments plan where their data
	// stores will be.
	isolations map[string]string
	// creating are the tenants ("acme") and environments ("acme/staging")
	// this operation plans to create, so that a plan-time check of an object
	// inside one does not take its absence for a mistake.
	creating map[string]bool
}

// planCreate records that a tenant or environment (by its id) is planned
// to be created.
func (d *providerData) planCreate(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.creating == nil {
		d.creating = map[string]bool{}
	}
	d.creating[id] = true
}

// createdInThisRun reports whether the tenant, or the environment of it
// (env "" for none), is planned to be created in this operation.
func (d *providerData) createdInThisRun(tenant, env string) bool {
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.creating[tenant] || (env != "" && d.creating[formatID(tenant, env)])
}

// planIsolation records that a tenant's isolation is planned to change.
func (d *providerData) planIsolation(tenant, isolation string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.isolations == nil {
		d.isolations = map[string]string{}
	}
	d.isolations[tenant] = isolation
}

// plannedIsolation is the isolation planned for a tenant in this
// operation, if it changes.
func (d *providerData) plannedIsolation(tenant string) (string, bool) {
	if d == nil {
		return "", false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	iso, ok := d.isolations[tenant]
	return iso, ok
}

// firstReport reports whether the problem key is new in this operation.
func (d *providerData) firstReport(key string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.reported[key] {
		return false
	}
	if d.reported == nil {
		d.reported = map[string]bool{}
	}
	d.reported[key] = true
	return true
}

// platformRegions lists the regions the platform offers, asking once per
// operation (a failure is not kept, so a later plan may ask again).
func (d *providerData) platformRegions(ctx context.Context) ([]string, error) {
	d.mu.Lock()
	cached := d.regions
	d.mu.Unlock()
	if cached != nil {
		return cached, nil
	}
	v, err, _ := d.lookups.Do("regions", func() (any, error) {
		regions, err := d.client.ListRegions(ctx)
		if err != nil {
			return nil, err
		}
		d.mu.Lock()
		d.regions = regions
		d.mu.Unlock()
		return regions, nil
	})
	if err != nil {
		return nil, err
	}
	regions, _ := v.([]string)
	return regions, nil
}

// platformTenantQuota is a tenant's tenant-wide quota as the platform holds
// it, read once per operation; nil when it has none or does not exist yet.
func (d *providerData) platformTenantQuota(ctx context.Context, tenant string) (*api.QuotaSpec, error) {
	d.mu.Lock()
	q, ok := d.tenantQuotas[tenant]
	d.mu.Unlock()
	if ok {
		return q, nil
	}
	v, err, _ := d.lookups.Do("quota\x00"+tenant, func() (any, error) {
		got, err := d.client.GetQuota(ctx, tenant, "")
		var spec *api.QuotaSpec
		switch {
		case errors.Is(err, client.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			spec = &got.QuotaSpec
		}
		d.mu.Lock()
		if d.tenantQuotas == nil {
			d.tenantQuotas = map[string]*api.QuotaSpec{}
		}
		d.tenantQuotas[tenant] = spec
		d.mu.Unlock()
		return spec, nil
	})
	if err != nil {
		return nil, err
	}
	q, _ = v.(*api.QuotaSpec)
	return q, nil
}

// planQuota records the quota planned for a tenant's environment ("" for
// the tenant-wide quota; nil spec for a removal) and returns every quota
// planned so far for that tenant. Quotas plan in any order, so the last of
// a tenant's quotas to plan sees them all.
func (d *providerData) planQuota(tenant, env string, spec *api.QuotaSpec) map[string]*api.QuotaSpec {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.plannedQuotas == nil {
		d.plannedQuotas = map[string]map[string]*api.QuotaSpec{}
	}
	if d.plannedQuotas[tenant] == nil {
		d.plannedQuotas[tenant] = map[string]*api.QuotaSpec{}
	}
	d.plannedQuotas[tenant][env] = spec
	return maps.Clone(d.plannedQuotas[tenant])
}

// mayManage reports, at plan time, whether the provider's token may make a
// change that needs role need in tenant (unknown when it is created in the
// same apply), so that a plan the platform would refuse fails now, before
// any object is made, with what to do about it. what says what the change
// is, such as `creating user "alice@example.com"`.
func (d *providerData) mayManage(tenant types.String, need, what string) diag.Diagnostics {
	var diags diag.Diagnostics
	tok := d.token
	if tok.Role == api.RolePlatformAdmin {
		return diags
	}
	if !tenant.IsUnknown() && !tenant.IsNull() && tok.Tenant != tenant.ValueString() {
		diags.AddAttributeError(path.Root("tenant_id"), "The provider's token cannot reach tenant "+strconv.Quote(tenant.ValueString()),
			fmt.Sprintf("%s needs role %s in tenant %q, but the provider's token %q is a %s token of tenant %q, which sees no other tenant. "+
				"Configure the provider with a token of tenant %q or a platform_admin token.",
				upperFirst(what), need, tenant.ValueString(), tok.Name, tok.Role, tok.Tenant, tenant.ValueString()))
		return diags
	}
	if !api.RoleAtLeast(tok.Role, need) {
		diags.AddError("The provider's token has role "+tok.Role+", and "+what+" needs role "+need,
			fmt.Sprintf("%s needs role %s or above, but the provider's token %q has role %s in tenant %q, so the platform would refuse it "+
				"during the apply. Configure the provider with a token of role %s or above (or a platform_admin token).",
				upperFirst(what), need, tok.Name, tok.Role, tok.Tenant, need))
	}
	return diags
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
