package provider

import (
	"context"
	"net/url"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

var _ datasource.DataSourceWithConfigure = (*environmentsDataSource)(nil)

type environmentsDataSource struct {
	client *client.Client
}

func newEnvironmentsDataSource() datasource.DataSource { return &environmentsDataSource{} }

type environmentsDataSourceModel struct {
	TenantID     types.String       `tfsdk:"tenant_id"`
	Type         types.String       `tfsdk:"type"`
	Environments []environmentModel `tfsdk:"environments"`
}

func (d *environmentsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_environments"
}

func (d *environmentsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the environments of a tenant, with their import IDs and settings: to write `import` blocks " +
			"for environments that exist on the platform before Terraform manages them, or to use their settings elsewhere.",
		Attributes: map[string]schema.Attribute{
			"tenant_id": tenantIDDataSourceAttribute(),
			"type": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Only the environments of this kind: " + quotedList(api.EnvironmentTypes) + ".",
				Validators:          []validator.String{stringvalidator.OneOf(api.EnvironmentTypes...)},
			},
			"environments": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The tenant's environments, ordered by name.",
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"id":        schema.StringAttribute{Computed: true, MarkdownDescription: "The import ID of the environment, `<tenant>/<name>`."},
						"tenant_id": schema.StringAttribute{Computed: true, MarkdownDescription: "The tenant's slug."},
						"name":      schema.StringAttribute{Computed: true, MarkdownDescription: "The environment's name."},
						"type":      schema.StringAttribute{Computed: true, MarkdownDescription: "Kind of environment: " + quotedList(api.EnvironmentTypes) + "."},
						"settings": schema.MapAttribute{
							Computed: true, ElementType: types.StringType,
							MarkdownDescription: "The environment's configuration; null when it has none.",
						},
						"status": schema.StringAttribute{Computed: true, MarkdownDescription: "Lifecycle state of the environment: `active`, or `failed` while its data store cannot be made (tenancyd retries)."},
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
				},
			},
		},
	}
}

func (d *environmentsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *environmentsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m environmentsDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant := m.TenantID.ValueString()
	query := url.Values{}
	if !m.Type.IsNull() {
		query.Set("type", m.Type.ValueString())
	}
	envs, err := d.client.ListEnvironments(ctx, tenant, query)
	if dataReadFailed(&resp.Diagnostics, "Cannot list the environments of tenant "+strconv.Quote(tenant), path.Root("tenant_id"), "tenant "+strconv.Quote(tenant), err) {
		return
	}
	m.Environments = make([]environmentModel, len(envs))
	for i := range envs {
		resp.Diagnostics.Append(m.Environments[i].fromAPI(ctx, &envs[i])...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
