package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validators"
)

var _ datasource.DataSourceWithConfigure = (*environmentDataSource)(nil)

type environmentDataSource struct {
	client *client.Client
}

func newEnvironmentDataSource() datasource.DataSource { return &environmentDataSource{} }

func (d *environmentDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_environment"
}

func (d *environmentDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads one environment of a tenant by its name, for example to use its settings elsewhere.",
		Attributes: map[string]schema.Attribute{
			"tenant_id": tenantIDDataSourceAttribute(),
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Name of the environment, such as `staging`.",
				Validators:          []validator.String{validators.EnvironmentName()},
			},
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "The environment's ID, `<tenant>/<name>` such as `acme/staging`."},
			"type": schema.StringAttribute{
				Computed: true, MarkdownDescription: "Kind of environment: " + quotedList(api.EnvironmentTypes) + ".",
			},
			"settings": schema.MapAttribute{
				Computed: true, ElementType: types.StringType,
				MarkdownDescription: "The environment's configuration; null when it has none.",
			},
			"status": schema.StringAttribute{Computed: true, MarkdownDescription: "Lifecycle state of the environment: `" + api.StatusActive + "`, or `" + api.StatusFailed +
				"` while its data store cannot be made (tenancyd retries)."},
			"database": schema.SingleNestedAttribute{
				Computed:            true,
				MarkdownDescription: databaseDescription,
				Attributes:          databaseDataSourceAttributes(),
			},
			"restore_from_backup": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The backup the environment's data store was seeded from when it was created; null when none.",
			},
		},
	}
}

// databaseDataSourceAttributes are database's attributes in the data source.
func databaseDataSourceAttributes() map[string]schema.Attribute {
	out := map[string]schema.Attribute{}
	for name, doc := range databaseAttributeDocs() {
		if name == "port" {
			out[name] = schema.Int64Attribute{Computed: true, MarkdownDescription: doc}
			continue
		}
		out[name] = schema.StringAttribute{Computed: true, MarkdownDescription: doc}
	}
	return out
}

func (d *environmentDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *environmentDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m environmentModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant, name := m.TenantID.ValueString(), m.Name.ValueString()
	e, err := d.client.GetEnvironment(ctx, tenant, name)
	what := fmt.Sprintf("environment %q of tenant %q", name, tenant)
	if dataReadFailed(&resp.Diagnostics, "Cannot read "+what, path.Root("name"), what, err) {
		return
	}
	resp.Diagnostics.Append(m.fromAPI(ctx, e)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
