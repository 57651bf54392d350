package provider_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
)

// Provider-defined functions need Terraform 1.8 or newer.
var functionsVersionChecks = []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_8_0)}

func stringList(values ...string) knownvalue.Check {
	checks := make([]knownvalue.Check, len(values))
	for i, v := range values {
		checks[i] = knownvalue.StringExact(v)
	}
	return knownvalue.ListExact(checks)
}

func TestAccFunctions_values(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		TerraformVersionChecks:   functionsVersionChecks,
		Steps: []resource.TestStep{{
			Config: srv.Config(`
output "environment_id" {
  value = provider::tenancy::environment_id("acme", "staging")
}

output "tenant" {
  value = provider::tenancy::parse_id("acme")
}

output "environment" {
  value = provider::tenancy::parse_id("acme/staging")
}

output "promotion" {
  value = provider::tenancy::parse_id("acme/staging/production")
}

output "round_trip" {
  value = provider::tenancy::parse_id(provider::tenancy::environment_id("acme", "qa_2")).rest[0]
}
`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownOutputValue("environment_id", knownvalue.StringExact("acme/staging")),
				statecheck.ExpectKnownOutputValue("tenant", knownvalue.ObjectExact(map[string]knownvalue.Check{
					"tenant": knownvalue.StringExact("acme"), "rest": stringList(), "parts": stringList("acme"),
				})),
				statecheck.ExpectKnownOutputValue("environment", knownvalue.ObjectExact(map[string]knownvalue.Check{
					"tenant": knownvalue.StringExact("acme"), "rest": stringList("staging"), "parts": stringList("acme", "staging"),
				})),
				statecheck.ExpectKnownOutputValue("promotion", knownvalue.ObjectExact(map[string]knownvalue.Check{
					"tenant": knownvalue.StringExact("acme"), "rest": stringList("staging", "production"), "parts": stringList("acme", "staging", "production"),
				})),
				statecheck.ExpectKnownOutputValue("round_trip", knownvalue.StringExact("qa_2")),
			},
		}},
	})
}

// TestAccFunctions_withResources uses the functions the way a module does:
// building the ID of an environment it manages, and taking a resource's ID
// apart, both known only after apply.
func TestAccFunctions_withResources(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	slug := acctest.RandomSlug("fn")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		TerraformVersionChecks:   functionsVersionChecks,
		CheckDestroy:             checkTenantsDestroyed(srv),
		Steps: []resource.TestStep{{
			Config: srv.Config(tenantConfig(slug, "Functions", "") + `
resource "tenancy_environment" "staging" {
  tenant_id = tenancy_tenant.test.id
  name      = "staging"
  type      = "staging"
}

output "built_matches" {
  value = provider::tenancy::environment_id(tenancy_tenant.test.id, tenancy_environment.staging.name) == tenancy_environment.staging.id
}

output "tenant_of_environment" {
  value = provider::tenancy::parse_id(tenancy_environment.staging.id).tenant
}
`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownOutputValue("built_matches", knownvalue.Bool(true)),
				statecheck.ExpectKnownOutputValue("tenant_of_environment", knownvalue.StringExact(slug)),
			},
		}},
	})
}

func TestAccFunctions_errors(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	for name, tc := range map[string]struct{ call, want string }{
		"tenant not a slug":      {`environment_id("Acme", "staging")`, `must\s+be\s+a\s+tenant\s+slug`},
		"environment not a name": {`environment_id("acme", "Staging!")`, `must\s+be\s+an\s+environment\s+name`},
		"empty part":             {`parse_id("acme//production")`, `(?s)"acme//production".*must\s+look\s+like.*"<tenant>/<environment>"`},
		"too many parts":         {`parse_id("a-b/c/d/e")`, `(?s)must\s+look\s+like.*"<tenant>/<source>/<target>"`},
		"empty":                  {`parse_id("")`, `must\s+look\s+like`},
		"spaces":                 {`parse_id("acme/ staging")`, `must\s+look\s+like`},
		"tenant not a slug in":   {`parse_id("ACME/staging")`, `the\s+tenant\s+part\s+of\s+ID\s+"ACME/staging":\s+"ACME"\s+is\s+not\s+a\s+slug`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				TerraformVersionChecks:   functionsVersionChecks,
				Steps: []resource.TestStep{{
					Config:      srv.Config("output \"x\" {\n  value = provider::tenancy::" + tc.call + "\n}\n"),
					ExpectError: regexp.MustCompile(tc.want),
				}},
			})
		})
	}
}

// TestAccFunctions_examples applies the functions' documentation examples.
func TestAccFunctions_examples(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	for name, checks := range map[string][]statecheck.StateCheck{
		"environment_id": {
			statecheck.ExpectKnownOutputValue("staging_id", knownvalue.StringExact("acme/staging")),
			statecheck.ExpectKnownOutputValue("environment_ids", stringList("acme/development", "acme/staging", "acme/production")),
		},
		"parse_id": {
			statecheck.ExpectKnownOutputValue("promotion_target", knownvalue.StringExact("production")),
			statecheck.ExpectKnownOutputValue("tenant_of_environment", knownvalue.StringExact("acme")),
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(filepath.Join(examplesDir, "functions", name, "function.tf"))
			if err != nil {
				t.Fatal(err)
			}
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				TerraformVersionChecks:   functionsVersionChecks,
				Steps:                    []resource.TestStep{{Config: srv.Config(string(src)), ConfigStateChecks: checks}},
			})
		})
	}
}
