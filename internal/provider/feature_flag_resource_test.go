package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

const flagAddr = "tenancy_feature_flag.test"

// tenantWithEnvironments creates, through the API, a tenant with the named
// environments, as a platform team would have them before adding flags.
func tenantWithEnvironments(t *testing.T, srv *acctest.Server, prefix string, envs ...string) string {
	t.Helper()
	ctx := context.Background()
	slug := acctest.RandomSlug(prefix)
	if _, err := srv.Client.CreateTenant(ctx, api.TenantSpec{Slug: slug, DisplayName: slug, Region: "eu-west", DeletionProtection: new(false)}); err != nil {
		t.Fatalf("create tenant: %v", err)
	}
	for _, env := range envs {
		typ := api.EnvStaging
		if env == "production" {
			typ = api.EnvProduction
		}
		spec := api.EnvironmentSpec{Name: env, Type: typ}
		if _, err := client.Create[api.Environment](ctx, srv.Client, client.PathEscape("v1", "tenants", slug, "environments"), spec); err != nil {
			t.Fatalf("create environment %s: %v", env, err)
		}
	}
	return slug
}

func flagConfig(tenant, key, body string) string {
	return fmt.Sprintf(`
resource "tenancy_feature_flag" "test" {
  tenant_id = %q
  key       = %q
%s
}
`, tenant, key, body)
}

// setFlagByHand changes a flag through the API, as someone would outside Terraform.
func setFlagByHand(t *testing.T, srv *acctest.Server, tenant, key, patch string) {
	t.Helper()
	if _, err := srv.Client.UpdateFeatureFlag(context.Background(), tenant, key, json.RawMessage(patch), 0); err != nil {
		t.Fatalf("change behind Terraform's back: %v", err)
	}
}

// expectFlagOnPlatform checks what the platform holds, entries of
// environments that Terraform does not manage included.
func expectFlagOnPlatform(srv *acctest.Server, tenant, key string, want map[string]api.FlagEnvironment) resource.TestCheckFunc {
	return func(*terraform.State) error {
		f, err := srv.Client.GetFeatureFlag(context.Background(), tenant, key)
		if err != nil {
			return err
		}
		if len(f.Environments) != len(want) {
			return fmt.Errorf("platform holds environments %+v; want %+v", f.Environments, want)
		}
		for env, w := range want {
			if got, ok := f.Environments[env]; !ok || got != w {
				return fmt.Errorf("platform holds %s = %+v; want %+v (all: %+v)", env, got, w, f.Environments)
			}
		}
		return nil
	}
}

func checkFlagsDestroyed(srv *acctest.Server) resource.TestCheckFunc {
	return checkGone("tenancy_feature_flag", func(ctx context.Context, a map[string]string) error {
		_, err := srv.Client.GetFeatureFlag(ctx, a["tenant_id"], a["key"])
		return err
	})
}

// betweenPlanAndApply runs fn after the plan is made and before it is
// applied, as a concurrent change would.
func betweenPlanAndApply(fn func()) plancheck.PlanCheck { return planHook(fn) }

type planHook func()

func (h planHook) CheckPlan(context.Context, plancheck.CheckPlanRequest, *plancheck.CheckPlanResponse) {
	h()
}

func envCheck(enabled bool, rollout int64) knownvalue.Check {
	return knownvalue.ObjectExact(map[string]knownvalue.Check{
		"enabled": knownvalue.Bool(enabled), "rollout_percentage": knownvalue.Int64Exact(rollout),
	})
}

func TestAccFeatureFlag_lifecycle(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := tenantWithEnvironments(t, srv, "flags", "staging", "development")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkFlagsDestroyed(srv),
		Steps: []resource.TestStep{
			{
				Config: srv.Config(flagConfig(tenant, "new-billing", `
  description = "The new billing page"
  environments = {
    staging     = { enabled = true }
    development = { enabled = true, rollout_percentage = 25 }
  }
`)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(flagAddr, tfjsonpath.New("id"), knownvalue.StringExact(tenant+"/new-billing")),
					statecheck.ExpectKnownValue(flagAddr, tfjsonpath.New("description"), knownvalue.StringExact("The new billing page")),
					statecheck.ExpectKnownValue(flagAddr, tfjsonpath.New("environments"), knownvalue.MapExact(map[string]knownvalue.Check{
						"staging": envCheck(true, 100), "development": envCheck(true, 25),
					})),
				},
				Check: expectFlagOnPlatform(srv, tenant, "new-billing", map[string]api.FlagEnvironment{
					"staging": {Enabled: true, RolloutPercentage: 100}, "development": {Enabled: true, RolloutPercentage: 25},
				}),
			},
			{
				// Half-way rollout in staging, off in development, no description.
				Config: srv.Config(flagConfig(tenant, "new-billing", `
  environments = {
    staging     = { enabled = true, rollout_percentage = 50 }
    development = { enabled = false }
  }
`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(flagAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(flagAddr, tfjsonpath.New("description"), knownvalue.StringExact("")),
					statecheck.ExpectKnownValue(flagAddr, tfjsonpath.New("environments"), knownvalue.MapExact(map[string]knownvalue.Check{
						"staging": envCheck(true, 50), "development": envCheck(false, 100),
					})),
				},
				Check: expectFlagOnPlatform(srv, tenant, "new-billing", map[string]api.FlagEnvironment{
					"staging": {Enabled: true, RolloutPercentage: 50}, "development": {Enabled: false, RolloutPercentage: 100},
				}),
			},
			{
				ResourceName:      flagAddr,
				ImportState:       true,
				ImportStateId:     tenant + "/new-billing",
				ImportStateVerify: true,
			},
			{
				// A new key is a new flag.
				Config: srv.Config(flagConfig(tenant, "newer-billing", `environments = { staging = { enabled = true } }`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(flagAddr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				Check: func(*terraform.State) error {
					if _, err := srv.Client.GetFeatureFlag(context.Background(), tenant, "new-billing"); !errors.Is(err, client.ErrNotFound) {
						return fmt.Errorf("the replaced flag is still there: %w", err)
					}
					return nil
				},
			},
		},
	})
}

// TestAccFeatureFlag_unlistedEnvironmentsAreNotManaged is the promotion
// pattern: Terraform manages staging and development, production is set
// elsewhere (by a promotion or by hand) and never shows in the plan.
func TestAccFeatureFlag_unlistedEnvironmentsAreNotManaged(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := tenantWithEnvironments(t, srv, "unlisted", "staging", "development", "production")
	both := srv.Config(flagConfig(tenant, "checkout", `
  environments = {
    staging     = { enabled = true }
    development = { enabled = true }
  }
`))
	stagingOnly := srv.Config(flagConfig(tenant, "checkout", `
  environments = {
    staging = { enabled = true }
  }
`))
	on := api.FlagEnvironment{Enabled: true, RolloutPercentage: 100}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkFlagsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: both},
			{
				// Production is switched on outside Terraform: not a diff.
				PreConfig: func() {
					setFlagByHand(t, srv, tenant, "checkout", `{"environments":{"production":{"enabled":true,"rollout_percentage":5}}}`)
				},
				Config: both,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(flagAddr, tfjsonpath.New("environments"), knownvalue.MapSizeExact(2)),
				},
			},
			{
				// Staging is changed by hand: that is drift, put back by apply,
				// and production's entry survives the repair.
				PreConfig: func() {
					setFlagByHand(t, srv, tenant, "checkout", `{"environments":{"staging":{"enabled":false},"production":{"rollout_percentage":20}}}`)
				},
				Config: both,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(flagAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(flagAddr, tfjsonpath.New("environments").AtMapKey("staging").AtMapKey("enabled"), knownvalue.Bool(true)),
					},
				},
				Check: expectFlagOnPlatform(srv, tenant, "checkout", map[string]api.FlagEnvironment{
					"staging": on, "development": on, "production": {Enabled: true, RolloutPercentage: 20},
				}),
			},
			{
				// Development's entry is deleted by hand: the plan adds it back.
				PreConfig: func() {
					setFlagByHand(t, srv, tenant, "checkout", `{"environments":{"development":null}}`)
				},
				Config: both,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(flagAddr, plancheck.ResourceActionUpdate)},
				},
				Check: expectFlagOnPlatform(srv, tenant, "checkout", map[string]api.FlagEnvironment{
					"staging": on, "development": on, "production": {Enabled: true, RolloutPercentage: 20},
				}),
			},
			{
				// Development leaves the configuration: Terraform stops
				// managing it and leaves its entry on the platform.
				Config: stagingOnly,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(flagAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(flagAddr, tfjsonpath.New("environments"), knownvalue.MapExact(map[string]knownvalue.Check{
						"staging": envCheck(true, 100),
					})),
				},
				Check: expectFlagOnPlatform(srv, tenant, "checkout", map[string]api.FlagEnvironment{
					"staging": on, "development": on, "production": {Enabled: true, RolloutPercentage: 20},
				}),
			},
			{
				// Between plan and apply a promotion writes production: the
				// update of staging still goes through, at the new revision.
				Config: srv.Config(flagConfig(tenant, "checkout", `environments = { staging = { enabled = true, rollout_percentage = 60 } }`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(flagAddr, plancheck.ResourceActionUpdate),
						betweenPlanAndApply(func() {
							setFlagByHand(t, srv, tenant, "checkout", `{"environments":{"production":{"rollout_percentage":30}}}`)
						}),
					},
				},
				Check: expectFlagOnPlatform(srv, tenant, "checkout", map[string]api.FlagEnvironment{
					"staging": {Enabled: true, RolloutPercentage: 60}, "development": on, "production": {Enabled: true, RolloutPercentage: 30},
				}),
			},
			{
				// But a hand change to staging itself, unseen by the plan, is
				// never overwritten: the apply fails and says why.
				Config: stagingOnly,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						betweenPlanAndApply(func() {
							setFlagByHand(t, srv, tenant, "checkout", `{"environments":{"staging":{"enabled":false}}}`)
						}),
					},
				},
				ExpectError: regexp.MustCompile(`(?s)Cannot update feature flag.*412`),
			},
			{
				Config: stagingOnly,
				Check: expectFlagOnPlatform(srv, tenant, "checkout", map[string]api.FlagEnvironment{
					"staging": on, "development": on, "production": {Enabled: true, RolloutPercentage: 30},
				}),
			},
			{
				// Now development is unmanaged too.
				PreConfig: func() {
					setFlagByHand(t, srv, tenant, "checkout", `{"environments":{"development":{"enabled":false}}}`)
				},
				Config: stagingOnly,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

func TestAccFeatureFlag_importBlock(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := tenantWithEnvironments(t, srv, "flagimp", "staging", "production")
	cfg := srv.Config(flagConfig(tenant, "dark-mode", `
  description = "Dark mode"
  environments = {
    staging    = { enabled = true, rollout_percentage = 30 }
    production = { enabled = false }
  }
`))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkFlagsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				Config:          cfg,
				ResourceName:    flagAddr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   tenant + "/dark-mode",
				ImportPlanChecks: resource.ImportPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(flagAddr, plancheck.ResourceActionNoop)},
				},
			},
			{
				// terraform plan -generate-config-out writes configuration that imports cleanly.
				Config:          cfg,
				ResourceName:    flagAddr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   tenant + "/dark-mode",
				GenerateConfig:  true,
				ImportPlanChecks: resource.ImportPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(generatedAddress(flagAddr), plancheck.ResourceActionNoop),
						plancheck.ExpectKnownValue(generatedAddress(flagAddr), tfjsonpath.New("environments"), knownvalue.MapSizeExact(2)),
					},
				},
			},
			{
				ResourceName:  flagAddr,
				ImportState:   true,
				ImportStateId: tenant,
				ExpectError:   regexp.MustCompile(`(?s)A feature flag is imported by its tenant and key.*"<tenant>/<key>"\s+\(such\s+as\s+"acme/new-billing"\)`),
			},
		},
	})
}

func TestAccFeatureFlag_drift(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := tenantWithEnvironments(t, srv, "flagdrift", "staging")
	cfg := srv.Config(flagConfig(tenant, "search-v2", `
  description  = "Search v2"
  environments = { staging = { enabled = true, rollout_percentage = 10 } }
`))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkFlagsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				PreConfig: func() {
					setFlagByHand(t, srv, tenant, "search-v2", `{"description":"edited by hand","environments":{"staging":{"rollout_percentage":90}}}`)
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(flagAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(flagAddr, tfjsonpath.New("description"), knownvalue.StringExact("Search v2")),
					},
				},
				Check: expectFlagOnPlatform(srv, tenant, "search-v2", map[string]api.FlagEnvironment{"staging": {Enabled: true, RolloutPercentage: 10}}),
			},
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

func TestAccFeatureFlag_disappears(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := tenantWithEnvironments(t, srv, "flaggone", "staging")
	cfg := srv.Config(flagConfig(tenant, "gone", `environments = { staging = { enabled = true } }`))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkFlagsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				PreConfig: func() {
					if err := srv.Client.DeleteFeatureFlag(context.Background(), tenant, "gone"); err != nil {
						t.Fatalf("delete behind Terraform's back: %v", err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(flagAddr, plancheck.ResourceActionCreate)},
				},
				Check: expectFlagOnPlatform(srv, tenant, "gone", map[string]api.FlagEnvironment{"staging": {Enabled: true, RolloutPercentage: 100}}),
			},
		},
	})
}

// TestAccFeatureFlag_nullAndEmptyEnvironments keeps "not set" and "set to
// nothing" apart, and neither manages the production entry set by hand.
func TestAccFeatureFlag_nullAndEmptyEnvironments(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := tenantWithEnvironments(t, srv, "flagnull", "production")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkFlagsDestroyed(srv),
		Steps: []resource.TestStep{
			{
				Config: srv.Config(flagConfig(tenant, "bare", "")),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(flagAddr, tfjsonpath.New("environments"), knownvalue.Null()),
					statecheck.ExpectKnownValue(flagAddr, tfjsonpath.New("description"), knownvalue.StringExact("")),
				},
			},
			{
				PreConfig: func() {
					setFlagByHand(t, srv, tenant, "bare", `{"environments":{"production":{"enabled":true}}}`)
				},
				Config: srv.Config(flagConfig(tenant, "bare", `environments = {}`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(flagAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(flagAddr, tfjsonpath.New("environments"), knownvalue.MapExact(map[string]knownvalue.Check{})),
				},
				Check: expectFlagOnPlatform(srv, tenant, "bare", map[string]api.FlagEnvironment{"production": {Enabled: true, RolloutPercentage: api.DefaultRolloutPercentage}}),
			},
			{
				Config: srv.Config(flagConfig(tenant, "bare", `environments = {}`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

func TestAccFeatureFlag_invalidInput(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := tenantWithEnvironments(t, srv, "flagbad", "staging")
	cases := []struct {
		name, key, body, want string
	}{
		{"key", "New_Billing", "", `(?s)Attribute key must be a feature flag key: 1 to 63 characters`},
		{"rollout", "x", `environments = { staging = { enabled = true, rollout_percentage = 101 } }`, `(?s)rollout_percentage\s+value\s+must\s+be\s+between\s+0\s+and\s+100,\s+got:\s+101`},
		{"environment name", "x", `environments = { "Staging Env" = { enabled = true } }`, `(?s)environments.*must be an environment name`},
		{"missing enabled", "x", `environments = { staging = { rollout_percentage = 5 } }`, `(?s)Incorrect attribute value type|attribute "enabled" is required`},
		{"description", "x", `description = "` + strings.Repeat("d", 1001) + `"`, `(?s)description\s+UTF-8\s+character\s+count\s+must\s+be\s+at\s+most\s+1000`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps: []resource.TestStep{{
					Config:      srv.Config(flagConfig(tenant, tc.key, tc.body)),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(tc.want),
				}},
			})
		})
	}
	// An environment the tenant lacks can only be known at apply, since it
	// may be created in the same apply; the error names it.
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkFlagsDestroyed(srv),
		Steps: []resource.TestStep{{
			Config:      srv.Config(flagConfig(tenant, "x", `environments = { prod = { enabled = true } }`)),
			ExpectError: regexp.MustCompile(`(?s)environments\.prod.*has no environment "prod"`),
		}},
	})
}

func TestAccFeatureFlagsDataSource(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := tenantWithEnvironments(t, srv, "flaglist", "staging", "production")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkFlagsDestroyed(srv),
		Steps: []resource.TestStep{
			{
				Config: srv.Config(flagConfig(tenant, "beta", `environments = { staging = { enabled = true, rollout_percentage = 40 } }`)),
			},
			{
				// Production, set outside Terraform, shows in the data source.
				PreConfig: func() {
					setFlagByHand(t, srv, tenant, "beta", `{"environments":{"production":{"enabled":false}}}`)
					if _, err := srv.Client.CreateFeatureFlag(context.Background(), tenant, api.FeatureFlagSpec{Key: "alpha", Description: "no environments"}); err != nil {
						t.Fatal(err)
					}
				},
				Config: srv.Config(flagConfig(tenant, "beta", `environments = { staging = { enabled = true, rollout_percentage = 40 } }`) + fmt.Sprintf(`
data "tenancy_feature_flags" "all" {
  tenant_id = %q
  depends_on = [tenancy_feature_flag.test]
}
`, tenant)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.tenancy_feature_flags.all", tfjsonpath.New("flags"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"id": knownvalue.StringExact(tenant + "/alpha"), "key": knownvalue.StringExact("alpha"),
							"description": knownvalue.StringExact("no environments"), "environments": knownvalue.Null(),
						}),
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"id": knownvalue.StringExact(tenant + "/beta"), "key": knownvalue.StringExact("beta"),
							"description": knownvalue.StringExact(""),
							"environments": knownvalue.MapExact(map[string]knownvalue.Check{
								"staging": envCheck(true, 40), "production": envCheck(false, api.DefaultRolloutPercentage),
							}),
						}),
					})),
				},
			},
		},
	})
}
