// Package provider is the tenancy Terraform provider: its configuration,
// resources, data sources and functions.
package provider

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/refreshfix"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/requestctx"
)

var (
	_ provider.Provider                       = (*tenancyProvider)(nil)
	_ provider.ProviderWithValidateConfig     = (*tenancyProvider)(nil)
	_ provider.ProviderWithFunctions          = (*tenancyProvider)(nil)
	_ provider.ProviderWithEphemeralResources = (*tenancyProvider)(nil)
)

// Environment variables that stand in for the provider's attributes.
const (
	envEndpoint       = "TENANCY_ENDPOINT"
	envToken          = "TENANCY_TOKEN"
	envMaxRetries     = "TENANCY_MAX_RETRIES"
	envRequestTimeout = "TENANCY_REQUEST_TIMEOUT"
	envCACertFile     = "TENANCY_CA_CERT_FILE"
)

// Defaults of the provider's optional settings.
const (
	defaultMaxRetries     = 5
	defaultRequestTimeout = 30 * time.Second
	maxMaxRetries         = 20
)

type tenancyProvider struct {
	version string
}

type providerModel struct {
	Endpoint       types.String `tfsdk:"endpoint"`
	Token          types.String `tfsdk:"token"`
	MaxRetries     types.Int64  `tfsdk:"max_retries"`
	RequestTimeout types.String `tfsdk:"request_timeout"`
	CACertFile     types.String `tfsdk:"ca_cert_file"`
}

// New returns the provider factory for a release version.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &tenancyProvider{version: version} }
}

// NewProtocol6 returns the factory of the provider's protocol 6 server, as
// Terraform talks to it: the framework's server, with the refreshed state
// encoded so that a refresh-only plan without changes says so in its exit
// code (see package refreshfix), and keeping nothing of a request once it is
// answered (see package requestctx; the framework alone held ~12 KiB a
// request, 500 MiB at 10000 resources).
func NewProtocol6(version string) func() tfprotov6.ProviderServer {
	return func() tfprotov6.ProviderServer {
		return refreshfix.Wrap(requestctx.Wrap(providerserver.NewProtocol6(New(version)())()))
	}
}

func (p *tenancyProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "tenancy"
	resp.Version = p.version
}

func (p *tenancyProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Manages a multi-tenant platform served by `tenancyd`: tenants, environments, users, " +
			"role bindings, quotas, feature flags, integrations and the promotion of configuration between environments. " +
			"Every setting can come from a `TENANCY_*` environment variable instead.",
		Attributes: map[string]schema.Attribute{
			"endpoint": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "URL of the tenancyd API, such as `http://127.0.0.1:8480`. Or `" + envEndpoint + "`.",
			},
			"token": schema.StringAttribute{
				Optional:            true,
				Sensitive:           true,
				MarkdownDescription: "Bearer token for the API. Or `" + envToken + "`. Prefer the environment variable, so the token stays out of configuration.",
			},
			"max_retries": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: fmt.Sprintf("How often a request is retried after a network error, HTTP 429 or 5xx, "+
					"with jittered backoff; from 0 to %d, default %d. Or `%s`.", maxMaxRetries, defaultMaxRetries, envMaxRetries),
				Validators: []validator.Int64{int64validator.Between(0, maxMaxRetries)},
			},
			"request_timeout": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: fmt.Sprintf("Time limit of one HTTP attempt, a Go duration such as `30s` or `2m`; default `%s`. Or `%s`.",
					defaultRequestTimeout, envRequestTimeout),
			},
			"ca_cert_file": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "PEM file of a CA that signs the endpoint's TLS certificate, for a private CA. Or `" + envCACertFile + "`.",
			},
		},
	}
}

// ValidateConfig checks the settings written in configuration at plan time;
// Configure checks them again once the environment has been merged in.
func (p *tenancyProvider) ValidateConfig(ctx context.Context, req provider.ValidateConfigRequest, resp *provider.ValidateConfigResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if v := m.Endpoint; !v.IsNull() && !v.IsUnknown() {
		if err := checkEndpoint(v.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Invalid endpoint", err.Error())
		}
	}
	if v := m.RequestTimeout; !v.IsNull() && !v.IsUnknown() {
		if _, err := parseTimeout(v.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("request_timeout"), "Invalid request_timeout", err.Error())
		}
	}
}

func (p *tenancyProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	for name, v := range map[string]interface{ IsUnknown() bool }{
		"endpoint": m.Endpoint, "token": m.Token, "max_retries": m.MaxRetries,
		"request_timeout": m.RequestTimeout, "ca_cert_file": m.CACertFile,
	} {
		if v.IsUnknown() {
			resp.Diagnostics.AddAttributeError(path.Root(name), "Unknown provider setting",
				fmt.Sprintf("The provider's %s depends on a value that is known only after apply. "+
					"Set it to a known value or through its environment variable.", name))
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}

	cfg := client.Config{
		Endpoint:   stringOr(m.Endpoint, os.Getenv(envEndpoint)),
		Token:      stringOr(m.Token, os.Getenv(envToken)),
		CACertFile: stringOr(m.CACertFile, os.Getenv(envCACertFile)),
		MaxRetries: defaultMaxRetries,
		UserAgent: fmt.Sprintf("terraform-provider-tenancy/%s (+https://registry.terraform.io/providers/tenancyhq/tenancy) Terraform/%s",
			p.version, req.TerraformVersion),
	}
	switch {
	case cfg.Endpoint == "":
		resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Missing endpoint",
			"Set endpoint in the provider block or the "+envEndpoint+" environment variable to the tenancyd URL, such as http://127.0.0.1:8480.")
	case checkEndpoint(cfg.Endpoint) != nil:
		resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Invalid endpoint",
			checkEndpoint(cfg.Endpoint).Error()+" (from the provider block or "+envEndpoint+")")
	}
	if cfg.Token == "" {
		resp.Diagnostics.AddAttributeError(path.Root("token"), "Missing token",
			"Set token in the provider block or, better, the "+envToken+" environment variable to a tenancyd API token.")
	}

	switch {
	case !m.MaxRetries.IsNull():
		cfg.MaxRetries = int(m.MaxRetries.ValueInt64())
	case os.Getenv(envMaxRetries) != "":
		n, err := strconv.Atoi(os.Getenv(envMaxRetries))
		if err != nil || n < 0 || n > maxMaxRetries {
			resp.Diagnostics.AddAttributeError(path.Root("max_retries"), "Invalid "+envMaxRetries,
				fmt.Sprintf("%s must be a whole number from 0 to %d; got %q.", envMaxRetries, maxMaxRetries, os.Getenv(envMaxRetries)))
		}
		cfg.MaxRetries = n
	}

	timeout := stringOr(m.RequestTimeout, os.Getenv(envRequestTimeout))
	cfg.RequestTimeout = defaultRequestTimeout
	if timeout != "" {
		d, err := parseTimeout(timeout)
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("request_timeout"), "Invalid request_timeout",
				err.Error()+" (from the provider block or "+envRequestTimeout+")")
		}
		cfg.RequestTimeout = d
	}
	if resp.Diagnostics.HasError() {
		return
	}

	c, err := client.New(cfg)
	if err != nil {
		resp.Diagnostics.AddError("Cannot create the tenancy API client", err.Error())
		return
	}
	// What the token may reach decides whether a 404 means "gone": learn it
	// now, which also checks the endpoint and the token before anything is
	// read.
	self, err := c.Identify(ctx)
	if err != nil {
		addIdentifyError(&resp.Diagnostics, cfg.Endpoint, err)
		return
	}
	tflog.Debug(ctx, "tenancy provider configured", map[string]any{
		"endpoint": cfg.Endpoint, "max_retries": cfg.MaxRetries, "token": self.Name, "role": self.Role, "tenant": self.Tenant,
	})
	data := &providerData{client: c, token: *self}
	resp.ResourceData = data
	resp.DataSourceData = data
	resp.EphemeralResourceData = data
}

// addIdentifyError explains why the platform would not say who the token
// is: the endpoint is not tenancyd's root URL, the token is refused, or
// tenancyd cannot be reached.
func addIdentifyError(diags *diag.Diagnostics, endpoint string, err error) {
	switch {
	case errors.Is(err, client.ErrNoRoute):
		diags.AddAttributeError(path.Root("endpoint"), "The endpoint is not tenancyd's root URL",
			fmt.Sprintf("endpoint (from the provider block or %s) is %q, but the server there has no %s/v1/tokens/self. "+
				"Set it to the server's root URL, such as http://127.0.0.1:8480, without /v1 or any other path.\n\nThe server answered: %v",
				envEndpoint, endpoint, strings.TrimRight(endpoint, "/"), err))
	case errors.Is(err, client.ErrUnauthenticated):
		diags.AddAttributeError(path.Root("token"), "The platform refused the token",
			fmt.Sprintf("tenancyd at %s does not accept the provider's token: it is unknown, revoked or expired. "+
				"Set %s (or token in the provider block) to a valid tenancyd API token.\n\nThe platform answered: %v",
				endpoint, envToken, err))
	default:
		diags.AddError("Cannot reach tenancyd",
			fmt.Sprintf("The provider could not ask tenancyd at %s about its token: %v. "+
				"Check that tenancyd is running there and that endpoint (or %s) is its root URL.", endpoint, err, envEndpoint))
	}
}

func (p *tenancyProvider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		newTenantResource,
		newEnvironmentResource,
		newUserResource,
		newRoleBindingResource,
		newQuotaResource,
		newFeatureFlagResource,
		newIntegrationResource,
		newEnvironmentPromotionResource,
		newSchemaResource,
		newBackupResource,
	}
}

func (p *tenancyProvider) DataSources(_ context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		newTenantDataSource,
		newTenantsDataSource,
		newEnvironmentDataSource,
		newEnvironmentsDataSource,
		newUsersDataSource,
		newRoleBindingsDataSource,
		newFeatureFlagsDataSource,
		newTenantUsageDataSource,
	}
}

func (p *tenancyProvider) EphemeralResources(_ context.Context) []func() ephemeral.EphemeralResource {
	return []func() ephemeral.EphemeralResource{
		newDatabaseCredentialsEphemeralResource,
	}
}

func (p *tenancyProvider) Functions(_ context.Context) []func() function.Function {
	return []func() function.Function{
		newEnvironmentIDFunction,
		newParseIDFunction,
	}
}

func stringOr(v types.String, fallback string) string {
	if v.IsNull() || v.IsUnknown() {
		return fallback
	}
	return v.ValueString()
}

func checkEndpoint(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("endpoint must be an absolute http:// or https:// URL such as http://127.0.0.1:8480; got %q", s)
	}
	return nil
}

func parseTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("request_timeout must be a positive Go duration such as \"30s\" or \"2m\"; got %q", s)
	}
	return d, nil
}
