package provider

import (
	"context"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validators"
)

var _ datasource.DataSourceWithConfigure = (*tenantDataSource)(nil)

type tenantDataSource struct {
	client *client.Client
}

func newTenantDataSource() datasource.DataSource { return &tenantDataSource{} }

func (d *tenantDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_tenant"
}

func (d *tenantDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads one tenant by its slug.",
		Attributes: map[string]schema.Attribute{
			"slug": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "The tenant's slug.",
				Validators:          []validator.String{validators.Slug()},
			},
			"id":           computed("The tenant's ID, equal to its slug."),
			"display_name": computed("Human-readable name."),
			"isolation":    computed("`shared`, `dedicated` or `hybrid`."),
			"region":       computed("Region where the tenant's data lives."),
			"domain":       computed("Custom domain, if any."),
			"timezone":     computed("Default IANA time zone."),
			"language":     computed("Default BCP 47 language."),
			"status":       computed("`provisioning` or `active`."),
			"created_at":   computed("When the tenant was created (RFC 3339)."),
			"branding": schema.SingleNestedAttribute{
				Computed: true, MarkdownDescription: "How the tenant's UI looks.",
				Attributes: map[string]schema.Attribute{
					"logo_url":      computed("URL of the logo."),
					"primary_color": computed("Primary colour as `#RRGGBB`."),
				},
			},
			"labels": schema.MapAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Labels."},
			"security_policy": schema.SingleNestedAttribute{
				Computed: true, MarkdownDescription: "The tenant's security rules.",
				Attributes: map[string]schema.Attribute{
					"mfa_required":            schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether a second factor is required."},
					"session_timeout_minutes": schema.Int64Attribute{Computed: true, MarkdownDescription: "Idle minutes before a session ends."},
					"allowed_cidrs":           schema.SetAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Networks users may connect from."},
				},
			},
			"data_retention_days": schema.Int64Attribute{Computed: true, MarkdownDescription: "Days the final backup is kept after deletion."},
			"deletion_protection": schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the platform refuses deletion."},
		},
	}
}

func (d *tenantDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *tenantDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m tenantModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	slug := m.Slug.ValueString()
	t, err := d.client.GetTenant(ctx, slug)
	if dataReadFailed(&resp.Diagnostics, "Cannot read tenant "+strconv.Quote(slug), path.Root("slug"), "tenant "+strconv.Quote(slug), err) {
		return
	}
	resp.Diagnostics.Append(m.fromAPI(ctx, t)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
