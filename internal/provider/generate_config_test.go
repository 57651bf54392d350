package provider_test

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
)

// generateConfigCase is one resource type's proof that `terraform plan
// -generate-config-out` writes configuration that imports with no change.
type generateConfigCase struct {
	// config creates the object; address names it, id is its import ID
	// ("" when the server chooses it: it is then read from state).
	config, address, id string
}

// generateConfigCases lists every resource type; the test below fails when
// the provider has a resource type without a case here.
func generateConfigCases(slug string) map[string]generateConfigCase {
	return map[string]generateConfigCase{
		"tenancy_tenant": {
			config: tenantConfig(slug, "Generated", `
  labels          = { plan = "pro" }
  security_policy = { allowed_cidrs = ["10.0.0.0/8"] }
`),
			address: tenantAddr, id: slug,
		},
		"tenancy_feature_flag": {
			config: tenantConfig(slug, "Generated", "") + `
resource "tenancy_environment" "staging" {
  tenant_id = tenancy_tenant.test.id
  name      = "staging"
  type      = "staging"
}
resource "tenancy_feature_flag" "test" {
  tenant_id    = tenancy_tenant.test.id
  key          = "generated"
  description  = "Generated"
  environments = { (tenancy_environment.staging.name) = { enabled = true, rollout_percentage = 40 } }
}
`,
			address: flagAddr, id: slug + "/generated",
		},
		"tenancy_integration": {
			config: tenantConfig(slug, "Generated", "") + `
resource "tenancy_integration" "test" {
  tenant_id = tenancy_tenant.test.id
  name      = "alerts"
  kind      = "slack"
  config    = { channel = "#alerts" }
}
`,
			address: integrationAddr, id: slug + "/alerts",
		},
		"tenancy_environment": {
			config: tenantConfig(slug, "Generated", "") + `
resource "tenancy_environment" "test" {
  tenant_id = tenancy_tenant.test.id
  name      = "staging"
  type      = "staging"
  settings  = { log_level = "debug" }
}
`,
			address: environmentAddr, id: slug + "/staging",
		},
		"tenancy_quota": {
			config: tenantConfig(slug, "Generated", "") + `
resource "tenancy_quota" "tenant" {
  tenant_id      = tenancy_tenant.test.id
  cpu_millicores = 4000
  max_users      = 10
}
`,
			address: tenantQuotaAddr, id: slug,
		},
		"tenancy_user": {
			config:  tenantConfig(slug, "Generated", "") + generatedUser,
			address: userAddr,
		},
		"tenancy_role_binding": {
			config: tenantConfig(slug, "Generated", "") + generatedUser + `
resource "tenancy_role_binding" "test" {
  tenant_id = tenancy_tenant.test.id
  user_id   = tenancy_user.test.user_id
  role      = "tenant_viewer"
}
`,
			address: bindingAddr,
		},
		"tenancy_schema": {
			config: tenantConfig(slug, "Generated", "") + generatedStaging + `
resource "tenancy_schema" "test" {
  tenant_id   = tenancy_tenant.test.id
  environment = tenancy_environment.staging.name
  migrations = {
    "1" = "CREATE TABLE items (id INTEGER PRIMARY KEY)"
    "2" = "INSERT INTO items VALUES (1), (2)"
  }
}
`,
			address: schemaAddr, id: slug + "/staging",
		},
		"tenancy_backup": {
			config: tenantConfig(slug, "Generated", "") + generatedStaging + `
resource "tenancy_backup" "test" {
  tenant_id   = tenancy_tenant.test.id
  environment = tenancy_environment.staging.name
  retain_days = 3
}
`,
			address: backupAddr,
		},
		"tenancy_environment_promotion": {
			config:  tenantConfig(slug, "Generated", "") + promotionGeneratedConfig(),
			address: promotionAddr, id: slug + "/staging/production",
		},
	}
}

const generatedStaging = `
resource "tenancy_environment" "staging" {
  tenant_id = tenancy_tenant.test.id
  name      = "staging"
  type      = "staging"
}
`

const generatedUser = `
resource "tenancy_user" "test" {
  tenant_id    = tenancy_tenant.test.id
  email        = "generated@example.com"
  display_name = "Generated"
}
`

func TestAccGenerateConfig_everyResourceType(t *testing.T) {
	t.Parallel()
	cases := generateConfigCases("gen")
	for _, typ := range resourceTypes(t) {
		if _, ok := cases[typ]; !ok {
			t.Errorf("resource type %s has no -generate-config-out case", typ)
		}
	}
	for typ := range cases {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			srv := acctest.Start(t)
			tc := generateConfigCases(acctest.RandomSlug("gen"))[typ]
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps: []resource.TestStep{
					{Config: srv.Config(tc.config)},
					{
						ResourceName:      tc.address,
						ImportState:       true,
						ImportStateKind:   resource.ImportBlockWithID,
						ImportStateId:     tc.id,
						ImportStateIdFunc: idFromStateUnless(tc.id, tc.address),
						GenerateConfig:    true,
						ImportPlanChecks: resource.ImportPlanChecks{
							PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(generatedAddress(tc.address), plancheck.ResourceActionNoop)},
						},
					},
				},
			})
		})
	}
}

// idFromStateUnless reads a resource's import ID from state when the test
// could not know it in advance.
func idFromStateUnless(id, address string) resource.ImportStateIdFunc {
	if id != "" {
		return nil
	}
	return stateID(address)
}
