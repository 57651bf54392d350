package provider

import (
	"context"
	"maps"
	"net/url"
	"slices"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validators"
)

var _ datasource.DataSourceWithConfigure = (*tenantsDataSource)(nil)

type tenantsDataSource struct {
	client *client.Client
}

func newTenantsDataSource() datasource.DataSource { return &tenantsDataSource{} }

type tenantsDataSourceModel struct {
	Labels  types.Map            `tfsdk:"labels"`
	Status  types.String         `tfsdk:"status"`
	Region  types.String         `tfsdk:"region"`
	Tenants []tenantSummaryModel `tfsdk:"tenants"`
}

// tenantSummaryModel is one tenant of the list: the attributes one selects
// and addresses tenants by, not every setting (tenancy_tenant has those).
type tenantSummaryModel struct {
	ID                 types.String `tfsdk:"id"`
	Slug               types.String `tfsdk:"slug"`
	DisplayName        types.String `tfsdk:"display_name"`
	Isolation          types.String `tfsdk:"isolation"`
	Region             types.String `tfsdk:"region"`
	Domain             types.String `tfsdk:"domain"`
	Timezone           types.String `tfsdk:"timezone"`
	Language           types.String `tfsdk:"language"`
	Labels             types.Map    `tfsdk:"labels"`
	DataRetentionDays  types.Int64  `tfsdk:"data_retention_days"`
	DeletionProtection types.Bool   `tfsdk:"deletion_protection"`
	Status             types.String `tfsdk:"status"`
	CreatedAt          types.String `tfsdk:"created_at"`
}

func (d *tenantsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_tenants"
}

func (d *tenantsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the tenants the provider's token can see, ordered by slug, optionally only those " +
			"with given labels, status or region. A platform-admin token sees every tenant; a tenant-scoped token sees its own.",
		Attributes: map[string]schema.Attribute{
			"labels": schema.MapAttribute{
				ElementType: types.StringType,
				Optional:    true,
				MarkdownDescription: "Only tenants that have every one of these labels with exactly these values, " +
					"such as `{ tier = \"gold\" }`. Unset or empty matches every tenant.",
				Validators: []validator.Map{validators.LabelsMap()},
			},
			"status": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Only tenants in this lifecycle state: " + quotedList(api.Statuses) + ".",
				Validators:          []validator.String{stringvalidator.OneOf(api.Statuses...)},
			},
			"region": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Only tenants whose data lives in this region, such as `eu-west`.",
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"tenants": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The matching tenants, ordered by slug; empty when none matches.",
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"id":                  computed("The tenant's ID, equal to its slug; what children take as `tenant_id`."),
						"slug":                computed("The tenant's slug."),
						"display_name":        computed("Human-readable name."),
						"isolation":           computed("How the tenant's resources are isolated: " + quotedList(api.Isolations) + "."),
						"region":              computed("Region where the tenant's data lives."),
						"domain":              computed("Custom domain; null when it has none."),
						"timezone":            computed("Default IANA time zone."),
						"language":            computed("Default BCP 47 language."),
						"labels":              schema.MapAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Labels; null when it has none."},
						"data_retention_days": schema.Int64Attribute{Computed: true, MarkdownDescription: "Days the final backup is kept after deletion."},
						"deletion_protection": schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the platform refuses to delete it."},
						"status":              computed("Lifecycle state: " + quotedList(api.Statuses) + "."),
						"created_at":          computed("When the tenant was created (RFC 3339)."),
					},
				},
			},
		},
	}
}

func (d *tenantsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *tenantsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m tenantsDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	query := url.Values{}
	if !m.Labels.IsNull() {
		labels := map[string]string{}
		resp.Diagnostics.Append(m.Labels.ElementsAs(ctx, &labels, false)...)
		// Sorted, so that the same filter always makes the same request.
		for _, k := range slices.Sorted(maps.Keys(labels)) {
			query.Add("label", k+"="+labels[k])
		}
	}
	if v := m.Status.ValueString(); v != "" {
		query.Set("status", v)
	}
	if v := m.Region.ValueString(); v != "" {
		query.Set("region", v)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	tenants, err := d.client.ListTenants(ctx, query)
	if dataReadFailed(&resp.Diagnostics, "Cannot list tenants", path.Empty(), "tenants", err) {
		return
	}
	m.Tenants = make([]tenantSummaryModel, 0, len(tenants))
	for i := range tenants {
		s, diags := tenantSummary(ctx, &tenants[i])
		resp.Diagnostics.Append(diags...)
		m.Tenants = append(m.Tenants, s)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// tenantSummary maps a tenant the API returned onto one element of the list.
func tenantSummary(ctx context.Context, t *api.Tenant) (tenantSummaryModel, diag.Diagnostics) {
	s := tenantSummaryModel{
		ID:                 types.StringValue(t.ID),
		Slug:               types.StringValue(t.Slug),
		DisplayName:        types.StringValue(t.DisplayName),
		Isolation:          types.StringValue(t.Isolation),
		Region:             types.StringValue(t.Region),
		Domain:             types.StringPointerValue(t.Domain),
		Timezone:           types.StringValue(t.Timezone),
		Language:           types.StringValue(t.Language),
		Labels:             types.MapNull(types.StringType),
		DataRetentionDays:  types.Int64PointerValue(t.DataRetentionDays),
		DeletionProtection: types.BoolPointerValue(t.DeletionProtection),
		Status:             types.StringValue(t.Status),
		CreatedAt:          types.StringValue(t.CreatedAt.UTC().Format(time.RFC3339)),
	}
	var diags diag.Diagnostics
	if t.Labels != nil {
		s.Labels, diags = types.MapValueFrom(ctx, types.StringType, t.Labels)
	}
	return s, diags
}
