package provider

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
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
	_ resource.ResourceWithConfigure   = (*backupResource)(nil)
	_ resource.ResourceWithImportState = (*backupResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*backupResource)(nil)
)

// backupIDFormat is the import ID of a backup.
const backupIDFormat = "tenant/backup_id"

type backupResource struct {
	client *client.Client
	data   *providerData
}

func newBackupResource() resource.Resource { return &backupResource{} }

// backupModel is a backup of a tenant or of one environment. Triggers and
// KeepOnDestroy are the provider's own: the platform does not keep them.
type backupModel struct {
	ID            types.String `tfsdk:"id"`
	TenantID      types.String `tfsdk:"tenant_id"`
	Environment   types.String `tfsdk:"environment"`
	RetainDays    types.Int64  `tfsdk:"retain_days"`
	Triggers      types.Map    `tfsdk:"triggers"`
	KeepOnDestroy types.Bool   `tfsdk:"keep_on_destroy"`
	BackupID      types.String `tfsdk:"backup_id"`
	Kind          types.String `tfsdk:"kind"`
	TakenAt       types.String `tfsdk:"taken_at"`
	RetainUntil   types.String `tfsdk:"retain_until"`
	SizeBytes     types.Int64  `tfsdk:"size_bytes"`
	Checksum      types.String `tfsdk:"checksum"`
	Encrypted     types.Bool   `tfsdk:"encrypted"`
	Tables        types.List   `tfsdk:"tables"`
}

// backupTableType is an element of tables.
var backupTableType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"environment": types.StringType, "name": types.StringType, "rows": types.Int64Type, "checksum": types.StringType,
}}

func (r *backupResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_backup"
}

func (r *backupResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A backup of a tenant, or of one of its environments, taken when the resource is created: the " +
			"platform's records and every table and row of the data stores, compressed, and encrypted at rest when tenancyd " +
			"has `TENANCYD_SECRET_KEY`. tenancyd deletes it at `retain_until`; a backup that expired (or was deleted) is gone, " +
			"and the next plan takes a new one.\n\n" +
			"A backup never changes: any change of `tenant_id`, `environment`, `retain_days` or `triggers` replaces it, taking a " +
			"new one. Destroying the resource deletes the backup, unless `keep_on_destroy` is true: then the backup stays until " +
			"its `retain_until`. The tenant's `deletion_protection` guards the tenant, not its backups.\n\n" +
			"**A backup every day**: put the day in `triggers`, such as `triggers = { day = formatdate(\"YYYY-MM-DD\", plantimestamp()) }`, " +
			"and set `keep_on_destroy = true`. The first plan of each day replaces the resource, taking that day's backup, and " +
			"the days before stay until their `retain_until`. Run `terraform apply` from a daily schedule (CI, cron).\n\n" +
			"Restore a backup into a new environment with `tenancy_environment.restore_from_backup`, or, as a platform admin, " +
			"with `POST /v1/backups/{id}/restore`. Taking and deleting backups needs a `tenant_admin` (or `platform_admin`) token.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The import ID, `<tenant_id>/<backup_id>` such as `acme/bkp_0123456789abcdef0123`.",
				PlanModifiers:       keep,
			},
			"tenant_id": tenantIDAttribute("backup"),
			"environment": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "The environment to back up, such as `production`; unset backs up the whole tenant: " +
					"every environment's data and all of the tenant's records. Changing it replaces the backup.",
				Validators:    []validator.String{validators.EnvironmentName()},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"retain_days": schema.Int64Attribute{
				Optional: true, Computed: true,
				MarkdownDescription: fmt.Sprintf("Days the platform keeps the backup, from %d to %d; default the tenant's "+
					"`data_retention_days`. Setting it to another value replaces the backup; removing it keeps the backup as it is.",
					api.MinDataRetentionDays, api.MaxDataRetentionDays),
				Validators:    []validator.Int64{int64validator.Between(api.MinDataRetentionDays, api.MaxDataRetentionDays)},
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown(), int64planmodifier.RequiresReplaceIfConfigured()},
			},
			"triggers": schema.MapAttribute{
				ElementType: types.StringType,
				Optional:    true,
				MarkdownDescription: "Any values; a change takes a new backup (replacing this one). " +
					"`{ day = formatdate(\"YYYY-MM-DD\", plantimestamp()) }` takes one a day. The platform does not keep them.",
				PlanModifiers: []planmodifier.Map{mapplanmodifier.RequiresReplace()},
			},
			"keep_on_destroy": schema.BoolAttribute{
				Optional: true, Computed: true,
				Default: booldefault.StaticBool(false),
				MarkdownDescription: "Whether destroying (or replacing) the resource leaves the backup on the platform until its " +
					"`retain_until`, instead of deleting it. Default `false`. Set it for a daily backup, so that each day's replacement " +
					"keeps the days before. It changes in place.",
			},
			"backup_id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The backup's id, such as `bkp_0123456789abcdef0123`: what `tenancy_environment.restore_from_backup` and the restore API take.",
				PlanModifiers:       keep,
			},
			"kind": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`on_demand` for a backup this resource took; `final` for the final backup of a deleted environment, when imported.",
				PlanModifiers:       keep,
			},
			"taken_at": schema.StringAttribute{
				Computed: true, MarkdownDescription: "When the backup was taken (RFC 3339).", PlanModifiers: keep,
			},
			"retain_until": schema.StringAttribute{
				Computed: true, MarkdownDescription: "When tenancyd deletes the backup (RFC 3339).", PlanModifiers: keep,
			},
			"size_bytes": schema.Int64Attribute{
				Computed: true, MarkdownDescription: "Size of the backup as stored: compressed, and encrypted when `encrypted`.",
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
			"checksum": schema.StringAttribute{
				Computed: true, MarkdownDescription: "SHA-256 (hex) of the backup as stored; a restore refuses a backup that no longer matches it.",
				PlanModifiers: keep,
			},
			"encrypted": schema.BoolAttribute{
				Computed: true, MarkdownDescription: "Whether the backup is encrypted at rest (tenancyd has `TENANCYD_SECRET_KEY`).",
				PlanModifiers: []planmodifier.Bool{boolplanmodifier.UseStateForUnknown()},
			},
			"tables": schema.ListNestedAttribute{
				Computed: true,
				MarkdownDescription: "Every table the backup holds, by environment and name, with its row count and the SHA-256 " +
					"of its rows: the same figures a restore checks.",
				PlanModifiers: []planmodifier.List{listplanmodifier.UseStateForUnknown()},
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"environment": schema.StringAttribute{Computed: true, MarkdownDescription: "The environment the table is in."},
						"name":        schema.StringAttribute{Computed: true, MarkdownDescription: "The table's name."},
						"rows":        schema.Int64Attribute{Computed: true, MarkdownDescription: "How many rows it holds."},
						"checksum":    schema.StringAttribute{Computed: true, MarkdownDescription: "SHA-256 (hex) of its rows, sorted."},
					},
				},
			},
		},
	}
}

func (r *backupResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if r.data = dataFrom(req.ProviderData, &resp.Diagnostics); r.data != nil {
		r.client = r.data.client
	}
}

// ModifyPlan checks at plan time that the token may take (or delete) the
// backup and that the platform would take it: a dry run of a new backup.
func (r *backupResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if r.data == nil || req.Plan.Raw.Equal(req.State.Raw) {
		return
	}
	var m backupModel
	if req.Plan.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
		if !resp.Diagnostics.HasError() && !m.KeepOnDestroy.ValueBool() {
			resp.Diagnostics.Append(r.data.mayManage(m.TenantID, api.RoleTenantAdmin, "deleting backup "+m.BackupID.ValueString())...)
		}
		return
	}
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !m.BackupID.IsUnknown() {
		return // Only keep_on_destroy changes, in state.
	}
	resp.Diagnostics.Append(r.data.mayManage(m.TenantID, api.RoleTenantAdmin, "taking a backup of "+backupWhat(m))...)
	if resp.Diagnostics.HasError() || !known(m.TenantID) || m.Environment.IsUnknown() {
		return
	}
	summary := "The platform would not take a backup of " + backupWhat(m)
	_, err := r.client.CheckBackup(ctx, m.TenantID.ValueString(), m.spec())
	if !planCheck(ctx, summary, err, r.data.createdInThisRun(m.TenantID.ValueString(), m.Environment.ValueString())) {
		addAPIError(&resp.Diagnostics, summary, withCreateHint(err))
	}
}

func (r *backupResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan backupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	b, err := r.client.CreateBackup(ctx, plan.TenantID.ValueString(), plan.spec())
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot take a backup of "+backupWhat(plan), err)
		return
	}
	tflog.Info(ctx, "backup taken", map[string]any{"backup_id": b.ID, "size_bytes": b.SizeBytes})
	resp.Diagnostics.Append(setBackupState(ctx, &resp.State, b, plan)...)
}

func (r *backupResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state backupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant, id := state.TenantID.ValueString(), state.BackupID.ValueString()
	b, err := r.client.GetBackup(ctx, tenant, id)
	// An expired or deleted backup is gone for good: the plan takes a new one.
	if readFailed(ctx, resp, fmt.Sprintf("backup %s of tenant %q", id, tenant), err) {
		return
	}
	resp.Diagnostics.Append(setBackupState(ctx, &resp.State, b, state)...)
}

// Update changes only keep_on_destroy, which the platform does not keep:
// every other change replaces the backup.
func (r *backupResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state backupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	state.KeepOnDestroy = plan.KeepOnDestroy
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *backupResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state backupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant, id := state.TenantID.ValueString(), state.BackupID.ValueString()
	if state.KeepOnDestroy.ValueBool() {
		tflog.Info(ctx, "backup kept until its retain_until", map[string]any{"backup_id": id, "retain_until": state.RetainUntil.ValueString()})
		return
	}
	err := r.client.DeleteBackup(ctx, tenant, id)
	deleteFailed(&resp.Diagnostics, fmt.Sprintf("backup %s of tenant %q", id, tenant), err)
}

func (r *backupResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByID(ctx, req, resp, "A backup is imported by its tenant and backup id", backupIDFormat, "tenant_id", "backup_id")
}

// setBackupState writes what the platform returned into state, with the
// triggers and keep_on_destroy of m, which only Terraform keeps. A backup
// has no revision: it never changes.
func setBackupState(ctx context.Context, state stateSetter, b *api.Backup, m backupModel) diag.Diagnostics {
	diags := m.fromAPI(ctx, b)
	if m.KeepOnDestroy.IsNull() {
		m.KeepOnDestroy = types.BoolValue(false) // Imported.
	}
	if diags.HasError() {
		return diags
	}
	return append(diags, state.Set(ctx, &m)...)
}

// spec is the backup the configuration asks for, as the API takes it.
func (m *backupModel) spec() api.BackupRequest {
	req := api.BackupRequest{Environment: m.Environment.ValueStringPointer()}
	if !m.RetainDays.IsNull() && !m.RetainDays.IsUnknown() {
		req.RetainDays = m.RetainDays.ValueInt64Pointer()
	}
	return req
}

// fromAPI maps a backup the API returned onto the model; triggers and
// keep_on_destroy are left as they are.
func (m *backupModel) fromAPI(ctx context.Context, b *api.Backup) diag.Diagnostics {
	m.ID = types.StringValue(formatID(b.Tenant, b.ID))
	m.TenantID = types.StringValue(b.Tenant)
	m.BackupID = types.StringValue(b.ID)
	m.Environment = types.StringPointerValue(b.Environment)
	m.Kind = types.StringValue(b.Kind)
	m.TakenAt = types.StringValue(b.TakenAt.UTC().Format(time.RFC3339))
	m.RetainUntil = types.StringValue(b.RetainUntil.UTC().Format(time.RFC3339))
	// The platform keeps when the backup expires; the days are how long after it was taken.
	m.RetainDays = types.Int64Value(int64(math.Round(b.RetainUntil.Sub(b.TakenAt).Hours() / 24)))
	m.SizeBytes = types.Int64Value(b.SizeBytes)
	m.Checksum = types.StringValue(b.Checksum)
	m.Encrypted = types.BoolValue(b.Encrypted)
	var diags diag.Diagnostics
	tables := []attr.Value{}
	for _, st := range b.Stores {
		for _, t := range st.Tables {
			o, d := types.ObjectValue(backupTableType.AttrTypes, map[string]attr.Value{
				"environment": types.StringValue(st.Environment), "name": types.StringValue(t.Name),
				"rows": types.Int64Value(t.Rows), "checksum": types.StringValue(t.Checksum),
			})
			diags.Append(d...)
			tables = append(tables, o)
		}
	}
	var d diag.Diagnostics
	m.Tables, d = types.ListValue(backupTableType, tables)
	diags.Append(d...)
	return diags
}

// backupWhat names what a backup is of, in messages.
func backupWhat(m backupModel) string {
	if !m.Environment.IsNull() && !m.Environment.IsUnknown() {
		return fmt.Sprintf("environment %q of tenant %q", m.Environment.ValueString(), m.TenantID.ValueString())
	}
	return fmt.Sprintf("tenant %q", m.TenantID.ValueString())
}
