package provider_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// TestAccEnvironmentPromotion_schema promotes staging's migrations to
// production: the plan lists them in version order among the other lines,
// the apply applies them, and a migration added to staging later is the
// next plan's only change.
func TestAccEnvironmentPromotion_schema(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := promotionTenant(t, srv)
	for _, env := range []string{api.EnvStaging, api.EnvProduction} {
		if _, err := srv.Client.CreateEnvironment(t.Context(), tenant, api.EnvironmentSpec{Name: env, Type: env, Settings: map[string]string{}}); err != nil {
			t.Fatal(err)
		}
	}
	migrations := map[string]string{
		"1":  "CREATE TABLE items (id INTEGER PRIMARY KEY)",
		"2":  "INSERT INTO items VALUES (1)",
		"10": "CREATE TABLE tags (id INTEGER)",
	}
	if _, err := srv.Client.SetSchema(t.Context(), tenant, "staging", api.SchemaSpec{Migrations: migrations}, 0, 0); err != nil {
		t.Fatal(err)
	}
	config := srv.Config(fmt.Sprintf(`
resource "tenancy_environment_promotion" "production" {
  tenant_id          = %q
  source_environment = "staging"
  target_environment = "production"
}
`, tenant))
	appliedIn := func(env string, want ...string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			sc, err := srv.Client.GetSchema(t.Context(), tenant, env)
			if err != nil {
				return err
			}
			var got []string
			for _, a := range sc.Applied {
				got = append(got, a.Version)
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("%s has applied %v; want %v", env, got, want)
			}
			return nil
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("changes"), linesExact(
						"schema.1: pending -> applied", "schema.2: pending -> applied", "schema.10: pending -> applied")),
				},
				Check: appliedIn("production", "1", "2", "10"),
			},
			{
				PreConfig: func() {
					migrations["11"] = "CREATE INDEX tags_id ON tags (id)"
					if _, err := srv.Client.SetSchema(t.Context(), tenant, "staging", api.SchemaSpec{Migrations: migrations}, 0, 0); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(promotionAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("changes"), linesExact("schema.11: pending -> applied")),
					},
				},
				Check: appliedIn("production", "1", "2", "10", "11"),
			},
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

// TestAccEnvironmentPromotion_schemaFromConfiguration manages staging's
// schema with tenancy_schema and promotes it to production, the promotion's
// triggers referencing the migrations (as examples/quickstart does): the
// first apply applies staging's migrations and then production's, a
// migration added to the configuration reaches both in one apply, with
// exactly its line in last_changes, and the next plan is empty.
func TestAccEnvironmentPromotion_schemaFromConfiguration(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := promotionTenant(t, srv)
	for _, env := range []string{api.EnvStaging, api.EnvProduction} {
		if _, err := srv.Client.CreateEnvironment(t.Context(), tenant, api.EnvironmentSpec{Name: env, Type: env}); err != nil {
			t.Fatal(err)
		}
	}
	config := func(migrations ...string) string {
		return srv.Config(strings.Replace(schemaConfig(tenant, "staging", "", migrations...), `"test"`, `"staging"`, 1) + fmt.Sprintf(`
resource "tenancy_environment_promotion" "production" {
  tenant_id          = %q
  source_environment = "staging"
  target_environment = "production"
  include            = ["schema"]
  triggers           = { schema = jsonencode(tenancy_schema.staging.migrations) }
}
`, tenant))
	}
	two := []string{"1", createItems, "2", fillItems}
	three := append(slices.Clone(two), "3", createTags)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: config(two...),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("last_changes"), linesExact(
						"schema.1: pending -> applied", "schema.2: pending -> applied")),
				},
				Check: resource.ComposeTestCheckFunc(appliedVersions(srv, tenant, "staging", "1", "2"), appliedVersions(srv, tenant, "production", "1", "2"),
					expectRows(t, srv, tenant, "production", map[string]int64{"items": 3})),
			},
			{
				Config: config(three...),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("tenancy_schema.staging", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction(promotionAddr, plancheck.ResourceActionUpdate),
					// Known at plan time, though staging applies it only in this apply.
					plancheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("changes"), linesExact("schema.3: pending -> applied")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("last_changes"), linesExact("schema.3: pending -> applied")),
				},
				Check: appliedVersions(srv, tenant, "production", "1", "2", "3"),
			},
			{
				Config:           config(three...),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				// Production gained a migration 4 of its own by hand; staging's
				// planned migration 4 could never be promoted over it. The plan
				// says so, before staging is migrated.
				PreConfig: func() {
					ms := map[string]string{"1": createItems, "2": fillItems, "3": createTags, "4": "CREATE TABLE production_only (id INTEGER)"}
					if _, err := srv.Client.SetSchema(t.Context(), tenant, "production", api.SchemaSpec{Migrations: ms}, 0, 0); err != nil {
						t.Fatal(err)
					}
				},
				Config: config(append(slices.Clone(three), "4", fillTags)...),
				ExpectError: wrapped(`Cannot preview promoting "staging" to "production"`,
					`promoting the schema of "staging" to "production": migration 4 is applied in both with different SQL`),
			},
			{
				PreConfig: func() {
					if err := appliedVersions(srv, tenant, "staging", "1", "2", "3")(nil); err != nil {
						t.Errorf("after the refused plan: %v", err)
					}
				},
				Config:           config(three...),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}
