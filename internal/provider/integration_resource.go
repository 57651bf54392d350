package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validate"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validators"
)

var (
	_ resource.ResourceWithConfigure      = (*integrationResource)(nil)
	_ resource.ResourceWithImportState    = (*integrationResource)(nil)
	_ resource.ResourceWithValidateConfig = (*integrationResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*integrationResource)(nil)
)

type integrationResource struct {
	client *client.Client
}

func newIntegrationResource() resource.Resource { return &integrationResource{} }

// integrationModel is an integration's attributes. SecretWO is write-only:
// it is read from the configuration only, and is always null in plan and
// state. SecretWOVersion is the provider's own: the platform does not keep
// it, so it comes from the plan and, on import, is null.
type integrationModel struct {
	ID              types.String `tfsdk:"id"`
	TenantID        types.String `tfsdk:"tenant_id"`
	Name            types.String `tfsdk:"name"`
	Kind            types.String `tfsdk:"kind"`
	Config          types.Map    `tfsdk:"config"`
	SecretWO        types.String `tfsdk:"secret_wo"`
	SecretWOVersion types.Int64  `tfsdk:"secret_wo_version"`
	SecretSet       types.Bool   `tfsdk:"secret_set"`
}

func (r *integrationResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_integration"
}

func requiredConfigDoc() string {
	var parts []string
	for _, kind := range api.IntegrationKinds {
		keys := make([]string, len(api.IntegrationRequiredConfig[kind]))
		for i, k := range api.IntegrationRequiredConfig[kind] {
			keys[i] = "`" + k + "`"
		}
		parts = append(parts, fmt.Sprintf("`%s` needs %s", kind, strings.Join(keys, " and ")))
	}
	return strings.Join(parts, "; ")
}

func (r *integrationResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "An integration of a tenant with an outside service: a webhook, an OIDC identity provider or Slack.\n\n" +
			"Its secret is **write-only** (Terraform 1.11 or newer): `secret_wo` is sent to the platform and is never " +
			"written to the plan or the state, and the platform never returns it, only `secret_set`. Because Terraform " +
			"keeps no trace of a write-only value, the provider sends `secret_wo` when the integration is created and, " +
			"afterwards, only when `secret_wo_version` changes: to rotate the secret, change `secret_wo` and bump " +
			"`secret_wo_version` together. A change of `secret_wo_version` while `secret_wo` is unset removes the stored secret. " +
			"If the platform reports no secret while `secret_wo` is configured (someone removed it), the plan shows " +
			"`secret_set` going back to true and apply sends the secret again.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The integration's ID and import ID, `<tenant_id>/<name>`, such as `acme/pagerduty`.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"tenant_id": tenantIDAttribute("integration"),
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "The integration's name, unique in the tenant: " + validate.NameRule + ". Changing it replaces the integration.",
				Validators:          []validator.String{validators.Name("an integration name")},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"kind": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "What the integration talks to: " + quotedList(api.IntegrationKinds) + ". Changing it replaces the integration.",
				Validators:          []validator.String{stringvalidator.OneOf(api.IntegrationKinds...)},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"config": schema.MapAttribute{
				ElementType: types.StringType,
				Optional:    true,
				MarkdownDescription: fmt.Sprintf("The integration's settings, at most %d, keyed by names (%s), each value at most %d bytes. "+
					"Each kind needs some: %s. A key named `url` or ending in `_url` must hold an `https://` URL. "+
					"Put credentials in `secret_wo`, not here: config is stored in state.",
					api.MaxIntegrationConfigKeys, validate.NameRule, api.MaxIntegrationConfigValueLength, requiredConfigDoc()),
				Validators: []validator.Map{
					mapvalidator.SizeAtMost(api.MaxIntegrationConfigKeys),
					mapvalidator.KeysAre(validators.Name("a config key")),
					mapvalidator.ValueStringsAre(stringvalidator.LengthAtMost(api.MaxIntegrationConfigValueLength)),
				},
			},
			"secret_wo": schema.StringAttribute{
				Optional: true, WriteOnly: true, Sensitive: true,
				MarkdownDescription: fmt.Sprintf("The integration's secret (a webhook signing secret, an OIDC client secret, a Slack token), "+
					"1 to %d bytes. Write-only, Terraform 1.11 or newer: never in plan or state. Sent on create, and afterwards "+
					"only when `secret_wo_version` changes.", api.MaxIntegrationSecretLength),
				Validators: []validator.String{stringvalidator.LengthBetween(1, api.MaxIntegrationSecretLength)},
			},
			"secret_wo_version": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: "Any number that you change, together with `secret_wo`, to rotate the secret: a change makes the " +
					"provider send `secret_wo` (or remove the stored secret when `secret_wo` is unset). The platform does not keep it.",
			},
			"secret_set": schema.BoolAttribute{
				Computed:            true,
				MarkdownDescription: "Whether the platform holds a secret for the integration. The secret itself is never returned.",
			},
		},
	}
}

func (r *integrationResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig applies, at plan time, the platform's rules for what each
// kind needs in config, naming the map key at fault.
func (r *integrationResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m integrationModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || m.Config.IsUnknown() {
		return
	}
	config := map[string]types.String{}
	if !m.Config.IsNull() {
		resp.Diagnostics.Append(m.Config.ElementsAs(ctx, &config, false)...)
	}
	for k, v := range config {
		if v.IsNull() || v.IsUnknown() || (k != "url" && !strings.HasSuffix(k, "_url")) {
			continue
		}
		if err := validate.HTTPSURL(v.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("config").AtMapKey(k), "Invalid integration config",
				fmt.Sprintf("config.%s: %v.", k, err))
		}
	}
	if m.Kind.IsNull() || m.Kind.IsUnknown() {
		return
	}
	kind := m.Kind.ValueString()
	for _, k := range api.IntegrationRequiredConfig[kind] {
		v, ok := config[k]
		if ok && (v.IsUnknown() || strings.TrimSpace(v.ValueString()) != "") {
			continue
		}
		resp.Diagnostics.AddAttributeError(path.Root("config"), "Missing integration config",
			fmt.Sprintf("config.%s is required when kind is %q, which needs %s in config.",
				k, kind, strings.Join(api.IntegrationRequiredConfig[kind], " and ")))
	}
}

// ModifyPlan plans secret_set, which only the configuration's write-only
// secret can predict: true after a create or rotation with secret_wo set,
// and true again when the platform lost a secret that is still configured,
// which makes the apply send it.
func (r *integrationResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var secret types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("secret_wo"), &secret)...)
	var plan integrationModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	planned := types.BoolUnknown()
	if !secret.IsUnknown() {
		planned = types.BoolValue(!secret.IsNull())
	}
	if !req.State.Raw.IsNull() {
		var state integrationModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if resp.Diagnostics.HasError() {
			return
		}
		if !sendsSecret(state, plan, secret) {
			planned = state.SecretSet
		}
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("secret_set"), planned)...)
}

// sendsSecret says whether an update sends the configured secret: when
// secret_wo_version changes, or when the platform lost a secret that the
// configuration still has.
func sendsSecret(state, plan integrationModel, secret types.String) bool {
	if !plan.SecretWOVersion.Equal(state.SecretWOVersion) {
		return true
	}
	return !secret.IsNull() && !state.SecretSet.IsUnknown() && !state.SecretSet.ValueBool()
}

// withSecret adds the secret to a merge patch of the integration: null
// removes the stored one, which no merge of two specs can say (a spec omits
// a nil secret).
func withSecret(patch json.RawMessage, secret *string) (json.RawMessage, error) {
	members := map[string]any{}
	if err := json.Unmarshal(patch, &members); err != nil {
		return nil, fmt.Errorf("reading the change: %w", err)
	}
	members["secret"] = secret
	return json.Marshal(members)
}

func (r *integrationResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan integrationModel
	var secret types.String
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	// Write-only values are null in the plan; only the configuration has them.
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("secret_wo"), &secret)...)
	spec, diags := plan.spec(ctx, secret)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant := plan.TenantID.ValueString()
	i, err := r.client.CreateIntegration(ctx, tenant, spec)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot create integration "+strconv.Quote(formatID(tenant, spec.Name)), err)
		return
	}
	resp.Diagnostics.Append(setIntegrationState(ctx, &resp.State, resp.Private, i, plan.SecretWOVersion)...)
}

func (r *integrationResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state integrationModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant, name := state.key()
	i, err := r.client.RefreshIntegration(ctx, tenant, name)
	if readFailed(ctx, resp, state.what(), err) {
		return
	}
	explainDrift(ctx, r.client, req.Private, &resp.Diagnostics, "Integration "+strconv.Quote(i.ID), tenant, api.KindIntegration, name, i.Revision)
	resp.Diagnostics.Append(setIntegrationState(ctx, &resp.State, resp.Private, i, state.SecretWOVersion)...)
}

func (r *integrationResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state integrationModel
	var secret types.String
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("secret_wo"), &secret)...)
	from, diags := state.spec(ctx, types.StringNull())
	resp.Diagnostics.Append(diags...)
	to, diags := plan.spec(ctx, types.StringNull())
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant, name := plan.key()
	// Name and kind replace the integration, and neither spec carries the
	// secret: the patch holds what config changes, if anything.
	patch, rev, ok := updateOf(ctx, req, &resp.Diagnostics, plan.what(), from, to)
	if !ok {
		return
	}
	var err error
	if sendsSecret(state, plan, secret) {
		// A null secret_wo sends JSON null, which removes the stored secret.
		if patch, err = withSecret(patch, secret.ValueStringPointer()); err != nil {
			resp.Diagnostics.AddError("Cannot compute the change to "+plan.what(), err.Error())
			return
		}
	}
	var i *api.Integration
	if string(patch) == "{}" {
		// Only secret_wo_version's bookkeeping or nothing changes on the platform.
		i, err = r.client.GetIntegration(ctx, tenant, name)
	} else {
		i, err = r.client.UpdateIntegration(ctx, tenant, name, patch, rev)
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot update "+plan.what(), err)
		return
	}
	resp.Diagnostics.Append(setIntegrationState(ctx, &resp.State, resp.Private, i, plan.SecretWOVersion)...)
}

func (r *integrationResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	deleteObject[integrationModel](ctx, req, resp, r.client.DeleteIntegration)
}

func (r *integrationResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByID(ctx, req, resp, "An integration is imported by its tenant and name", "tenant/name", "tenant_id", "name")
}

// setIntegrationState writes what the platform returned, never the
// secret, and keeps the revision in private state. version is
// secret_wo_version, which only Terraform keeps.
func setIntegrationState(ctx context.Context, state stateSetter, private privateSetter, i *api.Integration, version types.Int64) diag.Diagnostics {
	m := integrationModel{SecretWOVersion: version}
	diags := m.fromAPI(ctx, i)
	if diags.HasError() {
		return diags
	}
	return append(diags, saveState(ctx, state, private, &m, i.Revision)...)
}

// key is the integration's tenant and name.
func (m *integrationModel) key() (tenant, key string) {
	return m.TenantID.ValueString(), m.Name.ValueString()
}

// what names the integration in messages.
func (m *integrationModel) what() string {
	return "integration " + strconv.Quote(formatID(m.TenantID.ValueString(), m.Name.ValueString()))
}

// spec is what the model asks of the platform; secret, from the
// configuration (write-only values are null in the plan), rides along.
func (m *integrationModel) spec(ctx context.Context, secret types.String) (api.IntegrationSpec, diag.Diagnostics) {
	config, diags := stringMapFrom(ctx, m.Config)
	return api.IntegrationSpec{Name: m.Name.ValueString(), Kind: m.Kind.ValueString(), Config: config, Secret: secret.ValueStringPointer()}, diags
}

// fromAPI sets the model from what the platform returned; the secret never
// comes back, and secret_wo_version is left as it is.
func (m *integrationModel) fromAPI(ctx context.Context, i *api.Integration) diag.Diagnostics {
	m.ID = types.StringValue(i.ID)
	m.TenantID = types.StringValue(i.TenantID)
	m.Name = types.StringValue(i.Name)
	m.Kind = types.StringValue(i.Kind)
	m.Config = types.MapNull(types.StringType)
	m.SecretWO = types.StringNull()
	m.SecretSet = types.BoolValue(i.SecretSet)
	if i.Config == nil {
		return nil
	}
	var diags diag.Diagnostics
	m.Config, diags = types.MapValueFrom(ctx, types.StringType, i.Config)
	return diags
}

// stringMapFrom reads a map of strings as the API takes it; null is nil.
func stringMapFrom(ctx context.Context, v types.Map) (map[string]string, diag.Diagnostics) {
	if v.IsNull() || v.IsUnknown() {
		return nil, nil
	}
	out := map[string]string{}
	diags := v.ElementsAs(ctx, &out, false)
	return out, diags
}
