package provider

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/quota"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validators"
)

var (
	_ resource.ResourceWithConfigure   = (*quotaResource)(nil)
	_ resource.ResourceWithImportState = (*quotaResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*quotaResource)(nil)
)

// Import IDs of a quota: the tenant-wide one, or an environment's.
const (
	tenantQuotaIDFormat      = "tenant"
	environmentQuotaIDFormat = "tenant/environment"
)

type quotaResource struct {
	client *client.Client
	data   *providerData
}

func newQuotaResource() resource.Resource { return &quotaResource{} }

type quotaResourceModel struct {
	ID                   types.String `tfsdk:"id"`
	TenantID             types.String `tfsdk:"tenant_id"`
	Environment          types.String `tfsdk:"environment"`
	CPUMillicores        types.Int64  `tfsdk:"cpu_millicores"`
	MemoryMB             types.Int64  `tfsdk:"memory_mb"`
	StorageGB            types.Int64  `tfsdk:"storage_gb"`
	MaxUsers             types.Int64  `tfsdk:"max_users"`
	APIRequestsPerMinute types.Int64  `tfsdk:"api_requests_per_minute"`
}

// limits pairs each dimension with the model's attribute, in the order of
// quota.Dimensions.
func (m *quotaResourceModel) limits() map[string]*types.Int64 {
	return map[string]*types.Int64{
		quota.CPUMillicores:        &m.CPUMillicores,
		quota.MemoryMB:             &m.MemoryMB,
		quota.StorageGB:            &m.StorageGB,
		quota.MaxUsers:             &m.MaxUsers,
		quota.APIRequestsPerMinute: &m.APIRequestsPerMinute,
	}
}

func (r *quotaResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_quota"
}

func (r *quotaResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	limit := func(desc string) schema.Int64Attribute {
		return schema.Int64Attribute{
			Optional: true,
			MarkdownDescription: desc + fmt.Sprintf(", a whole number from 0 to %d. Unset is no limit in this dimension; "+
				"in an environment's quota, unset also takes no share of the tenant-wide limit.", quota.MaxLimit),
			Validators: []validator.Int64{int64validator.AtLeast(0), int64validator.AtMost(quota.MaxLimit)},
		}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "The quota of a tenant (`environment` unset) or of one of its environments. " +
			"The platform enforces it: the environment quotas of a tenant may not add up to more than its tenant-wide quota in any dimension, " +
			"a tenant may not hold more users than its `max_users`, and its tokens are throttled to `api_requests_per_minute` (HTTP 429). " +
			"A quota that cannot fit fails at plan time, with the numbers, also for a tenant that the same apply creates: " +
			"the provider asks the platform for a dry run of the change, and checks the environment quotas planned for a tenant " +
			"against the tenant-wide quota planned with them. The platform checks each quota against the quotas it holds, so when " +
			"one change raises the tenant-wide quota and another uses the new room, the plan fails and says to apply the raise on its own first " +
			"(`terraform apply -target=` the tenant-wide quota), then the rest.\n\n" +
			"Only a `platform_admin` token sets the tenant-wide quota; a `tenant_admin` token shares it out among the environments. " +
			"Every limit is set together: a limit removed from the configuration becomes unlimited. " +
			"Creating a quota where one is already set takes it over; destroying it removes the quota, which lifts its limits.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The import ID: `<tenant>` for a tenant-wide quota such as `acme`, `<tenant>/<environment>` such as `acme/production` for an environment's.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"tenant_id": tenantIDAttribute("quota"),
			"environment": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Name of the environment whose quota this is, which must exist in the tenant. " +
					"Unset, this is the tenant-wide quota. Changing it replaces the quota.",
				Validators:    []validator.String{validators.EnvironmentName()},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			quota.CPUMillicores: limit("CPU in thousandths of a core (1000 = one core)"),
			quota.MemoryMB:      limit("Memory in MiB"),
			quota.StorageGB:     limit("Storage in GiB"),
			quota.MaxUsers:      limit("Most users the tenant may hold (in an environment's quota: its share of the tenant's `max_users`)"),
			quota.APIRequestsPerMinute: limit("API requests per minute that the tenant's tokens may make, counted across every tenancyd replica; " +
				"above it the platform answers HTTP 429 with `Retry-After`. A tenant whose tenant-wide quota leaves it unset gets the platform's " +
				"default limit instead (tenancyd's `--default-requests-per-minute`, 6000 unless changed). " +
				"In an environment's quota: its share of the tenant's limit, which is what throttles"),
		},
	}
}

func (r *quotaResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if r.data = dataFrom(req.ProviderData, &resp.Diagnostics); r.data != nil {
		r.client = r.data.client
	}
}

// ModifyPlan checks at plan time that the planned limits fit, so that a
// quota that cannot fit fails the plan instead of an apply half done. Two
// checks, with what each can know:
//
//   - the platform's dry run: this quota against the quotas it holds now
//     (environment quotas within the tenant-wide quota, the tenant-wide
//     quota above what the tenant already takes, the token's right to set
//     it);
//   - the quotas planned in this same operation, which the platform cannot
//     see yet: every quota of a tenant records its planned limits in the
//     provider data, and the environment quotas planned for a tenant must
//     fit its planned (or else its current) tenant-wide quota. That covers
//     a tenant that this very apply creates, which the dry run cannot check.
func (r *quotaResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if r.data == nil {
		return // The provider is not configured yet: nothing to check.
	}
	if req.Plan.Raw.IsNull() {
		var state quotaResourceModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if !resp.Diagnostics.HasError() {
			r.data.planQuota(state.TenantID.ValueString(), state.Environment.ValueString(), nil)
		}
		return
	}
	var plan quotaResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if plan.TenantID.IsUnknown() || plan.Environment.IsUnknown() {
		return // Which tenant or environment is known only during apply, which checks it then.
	}
	for _, v := range plan.limits() {
		if v.IsUnknown() {
			return // Known only during apply, which checks it then.
		}
	}
	tenant, env, spec := plan.TenantID.ValueString(), plan.Environment.ValueString(), plan.spec()
	planned := r.data.planQuota(tenant, env, &spec)
	changed := true
	if !req.State.Raw.IsNull() {
		var state quotaResourceModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if resp.Diagnostics.HasError() {
			return
		}
		changed = len(quota.Changed(state.spec(), spec)) != 0 || !state.TenantID.Equal(plan.TenantID) || !state.Environment.Equal(plan.Environment)
	}
	if changed && !r.checkWithPlatform(ctx, resp, plan, planned) {
		return
	}
	r.checkPlanned(ctx, resp, tenant, planned)
}

// checkWithPlatform asks the platform for a dry run of the quota and
// reports whether the plan may go on to the other checks.
func (r *quotaResource) checkWithPlatform(ctx context.Context, resp *resource.ModifyPlanResponse, plan quotaResourceModel, planned map[string]*api.QuotaSpec) bool {
	tenant, env, spec := plan.TenantID.ValueString(), plan.Environment.ValueString(), plan.spec()
	_, err := r.client.CheckQuota(ctx, tenant, env, spec)
	var apiErr *client.APIError
	switch {
	case err == nil:
	case errors.Is(err, client.ErrConflict) && errors.As(err, &apiErr):
		attr := path.Root(quota.CPUMillicores)
		if _, ok := plan.limits()[apiErr.Field]; ok {
			attr = path.Root(apiErr.Field)
		}
		resp.Diagnostics.AddAttributeError(attr, "The "+quotaLabel(tenant, env)+" does not fit",
			fmt.Sprintf("The platform would refuse these limits: %s.\n\n%s", apiErr.Message, r.targetAdvice(ctx, tenant, env, spec, planned)))
		return false
	case errors.Is(err, client.ErrPermissionDenied):
		resp.Diagnostics.AddError("The provider's token may not set the "+quotaLabel(tenant, env),
			"A tenant-wide quota is set by a platform_admin token, an environment's quota by a tenant_admin token of its tenant "+
				"(or a platform_admin token). The platform answered: "+explainError(err))
		return false
	default:
		// Such as a tenant or an environment that this very apply creates:
		// the planned quotas are checked next, and apply reports the rest.
		tflog.Debug(ctx, "quota dry run failed; the planned quotas are checked instead", map[string]any{"error": err.Error()})
	}
	return true
}

// targetAdvice says how to get past a quota that does not fit the quotas
// the platform holds now. When the tenant-wide quota is raised in this same
// plan and the raise makes room, the platform cannot know it yet and
// Terraform may set this quota first; applying the raise alone first works.
func (r *quotaResource) targetAdvice(ctx context.Context, tenant, env string, spec api.QuotaSpec, planned map[string]*api.QuotaSpec) string {
	target := fmt.Sprintf("terraform apply -target=ADDRESS, with the address of the tenancy_quota of tenant %q that has no environment "+
		"(such as -target=tenancy_quota.%s)", tenant, tenant)
	if tq, ok := planned[""]; env != "" && ok && tq != nil {
		current, err := r.data.platformTenantQuota(ctx, tenant)
		if err == nil && (current == nil || len(quota.Changed(*current, *tq)) > 0) &&
			len(quota.Fit(tq, map[string]api.QuotaSpec{env: spec})) == 0 {
			return fmt.Sprintf("This plan also raises the tenant-wide quota of tenant %q, which would make room, but the platform checks "+
				"each quota against the quotas it holds, and nothing makes Terraform set the tenant-wide quota first. "+
				"Apply the raise on its own first: %s; then plan and apply the rest.", tenant, target)
		}
	}
	return "Lower the limits here, or first raise the tenant-wide quota or lower other environment quotas. " +
		"When this same configuration raises the tenant-wide quota, apply that raise on its own first: " + target + "; then plan and apply the rest."
}

// checkPlanned checks that the environment quotas planned for a tenant in
// this operation fit the tenant-wide quota planned with them, or else the
// one the platform holds.
func (r *quotaResource) checkPlanned(ctx context.Context, resp *resource.ModifyPlanResponse, tenant string, planned map[string]*api.QuotaSpec) {
	envs := map[string]api.QuotaSpec{}
	for env, q := range planned {
		if env != "" && q != nil {
			envs[env] = *q
		}
	}
	if len(envs) == 0 {
		return
	}
	limit, ok := planned[""]
	source := "planned here"
	if !ok {
		var err error
		if limit, err = r.data.platformTenantQuota(ctx, tenant); err != nil {
			tflog.Debug(ctx, "cannot read the tenant-wide quota; the apply checks the quotas", map[string]any{"error": err.Error()})
			return
		}
		source = "the platform holds"
	}
	violations := quota.Fit(limit, envs)
	if len(violations) == 0 || !r.data.firstReport("quotas of "+tenant) {
		return
	}
	lines := make([]string, len(violations))
	for i, v := range violations {
		lines[i] = "  - " + v.Message
	}
	resp.Diagnostics.AddAttributeError(path.Root(violations[0].Dimension), "The environment quotas of tenant "+strconv.Quote(tenant)+" do not fit",
		fmt.Sprintf("The environment quotas planned for tenant %q add up to more than the tenant-wide quota %s:\n%s\n\n"+
			"The platform would refuse the quota that goes over during the apply, after the objects planned before it were made. "+
			"Lower the environment quotas, or raise the tenant-wide quota.", tenant, source, strings.Join(lines, "\n")))
}

func (r *quotaResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan quotaResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant, env := plan.TenantID.ValueString(), plan.Environment.ValueString()
	q, err := r.client.SetQuota(ctx, tenant, env, plan.spec(), 0)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot set the "+quotaLabel(tenant, env), err)
		return
	}
	tflog.Info(ctx, "quota set", map[string]any{"id": q.ID})
	resp.Diagnostics.Append(setQuotaState(ctx, &resp.State, resp.Private, q)...)
}

func (r *quotaResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state quotaResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant, env := state.TenantID.ValueString(), state.Environment.ValueString()
	q, err := r.client.GetQuota(ctx, tenant, env)
	if readFailed(ctx, resp, "the "+quotaLabel(tenant, env), err) {
		return
	}
	key := env
	if key == "" {
		key = api.TenantQuotaKey
	}
	drift := readDrift(ctx, r.client, req.Private, tenant, api.KindQuota, key, q.Revision)
	if drift.ownChangesOnly() {
		// Only promotions of the configuration (or their rollbacks) wrote
		// the quota since Terraform recorded it: the promotion resource
		// shows that, and the state and the recorded revision stay (see
		// objectDrift).
		return
	}
	drift.warn(ctx, &resp.Diagnostics, "Quota "+q.ID)
	resp.Diagnostics.Append(setQuotaState(ctx, &resp.State, resp.Private, q)...)
}

func (r *quotaResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan quotaResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	rev, diags := revisionFrom(ctx, req.Private)
	if resp.Diagnostics.Append(diags...); diags.HasError() {
		return
	}
	tenant, env := plan.TenantID.ValueString(), plan.Environment.ValueString()
	key := env
	if key == "" {
		key = api.TenantQuotaKey
	}
	q, err := writeAtOwnRevision(ctx, r.client, tenant, api.KindQuota, key, rev,
		func(ctx context.Context) (int64, error) {
			cur, err := r.client.GetQuota(ctx, tenant, env)
			if err != nil {
				return 0, err
			}
			return cur.Revision, nil
		},
		func(rev int64) (*api.Quota, error) { return r.client.SetQuota(ctx, tenant, env, plan.spec(), rev) })
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot update the "+quotaLabel(tenant, env), err)
		return
	}
	resp.Diagnostics.Append(setQuotaState(ctx, &resp.State, resp.Private, q)...)
}

func (r *quotaResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state quotaResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant, env := state.TenantID.ValueString(), state.Environment.ValueString()
	// Whatever its revision: see deleteRevision.
	err := r.client.DeleteQuota(ctx, tenant, env)
	deleteFailed(&resp.Diagnostics, "the "+quotaLabel(tenant, env), err)
}

func (r *quotaResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	parts, err := parseID(req.ID, tenantQuotaIDFormat, environmentQuotaIDFormat)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import ID",
			"A quota is imported by its tenant (the tenant-wide quota) or its tenant and environment: "+err.Error()+".")
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("tenant_id"), parts[0])...)
	if len(parts) == 2 {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("environment"), parts[1])...)
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), formatID(parts...))...)
}

// quotaLabel names a quota in messages.
func quotaLabel(tenant, env string) string {
	if env == "" {
		return "tenant-wide quota of tenant " + strconv.Quote(tenant)
	}
	return fmt.Sprintf("quota of environment %q of tenant %q", env, tenant)
}

// setQuotaState writes what the backend returned into state and keeps the
// quota's revision in private state for conditional writes.
func setQuotaState(ctx context.Context, state stateSetter, private privateSetter, q *api.Quota) diag.Diagnostics {
	var m quotaResourceModel
	m.fromAPI(q)
	return saveState(ctx, state, private, &m, q.Revision)
}

// spec is the quota the configuration asks for, as the API takes it.
func (m *quotaResourceModel) spec() api.QuotaSpec {
	return api.QuotaSpec{
		CPUMillicores:        m.CPUMillicores.ValueInt64Pointer(),
		MemoryMB:             m.MemoryMB.ValueInt64Pointer(),
		StorageGB:            m.StorageGB.ValueInt64Pointer(),
		MaxUsers:             m.MaxUsers.ValueInt64Pointer(),
		APIRequestsPerMinute: m.APIRequestsPerMinute.ValueInt64Pointer(),
	}
}

// fromAPI maps a quota the API returned onto the model; Create, Read,
// Update and import all go through it.
func (m *quotaResourceModel) fromAPI(q *api.Quota) {
	m.ID = types.StringValue(q.ID)
	m.TenantID = types.StringValue(q.TenantID)
	m.Environment = types.StringPointerValue(q.Environment)
	for d, attr := range m.limits() {
		*attr = types.Int64PointerValue(quota.Limit(q.QuotaSpec, d))
	}
}
