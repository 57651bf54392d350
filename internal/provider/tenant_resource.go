package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
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
	_ resource.ResourceWithConfigure   = (*tenantResource)(nil)
	_ resource.ResourceWithImportState = (*tenantResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*tenantResource)(nil)
)

// Default time limits of a tenant's operations; timeouts overrides them.
const (
	defaultTenantCreateTimeout = 10 * time.Minute
	defaultTenantUpdateTimeout = 5 * time.Minute
	defaultTenantDeleteTimeout = 10 * time.Minute
)

type tenantResource struct {
	client *client.Client
	data   *providerData
}

func newTenantResource() resource.Resource { return &tenantResource{} }

// tenantModel is a tenant's attributes, shared by the resource and the data source.
type tenantModel struct {
	ID                 types.String         `tfsdk:"id"`
	Slug               types.String         `tfsdk:"slug"`
	DisplayName        types.String         `tfsdk:"display_name"`
	Isolation          types.String         `tfsdk:"isolation"`
	Region             types.String         `tfsdk:"region"`
	Domain             types.String         `tfsdk:"domain"`
	Timezone           types.String         `tfsdk:"timezone"`
	Language           types.String         `tfsdk:"language"`
	Branding           *brandingModel       `tfsdk:"branding"`
	Labels             types.Map            `tfsdk:"labels"`
	SecurityPolicy     *securityPolicyModel `tfsdk:"security_policy"`
	DataRetentionDays  types.Int64          `tfsdk:"data_retention_days"`
	DeletionProtection types.Bool           `tfsdk:"deletion_protection"`
	Status             types.String         `tfsdk:"status"`
	CreatedAt          types.String         `tfsdk:"created_at"`
}

type brandingModel struct {
	LogoURL      types.String `tfsdk:"logo_url"`
	PrimaryColor types.String `tfsdk:"primary_color"`
}

type securityPolicyModel struct {
	MFARequired           types.Bool  `tfsdk:"mfa_required"`
	SessionTimeoutMinutes types.Int64 `tfsdk:"session_timeout_minutes"`
	AllowedCIDRs          types.Set   `tfsdk:"allowed_cidrs"`
}

type tenantResourceModel struct {
	tenantModel
	Timeouts timeouts.Value `tfsdk:"timeouts"`
}

func (r *tenantResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_tenant"
}

func (r *tenantResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A tenant of the platform: one customer or organisational unit, isolated from every other. " +
			"Creating one provisions it (`status` goes from `provisioning` to `active`, and the provider waits); " +
			"destroying one decommissions it after a final backup kept for `data_retention_days`. " +
			"While `deletion_protection` is true, a plan that destroys it fails before anything is destroyed, and the platform refuses to delete it.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The tenant's ID, equal to its `slug`; children refer to it as `tenant_id`.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"slug": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Unique, permanent name of the tenant, 3 to 63 characters matching `" + validate.SlugPattern +
					"`. Changing it replaces the tenant.",
				Validators:    []validator.String{validators.Slug()},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"display_name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Human-readable name, 1 to 200 characters.",
				Validators:          []validator.String{stringvalidator.LengthBetween(1, 200)},
			},
			"isolation": schema.StringAttribute{
				Optional: true, Computed: true,
				Default:             stringdefault.StaticString(api.DefaultIsolation),
				MarkdownDescription: "How the tenant's resources are isolated: " + quotedList(api.Isolations) + ". Default `" + api.DefaultIsolation + "`.",
				Validators:          []validator.String{stringvalidator.OneOf(api.Isolations...)},
			},
			"region": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Region where the tenant's data lives, one of the regions tenancyd offers (by default " +
					quotedList(api.DefaultRegions) + "; the plan checks it against the platform's list). Data residency: changing it replaces the tenant.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"domain": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Custom domain of the tenant, a lower-case host name such as `acme.example.com`, unique on the platform. " +
					"Only a `platform_admin` token may set, change or remove it.",
				Validators: []validator.String{validators.Hostname()},
			},
			"timezone": schema.StringAttribute{
				Optional: true, Computed: true,
				Default:             stringdefault.StaticString(api.DefaultTimezone),
				MarkdownDescription: "Default time zone, an IANA name such as `Europe/Paris`. Default `" + api.DefaultTimezone + "`.",
				Validators:          []validator.String{validators.Timezone()},
			},
			"language": schema.StringAttribute{
				Optional: true, Computed: true,
				Default:             stringdefault.StaticString(api.DefaultLanguage),
				MarkdownDescription: "Default language, a BCP 47 tag such as `en-GB`. Default `" + api.DefaultLanguage + "`.",
				Validators:          []validator.String{validators.Language()},
			},
			"branding": schema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "How the tenant's UI looks.",
				Attributes: map[string]schema.Attribute{
					"logo_url": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "URL of the logo; must be `https://`.",
						Validators:          []validator.String{validators.HTTPSURL()},
					},
					"primary_color": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "Primary colour as `#RRGGBB`.",
						Validators:          []validator.String{validators.HexColor()},
					},
				},
			},
			"labels": schema.MapAttribute{
				ElementType:         types.StringType,
				Optional:            true,
				MarkdownDescription: "Free-form labels, for example to filter tenants with the `tenancy_tenants` data source.",
				Validators:          []validator.Map{validators.LabelsMap()},
			},
			"security_policy": schema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "The tenant's security rules.",
				Attributes: map[string]schema.Attribute{
					"mfa_required": schema.BoolAttribute{
						Optional: true, Computed: true,
						Default:             booldefault.StaticBool(false),
						MarkdownDescription: "Whether users must sign in with a second factor. Default `false`.",
					},
					"session_timeout_minutes": schema.Int64Attribute{
						Optional: true, Computed: true,
						Default: int64default.StaticInt64(api.DefaultSessionTimeoutMinutes),
						MarkdownDescription: fmt.Sprintf("Idle minutes before a session ends, from %d to %d. Default %d.",
							api.MinSessionTimeoutMinutes, api.MaxSessionTimeoutMinutes, api.DefaultSessionTimeoutMinutes),
						Validators: []validator.Int64{int64validator.Between(api.MinSessionTimeoutMinutes, api.MaxSessionTimeoutMinutes)},
					},
					"allowed_cidrs": schema.SetAttribute{
						ElementType:         types.StringType,
						Optional:            true,
						MarkdownDescription: "Networks users may connect from, as CIDR prefixes such as `10.0.0.0/8`; unset allows any.",
						Validators:          []validator.Set{setvalidator.ValueStringsAre(validators.CIDR())},
					},
				},
			},
			"data_retention_days": schema.Int64Attribute{
				Optional: true, Computed: true,
				Default: int64default.StaticInt64(api.DefaultDataRetentionDays),
				MarkdownDescription: fmt.Sprintf("Days the final backup is kept after the tenant is destroyed, from %d to %d. Default %d.",
					api.MinDataRetentionDays, api.MaxDataRetentionDays, api.DefaultDataRetentionDays),
				Validators: []validator.Int64{int64validator.Between(api.MinDataRetentionDays, api.MaxDataRetentionDays)},
			},
			"deletion_protection": schema.BoolAttribute{
				Optional: true, Computed: true,
				Default: booldefault.StaticBool(true),
				MarkdownDescription: "While true, a plan that destroys or replaces the tenant fails at plan time, before anything is destroyed " +
					"(`terraform destroy`, or the customer removed from a `for_each`), and the platform itself refuses to delete it. " +
					"To remove a customer, set it to false and apply, then remove the customer (or destroy). Default `true`.",
			},
			"status": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Lifecycle state: `provisioning` while being set up, then `active`.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"created_at": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "When the tenant was created (RFC 3339).",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func (r *tenantResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if r.data = dataFrom(req.ProviderData, &resp.Diagnostics); r.data != nil {
		r.client = r.data.client
	}
}

// ModifyPlan stops a plan that would destroy a protected tenant, makes a new
// tenant's id known, and checks at plan time that a new tenant's region is
// one the platform offers: the regions are tenancyd's configuration, so no
// static validator can know them.
func (r *tenantResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if !req.State.Raw.IsNull() {
		r.refuseProtectedDestroy(ctx, req, resp)
	}
	if req.Plan.Raw.IsNull() || resp.Diagnostics.HasError() {
		return
	}
	// A tenant's id is its slug, so a new tenant's id is known now: its
	// children's tenant_id then is too, and their plan-time checks (quotas
	// that must fit, grants the token may make) see which tenant they are in.
	var id, slug types.String
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("id"), &id)...)
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("slug"), &slug)...)
	if id.IsUnknown() && !slug.IsUnknown() && !slug.IsNull() {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("id"), slug)...)
	}
	if r.data == nil || resp.Diagnostics.HasError() {
		return
	}
	r.recordIsolation(ctx, req)
	var planned, prior types.String
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("region"), &planned)...)
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("region"), &prior)...)
	}
	if resp.Diagnostics.HasError() || planned.IsUnknown() || planned.IsNull() || planned.Equal(prior) {
		return
	}
	regions, err := r.data.platformRegions(ctx)
	if err != nil {
		// The apply will say what is wrong, with the server's own words.
		tflog.Warn(ctx, "cannot list the platform's regions to check region at plan time", map[string]any{"error": err.Error()})
		return
	}
	if !slices.Contains(regions, planned.ValueString()) {
		resp.Diagnostics.AddAttributeError(path.Root("region"), "Region not offered",
			fmt.Sprintf("Attribute region: %q is not a region this platform offers; use one of %s.",
				planned.ValueString(), strings.Join(regions, ", ")))
	}
}

// recordIsolation tells the tenant's environments, planned after it, that
// its isolation changes, which moves their data stores (see
// environmentResource.planDatabase), or that the tenant is new.
func (r *tenantResource) recordIsolation(ctx context.Context, req resource.ModifyPlanRequest) {
	var slug, planned, prior types.String
	req.Plan.GetAttribute(ctx, path.Root("slug"), &slug)
	if req.State.Raw.IsNull() {
		if known(slug) {
			r.data.planCreate(slug.ValueString())
		}
		return
	}
	req.Plan.GetAttribute(ctx, path.Root("isolation"), &planned)
	req.State.GetAttribute(ctx, path.Root("isolation"), &prior)
	if known(slug) && known(planned) && !planned.Equal(prior) {
		r.data.planIsolation(slug.ValueString(), planned.ValueString())
	}
}

// refuseProtectedDestroy fails a plan that destroys, or replaces, a tenant
// whose deletion_protection is true. The platform would refuse the delete
// too, but only at the end of the apply: Terraform destroys the tenant's
// environments, users, role bindings, quotas and flags first, so by then the
// customer's data would be gone. The platform's own deletion_protection
// decides, as it is what refuses the delete: the state may be older (as with
// -refresh=false) than a protection lifted or set through the API.
func (r *tenantResource) refuseProtectedDestroy(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	var prior tenantModel
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("slug"), &prior.Slug)...)
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("region"), &prior.Region)...)
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("deletion_protection"), &prior.DeletionProtection)...)
	if resp.Diagnostics.HasError() {
		return
	}
	slug := prior.Slug.ValueString()
	what := "destroys"
	if !req.Plan.Raw.IsNull() {
		var planned tenantModel
		resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("slug"), &planned.Slug)...)
		resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("region"), &planned.Region)...)
		if resp.Diagnostics.HasError() || planned.Slug.Equal(prior.Slug) && planned.Region.Equal(prior.Region) {
			return
		}
		// slug and region are permanent: a change to either replaces the
		// tenant, which destroys it first.
		what = "replaces (slug or region changes, and both are permanent, so the tenant is destroyed first)"
	}
	protected := prior.DeletionProtection.ValueBool()
	if r.client != nil {
		t, err := r.client.GetTenant(ctx, slug)
		switch {
		case errors.Is(err, client.ErrNotFound):
			return // Already gone: nothing left to protect.
		case err != nil:
			tflog.Warn(ctx, "cannot read the tenant's deletion_protection; going by the state", map[string]any{"slug": slug, "error": err.Error()})
		default:
			protected = t.DeletionProtection != nil && *t.DeletionProtection
		}
	}
	if !protected {
		return
	}
	resp.Diagnostics.AddError("Tenant "+strconv.Quote(slug)+" is protected from deletion",
		fmt.Sprintf("This plan %s tenant %q, whose deletion_protection is true, so the plan stops here and nothing is destroyed. "+
			"(Had it gone on, Terraform would have destroyed the tenant's environments, users, role bindings, quotas and feature flags "+
			"before the platform refused to delete the tenant.)\n\n"+
			"To remove this customer, apply twice:\n"+
			"  1. set deletion_protection = false on tenant %q (for a module or for_each, in that customer's entry only) and run terraform apply;\n"+
			"  2. then remove the customer from the configuration, or run terraform destroy.\n"+
			"To keep the customer, put it back in the configuration.", what, slug, slug))
}

func (r *tenantResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan tenantResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit, diags := plan.Timeouts.Create(ctx, defaultTenantCreateTimeout)
	if resp.Diagnostics.Append(diags...); diags.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

	spec, diags := plan.spec(ctx)
	if resp.Diagnostics.Append(diags...); diags.HasError() {
		return
	}
	t, err := r.client.CreateTenant(ctx, spec)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot create tenant "+strconv.Quote(spec.Slug), err)
		return
	}
	tflog.Info(ctx, "tenant created, waiting for provisioning", map[string]any{"slug": t.Slug, "status": t.Status})
	// The tenant exists from here on: it goes into state even if waiting
	// fails, so Terraform taints it instead of forgetting it.
	active, waitErr := waitForTenant(ctx, r.client, t)
	resp.Diagnostics.Append(setTenantState(ctx, &resp.State, resp.Private, active, plan.Timeouts)...)
	if waitErr != nil {
		resp.Diagnostics.AddError("Tenant "+strconv.Quote(spec.Slug)+" did not become active",
			fmt.Sprintf("The tenant was created but is still %q: %v. It is kept in state as tainted; "+
				"the next apply replaces it, or raise timeouts.create.", active.Status, waitErr))
	}
}

func (r *tenantResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state tenantResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	t, err := r.client.RefreshTenant(ctx, state.Slug.ValueString())
	if readFailed(ctx, resp, "tenant "+strconv.Quote(state.Slug.ValueString()), err) {
		return
	}
	explainDrift(ctx, r.client, req.Private, &resp.Diagnostics, "Tenant "+strconv.Quote(t.Slug), t.Slug, api.KindTenant, t.Slug, t.Revision)
	resp.Diagnostics.Append(setTenantState(ctx, &resp.State, resp.Private, t, state.Timeouts)...)
}

func (r *tenantResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state tenantResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit, diags := plan.Timeouts.Update(ctx, defaultTenantUpdateTimeout)
	if resp.Diagnostics.Append(diags...); diags.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

	from, diags := state.spec(ctx)
	resp.Diagnostics.Append(diags...)
	to, diags := plan.spec(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	patch, rev, ok := updateOf(ctx, req, &resp.Diagnostics, "tenant "+strconv.Quote(to.Slug), from, to)
	if !ok {
		return
	}
	t, err := r.client.UpdateTenant(ctx, to.Slug, patch, rev)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot update tenant "+strconv.Quote(to.Slug), err)
		return
	}
	resp.Diagnostics.Append(setTenantState(ctx, &resp.State, resp.Private, t, plan.Timeouts)...)
}

func (r *tenantResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state tenantResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit, diags := state.Timeouts.Delete(ctx, defaultTenantDeleteTimeout)
	if resp.Diagnostics.Append(diags...); diags.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

	slug := state.Slug.ValueString()
	d, err := r.client.DeleteTenant(ctx, slug, deleteRevision(ctx, req, &resp.Diagnostics))
	if errors.Is(err, client.ErrConflict) && state.DeletionProtection.ValueBool() {
		resp.Diagnostics.AddAttributeError(path.Root("deletion_protection"), "Tenant "+strconv.Quote(slug)+" is protected from deletion",
			"The platform refused to delete the tenant because deletion_protection is true. "+
				"Set deletion_protection = false, apply, and then destroy. Server said: "+err.Error())
		return
	}
	deleteFailed(&resp.Diagnostics, "tenant "+strconv.Quote(slug), err)
	if err == nil && d != nil {
		tflog.Info(ctx, "tenant decommissioned", map[string]any{
			"slug": slug, "backup_id": d.Backup.ID, "retain_until": d.Backup.RetainUntil.Format(time.RFC3339),
		})
	}
}

func (r *tenantResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if err := validate.Slug(req.ID); err != nil {
		resp.Diagnostics.AddError("Invalid import ID",
			fmt.Sprintf("A tenant is imported by its slug, such as \"acme\": %v.", err))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("slug"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}

// setTenantState writes what the backend returned, never the plan, into state,
// and keeps the object's revision in private state for conditional writes.
func setTenantState(ctx context.Context, state stateSetter, private privateSetter, t *api.Tenant, to timeouts.Value) diag.Diagnostics {
	m := tenantResourceModel{Timeouts: to}
	diags := m.fromAPI(ctx, t)
	if diags.HasError() {
		return diags
	}
	return append(diags, saveState(ctx, state, private, &m, t.Revision)...)
}

// waitForTenant polls until a tenant is active or ctx ends, returning the
// last tenant seen either way.
func waitForTenant(ctx context.Context, c *client.Client, t *api.Tenant) (*api.Tenant, error) {
	delay := 200 * time.Millisecond
	for t.Status != api.StatusActive {
		select {
		case <-ctx.Done():
			return t, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 2*time.Second)
		next, err := c.GetTenant(ctx, t.Slug)
		if err != nil {
			return t, err
		}
		t = next
		tflog.Debug(ctx, "waiting for tenant", map[string]any{"slug": t.Slug, "status": t.Status, "step": t.ProvisioningStep})
	}
	return t, nil
}

// spec is the tenant the configuration asks for, as the API takes it.
func (m *tenantModel) spec(ctx context.Context) (api.TenantSpec, diag.Diagnostics) {
	var diags diag.Diagnostics
	s := api.TenantSpec{
		Slug:               m.Slug.ValueString(),
		DisplayName:        m.DisplayName.ValueString(),
		Isolation:          m.Isolation.ValueString(),
		Region:             m.Region.ValueString(),
		Domain:             m.Domain.ValueStringPointer(),
		Timezone:           m.Timezone.ValueString(),
		Language:           m.Language.ValueString(),
		DataRetentionDays:  m.DataRetentionDays.ValueInt64Pointer(),
		DeletionProtection: m.DeletionProtection.ValueBoolPointer(),
	}
	if b := m.Branding; b != nil {
		s.Branding = &api.Branding{LogoURL: b.LogoURL.ValueStringPointer(), PrimaryColor: b.PrimaryColor.ValueStringPointer()}
	}
	if !m.Labels.IsNull() {
		s.Labels = map[string]string{}
		diags.Append(m.Labels.ElementsAs(ctx, &s.Labels, false)...)
	}
	if p := m.SecurityPolicy; p != nil {
		s.SecurityPolicy = &api.SecurityPolicy{
			MFARequired:           p.MFARequired.ValueBoolPointer(),
			SessionTimeoutMinutes: p.SessionTimeoutMinutes.ValueInt64Pointer(),
		}
		if !p.AllowedCIDRs.IsNull() {
			s.SecurityPolicy.AllowedCIDRs = []string{}
			diags.Append(p.AllowedCIDRs.ElementsAs(ctx, &s.SecurityPolicy.AllowedCIDRs, false)...)
		}
	}
	return s, diags
}

// fromAPI maps a tenant the API returned onto the model; Create, Read,
// Update, import and the data source all go through it.
func (m *tenantModel) fromAPI(ctx context.Context, t *api.Tenant) diag.Diagnostics {
	var diags, d diag.Diagnostics
	m.ID = types.StringValue(t.ID)
	m.Slug = types.StringValue(t.Slug)
	m.DisplayName = types.StringValue(t.DisplayName)
	m.Isolation = types.StringValue(t.Isolation)
	m.Region = types.StringValue(t.Region)
	m.Domain = types.StringPointerValue(t.Domain)
	m.Timezone = types.StringValue(t.Timezone)
	m.Language = types.StringValue(t.Language)
	m.DataRetentionDays = types.Int64PointerValue(t.DataRetentionDays)
	m.DeletionProtection = types.BoolPointerValue(t.DeletionProtection)
	m.Status = types.StringValue(t.Status)
	m.CreatedAt = types.StringValue(t.CreatedAt.UTC().Format(time.RFC3339))
	m.Branding = nil
	if b := t.Branding; b != nil {
		m.Branding = &brandingModel{LogoURL: types.StringPointerValue(b.LogoURL), PrimaryColor: types.StringPointerValue(b.PrimaryColor)}
	}
	m.Labels = types.MapNull(types.StringType)
	if t.Labels != nil {
		m.Labels, d = types.MapValueFrom(ctx, types.StringType, t.Labels)
		diags.Append(d...)
	}
	m.SecurityPolicy = nil
	if p := t.SecurityPolicy; p != nil {
		cidrs := types.SetNull(types.StringType)
		if p.AllowedCIDRs != nil {
			cidrs, d = types.SetValueFrom(ctx, types.StringType, p.AllowedCIDRs)
			diags.Append(d...)
		}
		m.SecurityPolicy = &securityPolicyModel{
			MFARequired:           types.BoolPointerValue(p.MFARequired),
			SessionTimeoutMinutes: types.Int64PointerValue(p.SessionTimeoutMinutes),
			AllowedCIDRs:          cidrs,
		}
	}
	return diags
}
