package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validators"
)

var (
	_ ephemeral.EphemeralResourceWithConfigure      = (*databaseCredentialsEphemeralResource)(nil)
	_ ephemeral.EphemeralResourceWithClose          = (*databaseCredentialsEphemeralResource)(nil)
	_ ephemeral.EphemeralResourceWithValidateConfig = (*databaseCredentialsEphemeralResource)(nil)
)

// defaultCredentialsTTL is how long credentials last unless ttl says.
const defaultCredentialsTTL = api.DefaultCredentialsTTLSeconds * time.Second

// privateLogin is the private key under which Open leaves Close the login
// to revoke.
const privateLogin = "login"

type databaseCredentialsEphemeralResource struct {
	data *providerData
}

func newDatabaseCredentialsEphemeralResource() ephemeral.EphemeralResource {
	return &databaseCredentialsEphemeralResource{}
}

type databaseCredentialsModel struct {
	TenantID    types.String `tfsdk:"tenant_id"`
	Environment types.String `tfsdk:"environment"`
	TTL         types.String `tfsdk:"ttl"`
	Username    types.String `tfsdk:"username"`
	Password    types.String `tfsdk:"password"`
	DSN         types.String `tfsdk:"dsn"`
	ExpiresAt   types.String `tfsdk:"expires_at"`
}

// mintedLogin is what Close needs to revoke a login.
type mintedLogin struct {
	Tenant      string `json:"tenant"`
	Environment string `json:"environment"`
	Username    string `json:"username"`
}

func (r *databaseCredentialsEphemeralResource) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_database_credentials"
}

func (r *databaseCredentialsEphemeralResource) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A login to one tenant environment's data store, minted when Terraform opens this ephemeral " +
			"resource and revoked when it closes it, so it lasts one plan or apply (at most `ttl`). It is never written to the " +
			"plan or the state: use it where Terraform takes ephemeral values, such as another provider's configuration " +
			"(a PostgreSQL provider that creates tables, or seeds data) or a write-only attribute. Needs Terraform 1.10 or newer " +
			"and a `tenant_admin` (or `platform_admin`) token of the tenant.\n\n" +
			"On PostgreSQL the login is a role of the store's own group role, valid until `expires_at`: it reaches that " +
			"environment's schema (or database) and nothing of any other tenant. On SQLite (tenancyd's embedded default) there are " +
			"no logins: `dsn` is the path of the environment's database file on tenancyd's host, `password` is empty, and " +
			"revoking is in name only.\n\n" +
			"Terraform opens ephemeral resources while it plans, too. For an environment that the same apply creates, the plan " +
			"has no credentials to give (a warning says so, and `username`, `password`, `dsn` and `expires_at` are empty); the " +
			"apply mints them once it has created the environment. Refer to the environment (`environment = " +
			"tenancy_environment.NAME.name`) so that Terraform creates it first.",
		Attributes: map[string]schema.Attribute{
			"tenant_id": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Slug of the tenant, such as `acme`.",
				Validators:          []validator.String{validators.Slug()},
			},
			"environment": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Name of the environment whose data store the login reaches, such as `staging`.",
				Validators:          []validator.String{validators.EnvironmentName()},
			},
			"ttl": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: fmt.Sprintf("How long the login lasts if Terraform does not close it first, a duration "+
					"such as `10m` or `1h`, in whole seconds from %s to %s; default %s.",
					shortDuration(api.MinCredentialsTTLSeconds*time.Second), shortDuration(api.MaxCredentialsTTLSeconds*time.Second),
					shortDuration(defaultCredentialsTTL)),
			},
			"username": schema.StringAttribute{Computed: true, MarkdownDescription: "The login's name."},
			"password": schema.StringAttribute{
				Computed: true, Sensitive: true,
				MarkdownDescription: "The login's password; empty on SQLite.",
			},
			"dsn": schema.StringAttribute{
				Computed: true, Sensitive: true,
				MarkdownDescription: "A connection string ready for `psql` or a driver, with the password in it: " +
					"`postgres://user:password@host:port/database?...` on PostgreSQL, `file:/path/env.db?mode=rw` on SQLite.",
			},
			"expires_at": schema.StringAttribute{Computed: true, MarkdownDescription: "When the login expires (RFC 3339)."},
		},
	}
}

func (r *databaseCredentialsEphemeralResource) Configure(_ context.Context, req ephemeral.ConfigureRequest, resp *ephemeral.ConfigureResponse) {
	r.data = dataFrom(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig checks ttl at plan time.
func (r *databaseCredentialsEphemeralResource) ValidateConfig(ctx context.Context, req ephemeral.ValidateConfigRequest, resp *ephemeral.ValidateConfigResponse) {
	var ttl types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("ttl"), &ttl)...)
	if resp.Diagnostics.HasError() || !known(ttl) {
		return
	}
	if _, err := credentialsTTL(ttl); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("ttl"), "Invalid ttl", err.Error())
	}
}

func (r *databaseCredentialsEphemeralResource) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	var m databaseCredentialsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if r.data == nil {
		resp.Diagnostics.AddError("The provider is not configured", "tenancy_database_credentials needs a configured tenancy provider.")
		return
	}
	ttl, err := credentialsTTL(m.TTL)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("ttl"), "Invalid ttl", err.Error())
		return
	}
	tenant, env := m.TenantID.ValueString(), m.Environment.ValueString()
	what := fmt.Sprintf("minting credentials for environment %q of tenant %q", env, tenant)
	if resp.Diagnostics.Append(r.data.mayManage(m.TenantID, api.RoleTenantAdmin, what)...); resp.Diagnostics.HasError() {
		return
	}
	c, err := r.data.client.CreateCredentials(ctx, tenant, env, ttl)
	switch {
	case (errors.Is(err, client.ErrNotFound) || errors.Is(err, client.ErrNoRoute)) && r.data.createdInThisRun(tenant, env):
		// Terraform opens ephemeral resources while it plans, when their
		// configuration is known, and the environment is only planned yet:
		// the apply opens them again once it exists.
		resp.Diagnostics.AddWarning(fmt.Sprintf("No credentials for environment %q of tenant %q in this plan", env, tenant),
			"The environment is created by this apply, so its data store does not exist yet: in this plan, username, "+
				"password, dsn and expires_at are empty. The apply mints the credentials once it has created the environment.")
		m.Username, m.Password, m.DSN, m.ExpiresAt = types.StringValue(""), types.StringValue(""), types.StringValue(""), types.StringValue("")
		resp.Diagnostics.Append(resp.Result.Set(ctx, &m)...)
		return
	case err != nil:
		addAPIError(&resp.Diagnostics, fmt.Sprintf("Cannot mint credentials for environment %q of tenant %q", env, tenant), withCreateHint(err))
		return
	}
	login, err := json.Marshal(mintedLogin{Tenant: tenant, Environment: env, Username: c.Username})
	if err == nil {
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateLogin, login)...)
	}
	tflog.Info(ctx, "database credentials minted", map[string]any{"tenant": tenant, "environment": env, "username": c.Username, "expires_at": c.ExpiresAt})
	m.Username = types.StringValue(c.Username)
	m.Password = types.StringValue(c.Password)
	m.DSN = types.StringValue(c.DSN)
	m.ExpiresAt = types.StringValue(c.ExpiresAt.UTC().Format(time.RFC3339))
	resp.Diagnostics.Append(resp.Result.Set(ctx, &m)...)
}

// Close revokes the login Open minted; one that is gone already (expired,
// or revoked by hand) counts as revoked.
func (r *databaseCredentialsEphemeralResource) Close(ctx context.Context, req ephemeral.CloseRequest, resp *ephemeral.CloseResponse) {
	b, diags := req.Private.GetKey(ctx, privateLogin)
	if resp.Diagnostics.Append(diags...); diags.HasError() || len(b) == 0 || r.data == nil {
		return
	}
	var l mintedLogin
	if err := json.Unmarshal(b, &l); err != nil {
		resp.Diagnostics.AddError("Cannot revoke the database credentials", "The login to revoke could not be read: "+err.Error())
		return
	}
	err := r.data.client.RevokeCredentials(ctx, l.Tenant, l.Environment, l.Username)
	switch {
	case err == nil:
		tflog.Info(ctx, "database credentials revoked", map[string]any{"username": l.Username})
	case errors.Is(err, client.ErrNotFound):
		tflog.Info(ctx, "database credentials already gone", map[string]any{"username": l.Username})
	default:
		addAPIError(&resp.Diagnostics, fmt.Sprintf("Cannot revoke login %s of environment %q of tenant %q; it expires by itself at its expires_at",
			l.Username, l.Environment, l.Tenant), err)
	}
}

// credentialsTTL reads ttl: a Go duration of whole seconds within the
// platform's limits; the default when unset.
func credentialsTTL(v types.String) (time.Duration, error) {
	if !known(v) {
		return defaultCredentialsTTL, nil
	}
	d, err := time.ParseDuration(v.ValueString())
	lo, hi := api.MinCredentialsTTLSeconds*time.Second, api.MaxCredentialsTTLSeconds*time.Second
	if err != nil || d < lo || d > hi || d%time.Second != 0 {
		return 0, fmt.Errorf("ttl is %q; it must be a duration in whole seconds from %s to %s, such as \"10m\" or \"1h\"",
			v.ValueString(), shortDuration(lo), shortDuration(hi))
	}
	return d, nil
}
