package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
)

const environmentAddr = "tenancy_environment.test"

func environmentConfig(tenant, name, typ, settings string) string {
	if settings != "" {
		settings = "  settings = " + settings + "\n"
	}
	return fmt.Sprintf(`
resource "tenancy_environment" "test" {
  tenant_id = %q
  name      = %q
  type      = %q
%s}
`, tenant, name, typ, settings)
}

// checkEnvironmentsDestroyed asserts against the API that no environment of the state remains.
func checkEnvironmentsDestroyed(srv *acctest.Server) resource.TestCheckFunc {
	return checkGone("tenancy_environment", func(ctx context.Context, a map[string]string) error {
		_, err := srv.Client.GetEnvironment(ctx, a["tenant_id"], a["name"])
		return err
	})
}

func settingsExact(m map[string]string) knownvalue.Check {
	checks := map[string]knownvalue.Check{}
	for k, v := range m {
		checks[k] = knownvalue.StringExact(v)
	}
	return knownvalue.MapExact(checks)
}

func TestAccEnvironment_lifecycle(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := platformTenant(t, srv, "env")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkEnvironmentsDestroyed(srv),
		Steps: []resource.TestStep{
			{
				Config: srv.Config(environmentConfig(tenant, "staging", "staging", `{
    log_level      = "debug"
    "db.pool_size" = "10"
  }`)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(environmentAddr, tfjsonpath.New("id"), knownvalue.StringExact(tenant+"/staging")),
					statecheck.ExpectKnownValue(environmentAddr, tfjsonpath.New("status"), knownvalue.StringExact("active")),
					statecheck.ExpectKnownValue(environmentAddr, tfjsonpath.New("database").AtMapKey("engine"), knownvalue.StringExact(api.EngineSQLite)),
					statecheck.ExpectKnownValue(environmentAddr, tfjsonpath.New("restore_from_backup"), knownvalue.Null()),
					statecheck.ExpectKnownValue(environmentAddr, tfjsonpath.New("settings"),
						settingsExact(map[string]string{"log_level": "debug", "db.pool_size": "10"})),
				},
				Check: func(*terraform.State) error {
					e, err := srv.Client.GetEnvironment(context.Background(), tenant, "staging")
					if err != nil {
						return err
					}
					if e.Type != api.EnvStaging || !maps.Equal(e.Settings, map[string]string{"log_level": "debug", "db.pool_size": "10"}) {
						return fmt.Errorf("the platform holds %+v", e)
					}
					return nil
				},
			},
			{
				// Settings and type change in place; a removed key goes away.
				Config: srv.Config(environmentConfig(tenant, "staging", "sandbox", `{
    log_level = "info"
    region    = "eu"
  }`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(environmentAddr, plancheck.ResourceActionUpdate),
						// The store stays where it is: database is known in the plan.
						plancheck.ExpectKnownValue(environmentAddr, tfjsonpath.New("database").AtMapKey("isolation"), knownvalue.StringExact(api.PlacementShared)),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(environmentAddr, tfjsonpath.New("type"), knownvalue.StringExact("sandbox")),
					statecheck.ExpectKnownValue(environmentAddr, tfjsonpath.New("settings"),
						settingsExact(map[string]string{"log_level": "info", "region": "eu"})),
				},
				Check: func(*terraform.State) error {
					e, err := srv.Client.GetEnvironment(context.Background(), tenant, "staging")
					if err != nil {
						return err
					}
					if _, ok := e.Settings["db.pool_size"]; ok || e.Type != api.EnvSandbox {
						return fmt.Errorf("the platform holds %+v", e)
					}
					return nil
				},
			},
			{
				// Empty settings and no settings are different things.
				Config: srv.Config(environmentConfig(tenant, "staging", "sandbox", "{}")),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(environmentAddr, tfjsonpath.New("settings"), knownvalue.MapExact(map[string]knownvalue.Check{})),
				},
			},
			{
				Config: srv.Config(environmentConfig(tenant, "staging", "sandbox", "")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(environmentAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(environmentAddr, tfjsonpath.New("settings"), knownvalue.Null()),
				},
			},
			{
				ResourceName:      environmentAddr,
				ImportState:       true,
				ImportStateId:     tenant + "/staging",
				ImportStateVerify: true,
			},
			{
				// A new name is a new environment.
				Config: srv.Config(environmentConfig(tenant, "qa", "sandbox", "")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(environmentAddr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(environmentAddr, tfjsonpath.New("id"), knownvalue.StringExact(tenant+"/qa")),
				},
				Check: func(*terraform.State) error {
					_, err := srv.Client.GetEnvironment(context.Background(), tenant, "staging")
					if err == nil {
						return errors.New("the environment's old name still exists after the rename")
					}
					if !errors.Is(err, client.ErrNotFound) {
						return err
					}
					return nil
				},
			},
		},
	})
}

// TestAccEnvironment_withItsTenant creates a tenant and its environments in
// one apply, the way a new customer is set up.
func TestAccEnvironment_withItsTenant(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	slug := acctest.RandomSlug("newco")
	cfg := srv.Config(tenantConfig(slug, "NewCo", "") + `
resource "tenancy_environment" "production" {
  tenant_id = tenancy_tenant.test.id
  name      = "production"
  type      = "production"
  settings  = { tier = "gold" }
}

resource "tenancy_environment" "staging" {
  tenant_id = tenancy_tenant.test.id
  name      = "staging"
  type      = "staging"
  settings  = { tier = "bronze" }
}
`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             resource.ComposeTestCheckFunc(checkEnvironmentsDestroyed(srv), checkTenantsDestroyed(srv)),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("tenancy_environment.production", tfjsonpath.New("id"), knownvalue.StringExact(slug+"/production")),
					statecheck.ExpectKnownValue("tenancy_environment.staging", tfjsonpath.New("settings").AtMapKey("tier"), knownvalue.StringExact("bronze")),
				},
			},
			{
				Config:           cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// TestAccEnvironment_failedProvisioning has the platform fail to make a new
// environment's data store (a directory stands where its file goes): the
// apply fails at once, with the platform's reason, instead of waiting out
// timeouts.create; the environment stays in state as tainted; and once the
// obstacle is gone, the next apply replaces it with an active one, within
// the timeouts.create it is given.
func TestAccEnvironment_failedProvisioning(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := platformTenant(t, srv, "envfail")
	obstacle := srv.Data.Location(tenantdata.Ref{Tenant: tenant, Environment: "staging", Placement: api.PlacementShared}).Name
	var started time.Time
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkEnvironmentsDestroyed(srv),
		Steps: []resource.TestStep{
			{
				// A duration that is none fails at plan time.
				Config: srv.Config(strings.Replace(environmentConfig(tenant, "staging", "staging", ""),
					"}\n", "  timeouts  = { create = \"soon\" }\n}\n", 1)),
				ExpectError: regexp.MustCompile(`(?s)Invalid Attribute Value Time Duration.*"soon" must be a string containing`),
			},
			{
				PreConfig: func() {
					if err := os.MkdirAll(obstacle, 0o700); err != nil {
						t.Fatal(err)
					}
					started = time.Now()
				},
				Config: srv.Config(environmentConfig(tenant, "staging", "staging", "")),
				ExpectError: wrapped(`Environment "staging" of tenant "`+tenant+`" failed to provision`,
					`could not make its data store: provisioning `+tenant+`/staging`, `tainted`),
			},
			{
				PreConfig: func() {
					// Well within the five minutes the wait would have taken.
					if took := time.Since(started); took > time.Minute {
						t.Errorf("the failed create took %s; a failed data store should end the wait at once", took)
					}
					if err := os.Remove(obstacle); err != nil {
						t.Fatal(err)
					}
				},
				Config: srv.Config(strings.Replace(environmentConfig(tenant, "staging", "staging", ""),
					"}\n", "  timeouts  = { create = \"2m\" }\n}\n", 1)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(environmentAddr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(environmentAddr, tfjsonpath.New("status"), knownvalue.StringExact(api.StatusActive)),
					statecheck.ExpectKnownValue(environmentAddr, tfjsonpath.New("database").AtMapKey("name"), knownvalue.StringExact(obstacle)),
					statecheck.ExpectKnownValue(environmentAddr, tfjsonpath.New("timeouts").AtMapKey("create"), knownvalue.StringExact("2m")),
				},
			},
			{
				ResourceName: environmentAddr, ImportState: true, ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"timeouts"},
			},
		},
	})
}

func TestAccEnvironment_importBlock(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := platformTenant(t, srv, "envimp")
	if _, err := srv.Client.CreateEnvironment(t.Context(), tenant, api.EnvironmentSpec{
		Name: "production", Type: api.EnvProduction, Settings: map[string]string{"log_level": "warn"},
	}); err != nil {
		t.Fatal(err)
	}
	cfg := srv.Config(environmentConfig(tenant, "production", "production", `{ log_level = "warn" }`))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkEnvironmentsDestroyed(srv),
		Steps: []resource.TestStep{
			{
				// An environment made outside Terraform is adopted with an import block, and plans clean.
				Config:          cfg,
				ResourceName:    environmentAddr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   tenant + "/production",
				ImportPlanChecks: resource.ImportPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(environmentAddr, plancheck.ResourceActionNoop)},
				},
			},
			{
				Config:        cfg,
				ResourceName:  environmentAddr,
				ImportState:   true,
				ImportStateId: tenant,
				ExpectError:   regexp.MustCompile(`(?s)An environment is imported by its tenant and name:.*"<tenant>/<environment>" \(such as\s+"acme/staging"\)`),
			},
		},
	})
}

func TestAccEnvironment_drift(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := platformTenant(t, srv, "envdrift")
	cfg := srv.Config(environmentConfig(tenant, "production", "production", `{ log_level = "warn" }`))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkEnvironmentsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				// Someone turns on debug logging in production by hand: the plan puts it back.
				PreConfig: func() {
					patch := json.RawMessage(`{"settings":{"log_level":"debug","trace":"on"}}`)
					if _, err := srv.Client.UpdateEnvironment(context.Background(), tenant, "production", patch, 0); err != nil {
						t.Fatalf("change behind Terraform's back: %v", err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(environmentAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(environmentAddr, tfjsonpath.New("settings"), settingsExact(map[string]string{"log_level": "warn"})),
					},
				},
				Check: func(*terraform.State) error {
					e, err := srv.Client.GetEnvironment(context.Background(), tenant, "production")
					if err != nil {
						return err
					}
					if !maps.Equal(e.Settings, map[string]string{"log_level": "warn"}) {
						return fmt.Errorf("after apply the platform holds settings %v", e.Settings)
					}
					return nil
				},
			},
			{
				Config:           cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

func TestAccEnvironment_disappears(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := platformTenant(t, srv, "envgone")
	cfg := srv.Config(environmentConfig(tenant, "staging", "staging", ""))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkEnvironmentsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				PreConfig: func() {
					if err := srv.Client.DeleteEnvironment(context.Background(), tenant, "staging"); err != nil {
						t.Fatalf("delete behind Terraform's back: %v", err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(environmentAddr, plancheck.ResourceActionCreate)},
				},
				Check: func(*terraform.State) error {
					_, err := srv.Client.GetEnvironment(context.Background(), tenant, "staging")
					return err
				},
			},
		},
	})
}

func TestAccEnvironment_invalidInputFailsAtPlan(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	cases := []struct {
		name, env, typ, settings, want string
	}{
		{"name", "Staging", "staging", "", `(?s)Attribute name must be an environment name`},
		{"type", "staging", "preprod", "", `(?s)Attribute type value must be one of.*"production"`},
		{"settings key", "staging", "staging", `{ "Log Level" = "x" }`, `(?s)settings.*must be a settings key`},
		{"settings value", "staging", "staging", `{ blob = "` + strings.Repeat("x", 4097) + `" }`, `(?s)settings.*string length must be at most 4096`},
		{"tenant", "staging", "staging", "", `(?s)tenant_id must be a tenant slug`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tenant := "acme"
			if tc.name == "tenant" {
				tenant = "ACME"
			}
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps: []resource.TestStep{{
					Config:      srv.Config(environmentConfig(tenant, tc.env, tc.typ, tc.settings)),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(tc.want),
				}},
			})
		})
	}
}

func TestAccEnvironmentDataSource(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := platformTenant(t, srv, "envds")
	if _, err := srv.Client.CreateEnvironment(t.Context(), tenant, api.EnvironmentSpec{
		Name: "staging", Type: api.EnvStaging, Settings: map[string]string{"log_level": "debug"},
	}); err != nil {
		t.Fatal(err)
	}
	const ds = "data.tenancy_environment.test"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			// The missing one first: the last step's configuration is the one destroyed.
			{
				Config: srv.Config(fmt.Sprintf(`
data "tenancy_environment" "test" {
  tenant_id = %q
  name      = "nowhere"
}
`, tenant)),
				ExpectError: regexp.MustCompile(`(?s)Environment not found.*No environment "nowhere" of tenant`),
			},
			{
				Config: srv.Config(fmt.Sprintf(`
data "tenancy_environment" "test" {
  tenant_id = %q
  name      = "staging"
}
`, tenant)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("id"), knownvalue.StringExact(tenant+"/staging")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("type"), knownvalue.StringExact("staging")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("status"), knownvalue.StringExact("active")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("settings"), settingsExact(map[string]string{"log_level": "debug"})),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("database").AtMapKey("name"), knownvalue.StringRegexp(regexp.MustCompile("/"+tenant+`/staging\.db$`))),
				},
			},
		},
	})
}

// databaseOf reads an environment's database from state.
func databaseOf(s *terraform.State, address string) (map[string]string, error) {
	rs, ok := s.RootModule().Resources[address]
	if !ok {
		return nil, fmt.Errorf("%s is not in state", address)
	}
	out := map[string]string{}
	for _, k := range []string{"engine", "host", "port", "name", "schema", "isolation"} {
		out[k] = rs.Primary.Attributes["database."+k]
	}
	return out, nil
}

// TestAccEnvironment_isolationChangeMovesTheData changes a tenant's
// isolation from shared to dedicated, then to hybrid, with two environments
// holding rows: each plan shows the database of the environments whose
// store moves as known after apply (and leaves the others' alone), each
// apply moves the data with the same tables, row counts and checksums, and
// the state's database says where each store is now.
func TestAccEnvironment_isolationChangeMovesTheData(t *testing.T) {
	forEachEngine(t, func(t *testing.T, srv *acctest.Server) {
		slug := acctest.RandomSlug("iso")
		migrations := []string{"1", createItems, "2", fillItems, "3", createTags, "4", fillTags}
		cfg := func(isolation string) string {
			return srv.Config(tenantConfig(slug, "Isolated", fmt.Sprintf("  isolation = %q\n", isolation)) + `
resource "tenancy_environment" "production" {
  tenant_id = tenancy_tenant.test.id
  name      = "production"
  type      = "production"
}

resource "tenancy_environment" "staging" {
  tenant_id = tenancy_tenant.test.id
  name      = "staging"
  type      = "staging"
}
` + strings.NewReplacer(`"test"`, `"production"`, `tenant_id   = "X"`, `tenant_id   = tenancy_tenant.test.id`,
				`environment = "production"`, `environment = tenancy_environment.production.name`).Replace(schemaConfig("X", "production", "", migrations...)) +
				strings.NewReplacer(`"test"`, `"staging"`, `tenant_id   = "X"`, `tenant_id   = tenancy_tenant.test.id`,
					`environment = "staging"`, `environment = tenancy_environment.staging.name`).Replace(schemaConfig("X", "staging", "", migrations[:4]...)))
		}
		const prod, staging = "tenancy_environment.production", "tenancy_environment.staging"
		var before tableFigures
		var places []map[string]string
		where := func(isolation string) resource.TestCheckFunc {
			return func(s *terraform.State) error {
				for _, addr := range []string{prod, staging} {
					db, err := databaseOf(s, addr)
					if err != nil {
						return err
					}
					env := strings.TrimPrefix(addr, "tenancy_environment.")
					want := api.PlacementFor(isolation, env)
					if db["isolation"] != want {
						return fmt.Errorf("%s: database.isolation %q, want %q", addr, db["isolation"], want)
					}
					e, err := srv.Client.GetEnvironment(context.Background(), slug, env)
					if err != nil {
						return err
					}
					if e.Database == nil || e.Database.Name != db["name"] || e.Database.Schema != db["schema"] || e.Database.Isolation != want {
						return fmt.Errorf("%s: the state says %v, the platform %+v", addr, db, e.Database)
					}
					places = append(places, db)
				}
				after := backupFigures(t, srv, slug, "")
				if before == nil {
					before = after
					return nil
				}
				t.Logf("%s, isolation %s: tables before %s; after %s; production in %s, staging in %s", srv.Data.Engine(), isolation, before, after,
					places[len(places)-2]["name"], places[len(places)-1]["name"])
				return sameFigures(before, after)
			}
		}
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testProviders,
			CheckDestroy:             checkTenantsDestroyed(srv),
			Steps: []resource.TestStep{
				{
					Config: cfg(api.IsolationShared),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(prod, tfjsonpath.New("database").AtMapKey("engine"), knownvalue.StringExact(srv.Data.Engine())),
					},
					Check: resource.ComposeTestCheckFunc(where(api.IsolationShared),
						expectRows(t, srv, slug, "production", map[string]int64{"items": 3, "tags": 2})),
				},
				{
					Config: cfg(api.IsolationDedicated),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(tenantAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(prod, tfjsonpath.New("database")),
						plancheck.ExpectUnknownValue(staging, tfjsonpath.New("database")),
					}},
					Check: resource.ComposeTestCheckFunc(where(api.IsolationDedicated),
						expectRows(t, srv, slug, "production", map[string]int64{"items": 3, "tags": 2}),
						expectRows(t, srv, slug, "staging", map[string]int64{"items": 3})),
				},
				{
					// Hybrid: production stays dedicated, staging goes back to the shared database.
					Config: cfg(api.IsolationHybrid),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(prod, plancheck.ResourceActionNoop),
						plancheck.ExpectKnownValue(prod, tfjsonpath.New("database").AtMapKey("isolation"), knownvalue.StringExact(api.PlacementDedicated)),
						plancheck.ExpectUnknownValue(staging, tfjsonpath.New("database")),
					}},
					Check: where(api.IsolationHybrid),
				},
				{
					Config:           cfg(api.IsolationHybrid),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				},
			},
		})
	})
}

// TestAccEnvironment_sandboxFromBackup clones production into a sandbox
// through restore_from_backup: the sandbox starts with production's rows and
// schema; the next day's backup (a trigger change) replaces the sandbox
// with production as it is then; removing restore_from_backup from the
// configuration changes nothing; and a backup that does not exist fails at
// plan.
func TestAccEnvironment_sandboxFromBackup(t *testing.T) {
	forEachEngine(t, func(t *testing.T, srv *acctest.Server) {
		tenant := dataTenant(t, srv, "sandbox", "production")
		seedSchema(t, srv, tenant, "production")
		cfg := func(day, sandbox string) string {
			return srv.Config(fmt.Sprintf(`
resource "tenancy_backup" "nightly" {
  tenant_id       = %[1]q
  environment     = "production"
  triggers        = { day = %[2]q }
  keep_on_destroy = true
}

resource "tenancy_environment" "test" {
  tenant_id = %[1]q
  name      = "sandbox"
  type      = "sandbox"
%[3]s}
`, tenant, day, sandbox))
		}
		const restore = "  restore_from_backup = tenancy_backup.nightly.backup_id\n"
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testProviders,
			CheckDestroy:             checkEnvironmentsDestroyed(srv),
			Steps: []resource.TestStep{
				{
					Config: cfg("2025-03-01", restore),
					Check: resource.ComposeTestCheckFunc(
						expectRows(t, srv, tenant, "sandbox", map[string]int64{"items": 3, "tags": 2}),
						appliedVersions(srv, tenant, "sandbox", "1", "2", "3", "4"),
						resource.TestCheckResourceAttrPair(environmentAddr, "restore_from_backup", "tenancy_backup.nightly", "backup_id"),
						func(*terraform.State) error {
							before, after := backupFigures(t, srv, tenant, "production"), backupFigures(t, srv, tenant, "sandbox")
							t.Logf("%s: sandbox from production's backup: production %s; sandbox %s", srv.Data.Engine(), before, after)
							return sameFigures(before, rekey(after, "production"))
						}),
				},
				{
					PreConfig: func() {
						db := storeDB(t, srv, tenant, "production")
						if _, err := db.ExecContext(context.Background(), "INSERT INTO items (id, name) VALUES (4, 'spring')"); err != nil {
							t.Fatal(err)
						}
					},
					Config: cfg("2025-03-02", restore),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("tenancy_backup.nightly", plancheck.ResourceActionDestroyBeforeCreate),
						plancheck.ExpectResourceAction(environmentAddr, plancheck.ResourceActionDestroyBeforeCreate),
					}},
					Check: expectRows(t, srv, tenant, "sandbox", map[string]int64{"items": 4, "tags": 2}),
				},
				{
					Config:           cfg("2025-03-02", ""),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				},
				{
					Config: cfg("2025-03-02", "") + fmt.Sprintf(`
resource "tenancy_environment" "other" {
  tenant_id           = %q
  name                = "sandbox-two"
  type                = "sandbox"
  restore_from_backup = "bkp_00000000000000000000"
}
`, tenant),
					PlanOnly:    true,
					ExpectError: wrapped(`Cannot create environment "sandbox-two"`, `from backup bkp_00000000000000000000`, `bkp_00000000000000000000`),
				},
			},
		})
	})
}
