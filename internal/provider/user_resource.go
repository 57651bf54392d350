package provider

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

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
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validate"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validators"
)

var (
	_ resource.ResourceWithConfigure   = (*userResource)(nil)
	_ resource.ResourceWithImportState = (*userResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*userResource)(nil)
)

// The import IDs of a user: by the id the platform gave it, or by its
// e-mail address.
const (
	userIDFormat      = "tenant/user_id"
	userEmailIDFormat = "tenant/email"
)

type userResource struct {
	client *client.Client
	data   *providerData
}

func newUserResource() resource.Resource { return &userResource{} }

type userResourceModel struct {
	ID          types.String `tfsdk:"id"`
	TenantID    types.String `tfsdk:"tenant_id"`
	UserID      types.String `tfsdk:"user_id"`
	Email       types.String `tfsdk:"email"`
	DisplayName types.String `tfsdk:"display_name"`
	Status      types.String `tfsdk:"status"`
}

func (r *userResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_user"
}

func (r *userResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A user of one tenant. The platform gives each user a `user_id`; grant the user roles with " +
			"`tenancy_role_binding`. E-mail addresses are unique within a tenant, ignoring case, and a tenant holds at most " +
			"its quota's `max_users` users. Destroying a user also removes its role bindings, unless the user holds the " +
			"tenant's last tenant-wide `tenant_admin` binding (allowed only to a `platform_admin` token once the tenant's " +
			"`deletion_protection` is false, as when the whole customer is destroyed).",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The import ID, `<tenant>/<user_id>` such as `acme/usr_0123456789abcdef0123`.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"tenant_id": tenantIDAttribute("user"),
			"user_id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The platform's ID of the user, such as `usr_0123456789abcdef0123`; role bindings refer to it.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"email": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "The user's e-mail address, a plain address such as `alice@example.com` of at most " +
					strconv.Itoa(validate.MaxEmailLength) + " characters, unique within the tenant (ignoring case).",
				Validators: []validator.String{validators.Email()},
			},
			"display_name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "The user's name as people read it, 1 to 200 characters.",
				Validators:          []validator.String{stringvalidator.LengthBetween(1, 200)},
			},
			"status": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The user's state on the platform: `" + api.StatusActive + "`.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *userResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if r.data = dataFrom(req.ProviderData, &resp.Diagnostics); r.data != nil {
		r.client = r.data.client
	}
}

// ModifyPlan fails, at plan time, a create, change or removal of a user
// that the provider's token may not make: users are managed by a
// tenant_admin of their tenant or a platform_admin.
func (r *userResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if r.data == nil || req.Plan.Raw.Equal(req.State.Raw) {
		return // Not configured yet, or nothing changes.
	}
	var m userResourceModel
	verb := "creating"
	switch {
	case req.Plan.Raw.IsNull():
		resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
		verb = "deleting"
	default:
		resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
		if !req.State.Raw.IsNull() {
			verb = "changing"
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}
	email := "the user"
	if !m.Email.IsUnknown() {
		email = "user " + strconv.Quote(m.Email.ValueString())
	}
	resp.Diagnostics.Append(r.data.mayManage(m.TenantID, api.RoleTenantAdmin, verb+" "+email)...)
}

func (r *userResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan userResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant := plan.TenantID.ValueString()
	u, err := r.client.CreateUser(ctx, tenant, plan.spec())
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot create user "+strconv.Quote(plan.Email.ValueString())+" in tenant "+strconv.Quote(tenant), err)
		return
	}
	tflog.Info(ctx, "user created", map[string]any{"tenant": tenant, "user_id": u.UserID})
	resp.Diagnostics.Append(setUserState(ctx, &resp.State, resp.Private, u)...)
}

func (r *userResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state userResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant, id := state.key()
	u, err := r.client.RefreshUser(ctx, tenant, id)
	if readFailed(ctx, resp, state.what(), err) {
		return
	}
	explainDrift(ctx, r.client, req.Private, &resp.Diagnostics, "User "+strconv.Quote(u.Email)+" ("+u.ID+")", tenant, api.KindUser, u.UserID, u.Revision)
	resp.Diagnostics.Append(setUserState(ctx, &resp.State, resp.Private, u)...)
}

func (r *userResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	updateObject(ctx, req, resp, (*userResourceModel).spec, r.client.UpdateUser, setUserState)
}

func (r *userResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	deleteObject[userResourceModel](ctx, req, resp, r.client.DeleteUser)
}

// ImportState takes `<tenant>/<user_id>` or `<tenant>/<email>`: the
// platform gives users ids, but people know their addresses. Either way it
// checks that the user exists, so that a wrong ID fails with the formats
// instead of Terraform's "non-existent remote object".
func (r *userResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	const what = "A user is imported by its tenant and user_id, or its tenant and e-mail address"
	parts, err := parseID(req.ID, userIDFormat, userEmailIDFormat)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import ID", what+": "+err.Error()+".")
		return
	}
	tenant, key := parts[0], parts[1]
	formats := fmt.Sprintf("import a user as %s/<user_id> (such as %s/%s) or %s/<email> (such as %s/alice@example.com)",
		tenant, tenant, idExamples["user_id"], tenant, tenant)
	if r.client == nil {
		resp.Diagnostics.AddError("Provider not configured", "The provider must be configured to import a user.")
		return
	}
	var u *api.User
	if strings.Contains(key, "@") {
		users, err := r.client.ListUsers(ctx, tenant, url.Values{"email": {key}})
		if err != nil {
			addAPIError(&resp.Diagnostics, fmt.Sprintf("Cannot look up user %q of tenant %q", key, tenant), err)
			return
		}
		if len(users) != 1 {
			resp.Diagnostics.AddError("No such user",
				fmt.Sprintf("Tenant %q has no user with the e-mail address %q (addresses compare without case); %s. "+
					"The tenancy_users data source lists a tenant's users with their import IDs.", tenant, key, formats))
			return
		}
		u = &users[0]
	} else {
		u, err = r.client.GetUser(ctx, tenant, key)
		if errors.Is(err, client.ErrNotFound) {
			resp.Diagnostics.AddError("No such user",
				fmt.Sprintf("Tenant %q has no user with user_id %q; %s. "+
					"The tenancy_users data source lists a tenant's users with their import IDs.", tenant, key, formats))
			return
		}
		if err != nil {
			addAPIError(&resp.Diagnostics, fmt.Sprintf("Cannot read user %q of tenant %q", key, tenant), err)
			return
		}
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("tenant_id"), u.TenantID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("user_id"), u.UserID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), formatID(u.TenantID, u.UserID))...)
}

// setUserState writes what the backend returned into state and keeps the
// user's revision in private state for conditional writes.
func setUserState(ctx context.Context, state stateSetter, private privateSetter, u *api.User) diag.Diagnostics {
	var m userResourceModel
	m.fromAPI(u)
	return saveState(ctx, state, private, &m, u.Revision)
}

// key is the user's tenant and user_id.
func (m *userResourceModel) key() (tenant, key string) {
	return m.TenantID.ValueString(), m.UserID.ValueString()
}

// what names the user in messages.
func (m *userResourceModel) what() string {
	return fmt.Sprintf("user %q of tenant %q", m.UserID.ValueString(), m.TenantID.ValueString())
}

// spec is the user the configuration asks for, as the API takes it.
func (m *userResourceModel) spec() api.UserSpec {
	return api.UserSpec{Email: m.Email.ValueString(), DisplayName: m.DisplayName.ValueString()}
}

// fromAPI maps a user the API returned onto the model; Create, Read, Update
// and import all go through it.
func (m *userResourceModel) fromAPI(u *api.User) {
	m.ID = types.StringValue(formatID(u.TenantID, u.UserID))
	m.TenantID = types.StringValue(u.TenantID)
	m.UserID = types.StringValue(u.UserID)
	m.Email = types.StringValue(u.Email)
	m.DisplayName = types.StringValue(u.DisplayName)
	m.Status = types.StringValue(u.Status)
}
