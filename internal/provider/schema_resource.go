package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	_ resource.ResourceWithConfigure      = (*schemaResource)(nil)
	_ resource.ResourceWithImportState    = (*schemaResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*schemaResource)(nil)
	_ resource.ResourceWithValidateConfig = (*schemaResource)(nil)
)

// schemaIDFormat is the import ID of a schema: its environment's.
const schemaIDFormat = "tenant/environment"

type schemaResource struct {
	client *client.Client
	data   *providerData
}

func newSchemaResource() resource.Resource { return &schemaResource{} }

// schemaModel is an environment's schema. Migrations is what the platform
// holds; Applied is what the environment's data store records, in version
// order.
type schemaModel struct {
	ID          types.String   `tfsdk:"id"`
	TenantID    types.String   `tfsdk:"tenant_id"`
	Environment types.String   `tfsdk:"environment"`
	Migrations  types.Map      `tfsdk:"migrations"`
	Applied     types.List     `tfsdk:"applied"`
	Timeouts    timeouts.Value `tfsdk:"timeouts"`
}

// appliedMigrationType is an element of applied.
var appliedMigrationType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"version": types.StringType, "checksum": types.StringType, "applied_at": types.StringType,
}}

func (r *schemaResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_schema"
}

func (r *schemaResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "The schema of one tenant environment's data store: its ordered migrations, as teams that run " +
			"Flyway or Atlas per tenant know them. The platform applies the migrations not applied yet in version order " +
			"(2 before 10), each in a transaction of its own, and records each with the SHA-256 checksum of its SQL in the " +
			"store's `" + api.SchemaTable + "` table.\n\n" +
			"The plan shows what will run: `applied` gains one element per pending version, with its checksum, in the order it " +
			"runs. An applied migration is **immutable**: changing or removing one fails at plan time, naming the version; add a " +
			"new version instead. SQL that fails rolls its migration back and fails the apply, naming the version and the " +
			"database's error: the versions applied before it stay applied and in the state, and the next plan shows the rest " +
			"still to run. A migration applied to the store outside Terraform, or recorded with another checksum, shows as a " +
			"change of `applied` on refresh, with a warning that says what differs; Terraform cannot un-apply a migration, so " +
			"a plan that adds migrations then fails until the configuration adopts what was applied (the same SQL under the " +
			"same version) or the table is corrected by hand.\n\n" +
			"**Destroying** a `tenancy_schema` removes it from the state only: migrations cannot be un-applied, so the tables " +
			"and rows stay in the environment, and the platform keeps the record of what was applied (import it back with " +
			"the same ID). To remove the data, destroy the environment, which takes a final backup first.\n\n" +
			"Applying migrations needs a `tenant_admin` (or `platform_admin`) token. Do not also manage an environment that a " +
			"`tenancy_environment_promotion` with the `schema` scope promotes into: the promotion applies the source's " +
			"migrations there itself.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The import ID, `<tenant_id>/<environment>` such as `acme/staging`.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"tenant_id": tenantIDAttribute("schema"),
			"environment": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Name of the environment whose data store the migrations change, such as `staging`; " +
					"usually `tenancy_environment.NAME.name`. Changing it replaces the schema (the migrations stay applied in the old environment).",
				Validators:    []validator.String{validators.EnvironmentName()},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"migrations": schema.MapAttribute{
				ElementType: types.StringType,
				Required:    true,
				MarkdownDescription: fmt.Sprintf("The migrations, from version to SQL, such as "+
					"`{ \"1\" = \"CREATE TABLE orders (id bigint PRIMARY KEY)\", \"2\" = file(\"migrations/2.sql\") }`. "+
					"Each version is %s; they apply in numeric order, and a new version must be above every applied one. Each SQL is "+
					"one or more statements of the store's engine (PostgreSQL, or SQLite for the embedded default), at most %d KiB; "+
					"at most %d migrations. Applied migrations cannot be changed or removed.",
					validate.MigrationVersionRule, api.MaxMigrationBytes>>10, api.MaxMigrations),
				Validators: []validator.Map{
					mapvalidator.SizeAtMost(api.MaxMigrations),
					mapvalidator.KeysAre(validators.MigrationVersion()),
					mapvalidator.ValueStringsAre(
						stringvalidator.LengthAtMost(api.MaxMigrationBytes),
						validators.NotBlank("SQL"),
					),
				},
			},
			"applied": schema.ListNestedAttribute{
				Computed: true,
				MarkdownDescription: "The migrations the data store records as applied, in version order. In a plan, the " +
					"migrations about to run are the elements whose `applied_at` is known only after apply.",
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"version":    schema.StringAttribute{Computed: true, MarkdownDescription: "The migration's version."},
						"checksum":   schema.StringAttribute{Computed: true, MarkdownDescription: "SHA-256 (hex) of the SQL that was applied: `sha256(migrations[version])`."},
						"applied_at": schema.StringAttribute{Computed: true, MarkdownDescription: "When it was applied (RFC 3339)."},
					},
				},
			},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{
				Create: true, Update: true,
				CreateDescription: schemaTimeoutDoc, UpdateDescription: schemaTimeoutDoc,
			}),
		},
	}
}

// schemaTimeoutDoc describes timeouts.create and timeouts.update.
var schemaTimeoutDoc = fmt.Sprintf("How long one migration may run, a duration such as `90s` or `10m`, from 1s to %s; "+
	"default %s. The platform cancels a migration that runs longer and rolls it back, and the apply fails naming its version.",
	shortDuration(api.MaxMigrationTime), shortDuration(api.DefaultMigrationTime))

func (r *schemaResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if r.data = dataFrom(req.ProviderData, &resp.Diagnostics); r.data != nil {
		r.client = r.data.client
	}
}

// ValidateConfig checks the timeouts against what the platform accepts.
func (r *schemaResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var to timeouts.Value
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("timeouts"), &to)...)
	if resp.Diagnostics.HasError() || to.IsNull() || to.IsUnknown() {
		return
	}
	for name, get := range map[string]func(context.Context, time.Duration) (time.Duration, diag.Diagnostics){"create": to.Create, "update": to.Update} {
		v, ok := to.Attributes()[name].(types.String)
		if !ok || v.IsNull() || v.IsUnknown() {
			continue
		}
		d, diags := get(ctx, api.DefaultMigrationTime)
		if diags.HasError() || d < time.Second || d > api.MaxMigrationTime {
			resp.Diagnostics.AddAttributeError(path.Root("timeouts").AtName(name), "Invalid migration timeout",
				fmt.Sprintf("timeouts.%s is %q; it must be a duration from 1s to %s, such as \"90s\" or \"10m\": how long one migration may run.",
					name, v.ValueString(), shortDuration(api.MaxMigrationTime)))
		}
	}
}

// ModifyPlan plans what the apply will run: applied gains, with their
// checksums, the migrations the data store has not applied yet, as the
// platform's dry run lists them. It records the planned migrations, so that
// a promotion from this environment planned after it can preview them (see
// plannedSources). It refuses, at plan time, a configuration
// that changes or removes an applied migration, naming the version.
func (r *schemaResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		if !req.State.Raw.IsNull() {
			var id types.String
			resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("id"), &id)...)
			resp.Diagnostics.AddWarning("Destroying schema "+id.ValueString()+" leaves its migrations applied",
				"Migrations cannot be un-applied: Terraform only forgets this schema. Its tables and rows stay in the "+
					"environment's data store, and the platform keeps the record of what was applied (import it back with this ID). "+
					"To remove the data, destroy the environment, which takes a final backup first.")
		}
		return
	}
	var plan schemaModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var state *schemaModel
	if !req.State.Raw.IsNull() {
		state = &schemaModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	defer func() { resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...) }()
	if known(plan.TenantID) && known(plan.Environment) {
		plan.ID = types.StringValue(formatID(plan.TenantID.ValueString(), plan.Environment.ValueString()))
		if state != nil && !plan.ID.Equal(state.ID) {
			state = nil // A replacement: the new schema is planned as a create.
		}
	}
	if plan.Migrations.IsUnknown() {
		plan.Applied = types.ListUnknown(appliedMigrationType)
		return
	}
	if known(plan.TenantID) && known(plan.Environment) && fullyKnown(ctx, plan.Migrations) && r.client != nil {
		// A promotion from this environment planned after this schema (its
		// triggers reference the migrations) previews what the environment
		// will have applied by then.
		plannedSourcesOf(r.client).planSchema(plan.TenantID.ValueString(), plan.Environment.ValueString(), stringsOf(plan.Migrations))
	}
	configured := stringElements(plan.Migrations)
	var prior []api.AppliedMigration
	var recorded map[string]string
	if state != nil {
		resp.Diagnostics.Append(appliedFromList(ctx, state.Applied, &prior)...)
		recorded = stringsOf(state.Migrations)
	}
	if state != nil && !schemaChanges(configured, recorded, prior) {
		plan.Applied = state.Applied
		return
	}
	if r.data != nil {
		resp.Diagnostics.Append(r.data.mayManage(plan.TenantID, api.RoleTenantAdmin, "applying migrations to "+schemaWhat(plan))...)
	}
	checkImmutable(&resp.Diagnostics, configured, recorded, prior)
	if resp.Diagnostics.HasError() {
		return
	}
	if !fullyKnown(ctx, plan.Migrations) || !known(plan.ID) {
		plan.Applied = types.ListUnknown(appliedMigrationType)
		return
	}
	spec := plan.spec()
	base, pending := prior, pendingVersions(spec.Migrations, prior)
	if r.client != nil {
		summary := "The platform refuses the migrations of " + schemaWhat(plan)
		// An environment created in this very apply has a new, empty store.
		creating := state == nil && r.data.createdInThisRun(plan.TenantID.ValueString(), plan.Environment.ValueString())
		sc, err := r.client.CheckSchema(ctx, plan.TenantID.ValueString(), plan.Environment.ValueString(), spec)
		switch {
		case err == nil:
			base, pending = sc.Applied, sc.Pending
		case !planCheck(ctx, summary, err, creating):
			addSchemaError(&resp.Diagnostics, summary, withCreateHint(err))
			return
		case creating:
			base, pending = nil, pendingVersions(spec.Migrations, nil)
		}
	}
	applied, diags := plannedApplied(ctx, base, pending, spec.Migrations)
	resp.Diagnostics.Append(diags...)
	plan.Applied = applied
}

func (r *schemaResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan schemaModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit, diags := plan.Timeouts.Create(ctx, api.DefaultMigrationTime)
	if resp.Diagnostics.Append(diags...); diags.HasError() {
		return
	}
	sc, err := r.apply(ctx, plan, 0, limit)
	if err != nil {
		// Nothing goes into the state: the versions applied before the
		// failure stay applied on the platform, and the next plan lists them
		// as applied and the others as still to run.
		addSchemaError(&resp.Diagnostics, "Cannot apply the migrations of "+schemaWhat(plan), err)
		return
	}
	tflog.Info(ctx, "schema applied", map[string]any{"id": sc.ID, "applied": len(sc.Applied)})
	resp.Diagnostics.Append(setSchemaState(ctx, &resp.State, resp.Private, sc, plan.Timeouts)...)
}

func (r *schemaResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state schemaModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant, env := state.TenantID.ValueString(), state.Environment.ValueString()
	sc, err := r.client.GetSchema(ctx, tenant, env)
	if readFailed(ctx, resp, fmt.Sprintf("the schema of environment %q of tenant %q", env, tenant), err) {
		return
	}
	explainDrift(ctx, r.client, req.Private, &resp.Diagnostics, "Schema "+sc.ID, tenant, api.KindSchema, env, sc.Revision)
	warnStoreDrift(&resp.Diagnostics, sc)
	resp.Diagnostics.Append(setSchemaState(ctx, &resp.State, resp.Private, sc, state.Timeouts)...)
}

func (r *schemaResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan schemaModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit, diags := plan.Timeouts.Update(ctx, api.DefaultMigrationTime)
	resp.Diagnostics.Append(diags...)
	rev, diags := revisionFrom(ctx, req.Private)
	if resp.Diagnostics.Append(diags...); resp.Diagnostics.HasError() {
		return
	}
	sc, err := r.apply(ctx, plan, rev, limit)
	if err == nil {
		resp.Diagnostics.Append(setSchemaState(ctx, &resp.State, resp.Private, sc, plan.Timeouts)...)
		return
	}
	addSchemaError(&resp.Diagnostics, "Cannot apply the migrations of "+schemaWhat(plan), err)
	// The state becomes what the platform holds now: the migrations applied
	// before the one that failed, and none of it.
	now, getErr := r.client.GetSchema(ctx, plan.TenantID.ValueString(), plan.Environment.ValueString())
	if getErr != nil {
		tflog.Warn(ctx, "cannot read the schema after a failed apply; the state keeps what it held", map[string]any{"error": getErr.Error()})
		resp.Diagnostics.Append(resp.State.Set(ctx, stateBefore(ctx, req))...)
		return
	}
	resp.Diagnostics.Append(setSchemaState(ctx, &resp.State, resp.Private, now, plan.Timeouts)...)
}

// Delete leaves the data store alone: migrations cannot be un-applied, so
// destroying a schema only removes it from the state (the plan warned).
func (r *schemaResource) Delete(ctx context.Context, req resource.DeleteRequest, _ *resource.DeleteResponse) {
	var id types.String
	req.State.GetAttribute(ctx, path.Root("id"), &id)
	tflog.Info(ctx, "schema removed from state; its migrations stay applied", map[string]any{"id": id.ValueString()})
}

func (r *schemaResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByID(ctx, req, resp, "A schema is imported by its tenant and environment", schemaIDFormat, "tenant_id", "environment")
}

// apply sets the planned migrations, cancelling each after limit.
func (r *schemaResource) apply(ctx context.Context, plan schemaModel, rev int64, limit time.Duration) (*api.Schema, error) {
	spec := plan.spec()
	// Each migration may take limit; the platform cancels it after that.
	ctx, cancel := context.WithTimeout(ctx, time.Duration(max(1, len(spec.Migrations)))*limit+time.Minute)
	defer cancel()
	return r.client.SetSchema(ctx, plan.TenantID.ValueString(), plan.Environment.ValueString(), spec, rev, limit)
}

// stateBefore is the prior state of an update, to keep when the platform
// cannot say what it holds after a failure.
func stateBefore(ctx context.Context, req resource.UpdateRequest) *schemaModel {
	var m schemaModel
	req.State.Get(ctx, &m)
	return &m
}

// setSchemaState writes what the backend returned into state and keeps the
// schema's revision in private state for conditional writes.
func setSchemaState(ctx context.Context, state stateSetter, private privateSetter, sc *api.Schema, to timeouts.Value) diag.Diagnostics {
	m := schemaModel{Timeouts: to}
	diags := m.fromAPI(ctx, sc)
	if diags.HasError() {
		return diags
	}
	return append(diags, saveState(ctx, state, private, &m, sc.Revision)...)
}

// spec is the schema the model asks the platform for.
func (m *schemaModel) spec() api.SchemaSpec {
	return api.SchemaSpec{Migrations: stringsOf(m.Migrations)}
}

// fromAPI maps a schema the API returned onto the model.
func (m *schemaModel) fromAPI(ctx context.Context, sc *api.Schema) diag.Diagnostics {
	var diags, d diag.Diagnostics
	m.ID = types.StringValue(formatID(sc.TenantID, sc.Environment))
	m.TenantID = types.StringValue(sc.TenantID)
	m.Environment = types.StringValue(sc.Environment)
	migrations := sc.Migrations
	if migrations == nil {
		migrations = map[string]string{}
	}
	m.Migrations, d = types.MapValueFrom(ctx, types.StringType, migrations)
	diags.Append(d...)
	m.Applied, d = plannedApplied(ctx, sc.Applied, nil, nil)
	diags.Append(d...)
	return diags
}

// plannedApplied is the applied list: base, then pending (versions of
// migrations, in the order they run) with their checksums and an
// applied_at known only after apply.
func plannedApplied(ctx context.Context, base []api.AppliedMigration, pending []string, migrations map[string]string) (types.List, diag.Diagnostics) {
	elems := make([]attr.Value, 0, len(base)+len(pending))
	var diags diag.Diagnostics
	add := func(version, checksum string, at types.String) {
		o, d := types.ObjectValue(appliedMigrationType.AttrTypes, map[string]attr.Value{
			"version": types.StringValue(version), "checksum": types.StringValue(checksum), "applied_at": at,
		})
		diags.Append(d...)
		elems = append(elems, o)
	}
	for _, a := range base {
		add(a.Version, a.Checksum, types.StringValue(a.AppliedAt.UTC().Format(time.RFC3339)))
	}
	for _, v := range pending {
		add(v, api.MigrationChecksum(migrations[v]), types.StringUnknown())
	}
	l, d := types.ListValue(appliedMigrationType, elems)
	diags.Append(d...)
	return l, diags
}

// appliedFromList reads the applied list of a state.
func appliedFromList(ctx context.Context, l types.List, out *[]api.AppliedMigration) diag.Diagnostics {
	if l.IsNull() || l.IsUnknown() {
		return nil
	}
	var elems []struct {
		Version   types.String `tfsdk:"version"`
		Checksum  types.String `tfsdk:"checksum"`
		AppliedAt types.String `tfsdk:"applied_at"`
	}
	diags := l.ElementsAs(ctx, &elems, false)
	for _, e := range elems {
		at, _ := time.Parse(time.RFC3339, e.AppliedAt.ValueString())
		*out = append(*out, api.AppliedMigration{Version: e.Version.ValueString(), Checksum: e.Checksum.ValueString(), AppliedAt: at})
	}
	return diags
}

// schemaChanges reports whether applying configured would do anything: its
// migrations differ from those the platform holds, or some are not applied.
func schemaChanges(configured map[string]types.String, recorded map[string]string, applied []api.AppliedMigration) bool {
	if len(configured) != len(recorded) {
		return true
	}
	for v, sql := range configured {
		if sql.IsUnknown() || sql.ValueString() != recorded[v] {
			return true
		}
	}
	return len(pendingVersions(recorded, applied)) > 0
}

// pendingVersions lists the versions of migrations not in applied, in the
// order they run.
func pendingVersions(migrations map[string]string, applied []api.AppliedMigration) []string {
	done := map[string]bool{}
	for _, a := range applied {
		done[a.Version] = true
	}
	var out []string
	for v := range migrations {
		if !done[v] {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, compareVersions)
	return out
}

// compareVersions orders versions as numbers: 2 before 10.
func compareVersions(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// checkImmutable reports, on each migration at fault, a configuration
// that changes or removes a migration the data store has applied, or adds
// one below it. recorded is the SQL the platform applied; a migration in
// applied that it lacks, or recorded with another checksum, was applied or
// changed outside Terraform, and the message says so.
func checkImmutable(diags *diag.Diagnostics, configured map[string]types.String, recorded map[string]string, applied []api.AppliedMigration) {
	highest := ""
	for _, a := range applied {
		if compareVersions(a.Version, highest) > 0 {
			highest = a.Version
		}
		at := path.Root("migrations").AtMapKey(a.Version)
		sql, inConfig := configured[a.Version]
		was, known := recorded[a.Version]
		when := a.AppliedAt.UTC().Format(time.RFC3339)
		switch {
		case !inConfig && known:
			diags.AddAttributeError(at, "Migration "+a.Version+" is applied and cannot be removed",
				fmt.Sprintf("Migration %s was applied at %s (checksum %s), and applied migrations are immutable: removing it from "+
					"migrations does not un-apply it. Put migrations[%q] back as it was, and add a new version to change the schema.",
					a.Version, when, a.Checksum, a.Version))
		case !inConfig:
			diags.AddAttributeError(at, "Migration "+a.Version+" was applied outside Terraform",
				fmt.Sprintf("The data store records migration %s, applied at %s with checksum %s, and the platform never applied it: "+
					"someone ran it outside Terraform. Terraform cannot un-apply it, so it cannot apply this configuration until it "+
					"knows it: add migrations[%q] with the SQL that was run (its SHA-256 must be %s), or, if it was undone by hand, "+
					"delete its row from the store's %s table.", a.Version, when, a.Checksum, a.Version, a.Checksum, api.SchemaTable))
		case sql.IsUnknown() || api.MigrationChecksum(sql.ValueString()) == a.Checksum:
		case known && was != sql.ValueString():
			diags.AddAttributeError(at, "Migration "+a.Version+" is applied and cannot be changed",
				fmt.Sprintf("Migration %s was applied at %s with checksum %s; the configured SQL has checksum %s. Applied migrations "+
					"are immutable: put migrations[%q] back as it was, and add a new version (above %s) with the change.",
					a.Version, when, a.Checksum, api.MigrationChecksum(sql.ValueString()), a.Version, lastVersion(applied)))
		default:
			diags.AddAttributeError(at, "Migration "+a.Version+" differs in the data store",
				fmt.Sprintf("The data store records migration %s with checksum %s (applied at %s), but its SQL in the configuration has "+
					"checksum %s: the store's %s table was changed, or the migration was run with other SQL, outside Terraform. "+
					"Terraform cannot re-apply it, so it cannot apply this configuration until they agree: set migrations[%q] to the SQL "+
					"that was actually applied, or correct the row's checksum by hand.",
					a.Version, a.Checksum, when, api.MigrationChecksum(sql.ValueString()), api.SchemaTable, a.Version))
		}
	}
	for v := range configured {
		if compareVersions(v, highest) < 0 && !slices.ContainsFunc(applied, func(a api.AppliedMigration) bool { return a.Version == v }) {
			diags.AddAttributeError(path.Root("migrations").AtMapKey(v), "Migration "+v+" comes before an applied one",
				fmt.Sprintf("Migration %s is not applied, and migration %s is: migrations apply in version order. "+
					"Give it a version above %s.", v, highest, highest))
		}
	}
}

// lastVersion is the highest version of applied.
func lastVersion(applied []api.AppliedMigration) string {
	last := ""
	for _, a := range applied {
		if compareVersions(a.Version, last) > 0 {
			last = a.Version
		}
	}
	return last
}

// warnStoreDrift warns when the data store's record of applied migrations
// differs from the migrations the platform applied.
func warnStoreDrift(diags *diag.Diagnostics, sc *api.Schema) {
	if len(sc.Drift) == 0 {
		return
	}
	lines := make([]string, len(sc.Drift))
	for i, d := range sc.Drift {
		lines[i] = "  - " + d.Message
	}
	diags.AddWarning("The data store of schema "+sc.ID+" was changed outside Terraform",
		fmt.Sprintf("Its %s table differs from the migrations the platform applied:\n%s\n\n"+
			"`applied` shows what the store records. Terraform cannot un-apply or re-apply a migration, so a plan that adds "+
			"migrations fails until they agree: add a migration run by hand to migrations with the SQL that was run (the same "+
			"checksum), or correct the table by hand. Meanwhile, a plan that changes nothing else stays empty.",
			api.SchemaTable, strings.Join(lines, "\n")))
}

// addSchemaError reports an API error about migrations, on the migration it
// names when the platform named one ("migrations.3").
func addSchemaError(diags *diag.Diagnostics, summary string, err error) {
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		if v, ok := strings.CutPrefix(apiErr.Field, "migrations."); ok {
			diags.AddAttributeError(path.Root("migrations").AtMapKey(v), summary+": migration "+v, explainError(err))
			return
		}
		if apiErr.Field == api.MigrationTimeoutParam {
			diags.AddAttributeError(path.Root("timeouts"), summary, explainError(err))
			return
		}
	}
	addAPIError(diags, summary, err)
}

// schemaWhat names a schema in messages.
func schemaWhat(m schemaModel) string {
	return fmt.Sprintf("environment %q of tenant %q", m.Environment.ValueString(), m.TenantID.ValueString())
}

// stringElements is the elements of a map of strings, known or not.
func stringElements(m types.Map) map[string]types.String {
	out := map[string]types.String{}
	for k, v := range m.Elements() {
		if s, ok := v.(types.String); ok {
			out[k] = s
		}
	}
	return out
}

// known reports whether a string is known and set.
func known(s types.String) bool { return !s.IsUnknown() && !s.IsNull() }

// shortDuration writes a duration as users write it: 5m, not 5m0s; 1h,
// not 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
