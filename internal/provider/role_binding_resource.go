package provider

import (
	"context"
	"fmt"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
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
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validators"
)

var (
	_ resource.ResourceWithConfigure   = (*roleBindingResource)(nil)
	_ resource.ResourceWithImportState = (*roleBindingResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*roleBindingResource)(nil)
)

// roleBindingIDFormat is the import ID of a role binding.
const roleBindingIDFormat = "tenant/binding_id"

type roleBindingResource struct {
	client *client.Client
	data   *providerData
}

func newRoleBindingResource() resource.Resource { return &roleBindingResource{} }

type roleBindingResourceModel struct {
	ID          types.String `tfsdk:"id"`
	TenantID    types.String `tfsdk:"tenant_id"`
	BindingID   types.String `tfsdk:"binding_id"`
	UserID      types.String `tfsdk:"user_id"`
	Role        types.String `tfsdk:"role"`
	Environment types.String `tfsdk:"environment"`
}

func (r *roleBindingResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_role_binding"
}

func (r *roleBindingResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Grants a user a role in a tenant, in one environment or in every environment. " +
			"A user holds at most one binding per role and environment. Nobody grants a role above their own: " +
			"the plan already fails when the provider's token may not grant `role`. " +
			"A tenant keeps its last tenant-wide `tenant_admin` binding: the platform refuses to delete it, " +
			"to change its role or to scope it to one environment, until another user is bound as `tenant_admin`. " +
			"The one exception is a `platform_admin` token once the tenant's `deletion_protection` is false, " +
			"which is how a whole customer is destroyed.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The import ID, `<tenant>/<binding_id>` such as `acme/rb_0123456789abcdef0123`.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"tenant_id": tenantIDAttribute("role binding"),
			"binding_id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The platform's ID of the binding, such as `rb_0123456789abcdef0123`.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"user_id": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "The `user_id` of the user granted the role, a user of the same tenant, usually " +
					"`tenancy_user.NAME.user_id`. Changing it replaces the binding.",
				Validators:    []validator.String{stringvalidator.LengthAtLeast(1)},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"role": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "The role granted: " + quotedList(api.TenantRoles) + ". `tenant_viewer` reads everything in the tenant, " +
					"`tenant_user` also writes feature flags and environment settings, `tenant_admin` may do everything within the tenant. " +
					"The provider's token must hold this role or a higher one.",
				Validators: []validator.String{stringvalidator.OneOf(api.TenantRoles...)},
			},
			"environment": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "The name of the environment the role applies in, which must exist in the tenant. " +
					"Unset, the role applies in every environment of the tenant.",
				Validators: []validator.String{validators.EnvironmentName()},
			},
		},
	}
}

func (r *roleBindingResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if r.data = dataFrom(req.ProviderData, &resp.Diagnostics); r.data != nil {
		r.client = r.data.client
	}
}

// ModifyPlan fails, at plan time, a grant (or a removal) that the provider's
// token may not make, as the platform decides it: role bindings are managed
// by a tenant_admin of their tenant or a platform_admin, and nobody grants a
// role above their own. The token's role and tenant come from Configure, so
// the check also covers bindings of users and tenants that this very apply
// creates.
func (r *roleBindingResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if r.data == nil {
		return // The provider is not configured yet: nothing to check.
	}
	if req.Plan.Raw.IsNull() {
		var state roleBindingResourceModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if !resp.Diagnostics.HasError() {
			r.checkGrant(&resp.Diagnostics, state, "remove")
		}
		return
	}
	var plan roleBindingResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !req.State.Raw.IsNull() {
		var state roleBindingResourceModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if resp.Diagnostics.HasError() {
			return
		}
		if state.TenantID.Equal(plan.TenantID) && state.UserID.Equal(plan.UserID) && state.Role.Equal(plan.Role) &&
			state.Environment.Equal(plan.Environment) {
			return // No new grant.
		}
	}
	r.checkGrant(&resp.Diagnostics, plan, "grant")
}

// checkGrant reports a grant or removal of binding m that the provider's
// token may not make; verb is "grant" or "remove".
func (r *roleBindingResource) checkGrant(diags *diag.Diagnostics, m roleBindingResourceModel, verb string) {
	tok := r.data.token
	if tok.Role == api.RolePlatformAdmin {
		return
	}
	if !m.TenantID.IsUnknown() && tok.Tenant != m.TenantID.ValueString() {
		diags.Append(r.data.mayManage(m.TenantID, api.RoleTenantAdmin, verb+"ing a role binding")...)
		return
	}
	role, user, tenant := "the planned role", "(known only after apply)", "(known only after apply)"
	if !m.Role.IsUnknown() {
		role = strconv.Quote(m.Role.ValueString())
	}
	if !m.UserID.IsUnknown() {
		user = strconv.Quote(m.UserID.ValueString())
	}
	if !m.TenantID.IsUnknown() {
		tenant = strconv.Quote(m.TenantID.ValueString())
	}
	if api.RoleAtLeast(tok.Role, api.RoleTenantAdmin) && (m.Role.IsUnknown() || api.RoleAtLeast(tok.Role, m.Role.ValueString())) {
		return
	}
	summary := "The provider's token may not grant role " + role
	detail := fmt.Sprintf("This role binding grants role %s to user %s in tenant %s", role, user, tenant)
	if verb == "remove" {
		summary = "The provider's token may not remove a binding of role " + role
		detail = fmt.Sprintf("Destroying this role binding removes role %s from user %s in tenant %s", role, user, tenant)
	}
	diags.AddAttributeError(path.Root("role"), summary,
		fmt.Sprintf("%s, but the provider's token has role %s (it is the token %q of tenant %q). "+
			"Nobody grants or removes a role above their own, and role bindings are managed with a tenant_admin or platform_admin token: "+
			"the platform would refuse this during the apply, after the objects planned before it were made. "+
			"Configure the provider with a tenant_admin token of tenant %s (or a platform_admin token) to apply this binding.",
			detail, tok.Role, tok.Name, tok.Tenant, tenant))
}

func (r *roleBindingResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan roleBindingResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant, spec := plan.TenantID.ValueString(), plan.spec()
	b, err := r.client.CreateRoleBinding(ctx, tenant, spec)
	if err != nil {
		addAPIError(&resp.Diagnostics, fmt.Sprintf("Cannot grant role %q to user %q in tenant %q", spec.Role, spec.UserID, tenant), err)
		return
	}
	tflog.Info(ctx, "role binding created", map[string]any{"tenant": tenant, "binding_id": b.BindingID})
	resp.Diagnostics.Append(setRoleBindingState(ctx, &resp.State, resp.Private, b)...)
}

func (r *roleBindingResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state roleBindingResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant, id := state.key()
	b, err := r.client.RefreshRoleBinding(ctx, tenant, id)
	if readFailed(ctx, resp, state.what(), err) {
		return
	}
	explainDrift(ctx, r.client, req.Private, &resp.Diagnostics, "Role binding "+b.ID, tenant, api.KindRoleBinding, b.BindingID, b.Revision)
	resp.Diagnostics.Append(setRoleBindingState(ctx, &resp.State, resp.Private, b)...)
}

func (r *roleBindingResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	updateObject(ctx, req, resp, (*roleBindingResourceModel).spec, r.client.UpdateRoleBinding, setRoleBindingState)
}

func (r *roleBindingResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	deleteObject[roleBindingResourceModel](ctx, req, resp, r.client.DeleteRoleBinding)
}

func (r *roleBindingResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByID(ctx, req, resp, "A role binding is imported by its tenant and binding_id", roleBindingIDFormat, "tenant_id", "binding_id")
}

// setRoleBindingState writes what the backend returned into state and keeps
// the binding's revision in private state for conditional writes.
func setRoleBindingState(ctx context.Context, state stateSetter, private privateSetter, b *api.RoleBinding) diag.Diagnostics {
	var m roleBindingResourceModel
	m.fromAPI(b)
	return saveState(ctx, state, private, &m, b.Revision)
}

// key is the role binding's tenant and binding_id.
func (m *roleBindingResourceModel) key() (tenant, key string) {
	return m.TenantID.ValueString(), m.BindingID.ValueString()
}

// what names the role binding in messages.
func (m *roleBindingResourceModel) what() string {
	return fmt.Sprintf("role binding %q of tenant %q", m.BindingID.ValueString(), m.TenantID.ValueString())
}

// spec is the binding the configuration asks for, as the API takes it.
func (m *roleBindingResourceModel) spec() api.RoleBindingSpec {
	return api.RoleBindingSpec{UserID: m.UserID.ValueString(), Role: m.Role.ValueString(), Environment: m.Environment.ValueStringPointer()}
}

// fromAPI maps a binding the API returned onto the model; Create, Read,
// Update and import all go through it.
func (m *roleBindingResourceModel) fromAPI(b *api.RoleBinding) {
	m.ID = types.StringValue(formatID(b.TenantID, b.BindingID))
	m.TenantID = types.StringValue(b.TenantID)
	m.BindingID = types.StringValue(b.BindingID)
	m.UserID = types.StringValue(b.UserID)
	m.Role = types.StringValue(b.Role)
	m.Environment = types.StringPointerValue(b.Environment)
}
