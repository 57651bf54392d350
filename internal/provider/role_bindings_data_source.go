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

var _ datasource.DataSourceWithConfigure = (*roleBindingsDataSource)(nil)

type roleBindingsDataSource struct {
	client *client.Client
}

func newRoleBindingsDataSource() datasource.DataSource { return &roleBindingsDataSource{} }

type roleBindingsDataSourceModel struct {
	TenantID types.String               `tfsdk:"tenant_id"`
	UserID   types.String               `tfsdk:"user_id"`
	Role     types.String               `tfsdk:"role"`
	Bindings []roleBindingResourceModel `tfsdk:"bindings"`
}

func (d *roleBindingsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_role_bindings"
}

func (d *roleBindingsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the role bindings of a tenant, with their import IDs: to write `import` blocks for bindings " +
			"that exist on the platform before Terraform manages them, or to see who holds a role.",
		Attributes: map[string]schema.Attribute{
			"tenant_id": tenantIDDataSourceAttribute(),
			"user_id": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Only the bindings of the user with this `user_id`.",
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"role": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Only the bindings of this role: " + quotedList(api.TenantRoles) + ".",
				Validators:          []validator.String{stringvalidator.OneOf(api.TenantRoles...)},
			},
			"bindings": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The tenant's role bindings, ordered by `binding_id`.",
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"id":          schema.StringAttribute{Computed: true, MarkdownDescription: "The import ID of the binding, `<tenant>/<binding_id>`."},
						"tenant_id":   schema.StringAttribute{Computed: true, MarkdownDescription: "The tenant's slug."},
						"binding_id":  schema.StringAttribute{Computed: true, MarkdownDescription: "The platform's ID of the binding."},
						"user_id":     schema.StringAttribute{Computed: true, MarkdownDescription: "The `user_id` of the user the role is granted to."},
						"role":        schema.StringAttribute{Computed: true, MarkdownDescription: "The role: " + quotedList(api.TenantRoles) + "."},
						"environment": schema.StringAttribute{Computed: true, MarkdownDescription: "The environment the role applies in; null for every environment."},
					},
				},
			},
		},
	}
}

func (d *roleBindingsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *roleBindingsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m roleBindingsDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant := m.TenantID.ValueString()
	query := url.Values{}
	if !m.UserID.IsNull() {
		query.Set("user_id", m.UserID.ValueString())
	}
	if !m.Role.IsNull() {
		query.Set("role", m.Role.ValueString())
	}
	bindings, err := d.client.ListRoleBindings(ctx, tenant, query)
	if dataReadFailed(&resp.Diagnostics, "Cannot list the role bindings of tenant "+strconv.Quote(tenant), path.Root("tenant_id"), "tenant "+strconv.Quote(tenant), err) {
		return
	}
	m.Bindings = make([]roleBindingResourceModel, len(bindings))
	for i := range bindings {
		m.Bindings[i].fromAPI(&bindings[i])
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
