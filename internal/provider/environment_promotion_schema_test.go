package provider_test

import (
	"fmt"
	"slices"
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
