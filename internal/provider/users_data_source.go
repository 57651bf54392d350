package provider

import (
	"context"
	"net/url"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validators"
)

var _ datasource.DataSourceWithConfigure = (*usersDataSource)(nil)

type usersDataSource struct {
	client *client.Client
}

func newUsersDataSource() datasource.DataSource { return &usersDataSource{} }

type usersDataSourceModel struct {
	TenantID types.String        `tfsdk:"tenant_id"`
	Email    types.String        `tfsdk:"email"`
	Users    []userResourceModel `tfsdk:"users"`
}

func (d *usersDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_users"
}

func (d *usersDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the users of a tenant, with their import IDs: to write `import` blocks for users that exist " +
			"on the platform before Terraform manages them, or to look up a user by e-mail address.",
		Attributes: map[string]schema.Attribute{
			"tenant_id": tenantIDDataSourceAttribute(),
			"email": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Only the user with this e-mail address (compared without case).",
				Validators:          []validator.String{validators.Email()},
			},
			"users": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The tenant's users, ordered by `user_id`.",
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"id":           schema.StringAttribute{Computed: true, MarkdownDescription: "The import ID of the user, `<tenant>/<user_id>`."},
						"tenant_id":    schema.StringAttribute{Computed: true, MarkdownDescription: "The tenant's slug."},
						"user_id":      schema.StringAttribute{Computed: true, MarkdownDescription: "The platform's ID of the user."},
						"email":        schema.StringAttribute{Computed: true, MarkdownDescription: "The user's e-mail address."},
						"display_name": schema.StringAttribute{Computed: true, MarkdownDescription: "The user's name."},
						"status":       schema.StringAttribute{Computed: true, MarkdownDescription: "The user's state: `" + api.StatusActive + "`."},
					},
				},
			},
		},
	}
}

func (d *usersDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *usersDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m usersDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tenant := m.TenantID.ValueString()
	query := url.Values{}
	if !m.Email.IsNull() {
		query.Set("email", m.Email.ValueString())
	}
	users, err := d.client.ListUsers(ctx, tenant, query)
	if dataReadFailed(&resp.Diagnostics, "Cannot list the users of tenant "+strconv.Quote(tenant), path.Root("tenant_id"), "tenant "+strconv.Quote(tenant), err) {
		return
	}
	m.Users = make([]userResourceModel, len(users))
	for i := range users {
		m.Users[i].fromAPI(&users[i])
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
