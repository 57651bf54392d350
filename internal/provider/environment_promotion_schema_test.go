package provider_test

import (
	"errors"
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
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
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

// TestAccEnvironmentPromotion_schemaNeedsAdmin plans promotions with a
// tenant_user token from a source with a migration the target lacks:
// migrations are DDL, which needs tenant_admin, so a promotion that
// includes the schema (the default) fails at plan time naming the role and
// the way out, also when it is new and has triggers (its changes known
// only after apply); one that leaves schema out promotes the rest.
func TestAccEnvironmentPromotion_schemaNeedsAdmin(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := promotionTenant(t, srv)
	ctx := t.Context()
	for _, e := range []api.EnvironmentSpec{{Name: "staging", Type: api.EnvStaging}, {Name: "qa", Type: api.EnvDevelopment}} {
		if _, err := srv.Client.CreateEnvironment(ctx, tenant, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := srv.Client.SetSchema(ctx, tenant, "staging", api.SchemaSpec{Migrations: map[string]string{"1": createItems}}, 0, 0); err != nil {
		t.Fatal(err)
	}
	tok, err := srv.Client.CreateToken(ctx, api.TokenRequest{Name: "ci", Tenant: tenant, Role: api.RoleTenantUser, TTLSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	config := func(include string) string {
		return fmt.Sprintf(`
provider "tenancy" {
  endpoint = %q
  token    = %q
}

resource "tenancy_environment_promotion" "production" {
  tenant_id          = %q
  source_environment = "staging"
  target_environment = "qa"
  triggers           = { release = "1" }
%s}
`, srv.URL, tok.Token, tenant, include)
	}
	refused := wrapped(`The provider's token (role tenant_user) may not promote "staging" to "qa"`,
		`applies migrations to "qa", which needs role tenant_admin`, `leave schema out of include, or use a tenant_admin token`)
	withoutSchema := `  include            = ["settings", "feature_flags"]` + "\n"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				// New, with triggers: the plan could not preview the changes, but knows the refusal.
				Config:      config(""),
				PlanOnly:    true,
				ExpectError: refused,
			},
			{
				Config: config(withoutSchema),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("last_changes"), linesExact()),
				},
				Check: func(*terraform.State) error {
					_, err := srv.Client.GetSchema(t.Context(), tenant, "qa")
					if err == nil {
						return errors.New("qa has a schema after a promotion without the schema scope")
					}
					if errors.Is(err, client.ErrNotFound) {
						return nil
					}
					return err
				},
			},
			{
				// Adding schema to include later fails at plan time too.
				Config:      config(""),
				PlanOnly:    true,
				ExpectError: refused,
			},
			{
				Config:           config(withoutSchema),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}
