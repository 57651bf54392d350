package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validate"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validators"
)

var (
	_ resource.ResourceWithConfigure   = (*featureFlagResource)(nil)
	_ resource.ResourceWithImportState = (*featureFlagResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*featureFlagResource)(nil)
)

// defaultRolloutPercentage is the rollout of an environment entry that does
// not say: everyone, once the flag is enabled there, as on the platform.
const defaultRolloutPercentage = api.DefaultRolloutPercentage

// privateImportAll marks, in private state, a flag just imported: its first
// Read takes every environment entry instead of only those in state.
const privateImportAll = "import_all_environments"

// maxFlagUpdateAttempts bounds how often Update retries a patch refused
// because someone changed an environment this resource does not manage.
const maxFlagUpdateAttempts = 3

type featureFlagResource struct {
	client *client.Client
}

func newFeatureFlagResource() resource.Resource { return &featureFlagResource{} }

// featureFlagModel is a flag's attributes, shared by the resource and the
// data source. Environments is a map of flagEnvironmentType objects.
type featureFlagModel struct {
	ID           types.String `tfsdk:"id"`
	TenantID     types.String `tfsdk:"tenant_id"`
	Key          types.String `tfsdk:"key"`
	Description  types.String `tfsdk:"description"`
	Environments types.Map    `tfsdk:"environments"`
}

type flagEnvironmentModel struct {
	Enabled           types.Bool  `tfsdk:"enabled"`
	RolloutPercentage types.Int64 `tfsdk:"rollout_percentage"`
}

var flagEnvironmentType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"enabled":            types.BoolType,
	"rollout_percentage": types.Int64Type,
}}

func (r *featureFlagResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_feature_flag"
}

func (r *featureFlagResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A feature flag of a tenant, with its state in each environment.\n\n" +
			"**Environments not listed are not managed.** The resource reads, plans and writes only the entries of " +
			"`environments` that the configuration lists: an entry of another environment (for example `production`, " +
			"written by a `tenancy_environment_promotion` or by hand) is never changed or removed and never shows as a diff. " +
			"Removing an entry from the configuration stops managing it and leaves it on the platform as it is; " +
			"to switch a flag off in an environment, keep the entry with `enabled = false`. " +
			"This is what lets the flag manage staging while a promotion carries it to production. " +
			"Destroying the resource deletes the whole flag, in every environment.\n\n" +
			"Import takes every environment entry the flag has; a configuration listing fewer shows one update " +
			"that only stops managing the others and changes nothing on the platform.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The flag's ID and import ID, `<tenant_id>/<key>`, such as `acme/new-billing`.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"tenant_id": tenantIDAttribute("feature flag"),
			"key": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "The flag's key, unique in the tenant: " + validate.NameRule + ". Changing it replaces the flag.",
				Validators:          []validator.String{validators.Name("a feature flag key")},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"description": schema.StringAttribute{
				Optional: true, Computed: true,
				Default:             stringdefault.StaticString(""),
				MarkdownDescription: fmt.Sprintf("What the flag is for, at most %d characters. Default empty.", api.MaxFlagDescriptionLength),
				Validators:          []validator.String{stringvalidator.UTF8LengthAtMost(api.MaxFlagDescriptionLength)},
			},
			"environments": schema.MapNestedAttribute{
				Optional: true,
				MarkdownDescription: "The flag's state per environment, keyed by environment name; every environment named must exist " +
					"in the tenant. Only the environments listed here are managed: see above.",
				Validators: []validator.Map{mapvalidator.KeysAre(validators.EnvironmentName())},
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"enabled": schema.BoolAttribute{
							Required:            true,
							MarkdownDescription: "Whether the flag is on in this environment.",
						},
						"rollout_percentage": schema.Int64Attribute{
							Optional: true, Computed: true,
							Default: int64default.StaticInt64(defaultRolloutPercentage),
							MarkdownDescription: fmt.Sprintf("Share of requests, from %d to %d, that see the flag on while `enabled` is true. "+
								"Default %d: everyone.", api.MinRolloutPercentage, api.MaxRolloutPercentage, defaultRolloutPercentage),
							Validators: []validator.Int64{int64validator.Between(api.MinRolloutPercentage, api.MaxRolloutPercentage)},
						},
					},
				},
			},
		},
	}
}

func (r *featureFlagResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan changes nothing in the plan: it records the planned entries,
// so that a promotion from one of these environments planned after it can
// preview what the flag will be there (see plannedSources).
func (r *featureFlagResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, _ *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.client == nil {
		return
	}
	var plan featureFlagModel
	if req.Plan.Get(ctx, &plan).HasError() || !fullyKnown(ctx, plan.TenantID) || !fullyKnown(ctx, plan.Key) || !fullyKnown(ctx, plan.Environments) {
		return
	}
	entries, diags := flagEnvironmentsFrom(ctx, plan.Environments)
	if diags.HasError() {
		return
	}
	plannedSourcesOf(r.client).planFlag(plan.TenantID.ValueString(), plan.Key.ValueString(), entries)
}

func (r *featureFlagResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan featureFlagModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec, diags := plan.spec(ctx)
	if resp.Diagnostics.Append(diags...); diags.HasError() {
		return
	}
	tenant := plan.TenantID.ValueString()
	f, err := r.client.CreateFeatureFlag(ctx, tenant, spec)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot create feature flag "+strconv.Quote(formatID(tenant, spec.Key)), err)
		return
	}
	resp.Diagnostics.Append(setFeatureFlagState(ctx, &resp.State, resp.Private, f, plan.Environments)...)
}

func (r *featureFlagResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state featureFlagModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant, key := state.TenantID.ValueString(), state.Key.ValueString()
	f, err := r.client.RefreshFeatureFlag(ctx, tenant, key)
	if readFailed(ctx, resp, "feature flag "+strconv.Quote(formatID(tenant, key)), err) {
		return
	}
	importing, diags := req.Private.GetKey(ctx, privateImportAll)
	if resp.Diagnostics.Append(diags...); diags.HasError() {
		return
	}
	var next featureFlagModel
	resp.Diagnostics.Append(next.fromAPI(ctx, f, state.Environments, len(importing) > 0)...)
	if resp.Diagnostics.HasError() {
		return
	}
	rev := f.Revision
	if last, diags := revisionFrom(ctx, req.Private); !diags.HasError() && last != 0 {
		// Only a change to what this resource manages is drift: a promotion
		// into production moves the revision without concerning it, and the
		// recorded revision stays (patch writes at the new one when only
		// such changes came in between), so that a refresh has nothing to
		// record.
		rev = last
	}
	if !next.Description.Equal(state.Description) || !next.Environments.Equal(state.Environments) {
		drift := readDrift(ctx, r.client, req.Private, tenant, api.KindFeatureFlag, key, f.Revision)
		if drift.ownChangesOnly() {
			// A promotion of the configuration (or its rollback) changed a
			// managed entry: the promotion resource shows it (see objectDrift).
			next.Environments = state.Environments
		} else {
			drift.warn(ctx, &resp.Diagnostics, "Feature flag "+strconv.Quote(f.ID))
			rev = f.Revision
		}
	}
	resp.Diagnostics.Append(saveState(ctx, &resp.State, resp.Private, &next, rev)...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateImportAll, nil)...)
}

// Update sends a merge patch of what the plan changes: the description and
// the listed environment entries that differ. It never sends null for an
// entry, so an environment dropped from the configuration keeps its entry on
// the platform, and entries of environments not listed are never touched.
func (r *featureFlagResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state featureFlagModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	want, diags := flagEnvironmentsFrom(ctx, plan.Environments)
	resp.Diagnostics.Append(diags...)
	had, diags := flagEnvironmentsFrom(ctx, state.Environments)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	patch := map[string]any{}
	if !plan.Description.Equal(state.Description) {
		patch["description"] = plan.Description.ValueString()
	}
	changed := map[string]api.FlagEnvironment{}
	for env, e := range want {
		if old, ok := had[env]; !ok || old != e {
			changed[env] = e
		}
	}
	if len(changed) > 0 {
		patch["environments"] = changed
	}

	tenant, key := plan.TenantID.ValueString(), plan.Key.ValueString()
	id := strconv.Quote(formatID(tenant, key))
	rev, diags := revisionFrom(ctx, req.Private)
	if resp.Diagnostics.Append(diags...); diags.HasError() {
		return
	}
	var f *api.FeatureFlag
	var err error
	if len(patch) == 0 {
		// Only entries stopped being managed: nothing to write, but state
		// still comes from the platform.
		f, err = r.client.GetFeatureFlag(ctx, tenant, key)
	} else {
		f, err = r.patch(ctx, tenant, key, patch, rev, &state)
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot update feature flag "+id, err)
		return
	}
	resp.Diagnostics.Append(setFeatureFlagState(ctx, &resp.State, resp.Private, f, plan.Environments)...)
}

// patch applies a flag patch at the revision Terraform last recorded. When
// the platform refuses it because the flag changed since, and the change is
// only to what this resource does not manage (say a promotion into
// production in the same apply) or was made by a promotion of the
// configuration, it retries at the new revision; any other change to a
// managed entry still fails, so Terraform never overwrites what it has not
// shown.
func (r *featureFlagResource) patch(ctx context.Context, tenant, key string, patch map[string]any, rev int64, state *featureFlagModel) (*api.FeatureFlag, error) {
	body, err := json.Marshal(patch)
	if err != nil {
		return nil, fmt.Errorf("encoding the change: %w", err)
	}
	for attempt := 1; ; attempt++ {
		f, err := r.client.UpdateFeatureFlag(ctx, tenant, key, body, rev)
		if !errors.Is(err, client.ErrPreconditionFailed) || attempt == maxFlagUpdateAttempts {
			return f, err
		}
		cur, getErr := r.client.GetFeatureFlag(ctx, tenant, key)
		if getErr != nil {
			return nil, err
		}
		var seen featureFlagModel
		if diags := seen.fromAPI(ctx, cur, state.Environments, false); diags.HasError() ||
			!seen.Description.Equal(state.Description) || !seen.Environments.Equal(state.Environments) {
			if !driftSince(ctx, r.client, tenant, api.KindFeatureFlag, key, rev, cur.Revision).ownChangesOnly() {
				return nil, err
			}
		}
		tflog.Debug(ctx, "feature flag changed outside what this resource manages; retrying the update", map[string]any{
			"tenant": tenant, "key": key, "revision": cur.Revision,
		})
		rev = cur.Revision
	}
}

func (r *featureFlagResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state featureFlagModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant, key := state.TenantID.ValueString(), state.Key.ValueString()
	// The whole flag goes, in every environment: it belongs to this resource
	// even where only a promotion sets its entries.
	// Whatever its revision: see deleteRevision.
	err := r.client.DeleteFeatureFlag(ctx, tenant, key)
	deleteFailed(&resp.Diagnostics, "feature flag "+strconv.Quote(formatID(tenant, key)), err)
}

func (r *featureFlagResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if importByID(ctx, req, resp, "A feature flag is imported by its tenant and key", "tenant/key", "tenant_id", "key") != nil {
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateImportAll, []byte("true"))...)
	}
}

// setFeatureFlagState writes what the platform returned, narrowed to the environments
// in managed, and keeps the revision in private state.
func setFeatureFlagState(ctx context.Context, state stateSetter, private privateSetter, f *api.FeatureFlag, managed types.Map) diag.Diagnostics {
	var m featureFlagModel
	diags := m.fromAPI(ctx, f, managed, false)
	if diags.HasError() {
		return diags
	}
	return append(diags, saveState(ctx, state, private, &m, f.Revision)...)
}

// spec is the flag the model asks the platform for.
func (m *featureFlagModel) spec(ctx context.Context) (api.FeatureFlagSpec, diag.Diagnostics) {
	envs, diags := flagEnvironmentsFrom(ctx, m.Environments)
	return api.FeatureFlagSpec{Key: m.Key.ValueString(), Description: m.Description.ValueString(), Environments: envs}, diags
}

// fromAPI maps a flag the API returned onto the model. With all, it takes
// every environment entry (import, the data source); otherwise only the
// entries whose environment is a key of managed, so that environments this
// resource does not manage never show as a diff. A null managed map stays
// null whatever the platform holds.
func (m *featureFlagModel) fromAPI(ctx context.Context, f *api.FeatureFlag, managed types.Map, all bool) diag.Diagnostics {
	m.ID = types.StringValue(f.ID)
	m.TenantID = types.StringValue(f.TenantID)
	m.Key = types.StringValue(f.Key)
	m.Description = types.StringValue(f.Description)
	envs := f.Environments
	if !all {
		if managed.IsNull() || managed.IsUnknown() {
			m.Environments = types.MapNull(flagEnvironmentType)
			return nil
		}
		envs = map[string]api.FlagEnvironment{}
		for env := range managed.Elements() {
			if e, ok := f.Environments[env]; ok {
				envs[env] = e
			}
		}
	}
	var diags diag.Diagnostics
	m.Environments, diags = flagEnvironmentsValue(ctx, envs)
	return diags
}

// flagEnvironmentsValue turns entries into the environments map; nil is null.
func flagEnvironmentsValue(ctx context.Context, envs map[string]api.FlagEnvironment) (types.Map, diag.Diagnostics) {
	if envs == nil {
		return types.MapNull(flagEnvironmentType), nil
	}
	models := make(map[string]flagEnvironmentModel, len(envs))
	for _, env := range slices.Sorted(maps.Keys(envs)) {
		e := envs[env]
		models[env] = flagEnvironmentModel{Enabled: types.BoolValue(e.Enabled), RolloutPercentage: types.Int64Value(e.RolloutPercentage)}
	}
	return types.MapValueFrom(ctx, flagEnvironmentType, models)
}

// flagEnvironmentsFrom reads the environments map as the API takes it; null is nil.
func flagEnvironmentsFrom(ctx context.Context, v types.Map) (map[string]api.FlagEnvironment, diag.Diagnostics) {
	if v.IsNull() || v.IsUnknown() {
		return nil, nil
	}
	var models map[string]flagEnvironmentModel
	diags := v.ElementsAs(ctx, &models, false)
	out := make(map[string]api.FlagEnvironment, len(models))
	for env, e := range models {
		out[env] = api.FlagEnvironment{Enabled: e.Enabled.ValueBool(), RolloutPercentage: e.RolloutPercentage.ValueInt64()}
	}
	return out, diags
}
