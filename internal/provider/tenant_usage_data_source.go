package provider

import (
	"context"
	"strconv"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

var _ datasource.DataSourceWithConfigure = (*tenantUsageDataSource)(nil)

type tenantUsageDataSource struct {
	client *client.Client
}

func newTenantUsageDataSource() datasource.DataSource { return &tenantUsageDataSource{} }

type tenantUsageModel struct {
	TenantID        types.String  `tfsdk:"tenant_id"`
	APICalls        types.Int64   `tfsdk:"api_calls"`
	APIErrors       types.Int64   `tfsdk:"api_errors"`
	ErrorRate       types.Float64 `tfsdk:"error_rate"`
	Users           types.Int64   `tfsdk:"users"`
	Environments    types.Int64   `tfsdk:"environments"`
	StorageBytes    types.Int64   `tfsdk:"storage_bytes"`
	WindowStartedAt types.String  `tfsdk:"window_started_at"`
}

func (d *tenantUsageDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_tenant_usage"
}

func (d *tenantUsageDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	count := func(desc string) schema.Int64Attribute {
		return schema.Int64Attribute{Computed: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads a tenant's use of the platform: the API calls its tokens (and platform tokens on its paths) made " +
			"since `window_started_at` and how many failed, and the users, environments and storage it holds now. " +
			"Call counts reach the database every few seconds, so a read may miss the last seconds' calls made through other tenancyd replicas.",
		Attributes: map[string]schema.Attribute{
			"tenant_id":  tenantIDDataSourceAttribute(),
			"api_calls":  count("API requests counted since `window_started_at`."),
			"api_errors": count("Of those, the requests answered with an HTTP status of 400 or above (refusals such as 404 and 429 included)."),
			"error_rate": schema.Float64Attribute{
				Computed: true, MarkdownDescription: "`api_errors` divided by `api_calls`, from 0 to 1; 0 when there were no calls.",
			},
			"users":             count("Users the tenant holds now."),
			"environments":      count("Environments the tenant holds now."),
			"storage_bytes":     count("Bytes of configuration the platform stores for the tenant now (its objects' JSON)."),
			"window_started_at": schema.StringAttribute{Computed: true, MarkdownDescription: "Since when calls are counted (RFC 3339): the tenant's creation."},
		},
	}
}

func (d *tenantUsageDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *tenantUsageDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m tenantUsageModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant := m.TenantID.ValueString()
	u, err := d.client.GetUsage(ctx, tenant)
	if dataReadFailed(&resp.Diagnostics, "Cannot read the usage of tenant "+strconv.Quote(tenant), path.Root("tenant_id"), "tenant "+strconv.Quote(tenant), err) {
		return
	}
	m.fromAPI(u)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// fromAPI maps a tenant's usage the API returned onto the model.
func (m *tenantUsageModel) fromAPI(u *api.Usage) {
	m.TenantID = types.StringValue(u.TenantID)
	m.APICalls = types.Int64Value(u.APICalls)
	m.APIErrors = types.Int64Value(u.APIErrors)
	m.ErrorRate = types.Float64Value(u.ErrorRate)
	m.Users = types.Int64Value(u.Users)
	m.Environments = types.Int64Value(u.Environments)
	m.StorageBytes = types.Int64Value(u.StorageBytes)
	m.WindowStartedAt = types.StringValue(u.WindowStartedAt.UTC().Format(time.RFC3339))
}
