package provider_test

import (
	"regexp"
	"strings"
	"testing"

	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/provider"
)

// testProviders serve the provider in-process to the Terraform CLI, so no
// registry or installed plugin is needed.
var testProviders = map[string]func() (tfprotov6.ProviderServer, error){
	"tenancy": func() (tfprotov6.ProviderServer, error) { return provider.NewProtocol6("test")(), nil },
}

const lookupMissing = `
data "tenancy_tenant" "x" {
  slug = "does-not-matter"
}
`

// These tests change the process environment, which the in-process provider
// reads, so they do not run in parallel.

func TestAccProvider_missingSettings(t *testing.T) {
	t.Setenv("TENANCY_ENDPOINT", "")
	t.Setenv("TENANCY_TOKEN", "")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      `provider "tenancy" {}` + lookupMissing,
				ExpectError: regexp.MustCompile(`(?s)Missing endpoint.*TENANCY_ENDPOINT`),
			},
			{
				Config:      `provider "tenancy" { endpoint = "http://127.0.0.1:1" }` + lookupMissing,
				ExpectError: regexp.MustCompile(`(?s)Missing token.*TENANCY_TOKEN`),
			},
			{
				Config:      `provider "tenancy" { endpoint = "127.0.0.1:8480" }` + lookupMissing,
				ExpectError: regexp.MustCompile(`(?s)Invalid endpoint.*absolute http:// or https:// URL`),
			},
			{
				Config: `provider "tenancy" {
  endpoint        = "http://127.0.0.1:1"
  request_timeout = "soon"
}` + lookupMissing,
				ExpectError: regexp.MustCompile(`(?s)request_timeout must be a positive Go duration.*"soon"`),
			},
			{
				Config:      `provider "tenancy" { max_retries = 99 }` + lookupMissing,
				ExpectError: regexp.MustCompile(`(?s)max_retries.*between 0 and 20`),
			},
		},
	})
}

func TestAccProvider_environment(t *testing.T) {
	srv := acctest.Start(t)
	t.Setenv("TENANCY_ENDPOINT", srv.URL)
	t.Setenv("TENANCY_TOKEN", srv.Token)
	t.Setenv("TENANCY_REQUEST_TIMEOUT", "20s")
	t.Setenv("TENANCY_MAX_RETRIES", "1")
	slug := acctest.RandomSlug("envcfg")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkTenantsDestroyed(srv),
		Steps: []resource.TestStep{{
			Config: `provider "tenancy" {}` + tenantConfig(slug, "From the environment", ""),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(tenantAddr, tfjsonpath.New("id"), knownvalue.StringExact(slug)),
			},
		}},
	})
}

func TestAccProvider_badEnvironment(t *testing.T) {
	t.Setenv("TENANCY_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("TENANCY_TOKEN", "x")
	t.Setenv("TENANCY_MAX_RETRIES", "many")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:      `provider "tenancy" {}` + lookupMissing,
			ExpectError: regexp.MustCompile(`(?s)TENANCY_MAX_RETRIES must be a whole number from 0 to 20; got "many"`),
		}},
	})
}

// resourceTypes lists the provider's resource type names, for tests that
// must cover every one.
func resourceTypes(t *testing.T) []string {
	t.Helper()
	p := provider.New("test")()
	var names []string
	for _, newResource := range p.Resources(t.Context()) {
		var resp fwresource.MetadataResponse
		newResource().Metadata(t.Context(), fwresource.MetadataRequest{ProviderTypeName: "tenancy"}, &resp)
		names = append(names, resp.TypeName)
	}
	return names
}

// generatedAddress is where a GenerateConfig import step puts the resource.
func generatedAddress(address string) string {
	typ, _, _ := strings.Cut(address, ".")
	return typ + ".generated"
}
