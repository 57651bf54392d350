package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validate"
)

var (
	_ resource.ResourceWithConfigure   = (*environmentResource)(nil)
	_ resource.ResourceWithImportState = (*environmentResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*environmentResource)(nil)
)

// environmentIDFormat is the import ID of an environment.
const environmentIDFormat = "tenant/environment"

type environmentResource struct {
	client *client.Client
}

func newEnvironmentResource() resource.Resource { return &environmentResource{} }

// environmentModel is an environment's attributes, shared by the resource
// and the data source.
type environmentModel struct {
	ID       types.String `tfsdk:"id"`
	TenantID types.String `tfsdk:"tenant_id"`
	Name     types.String `tfsdk:"name"`
	Type     types.String `tfsdk:"type"`
	Settings types.Map    `tfsdk:"settings"`
	Status   types.String `tfsdk:"status"`
}

// settingsValidators check settings as the platform does, so that a bad key
// or an oversized value fails at plan time.
func settingsValidators() []validator.Map {
	return []validator.Map{
		mapvalidator.SizeAtMost(api.MaxSettings),
		mapvalidator.KeysAre(stringvalidator.RegexMatches(validate.LabelKeyRegexp, "must be a settings key: "+validate.LabelKeyRule)),
		mapvalidator.ValueStringsAre(stringvalidator.LengthAtMost(api.MaxSettingValueBytes)),
	}
}

func (r *environmentResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_environment"
}

func (r *environmentResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "An environment of a tenant, such as `staging` or `production`, with its `settings`: " +
			"the configuration that `tenancy_environment_promotion` carries from one environment to another. " +
			"Destroying an environment also removes its quota, the role bindings scoped to it and its entries in every feature flag.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The import ID, `<tenant>/<name>` such as `acme/staging`.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"tenant_id": tenantIDAttribute("environment"),
			"name": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Name of the environment, unique in its tenant: " + validate.NameRule + " (`" + validate.NamePattern + "`). " +
					"Changing it replaces the environment.",
				Validators:    []validator.String{stringvalidator.RegexMatches(validate.NameRegexp, "must be an environment name: "+validate.NameRule)},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"type": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Kind of environment: " + quotedList(api.EnvironmentTypes) + ". It changes in place, " +
					"which needs a `tenant_admin` (or `platform_admin`) token: promoting into a `production` environment needs `tenant_admin`, " +
					"so a `tenant_user` may not change an environment's type.",
				Validators: []validator.String{stringvalidator.OneOf(api.EnvironmentTypes...)},
			},
			"settings": schema.MapAttribute{
				ElementType: types.StringType,
				Optional:    true,
				MarkdownDescription: fmt.Sprintf("The environment's configuration, as string keys and values, such as `log_level = \"info\"`. "+
					"Keys are %s (`%s`); values are at most %d bytes; at most %d entries. "+
					"Unset and `{}` differ: unset leaves the environment without settings.",
					validate.LabelKeyRule, validate.LabelKeyPattern, api.MaxSettingValueBytes, api.MaxSettings),
				Validators: settingsValidators(),
			},
			"status": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Lifecycle state of the environment: `active`.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *environmentResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan changes nothing in the plan: it records the planned settings,
// so that a promotion from this environment planned after it can preview
// what the environment will be (see plannedSources).
func (r *environmentResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, _ *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.client == nil {
		return
	}
	var plan environmentModel
	if req.Plan.Get(ctx, &plan).HasError() || !fullyKnown(ctx, plan.TenantID) || !fullyKnown(ctx, plan.Name) || !fullyKnown(ctx, plan.Settings) {
		return
	}
	var settings map[string]string
	if !plan.Settings.IsNull() {
		settings = stringsOf(plan.Settings)
	}
	plannedSourcesOf(r.client).planSettings(plan.TenantID.ValueString(), plan.Name.ValueString(), settings)
}

func (r *environmentResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan environmentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec, diags := plan.spec(ctx)
	if resp.Diagnostics.Append(diags...); diags.HasError() {
		return
	}
	tenant := plan.TenantID.ValueString()
	e, err := r.client.CreateEnvironment(ctx, tenant, spec)
	if err != nil {
		addAPIError(&resp.Diagnostics, fmt.Sprintf("Cannot create environment %q in tenant %q", spec.Name, tenant), err)
		return
	}
	tflog.Info(ctx, "environment created", map[string]any{"id": e.ID})
	resp.Diagnostics.Append(setEnvironmentState(ctx, &resp.State, resp.Private, e)...)
}

func (r *environmentResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state environmentModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant, name := state.TenantID.ValueString(), state.Name.ValueString()
	e, err := r.client.GetEnvironment(ctx, tenant, name)
	if readFailed(ctx, resp, fmt.Sprintf("environment %q of tenant %q", name, tenant), err) {
		return
	}
	explainDrift(ctx, r.client, req.Private, &resp.Diagnostics, "Environment "+e.ID, tenant, api.KindEnvironment, e.Name, e.Revision)
	resp.Diagnostics.Append(setEnvironmentState(ctx, &resp.State, resp.Private, e)...)
}

func (r *environmentResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state environmentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	from, diags := state.spec(ctx)
	resp.Diagnostics.Append(diags...)
	to, diags := plan.spec(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant, name := state.TenantID.ValueString(), state.Name.ValueString()
	patch, err := client.MergePatch(from, to)
	if err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("Cannot compute the change to environment %q of tenant %q", name, tenant), err.Error())
		return
	}
	rev, diags := revisionFrom(ctx, req.Private)
	if resp.Diagnostics.Append(diags...); diags.HasError() {
		return
	}
	e, err := r.client.UpdateEnvironment(ctx, tenant, name, patch, rev)
	if err != nil {
		addAPIError(&resp.Diagnostics, fmt.Sprintf("Cannot update environment %q of tenant %q", name, tenant), err)
		return
	}
	resp.Diagnostics.Append(setEnvironmentState(ctx, &resp.State, resp.Private, e)...)
}

func (r *environmentResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state environmentModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant, name := state.TenantID.ValueString(), state.Name.ValueString()
	// No If-Match: promotions (and their rollback when a
	// tenancy_environment_promotion is destroyed first, in the same run)
	// write this object on Terraform's behalf, so a revision check would
	// refuse Terraform's own changes. What is deleted is still the object
	// the state names: the client refuses answers about another one.
	err := r.client.DeleteEnvironment(ctx, tenant, name, 0)
	if err != nil && !errors.Is(err, client.ErrNotFound) {
		addAPIError(&resp.Diagnostics, fmt.Sprintf("Cannot delete environment %q of tenant %q", name, tenant), err)
	}
}

func (r *environmentResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByID(ctx, req, resp, "An environment is imported by its tenant and name", environmentIDFormat, "tenant_id", "name")
}

// setEnvironmentState writes what the backend returned into state and keeps
// the environment's revision in private state for conditional writes.
func setEnvironmentState(ctx context.Context, state stateSetter, private privateSetter, e *api.Environment) diag.Diagnostics {
	var m environmentModel
	diags := m.fromAPI(ctx, e)
	if diags.HasError() {
		return diags
	}
	diags.Append(state.Set(ctx, &m)...)
	diags.Append(setRevision(ctx, private, e.Revision)...)
	return diags
}

// spec is the environment the configuration asks for, as the API takes it.
func (m *environmentModel) spec(ctx context.Context) (api.EnvironmentSpec, diag.Diagnostics) {
	var diags diag.Diagnostics
	s := api.EnvironmentSpec{Name: m.Name.ValueString(), Type: m.Type.ValueString()}
	if !m.Settings.IsNull() && !m.Settings.IsUnknown() {
		s.Settings = map[string]string{}
		diags.Append(m.Settings.ElementsAs(ctx, &s.Settings, false)...)
	}
	return s, diags
}

// fromAPI maps an environment the API returned onto the model; Create, Read,
// Update, import and the data source all go through it.
func (m *environmentModel) fromAPI(ctx context.Context, e *api.Environment) diag.Diagnostics {
	var diags diag.Diagnostics
	m.ID = types.StringValue(formatID(e.TenantID, e.Name))
	m.TenantID = types.StringValue(e.TenantID)
	m.Name = types.StringValue(e.Name)
	m.Type = types.StringValue(e.Type)
	m.Status = types.StringValue(e.Status)
	m.Settings = types.MapNull(types.StringType)
	if e.Settings != nil {
		m.Settings, diags = types.MapValueFrom(ctx, types.StringType, e.Settings)
	}
	return diags
}
