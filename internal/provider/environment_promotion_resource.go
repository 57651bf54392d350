package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/promotion"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validators"
)

var (
	_ resource.ResourceWithConfigure      = (*environmentPromotionResource)(nil)
	_ resource.ResourceWithImportState    = (*environmentPromotionResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*environmentPromotionResource)(nil)
	_ resource.ResourceWithValidateConfig = (*environmentPromotionResource)(nil)
)

// environmentPromotionResource makes a target environment match a source
// environment, in the scopes it includes, and keeps it so.
//
// How the preview reaches the plan, without a perpetual diff:
//
//   - last_changes, promoted_at and revision describe the last promotion
//     this resource made (revision is its id); changes, after an apply, is
//     what that apply promoted. Create and Update write them from the
//     promotion the backend returns.
//   - Read asks the backend for a dry run, which answers with the lines and
//     with the source and target as it compared them, and keeps the two in
//     private state. When a promotion is pending, it also empties changes in
//     state: a marker, so that the plan lists every pending line as an
//     addition rather than as a replacement of the last promotion's lines.
//     Pending means that the target does not match the source as this run
//     plans it: during a plan, the environment and feature flag resources
//     planned before the promotion have recorded their planned values (see
//     plannedSources), and Read counts them.
//   - ModifyPlan computes the lines (package promotion, as the backend
//     does) from the source and target Read kept, with the planned values of
//     the objects the triggers reference in place of the source's current
//     ones; when include changed or there is no Read, it asks for a dry run
//     with the planned inputs. Lines pending: it plans changes and
//     last_changes as exactly those lines (known, sorted) and revision and
//     promoted_at as unknown, so the plan is an update. Nothing pending: it
//     plans the state's values, so the plan is empty. Computing from what
//     Read kept, rather than asking again, matters during apply: Terraform
//     plans once more just before applying, and a source changed earlier in
//     the same apply by something the triggers do not reference must then
//     give the clear 412 below, not a plan that changed under Terraform's feet.
//   - Update promotes with expect_changes set to the planned lines, so the
//     backend refuses (412) rather than apply something the plan did not show.
//     Since the objects the triggers reference are applied first, the source
//     is by then what the plan said, hand changes there put back included.
//   - triggers that change to something the provider cannot resolve (not the
//     JSON of an environment's settings or a flag's environments planned in
//     this configuration) or are unknown make ModifyPlan plan changes as
//     unknown; Update then promotes whatever differs at that point.
//
// A target environment has one promotion link on the backend, created with
// the first promotion and deleted on destroy, so a second resource with the
// same target fails with a 409 naming the first one's source. Every later
// promotion says it is linked, which marks it (and, through its id, the
// audit events of what it changed) as this resource's, so that the drift
// explanations of other resources leave it out.
type environmentPromotionResource struct {
	client *client.Client
	data   *providerData
}

func newEnvironmentPromotionResource() resource.Resource { return &environmentPromotionResource{} }

type environmentPromotionModel struct {
	ID                types.String `tfsdk:"id"`
	TenantID          types.String `tfsdk:"tenant_id"`
	SourceEnvironment types.String `tfsdk:"source_environment"`
	TargetEnvironment types.String `tfsdk:"target_environment"`
	Include           types.Set    `tfsdk:"include"`
	Triggers          types.Map    `tfsdk:"triggers"`
	RollbackOnDestroy types.Bool   `tfsdk:"rollback_on_destroy"`
	Changes           types.List   `tfsdk:"changes"`
	LastChanges       types.List   `tfsdk:"last_changes"`
	PromotedAt        types.String `tfsdk:"promoted_at"`
	Revision          types.String `tfsdk:"revision"`
}

func (r *environmentPromotionResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_environment_promotion"
}

// changeLineFormat documents the lines of changes, as package promotion
// writes them.
const changeLineFormat = "Each line is `<scope>.<name>[.<field>]: <before> -> <after>`, one per value that changes, such as " +
	"`feature_flags.new-billing.enabled: false -> true`, `feature_flags.new-billing.rollout_percentage: 10 -> 50`, " +
	"`quotas.cpu_millicores: 2000 -> 4000` or `settings.log_level: \"debug\" -> \"info\"`. " +
	"Settings values are double-quoted with backslash escapes; `(absent)` stands for a setting not set, a flag without an " +
	"entry for the environment (a new entry gives two lines, `enabled` and `rollout_percentage`) or a quota limit not set " +
	"(unlimited). The `schema` scope gives one line per migration that the source has applied and the target has not, " +
	"`schema.3: pending -> applied`, applied in version order (migrations are never un-applied, not even by a rollback). " +
	"The lines are sorted as strings, except that schema lines go in version order (`schema.2` before `schema.10`)."

func (r *environmentPromotionResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Promotes the configuration of one environment of a tenant (the source, such as `staging`) to " +
			"another (the target, such as `production`), and keeps the target matching the source.\n\n" +
			"For every included scope the target ends up as the source is: its `settings` map, its entry in every feature " +
			"flag (a flag without an entry for the source loses the target's entry), and its environment quota. " +
			"On every plan the provider asks the platform for a preview: when source and target agree the plan is empty; " +
			"when they differ (the source moved on, or someone changed the target by hand) the plan shows an update whose " +
			"`changes` list says, line by line, what the target is about to get. Apply promotes all of it in one transaction.\n\n" +
			"A source changed in the same apply (in the configuration, or by hand and put back by this apply) is carried " +
			"over in that apply, and previewed from its configured values, when `triggers` reference it; see `triggers`. " +
			"`last_changes` keeps what the last promotion changed.\n\n" +
			"What this resource writes to the target, or puts back when it rolls back, is not drift of the target's " +
			"`tenancy_environment`, `tenancy_feature_flag` or `tenancy_quota`: the platform marks its promotions, the drift " +
			"warnings leave their changes out, and while nothing else changed those objects a refresh keeps in their state " +
			"what Terraform last wrote or read, so `terraform plan -refresh-only -detailed-exitcode` right after an apply " +
			"that promoted exits 0.\n\n" +
			"An environment can be the target of only one `tenancy_environment_promotion`: a second one fails with an error " +
			"naming the first one's source. Promoting into a `production` environment needs a `tenant_admin` token, and so " +
			"does any change to a quota, and so does promoting the `schema` when the target lacks a migration of the source " +
			"(migrations are DDL): with a `tenant_user` token, leave those scopes out of `include`. A plan that the platform " +
			"would refuse for the token's role fails at plan time, naming the role.\n\n" +
			"Manage the target's promoted configuration through the promotion only: a `tenancy_feature_flag` should list only " +
			"the non-target environments (it leaves the others alone), a `tenancy_environment` for the target should " +
			"`ignore_changes = [settings]`, and a `tenancy_quota` of the target conflicts with `include` of `quotas`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The import ID, `<tenant_id>/<source_environment>/<target_environment>`, such as `acme/staging/production`.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"tenant_id": tenantIDAttribute("promotion"),
			"source_environment": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Name of the environment whose configuration is promoted, such as `staging`. " +
					"Changing it replaces the promotion.",
				Validators:    []validator.String{validators.EnvironmentName()},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"target_environment": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Name of the environment that is made to match the source, such as `production`; it must " +
					"differ from `source_environment`. Changing it replaces the promotion.",
				Validators:    []validator.String{validators.EnvironmentName()},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"include": schema.SetAttribute{
				ElementType: types.StringType,
				Optional:    true, Computed: true,
				Default: setdefault.StaticValue(allPromotionScopes()),
				MarkdownDescription: "What is promoted: any of " + quotedList(api.PromotionScopes) + ". Default all of them. " +
					"Changing it changes what the next apply promotes.",
				Validators: []validator.Set{
					setvalidator.SizeAtLeast(1),
					setvalidator.ValueStringsAre(stringvalidator.OneOf(api.PromotionScopes...)),
				},
			},
			"triggers": schema.MapAttribute{
				ElementType: types.StringType,
				Optional:    true,
				MarkdownDescription: "Values that order the promotion after the resources they reference and make it follow " +
					"them in the same apply. Reference what changes the source, as " +
					"`{ settings = jsonencode(tenancy_environment.staging.settings), flags = jsonencode(tenancy_feature_flag.checkout.environments) }`: " +
					"the plan then previews, in `changes`, the lines that follow from the source as configured (a change to " +
					"staging in the same configuration, or a hand change in staging that the same apply puts back), and the " +
					"apply promotes them after the source is changed. Values written that way (`jsonencode` of an environment's " +
					"`settings`, a flag's `environments` or a `tenancy_schema`'s `migrations`, or of an object or a list made of them) " +
					"are resolved at plan time: the migrations give the lines of those the source will have applied and the target " +
					"lacks. Any other value (a version string, a hash, " +
					"another attribute) still orders the promotion and promotes again when it changes, but the plan shows " +
					"`changes` as known after apply. Without triggers, a change to the source in the same configuration reaches " +
					"the target one apply later.",
			},
			"rollback_on_destroy": schema.BoolAttribute{
				Optional: true, Computed: true,
				Default: booldefault.StaticBool(false),
				MarkdownDescription: "Whether destroying this resource rolls back its last promotion, restoring what that " +
					"promotion changed in the target as it was before. It fails when a newer promotion into the target (made " +
					"outside this resource) is not rolled back. Default `false`: destroying leaves the target as it is.",
			},
			"changes": schema.ListAttribute{
				ElementType: types.StringType,
				Computed:    true,
				MarkdownDescription: "In a plan, what applying will change in the target, one line per value; after apply, " +
					"what that apply promoted. A refresh that finds a promotion pending empties it, so that the plan lists every " +
					"pending line as an addition; `last_changes` keeps the last promotion's lines meanwhile. " + changeLineFormat,
			},
			"last_changes": schema.ListAttribute{
				ElementType: types.StringType,
				Computed:    true,
				MarkdownDescription: "What the last promotion this resource made changed in the target, in the same format as " +
					"`changes`; empty when it changed nothing. Unlike `changes`, a refresh leaves it alone: use it in outputs. " +
					"A plan that promotes shows it replaced by the lines of the coming promotion.",
			},
			"promoted_at": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "When this resource last promoted (RFC 3339); it does not move when an apply finds nothing to promote.",
			},
			"revision": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "The id of the last promotion this resource made, such as `prm_0123456789abcdef0123`: the " +
					"platform's promotion history (`GET /v1/tenants/{tenant}/promotions/{id}`) and rollback refer to it. " +
					"It changes whenever an apply promotes.",
			},
		},
	}
}

func (r *environmentPromotionResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if r.data = dataFrom(req.ProviderData, &resp.Diagnostics); r.data != nil {
		r.client = r.data.client
	}
}

func (r *environmentPromotionResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m environmentPromotionModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !m.SourceEnvironment.IsUnknown() && !m.TargetEnvironment.IsUnknown() && !m.SourceEnvironment.IsNull() &&
		m.SourceEnvironment.Equal(m.TargetEnvironment) {
		resp.Diagnostics.AddAttributeError(path.Root("target_environment"), "Target is the source",
			fmt.Sprintf("target_environment must differ from source_environment; both are %q.", m.TargetEnvironment.ValueString()))
	}
}

// ModifyPlan puts the preview of the promotion into the plan; see
// environmentPromotionResource.
func (r *environmentPromotionResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // Destroy: Delete does what rollback_on_destroy says.
	}
	var plan, state environmentPromotionModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	creating := req.State.Raw.IsNull()
	if !creating {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	defer func() { resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...) }()

	plan.ID = plan.plannedID()
	unknownResult := func() {
		plan.Changes = types.ListUnknown(types.StringType)
		plan.LastChanges = types.ListUnknown(types.StringType)
		plan.Revision = types.StringUnknown()
		plan.PromotedAt = types.StringUnknown()
	}

	inputsKnown := !plan.ID.IsUnknown() && plan.includeKnown()
	switch {
	case !creating && !plan.ID.Equal(state.ID):
		// A replacement: Terraform plans the new promotion separately, as a create.
		unknownResult()
		return
	case r.client == nil || !inputsKnown:
		unknownResult()
		return
	case !fullyKnown(ctx, plan.Triggers):
		// What the triggers reference is not even planned yet.
		unknownResult()
		return
	}

	promoteReq, diags := plan.spec(ctx)
	if resp.Diagnostics.Append(diags...); diags.HasError() {
		return
	}
	if creating && len(plan.Triggers.Elements()) > 0 {
		// Triggers reference what this apply may still change before the
		// promotion, and there is no Read to compute from; whether the
		// token may promote at all is known now, though.
		r.checkAccess(ctx, plan, promoteReq, &resp.Diagnostics)
		unknownResult()
		return
	}
	preview, ok := promotionPreviewFrom(ctx, req.Private, promoteReq.Include)
	if creating || !ok {
		p, err := r.client.PreviewPromotion(ctx, plan.TenantID.ValueString(), promoteReq)
		switch {
		case err != nil && creating && (missingPromotionEnvironment(err) || errors.Is(err, client.ErrNotFound)):
			// The tenant or an environment may be created in this very apply.
			tflog.Debug(ctx, "promotion preview: an environment does not exist yet", map[string]any{"error": err.Error()})
			unknownResult()
			return
		case err != nil:
			addAPIError(&resp.Diagnostics, r.previewRefused(plan, err), err)
			return
		}
		preview = promotionPreview{Include: promoteReq.Include, Source: p.Source, Target: p.Target, Changes: p.Changes}
	}
	planned := plannedSourcesOf(r.client)
	triggers := stringsOf(plan.Triggers)
	if changed := changedValues(triggers, stringsOf(state.Triggers)); !creating && !planned.explains(plan.TenantID.ValueString(), changed) {
		tflog.Debug(ctx, "promotion triggers changed to values the plan cannot resolve; changes are known after apply",
			map[string]any{"id": plan.ID.ValueString()})
		unknownResult()
		return
	}
	source := planned.forSource(plan.TenantID.ValueString(), plan.SourceEnvironment.ValueString(), provenBy(slices.Collect(maps.Values(triggers))))
	lines, err := preview.lines(source, plan.SourceEnvironment.ValueString(), plan.TargetEnvironment.ValueString())
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("include"), "Cannot preview promoting "+promotionWhat(plan), err.Error())
		return
	}
	planPromotion(ctx, &plan, state, creating, lines, &resp.Diagnostics)
}

// checkAccess asks the platform, at plan time, whether it would refuse a
// promotion whose changes are known only after apply to the provider's
// token. A token below tenant_admin may not promote into production,
// quotas, or a schema (migrations are DDL, which needs tenant_admin as a
// tenancy_schema does): the plan says so rather than the apply. Only such
// a refusal fails the plan; the rest (an environment that this apply
// creates, a source that it changes) is for the apply to meet.
func (r *environmentPromotionResource) checkAccess(ctx context.Context, plan environmentPromotionModel, req api.PromotionRequest, diags *diag.Diagnostics) {
	if r.data == nil || r.data.token.Role == "" || api.RoleAtLeast(r.data.token.Role, api.RoleTenantAdmin) {
		return
	}
	_, err := r.client.PreviewPromotion(ctx, plan.TenantID.ValueString(), req)
	if errors.Is(err, client.ErrPermissionDenied) {
		addAPIError(diags, r.previewRefused(plan, err), err)
	}
}

// previewRefused is the summary of a preview that failed with err.
func (r *environmentPromotionResource) previewRefused(plan environmentPromotionModel, err error) string {
	if errors.Is(err, client.ErrPermissionDenied) && r.data != nil && r.data.token.Role != "" {
		return fmt.Sprintf("The provider's token (role %s) may not promote %s", r.data.token.Role, promotionWhat(plan))
	}
	return "Cannot preview promoting " + promotionWhat(plan)
}

func (r *environmentPromotionResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan environmentPromotionModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	promoteReq, diags := plan.spec(ctx)
	if resp.Diagnostics.Append(diags...); diags.HasError() {
		return
	}
	promoteReq.Link = true
	expected, diags := expectedChanges(ctx, plan.Changes)
	if resp.Diagnostics.Append(diags...); diags.HasError() {
		return
	}
	promoteReq.ExpectChanges = expected
	p, err := r.client.Promote(ctx, plan.TenantID.ValueString(), promoteReq)
	if err != nil {
		addPromoteError(&resp.Diagnostics, "Cannot promote "+promotionWhat(plan), err)
		return
	}
	tflog.Info(ctx, "promoted", map[string]any{"promotion": p.ID, "changes": len(p.Changes)})
	resp.Diagnostics.Append(plan.fromAPI(ctx, p, true)...)
	plan.Changes = plan.LastChanges
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(r.keepPreview(ctx, resp.Private, plan)...)
}

func (r *environmentPromotionResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state environmentPromotionModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant, source, target := state.TenantID.ValueString(), state.SourceEnvironment.ValueString(), state.TargetEnvironment.ValueString()
	state.ID = types.StringValue(formatID(tenant, source, target))

	link, err := r.client.GetPromotionLink(ctx, tenant, target)
	if readFailed(ctx, resp, "the promotion of "+promotionWhat(state), err) {
		return
	}
	if link.SourceEnvironment != source {
		resp.Diagnostics.AddWarning("The promotion of "+promotionWhat(state)+" was replaced outside Terraform",
			fmt.Sprintf("Environment %q of tenant %q is now promoted from %q (%s). Terraform forgets this promotion; "+
				"the plan creates it again, which fails until that other promotion is removed.", target, tenant, link.SourceEnvironment, link.ID))
		resp.State.RemoveResource(ctx)
		return
	}

	last, err := r.lastPromotion(ctx, state)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read the promotion history of "+strconv.Quote(target), err)
		return
	}
	empty := types.ListValueMust(types.StringType, []attr.Value{})
	state.LastChanges = empty
	if last != nil {
		resp.Diagnostics.Append(state.fromAPI(ctx, last, state.Include.IsNull())...)
	}
	if state.Include.IsNull() {
		state.Include = allPromotionScopes()
	}
	if state.RollbackOnDestroy.IsNull() {
		state.RollbackOnDestroy = types.BoolValue(false)
	}
	if state.Changes.IsNull() {
		// Imported: as after the apply that made the last promotion.
		state.Changes = state.LastChanges
	}

	promoteReq, diags := state.spec(ctx)
	if resp.Diagnostics.Append(diags...); diags.HasError() {
		return
	}
	p, err := r.client.PreviewPromotion(ctx, tenant, promoteReq)
	switch {
	case err != nil && missingPromotionEnvironment(err):
		tflog.Warn(ctx, "an environment of the promotion no longer exists; removing the promotion from state",
			map[string]any{"id": state.ID.ValueString(), "error": err.Error()})
		resp.State.RemoveResource(ctx)
		return
	case err != nil:
		// The plan asks again and reports it; a refresh (and so a destroy)
		// must not fail on it.
		tflog.Warn(ctx, "cannot preview the promotion during refresh", map[string]any{"error": err.Error()})
		resp.Diagnostics.Append(setPromotionPreview(ctx, resp.Private, nil)...)
	default:
		preview := promotionPreview{Include: promoteReq.Include, Source: p.Source, Target: p.Target, Changes: p.Changes}
		// Only a guess of what the plan will say: every object planned so
		// far counts, referenced by the triggers or not. It decides
		// whether the plan shows the pending lines as additions.
		var planned sourcePlan
		if len(state.Triggers.Elements()) > 0 {
			planned = plannedSourcesOf(r.client).forSource(tenant, source, anyValue)
		}
		if lines, err := preview.lines(planned, source, target); err != nil || len(lines) > 0 {
			tflog.Info(ctx, "a promotion is pending", map[string]any{"id": state.ID.ValueString(), "pending": len(lines)})
			state.Changes = empty
		}
		resp.Diagnostics.Append(setPromotionPreview(ctx, resp.Private, &preview)...)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *environmentPromotionResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state environmentPromotionModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// The plan marks a promotion to make with an unknown revision; with a
	// known one, only attributes kept in state change.
	plannedRevision, plannedLines := plan.Revision, plan.Changes
	// Until a promotion says otherwise, the last one stays the state's.
	plan.Changes, plan.LastChanges, plan.Revision, plan.PromotedAt = state.Changes, state.LastChanges, state.Revision, state.PromotedAt
	defer func() { resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...) }()
	// What Read kept is stale once this apply is done; what a refresh
	// would keep now replaces it, unless the apply fails.
	resp.Diagnostics.Append(setPromotionPreview(ctx, resp.Private, nil)...)
	defer func() {
		if !resp.Diagnostics.HasError() {
			resp.Diagnostics.Append(r.keepPreview(ctx, resp.Private, plan)...)
		}
	}()
	promoteReq, diags := plan.spec(ctx)
	if resp.Diagnostics.Append(diags...); diags.HasError() || !plannedRevision.IsUnknown() {
		// Nothing to promote: the plan found nothing pending for this include.
		return
	}
	tenant := plan.TenantID.ValueString()
	expected, diags := expectedChanges(ctx, plannedLines)
	if resp.Diagnostics.Append(diags...); diags.HasError() {
		return
	}
	if expected == nil {
		// Triggered: promote whatever differs now, and nothing when nothing does.
		preview, err := r.client.PreviewPromotion(ctx, tenant, promoteReq)
		if err != nil {
			addAPIError(&resp.Diagnostics, "Cannot preview promoting "+promotionWhat(plan), err)
			return
		}
		if len(preview.Changes) == 0 {
			tflog.Info(ctx, "triggered, but the target already matches the source", map[string]any{"id": plan.ID.ValueString()})
			return
		}
	}
	promoteReq.ExpectChanges = expected
	promoteReq.Linked = true
	p, err := r.client.Promote(ctx, tenant, promoteReq)
	if err != nil {
		addPromoteError(&resp.Diagnostics, "Cannot promote "+promotionWhat(plan), err)
		return
	}
	tflog.Info(ctx, "promoted", map[string]any{"promotion": p.ID, "changes": len(p.Changes)})
	resp.Diagnostics.Append(plan.fromAPI(ctx, p, false)...)
	plan.Changes = plan.LastChanges
}

func (r *environmentPromotionResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state environmentPromotionModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant, target := state.TenantID.ValueString(), state.TargetEnvironment.ValueString()
	if id := state.Revision.ValueString(); state.RollbackOnDestroy.ValueBool() && id != "" {
		p, err := r.client.GetPromotion(ctx, tenant, id)
		switch {
		case errors.Is(err, client.ErrNotFound):
			tflog.Warn(ctx, "the promotion to roll back no longer exists", map[string]any{"promotion": id})
		case err != nil:
			addAPIError(&resp.Diagnostics, "Cannot read promotion "+id+" to roll it back", err)
			return
		case p.RolledBackAt != nil:
			tflog.Info(ctx, "the promotion is already rolled back", map[string]any{"promotion": id})
		default:
			rb, err := r.client.RollbackPromotion(ctx, tenant, id)
			if err != nil {
				addAPIError(&resp.Diagnostics, "Cannot roll back promotion "+id+" of "+promotionWhat(state), err)
				if errors.Is(err, client.ErrConflict) {
					resp.Diagnostics.AddAttributeError(path.Root("rollback_on_destroy"), "Rollback refused",
						"Roll back the newer promotions first, or set rollback_on_destroy = false and apply before destroying.")
				}
				return
			}
			tflog.Info(ctx, "rolled back", map[string]any{"promotion": id, "changes": len(rb.RollbackChanges)})
		}
	}
	err := r.client.DeletePromotionLink(ctx, tenant, target)
	deleteFailed(&resp.Diagnostics, "the promotion link of "+promotionWhat(state), err)
}

func (r *environmentPromotionResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	parts, err := parseID(req.ID, "tenant/source/target")
	if err != nil {
		resp.Diagnostics.AddError("Invalid import ID", err.Error()+".")
		return
	}
	tenant, source, target := parts[0], parts[1], parts[2]
	link, err := r.client.GetPromotionLink(ctx, tenant, target)
	switch {
	case errors.Is(err, client.ErrNotFound):
		resp.Diagnostics.AddError("Nothing to import",
			fmt.Sprintf("Tenant %q has no promotion link into environment %q (or the tenant does not exist). "+
				"Only a promotion that a tenancy_environment_promotion created can be imported; create this one instead.", tenant, target))
		return
	case err != nil:
		addAPIError(&resp.Diagnostics, "Cannot import "+strconv.Quote(req.ID), err)
		return
	case link.SourceEnvironment != source:
		resp.Diagnostics.AddError("Wrong source environment",
			fmt.Sprintf("Environment %q of tenant %q is promoted from %q, not %q; import %q instead.",
				target, tenant, link.SourceEnvironment, source, link.ID))
		return
	}
	for attr, v := range map[string]string{"id": req.ID, "tenant_id": tenant, "source_environment": source, "target_environment": target} {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attr), v)...)
	}
}

// lastPromotion reads the promotion state.Revision names or, when the state
// has none (after import), the latest one from the source into the target;
// nil when there is none.
func (r *environmentPromotionResource) lastPromotion(ctx context.Context, state environmentPromotionModel) (*api.Promotion, error) {
	tenant := state.TenantID.ValueString()
	if id := state.Revision.ValueString(); id != "" {
		p, err := r.client.GetPromotion(ctx, tenant, id)
		if errors.Is(err, client.ErrNotFound) {
			return nil, nil
		}
		return p, err
	}
	history, err := r.client.ListPromotions(ctx, tenant, state.TargetEnvironment.ValueString())
	if err != nil {
		return nil, err
	}
	for _, p := range history {
		if p.SourceEnvironment == state.SourceEnvironment.ValueString() {
			return &p, nil
		}
	}
	return nil, nil
}

// planPromotion plans a promotion of the pending lines: an update (or the
// create) that makes exactly them, or, when there are none, no change.
func planPromotion(ctx context.Context, plan *environmentPromotionModel, state environmentPromotionModel, creating bool, lines []string, diags *diag.Diagnostics) {
	if !creating && len(lines) == 0 {
		plan.Changes, plan.LastChanges, plan.Revision, plan.PromotedAt = state.Changes, state.LastChanges, state.Revision, state.PromotedAt
		return
	}
	changes, d := types.ListValueFrom(ctx, types.StringType, promotionLines(lines))
	diags.Append(d...)
	plan.Changes, plan.LastChanges = changes, changes
	plan.Revision = types.StringUnknown()
	plan.PromotedAt = types.StringUnknown()
}

// keepPreview keeps, at the end of Create and Update, the dry run that Read
// would keep: Terraform counts a change of private state as something a
// refresh found, so a refresh right after the apply must find the same, or
// `terraform plan -refresh-only -detailed-exitcode` would exit 2.
func (r *environmentPromotionResource) keepPreview(ctx context.Context, private privateSetter, m environmentPromotionModel) diag.Diagnostics {
	req, diags := m.spec(ctx)
	if diags.HasError() {
		return diags
	}
	p, err := r.client.PreviewPromotion(ctx, m.TenantID.ValueString(), req)
	if err != nil {
		// As in Read: the next plan asks again.
		tflog.Warn(ctx, "cannot preview the promotion after applying it", map[string]any{"error": err.Error()})
		return append(diags, setPromotionPreview(ctx, private, nil)...)
	}
	return append(diags, setPromotionPreview(ctx, private, &promotionPreview{Include: req.Include, Source: p.Source, Target: p.Target, Changes: p.Changes})...)
}

// privatePromotionPreview is the private-state key of what Read's dry run
// compared, with the include it used.
const privatePromotionPreview = "pending"

// promotionPreview is a dry run's answer: the source and the target as it
// compared them, and its lines (used only when a backend does not send the
// two environments).
type promotionPreview struct {
	Include []string                  `json:"include"`
	Source  *api.PromotionEnvironment `json:"source"`
	Target  *api.PromotionEnvironment `json:"target"`
	Changes []string                  `json:"changes"`
}

// lines is what promoting the source, with what is planned for it in place
// of its current values, changes in the target. source and target name the
// two environments in errors.
func (p promotionPreview) lines(planned sourcePlan, source, target string) ([]string, error) {
	if p.Source == nil || p.Target == nil {
		return promotionLines(p.Changes), nil
	}
	scopes, err := promotion.Scopes(p.Include)
	if err != nil {
		return nil, err
	}
	local := promotion.Diff(planned.apply(promotion.FromAPI(p.Source)), promotion.FromAPI(p.Target), scopes).Changes
	if planned.migrations == nil || p.Target.Schema == nil || !slices.Contains(scopes, api.ScopeSchema) {
		// The schema scope's lines come from the server, which reads the data stores.
		return promotion.WithSchemaLines(local, p.Changes), nil
	}
	// Once the source's schema is applied, its store has applied every
	// planned migration: the lines are those the target has not applied.
	versions, err := promotion.SchemaVersions(migrationChecksums(planned.migrations), appliedChecksums(p.Target.Schema), source, target)
	if err != nil {
		return nil, fmt.Errorf("promoting the schema of %q to %q: %w", source, target, err)
	}
	out := append(slices.Clone(local), promotion.SchemaLines(versions)...)
	promotion.SortLines(out)
	return promotionLines(out), nil
}

// migrationChecksums is the checksum of each migration, by version.
func migrationChecksums(migrations map[string]string) map[int64]string {
	out := make(map[int64]string, len(migrations))
	for v, sql := range migrations {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[n] = api.MigrationChecksum(sql)
		}
	}
	return out
}

// appliedChecksums is what a preview says a store has applied, by version.
func appliedChecksums(s *api.PromotionSchema) map[int64]string {
	out := make(map[int64]string, len(s.Applied))
	for v, sum := range s.Applied {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[n] = sum
		}
	}
	return out
}

// setPromotionPreview keeps what a dry run compared; nil forgets it.
func setPromotionPreview(ctx context.Context, p privateSetter, preview *promotionPreview) diag.Diagnostics {
	if preview == nil {
		return p.SetKey(ctx, privatePromotionPreview, nil)
	}
	b, err := json.Marshal(preview)
	if err != nil {
		var diags diag.Diagnostics
		diags.AddError("Cannot keep the promotion preview", err.Error())
		return diags
	}
	return p.SetKey(ctx, privatePromotionPreview, b)
}

// promotionPreviewFrom reads what Read's dry run compared, if it compared
// the environments for this include.
func promotionPreviewFrom(ctx context.Context, p privateGetter, include []string) (promotionPreview, bool) {
	b, diags := p.GetKey(ctx, privatePromotionPreview)
	var preview promotionPreview
	if diags.HasError() || len(b) == 0 || json.Unmarshal(b, &preview) != nil || !slices.Equal(preview.Include, include) ||
		preview.Source == nil || preview.Target == nil {
		return promotionPreview{}, false
	}
	return preview, true
}

// changedValues lists the values of triggers that are new or changed since
// the state's.
func changedValues(planned, state map[string]string) []string {
	var out []string
	for k, v := range planned {
		if old, ok := state[k]; !ok || old != v {
			out = append(out, v)
		}
	}
	return out
}

// spec is the promotion the model asks for.
func (m *environmentPromotionModel) spec(ctx context.Context) (api.PromotionRequest, diag.Diagnostics) {
	req := api.PromotionRequest{SourceEnvironment: m.SourceEnvironment.ValueString(), TargetEnvironment: m.TargetEnvironment.ValueString()}
	var diags diag.Diagnostics
	if !m.Include.IsNull() && !m.Include.IsUnknown() {
		diags = m.Include.ElementsAs(ctx, &req.Include, false)
		slices.Sort(req.Include)
	}
	return req, diags
}

// fromAPI writes what a promotion the backend returned says into the
// model: the resource's identity, last_changes, promoted_at and revision,
// and, with withInclude, include.
func (m *environmentPromotionModel) fromAPI(ctx context.Context, p *api.Promotion, withInclude bool) diag.Diagnostics {
	var diags, d diag.Diagnostics
	m.ID = types.StringValue(formatID(p.TenantID, p.SourceEnvironment, p.TargetEnvironment))
	m.TenantID = types.StringValue(p.TenantID)
	m.SourceEnvironment = types.StringValue(p.SourceEnvironment)
	m.TargetEnvironment = types.StringValue(p.TargetEnvironment)
	m.LastChanges, d = types.ListValueFrom(ctx, types.StringType, promotionLines(p.Changes))
	diags.Append(d...)
	m.Revision = types.StringValue(p.ID)
	m.PromotedAt = types.StringNull()
	if p.PromotedAt != nil {
		m.PromotedAt = types.StringValue(p.PromotedAt.UTC().Format(time.RFC3339))
	}
	if withInclude {
		m.Include, d = types.SetValueFrom(ctx, types.StringType, p.Include)
		diags.Append(d...)
	}
	return diags
}

// expectedChanges reads the planned changes: nil when unknown.
func expectedChanges(ctx context.Context, l types.List) (*[]string, diag.Diagnostics) {
	if l.IsUnknown() || l.IsNull() {
		return nil, nil
	}
	lines := []string{}
	diags := l.ElementsAs(ctx, &lines, false)
	return &lines, diags
}

// addPromoteError explains the errors of a promotion the user can act on.
func addPromoteError(diags *diag.Diagnostics, summary string, err error) {
	if errors.Is(err, client.ErrPreconditionFailed) {
		diags.AddError(summary,
			"The source or the target changed between the plan and the apply, so the promotion would no longer make the "+
				"changes the plan showed; nothing was changed. Run terraform plan again to see the changes as they are now. "+
				"If something in this configuration changes the source, reference it in triggers so that it is promoted in "+
				"the same apply.\n\n"+err.Error())
		return
	}
	addAPIError(diags, summary, err)
}

// missingPromotionEnvironment reports whether a promotion failed because its source
// or target environment does not exist.
func missingPromotionEnvironment(err error) bool {
	var apiErr *client.APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusUnprocessableEntity &&
		(apiErr.Field == "source_environment" || apiErr.Field == "target_environment")
}

// promotionWhat names a promotion in messages: "staging" to "production"
// in tenant "acme".
func promotionWhat(m environmentPromotionModel) string {
	return fmt.Sprintf("%q to %q in tenant %q", m.SourceEnvironment.ValueString(), m.TargetEnvironment.ValueString(), m.TenantID.ValueString())
}

func allPromotionScopes() types.Set {
	v := make([]attr.Value, len(api.PromotionScopes))
	for i, s := range api.PromotionScopes {
		v[i] = types.StringValue(s)
	}
	return types.SetValueMust(types.StringType, v)
}

// plannedID is the id the model will have; unknown until its parts are known.
func (m *environmentPromotionModel) plannedID() types.String {
	for _, v := range []types.String{m.TenantID, m.SourceEnvironment, m.TargetEnvironment} {
		if v.IsNull() || v.IsUnknown() {
			return types.StringUnknown()
		}
	}
	return types.StringValue(formatID(m.TenantID.ValueString(), m.SourceEnvironment.ValueString(), m.TargetEnvironment.ValueString()))
}

// includeKnown reports whether include and every element of it are known.
func (m *environmentPromotionModel) includeKnown() bool {
	if m.Include.IsUnknown() {
		return false
	}
	for _, e := range m.Include.Elements() {
		if e.IsUnknown() {
			return false
		}
	}
	return true
}

// promotionLines is a promotion's change lines, never nil.
func promotionLines(lines []string) []string {
	if lines == nil {
		return []string{}
	}
	return lines
}
