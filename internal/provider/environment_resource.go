package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
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
	_ resource.ResourceWithConfigure   = (*environmentResource)(nil)
	_ resource.ResourceWithImportState = (*environmentResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*environmentResource)(nil)
)

// environmentIDFormat is the import ID of an environment.
const environmentIDFormat = "tenant/environment"

// Default time limits of an environment's operations; timeouts overrides
// them. Creating one waits for its data store, which tenancyd retries when
// it could not make it; updating one may move its data to another
// placement; deleting one takes its final backup first.
const (
	defaultEnvironmentCreateTimeout = 5 * time.Minute
	defaultEnvironmentUpdateTimeout = 5 * time.Minute
	defaultEnvironmentDeleteTimeout = 10 * time.Minute
)

type environmentResource struct {
	client *client.Client
	data   *providerData
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
	// Database is where the environment's data store lives, without secrets.
	Database types.Object `tfsdk:"database"`
	// RestoreFromBackup seeds the data store when the environment is created.
	RestoreFromBackup types.String `tfsdk:"restore_from_backup"`
}

// environmentResourceModel is the resource's attributes: the environment's,
// and the time limits of its operations.
type environmentResourceModel struct {
	environmentModel
	Timeouts timeouts.Value `tfsdk:"timeouts"`
}

// databaseType is the type of database.
var databaseType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"engine": types.StringType, "host": types.StringType, "port": types.Int64Type,
	"name": types.StringType, "schema": types.StringType, "isolation": types.StringType,
}}

// databaseDescription documents database, for the resource and the data source.
var databaseDescription = "Where the environment's data store lives, without secrets (mint credentials with the " +
	"`tenancy_database_credentials` ephemeral resource): `engine` (" + quotedList(api.Engines) + "), `host`, `port`, " +
	"`name` (the database, or on SQLite the path of the environment's file on tenancyd's host), `schema` (empty on SQLite, " +
	"which has no schemas) and `isolation`, the store's placement: `" + api.PlacementShared + "` (a schema in the shared tenant-data " +
	"database) or `" + api.PlacementDedicated + "` (a database of its own). It changes when the tenant's `isolation` changes (or, " +
	"under `" + api.IsolationHybrid + "`, the environment's `type` to or from `" + api.EnvProduction + "`): the platform moves the " +
	"data, and the plan shows `database` as known after apply. Null while the store is not provisioned (`status` is `" +
	api.StatusFailed + "`)."

// databaseAttributes are database's nested attributes, all computed.
func databaseAttributeDocs() map[string]string {
	return map[string]string{
		"engine":    quotedList(api.Engines) + ".",
		"host":      "The PostgreSQL server's host (or Unix socket directory); empty on SQLite.",
		"port":      "The PostgreSQL server's port; 0 on SQLite.",
		"name":      "The database's name; on SQLite, the path of the environment's file on tenancyd's host.",
		"schema":    "The environment's schema; empty on SQLite.",
		"isolation": "The store's placement: " + quotedList(api.Placements) + ".",
	}
}

// settingsValidators check settings as the platform does, so that a bad key
// or an oversized value fails at plan time.
func settingsValidators() []validator.Map {
	return []validator.Map{
		mapvalidator.SizeAtMost(api.MaxSettings),
		mapvalidator.KeysAre(validators.LabelKey("a settings key")),
		mapvalidator.ValueStringsAre(stringvalidator.LengthAtMost(api.MaxSettingValueBytes)),
	}
}

func (r *environmentResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_environment"
}

func (r *environmentResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
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
				Validators:    []validator.String{validators.EnvironmentName()},
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
					"Unset and `{}` differ: unset leaves the environment without settings. In the target of a "+
					"`tenancy_environment_promotion` (which should `ignore_changes = [settings]`), the state keeps the settings "+
					"Terraform last wrote or read while only the promotion changed them since; the `tenancy_environment` data "+
					"source reads them as they are.",
					validate.LabelKeyRule, validate.LabelKeyPattern, api.MaxSettingValueBytes, api.MaxSettings),
				Validators: settingsValidators(),
			},
			"status": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "Lifecycle state of the environment: `" + api.StatusActive + "` once its data store is made, or `" +
					api.StatusFailed + "` while making it fails (tenancyd retries). Creating an environment waits, within `timeouts.create`, " +
					"for it to be `" + api.StatusActive + "`; a `" + api.StatusFailed + "` one fails the apply at once with the platform's reason, " +
					"and stays in state as tainted, so that the next apply replaces it.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"database": schema.SingleNestedAttribute{
				Computed:            true,
				MarkdownDescription: databaseDescription,
				Attributes:          databaseResourceAttributes(),
			},
			"restore_from_backup": schema.StringAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "The id of a backup to seed the new environment's data store from, such as " +
					"`tenancy_backup.production_nightly.backup_id`: an environment backup, or a tenant backup that holds an " +
					"environment of this name (a sandbox cloned from production's backup, for instance). It is used only when " +
					"the environment is created. Setting it to **another** backup id replaces the environment, so that it is " +
					"created again from that backup (its current data goes into its final backup first): with a nightly backup, " +
					"a sandbox that follows last night's production. Removing it changes nothing. A tenant backup of another " +
					"tenant needs a `platform_admin` token.",
				Validators: []validator.String{validators.BackupID()},
				PlanModifiers: []planmodifier.String{
					stringplanmodifier.UseStateForUnknown(),
					stringplanmodifier.RequiresReplaceIfConfigured(),
				},
			},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{
				Create: true, Update: true, Delete: true,
				CreateDescription: fmt.Sprintf("How long creating the environment may take, its data store (and a `restore_from_backup`) "+
					"included, such as `\"10m\"`; default `%s`.", shortDuration(defaultEnvironmentCreateTimeout)),
				UpdateDescription: fmt.Sprintf("How long an update may take, moving the data to another placement included; default `%s`.",
					shortDuration(defaultEnvironmentUpdateTimeout)),
				DeleteDescription: fmt.Sprintf("How long deleting the environment may take, its final backup included; default `%s`.",
					shortDuration(defaultEnvironmentDeleteTimeout)),
			}),
		},
	}
}

// databaseResourceAttributes are database's attributes in the resource.
func databaseResourceAttributes() map[string]schema.Attribute {
	docs := databaseAttributeDocs()
	out := map[string]schema.Attribute{}
	for name, doc := range docs {
		if name == "port" {
			out[name] = schema.Int64Attribute{Computed: true, MarkdownDescription: doc}
			continue
		}
		out[name] = schema.StringAttribute{Computed: true, MarkdownDescription: doc}
	}
	return out
}

func (r *environmentResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if r.data = dataFrom(req.ProviderData, &resp.Diagnostics); r.data != nil {
		r.client = r.data.client
	}
}

// ModifyPlan plans database: where the data store will be (see
// planDatabase), and checks a new environment's restore_from_backup with
// the platform's dry run. It records the planned settings, so that a
// promotion from this environment planned after it can preview what the
// environment will be (see plannedSources): as the platform holds them
// when the plan leaves them alone and Read kept the state's.
func (r *environmentResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.client == nil {
		return
	}
	var plan environmentResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	creating := req.State.Raw.IsNull()
	var state environmentResourceModel
	if creating {
		if known(plan.TenantID) && known(plan.Name) {
			r.data.planCreate(formatID(plan.TenantID.ValueString(), plan.Name.ValueString()))
		}
		r.checkRestore(ctx, plan.environmentModel, &resp.Diagnostics)
	} else {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if resp.Diagnostics.HasError() {
			return
		}
		if db := r.planDatabase(ctx, plan.environmentModel, state.environmentModel); !db.Equal(plan.Database) {
			resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("database"), db)...)
		}
	}
	if !fullyKnown(ctx, plan.TenantID) || !fullyKnown(ctx, plan.Name) || !fullyKnown(ctx, plan.Settings) {
		return
	}
	var settings map[string]string
	if !plan.Settings.IsNull() {
		settings = stringsOf(plan.Settings)
	}
	planned := plannedSourcesOf(r.client)
	tenant, name := plan.TenantID.ValueString(), plan.Name.ValueString()
	if held, ok := planned.heldSettings(tenant, name); ok && !creating && plan.Settings.Equal(state.Settings) {
		// Read kept what a promotion into this environment wrote out of
		// the state; the settings, unchanged, stay as the platform holds them.
		settings = held
	}
	planned.planSettings(tenant, name, settings)
}

// planDatabase is the database an update leaves: the state's, unless the
// store's placement changes (the tenant's isolation planned in this run,
// or, under hybrid, a type to or from production), which moves the data to
// a place known only after apply.
func (r *environmentResource) planDatabase(ctx context.Context, plan, state environmentModel) types.Object {
	if state.Database.IsNull() || plan.Type.IsUnknown() || !known(plan.TenantID) {
		return state.Database
	}
	placed, ok := state.Database.Attributes()["isolation"].(types.String)
	if !ok {
		return state.Database
	}
	isolation, planned := r.data.plannedIsolation(plan.TenantID.ValueString())
	if !planned && plan.Type.Equal(state.Type) {
		return state.Database
	}
	if !planned {
		t, err := r.client.GetTenant(ctx, plan.TenantID.ValueString())
		if err != nil {
			tflog.Warn(ctx, "cannot read the tenant's isolation to plan database", map[string]any{"error": err.Error()})
			return types.ObjectUnknown(databaseType.AttrTypes)
		}
		isolation = t.Isolation
	}
	if isolation == "" || api.PlacementFor(isolation, plan.Type.ValueString()) != placed.ValueString() {
		return types.ObjectUnknown(databaseType.AttrTypes)
	}
	return state.Database
}

// checkRestore asks the platform, at plan time, whether a new environment
// can be seeded from restore_from_backup: the backup exists, the token may
// restore it, and it holds an environment of this name.
func (r *environmentResource) checkRestore(ctx context.Context, plan environmentModel, diags *diag.Diagnostics) {
	if !known(plan.RestoreFromBackup) || !known(plan.TenantID) || !known(plan.Name) || plan.Type.IsUnknown() {
		return
	}
	spec, d := plan.spec(ctx)
	if diags.Append(d...); d.HasError() {
		return
	}
	summary := fmt.Sprintf("Cannot create environment %q of tenant %q from backup %s",
		plan.Name.ValueString(), plan.TenantID.ValueString(), plan.RestoreFromBackup.ValueString())
	_, err := r.client.CheckEnvironment(ctx, plan.TenantID.ValueString(), spec)
	// The tenant may be created in this very apply.
	if !planCheck(ctx, summary, err, r.data.createdInThisRun(plan.TenantID.ValueString(), "")) {
		addAPIError(diags, summary, err)
	}
}

func (r *environmentResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan environmentResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit, diags := plan.Timeouts.Create(ctx, defaultEnvironmentCreateTimeout)
	if resp.Diagnostics.Append(diags...); diags.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

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
	tflog.Info(ctx, "environment created", map[string]any{"id": e.ID, "status": e.Status})
	// The environment exists from here on: it goes into state even if its
	// data store is not ready in time, so Terraform taints it instead of
	// forgetting it.
	active, waitErr := waitForEnvironment(ctx, r.client, e)
	resp.Diagnostics.Append(setEnvironmentState(ctx, &resp.State, resp.Private, active, plan.Timeouts)...)
	switch {
	case errors.Is(waitErr, errEnvironmentFailed):
		resp.Diagnostics.AddError(fmt.Sprintf("Environment %q of tenant %q failed to provision", spec.Name, tenant),
			fmt.Sprintf("The environment was created, but the platform could not make its data store: %s. "+
				"tenancyd keeps retrying; the environment is kept in state as tainted, and the next apply replaces it. "+
				"If the reason is on the platform's side (its tenant data database or directory), fix that first.",
				orNone(active.StatusReason)))
	case waitErr != nil:
		resp.Diagnostics.AddError(fmt.Sprintf("Environment %q of tenant %q did not become active", spec.Name, tenant),
			fmt.Sprintf("The environment was created, but its data store is still %s after %s (timeouts.create): %v (%s). "+
				"tenancyd keeps retrying; the environment is kept in state as tainted, and the next apply replaces it, "+
				"or raise timeouts.create.", active.Status, limit, waitErr, orNone(active.StatusReason)))
	}
}

// errEnvironmentFailed is an environment whose data store the platform
// could not make: its status is failed, and its status_reason says why.
var errEnvironmentFailed = errors.New("the environment's data store could not be provisioned")

// waitForEnvironment polls until an environment is active (its data store
// made), failed (errEnvironmentFailed: tenancyd retries, but the apply
// should not wait for a fix that may need a person) or ctx ends, returning
// the last environment seen either way.
func waitForEnvironment(ctx context.Context, c *client.Client, e *api.Environment) (*api.Environment, error) {
	delay := 200 * time.Millisecond
	for e.Status != api.StatusActive {
		if e.Status == api.StatusFailed {
			return e, errEnvironmentFailed
		}
		select {
		case <-ctx.Done():
			return e, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 2*time.Second)
		next, err := c.GetEnvironment(ctx, e.TenantID, e.Name)
		if err != nil {
			return e, err
		}
		e = next
		tflog.Debug(ctx, "waiting for the environment's data store", map[string]any{"id": e.ID, "status": e.Status, "reason": e.StatusReason})
	}
	return e, nil
}

// orNone is s, or "no reason given".
func orNone(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

func (r *environmentResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state environmentResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant, name := state.TenantID.ValueString(), state.Name.ValueString()
	e, err := r.client.RefreshEnvironment(ctx, tenant, name)
	if readFailed(ctx, resp, fmt.Sprintf("environment %q of tenant %q", name, tenant), err) {
		return
	}
	next := environmentResourceModel{Timeouts: state.Timeouts}
	resp.Diagnostics.Append(next.fromAPI(ctx, e)...)
	if resp.Diagnostics.HasError() {
		return
	}
	rev := e.Revision
	if drift := readDrift(ctx, r.client, req.Private, tenant, api.KindEnvironment, e.Name, e.Revision); drift.ownChangesOnly() {
		// Only promotions of the configuration (or their rollbacks) wrote
		// the environment since Terraform recorded it: its settings are
		// theirs, shown by the promotion resource, and the state keeps
		// what Terraform last wrote or read, so that a refresh right after
		// an apply that promoted has nothing to record.
		next.Settings = state.Settings
		rev = drift.last
		plannedSourcesOf(r.client).holdSettings(tenant, name, e.Settings)
	} else {
		drift.warn(ctx, &resp.Diagnostics, "Environment "+e.ID)
	}
	resp.Diagnostics.Append(saveState(ctx, &resp.State, resp.Private, &next, rev)...)
}

func (r *environmentResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state environmentResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit, diags := plan.Timeouts.Update(ctx, defaultEnvironmentUpdateTimeout)
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
	tenant, name := state.TenantID.ValueString(), state.Name.ValueString()
	patch, rev, ok := updateOf(ctx, req, &resp.Diagnostics, fmt.Sprintf("environment %q of tenant %q", name, tenant), from, to)
	if !ok {
		return
	}
	if plan.Database.IsUnknown() && plan.Type.Equal(state.Type) {
		// The tenant's new isolation moved the data earlier in this apply,
		// which gave the environment a new revision: Terraform's own change.
		rev = 0
	}
	var e *api.Environment
	var err error
	if string(patch) == "{}" {
		// Only database is planned to change: the tenant's isolation moved
		// the data in this apply. Read where it is now.
		e, err = r.client.GetEnvironment(ctx, tenant, name)
	} else {
		e, err = writeAtOwnRevision(ctx, r.client, tenant, api.KindEnvironment, name, rev,
			func(ctx context.Context) (int64, error) {
				cur, err := r.client.GetEnvironment(ctx, tenant, name)
				if err != nil {
					return 0, err
				}
				return cur.Revision, nil
			},
			func(rev int64) (*api.Environment, error) {
				return r.client.UpdateEnvironment(ctx, tenant, name, patch, rev)
			})
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, fmt.Sprintf("Cannot update environment %q of tenant %q", name, tenant), err)
		return
	}
	resp.Diagnostics.Append(setEnvironmentState(ctx, &resp.State, resp.Private, e, plan.Timeouts)...)
}

func (r *environmentResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state environmentResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit, diags := state.Timeouts.Delete(ctx, defaultEnvironmentDeleteTimeout)
	if resp.Diagnostics.Append(diags...); diags.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

	tenant, name := state.TenantID.ValueString(), state.Name.ValueString()
	// Whatever its revision: see deleteRevision.
	err := r.client.DeleteEnvironment(ctx, tenant, name)
	deleteFailed(&resp.Diagnostics, fmt.Sprintf("environment %q of tenant %q", name, tenant), err)
}

func (r *environmentResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByID(ctx, req, resp, "An environment is imported by its tenant and name", environmentIDFormat, "tenant_id", "name")
}

// setEnvironmentState writes what the backend returned into state, with the
// configuration's timeouts, and keeps the environment's revision in private
// state for conditional writes.
func setEnvironmentState(ctx context.Context, state stateSetter, private privateSetter, e *api.Environment, to timeouts.Value) diag.Diagnostics {
	m := environmentResourceModel{Timeouts: to}
	diags := m.fromAPI(ctx, e)
	if diags.HasError() {
		return diags
	}
	return append(diags, saveState(ctx, state, private, &m, e.Revision)...)
}

// spec is the environment the configuration asks for, as the API takes it.
func (m *environmentModel) spec(ctx context.Context) (api.EnvironmentSpec, diag.Diagnostics) {
	var diags diag.Diagnostics
	s := api.EnvironmentSpec{Name: m.Name.ValueString(), Type: m.Type.ValueString()}
	if known(m.RestoreFromBackup) {
		s.RestoreFromBackup = m.RestoreFromBackup.ValueStringPointer()
	}
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
	m.RestoreFromBackup = types.StringPointerValue(e.RestoreFromBackup)
	m.Settings = types.MapNull(types.StringType)
	if e.Settings != nil {
		m.Settings, diags = types.MapValueFrom(ctx, types.StringType, e.Settings)
	}
	m.Database = types.ObjectNull(databaseType.AttrTypes)
	if db := e.Database; db != nil {
		var d diag.Diagnostics
		m.Database, d = types.ObjectValue(databaseType.AttrTypes, map[string]attr.Value{
			"engine": types.StringValue(db.Engine), "host": types.StringValue(db.Host), "port": types.Int64Value(db.Port),
			"name": types.StringValue(db.Name), "schema": types.StringValue(db.Schema), "isolation": types.StringValue(db.Isolation),
		})
		diags.Append(d...)
	}
	return diags
}
