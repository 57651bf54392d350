package provider

import (
	"context"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

var _ datasource.DataSourceWithConfigure = (*featureFlagsDataSource)(nil)

type featureFlagsDataSource struct {
	client *client.Client
}

func newFeatureFlagsDataSource() datasource.DataSource { return &featureFlagsDataSource{} }

type featureFlagsDataSourceModel struct {
	TenantID types.String                 `tfsdk:"tenant_id"`
	Flags    []featureFlagsDataSourceFlag `tfsdk:"flags"`
}

// featureFlagsDataSourceFlag is one flag with every environment entry it has.
type featureFlagsDataSourceFlag struct {
	ID           types.String `tfsdk:"id"`
	Key          types.String `tfsdk:"key"`
	Description  types.String `tfsdk:"description"`
	Environments types.Map    `tfsdk:"environments"`
}

func (d *featureFlagsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_feature_flags"
}

func (d *featureFlagsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads every feature flag of a tenant, with its state in every environment, " +
			"including the environments that no `tenancy_feature_flag` manages (such as those a promotion sets).",
		Attributes: map[string]schema.Attribute{
			"tenant_id": tenantIDDataSourceAttribute(),
			"flags": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The tenant's flags, ordered by key.",
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"id":          schema.StringAttribute{Computed: true, MarkdownDescription: "The flag's ID, `<tenant_id>/<key>`."},
						"key":         schema.StringAttribute{Computed: true, MarkdownDescription: "The flag's key."},
						"description": schema.StringAttribute{Computed: true, MarkdownDescription: "What the flag is for."},
						"environments": schema.MapNestedAttribute{
							Computed:            true,
							MarkdownDescription: "The flag's state per environment, keyed by environment name; null when it has none.",
							NestedObject: schema.NestedAttributeObject{
								Attributes: map[string]schema.Attribute{
									"enabled":            schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the flag is on in this environment."},
									"rollout_percentage": schema.Int64Attribute{Computed: true, MarkdownDescription: "Share of requests, 0 to 100, that see the flag on while enabled."},
								},
							},
						},
					},
				},
			},
		},
	}
}

func (d *featureFlagsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *featureFlagsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m featureFlagsDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant := m.TenantID.ValueString()
	flags, err := d.client.ListFeatureFlags(ctx, tenant)
	if dataReadFailed(&resp.Diagnostics, "Cannot list the feature flags of tenant "+strconv.Quote(tenant), path.Root("tenant_id"), "tenant "+strconv.Quote(tenant), err) {
		return
	}
	m.Flags = make([]featureFlagsDataSourceFlag, 0, len(flags))
	for i := range flags {
		var f featureFlagModel
		resp.Diagnostics.Append(f.fromAPI(ctx, &flags[i], types.MapNull(flagEnvironmentType), true)...)
		m.Flags = append(m.Flags, featureFlagsDataSourceFlag{ID: f.ID, Key: f.Key, Description: f.Description, Environments: f.Environments})
	}
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
