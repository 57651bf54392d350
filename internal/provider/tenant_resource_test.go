package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/provider"
)

const tenantAddr = "tenancy_tenant.test"

func tenantConfig(slug, displayName, extra string) string {
	return fmt.Sprintf(`
resource "tenancy_tenant" "test" {
  slug                = %q
  display_name        = %q
  region              = "eu-west"
  deletion_protection = false
%s
}
`, slug, displayName, extra)
}

// checkTenantsDestroyed asserts against the API that no tenant of the state remains.
func checkTenantsDestroyed(srv *acctest.Server) resource.TestCheckFunc {
	return checkGone("tenancy_tenant", func(ctx context.Context, a map[string]string) error {
		_, err := srv.Client.GetTenant(ctx, a["id"])
		return err
	})
}

func TestAccTenant_lifecycle(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	slug := acctest.RandomSlug("acme")
	full := `
  isolation = "dedicated"
  domain    = "` + slug + `.example.com"
  timezone  = "Europe/Paris"
  language  = "fr-FR"
  branding = {
    logo_url      = "https://cdn.example.com/logo.svg"
    primary_color = "#0A66C2"
  }
  labels = { plan = "enterprise" }
  security_policy = {
    mfa_required  = true
    allowed_cidrs = ["10.0.0.0/8", "192.168.0.0/16"]
  }
  data_retention_days = 90
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkTenantsDestroyed(srv),
		Steps: []resource.TestStep{
			{
				Config: srv.Config(tenantConfig(slug, "Acme", full)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(tenantAddr, tfjsonpath.New("id"), knownvalue.StringExact(slug)),
					statecheck.ExpectKnownValue(tenantAddr, tfjsonpath.New("status"), knownvalue.StringExact("active")),
					statecheck.ExpectKnownValue(tenantAddr, tfjsonpath.New("isolation"), knownvalue.StringExact("dedicated")),
					statecheck.ExpectKnownValue(tenantAddr, tfjsonpath.New("security_policy").AtMapKey("session_timeout_minutes"), knownvalue.Int64Exact(60)),
					statecheck.ExpectKnownValue(tenantAddr, tfjsonpath.New("security_policy").AtMapKey("allowed_cidrs"),
						knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("10.0.0.0/8"), knownvalue.StringExact("192.168.0.0/16")})),
					statecheck.ExpectKnownValue(tenantAddr, tfjsonpath.New("labels"), knownvalue.MapExact(map[string]knownvalue.Check{"plan": knownvalue.StringExact("enterprise")})),
					statecheck.ExpectKnownValue(tenantAddr, tfjsonpath.New("created_at"), knownvalue.NotNull()),
				},
				Check: func(*terraform.State) error {
					got, err := srv.Client.GetTenant(context.Background(), slug)
					if err != nil {
						return err
					}
					if got.Language != "fr-FR" || got.Domain == nil || *got.Domain != slug+".example.com" {
						return fmt.Errorf("backend holds language %q domain %v", got.Language, got.Domain)
					}
					return nil
				},
			},
			{
				// In-place update, including removing a nested attribute and a label.
				Config: srv.Config(tenantConfig(slug, "Acme Corporation", `
  isolation = "dedicated"
  timezone  = "America/New_York"
  labels    = {}
  security_policy = {
    session_timeout_minutes = 15
  }
`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(tenantAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(tenantAddr, tfjsonpath.New("display_name"), knownvalue.StringExact("Acme Corporation")),
					statecheck.ExpectKnownValue(tenantAddr, tfjsonpath.New("domain"), knownvalue.Null()),
					statecheck.ExpectKnownValue(tenantAddr, tfjsonpath.New("branding"), knownvalue.Null()),
					statecheck.ExpectKnownValue(tenantAddr, tfjsonpath.New("labels"), knownvalue.MapExact(map[string]knownvalue.Check{})),
					statecheck.ExpectKnownValue(tenantAddr, tfjsonpath.New("security_policy").AtMapKey("allowed_cidrs"), knownvalue.Null()),
					statecheck.ExpectKnownValue(tenantAddr, tfjsonpath.New("security_policy").AtMapKey("mfa_required"), knownvalue.Bool(false)),
				},
			},
			{
				ResourceName:            tenantAddr,
				ImportState:             true,
				ImportStateId:           slug,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"timeouts"},
			},
			{
				// A new slug is a new tenant.
				Config: srv.Config(tenantConfig(slug+"-2", "Acme Corporation", `isolation = "dedicated"`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(tenantAddr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(tenantAddr, tfjsonpath.New("id"), knownvalue.StringExact(slug+"-2")),
				},
			},
		},
	})
}

func TestAccTenant_importBlock(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	slug := acctest.RandomSlug("imported")
	cfg := srv.Config(tenantConfig(slug, "Imported", `
  labels = { source = "api" }
`))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkTenantsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				Config:          cfg,
				ResourceName:    tenantAddr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   slug,
				ImportPlanChecks: resource.ImportPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(tenantAddr, plancheck.ResourceActionNoop)},
				},
			},
			{
				ResourceName:  tenantAddr,
				ImportState:   true,
				ImportStateId: "Not_A_Slug",
				ExpectError:   regexp.MustCompile(`(?s)A tenant is imported by its slug, such as "acme"`),
			},
		},
	})
}

func TestAccTenant_drift(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	slug := acctest.RandomSlug("drift")
	cfg := srv.Config(tenantConfig(slug, "Drift Inc", `labels = { team = "platform" }`))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkTenantsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				// Someone renames the tenant through the API: the plan shows it.
				PreConfig: func() {
					patch := json.RawMessage(`{"display_name":"Renamed by hand","labels":{"team":"other"}}`)
					if _, err := srv.Client.UpdateTenant(context.Background(), slug, patch, 0); err != nil {
						t.Fatalf("change behind Terraform's back: %v", err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(tenantAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(tenantAddr, tfjsonpath.New("display_name"), knownvalue.StringExact("Drift Inc")),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(tenantAddr, tfjsonpath.New("display_name"), knownvalue.StringExact("Drift Inc")),
				},
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

func TestAccTenant_disappears(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	slug := acctest.RandomSlug("gone")
	cfg := srv.Config(tenantConfig(slug, "Gone Ltd", ""))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkTenantsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				PreConfig: func() {
					if _, err := srv.Client.DeleteTenant(context.Background(), slug, 0); err != nil {
						t.Fatalf("delete behind Terraform's back: %v", err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(tenantAddr, plancheck.ResourceActionCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(tenantAddr, tfjsonpath.New("status"), knownvalue.StringExact("active")),
				},
			},
		},
	})
}

func TestAccTenant_deletionProtection(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	slug := acctest.RandomSlug("kept")
	protected := srv.Config(fmt.Sprintf(`
resource "tenancy_tenant" "test" {
  slug         = %q
  display_name = "Protected"
  region       = "eu-west"
}
`, slug))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkTenantsDestroyed(srv),
		Steps: []resource.TestStep{
			{
				Config: protected,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(tenantAddr, tfjsonpath.New("deletion_protection"), knownvalue.Bool(true)),
				},
			},
			{
				Config:      protected,
				Destroy:     true,
				ExpectError: wrapped(`Tenant "`+slug+`" is protected from deletion`, `set deletion_protection = false`, `run terraform apply`),
			},
			{
				// Still there after the refused destroy; lifting the protection lets the test's destroy through.
				Config: srv.Config(tenantConfig(slug, "Protected", "")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(tenantAddr, plancheck.ResourceActionUpdate)},
				},
				Check: func(*terraform.State) error {
					_, err := srv.Client.GetTenant(context.Background(), slug)
					return err
				},
			},
		},
	})
}

func TestAccTenant_invalidInputFailsAtPlan(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	cases := []struct {
		name, slug, extra string
		want              string
	}{
		{"slug", "Bad_Slug", "", `(?s)Attribute slug must be a tenant slug: 3 to 63 lower-case letters`},
		{"timezone", "tz-test", `timezone = "Mars/Olympus"`, `(?s)timezone.*"Mars/Olympus" is not an IANA time zone`},
		{"cidr", "cidr-test", `security_policy = { allowed_cidrs = ["10.0.0.1/8"] }`, `(?s)allowed_cidrs.*10\.0\.0\.0/8`},
		{"language", "lang-test", `language = "english_US"`, `(?s)language.*english_US`},
		{"color", "color-test", `branding = { primary_color = "blue" }`, `(?s)primary_color.*"blue"`},
		{"isolation", "iso-test", `isolation = "private"`, `(?s)isolation.*value must be one of`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps: []resource.TestStep{{
					Config:      srv.Config(tenantConfig(tc.slug, "Invalid", tc.extra)),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(tc.want),
				}},
			})
		})
	}
}

func TestAccTenantDataSource(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	slug := acctest.RandomSlug("lookup")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkTenantsDestroyed(srv),
		Steps: []resource.TestStep{{
			Config: srv.Config(tenantConfig(slug, "Lookup", `labels = { tier = "gold" }`) + `
data "tenancy_tenant" "test" {
  slug = tenancy_tenant.test.slug
}
`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.tenancy_tenant.test", tfjsonpath.New("display_name"), knownvalue.StringExact("Lookup")),
				statecheck.ExpectKnownValue("data.tenancy_tenant.test", tfjsonpath.New("status"), knownvalue.StringExact("active")),
				statecheck.ExpectKnownValue("data.tenancy_tenant.test", tfjsonpath.New("labels").AtMapKey("tier"), knownvalue.StringExact("gold")),
				statecheck.ExpectKnownValue("data.tenancy_tenant.test", tfjsonpath.New("security_policy"), knownvalue.Null()),
			},
		}},
	})
}

// TestAccTenant_unknownRegionFailsAtPlan checks that a region the platform
// does not offer fails at plan, listing the ones it does.
func TestAccTenant_unknownRegionFailsAtPlan(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: srv.Config(`
resource "tenancy_tenant" "test" {
  slug         = "mars-colony"
  display_name = "Mars"
  region       = "mars-1"
}
`),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)Region not offered.*"mars-1" is not a region this platform offers; use one of\s+us-east, us-west`),
		}},
	})
}

// quickstartSize is how many resources examples/quickstart manages, each an
// object of the platform.
const quickstartSize = 15

// TestAccTenant_protectedDestroyFailsAtPlan runs terraform destroy on the
// quickstart, whose tenant keeps the default deletion_protection: the plan
// fails, naming the tenant and the way to remove it, and every one of the
// quickstart's objects is still on the platform and in the state.
func TestAccTenant_protectedDestroyFailsAtPlan(t *testing.T) {
	srv := acctest.Start(t)
	t.Setenv("TENANCY_ENDPOINT", srv.URL)
	t.Setenv("TENANCY_TOKEN", srv.Token)
	t.Setenv("TF_ACC_PROVIDER_NAMESPACE", "tenancyhq")
	dir := config.StaticDirectory(filepath.Join(examplesDir, "quickstart"))
	var before map[string]int
	resource.Test(t, resource.TestCase{
		CheckDestroy: checkTenantsDestroyed(srv),
		Steps: []resource.TestStep{
			{
				ConfigDirectory: dir, ProtoV6ProviderFactories: testProviders,
				ConfigStateChecks: []statecheck.StateCheck{expectStateSize(quickstartSize)},
				Check: func(*terraform.State) error {
					before = mustTenantObjects(t, srv, "acme")
					if total(before) != quickstartSize {
						return fmt.Errorf("the platform holds %d objects of acme (%s), want %d", total(before), describeCounts(before), quickstartSize)
					}
					return nil
				},
			},
			{
				ConfigDirectory: dir, ProtoV6ProviderFactories: testProviders,
				Destroy: true,
				ExpectError: wrapped(`Tenant "acme" is protected from deletion`, `This plan destroys tenant "acme"`,
					`nothing is destroyed`, `set deletion_protection = false on tenant "acme"`, `run terraform apply`,
					`then remove the customer from the configuration, or run terraform destroy`),
			},
			{
				ConfigDirectory: dir, ProtoV6ProviderFactories: testProviders,
				PreConfig: func() {
					after := mustTenantObjects(t, srv, "acme")
					if !maps.Equal(after, before) {
						t.Fatalf("after the refused destroy the platform holds %d of the %d objects of acme: %s (before: %s)",
							total(after), total(before), describeCounts(after), describeCounts(before))
					}
					t.Logf("objects left after the refused destroy: %d of %d (%s)", total(after), total(before), describeCounts(after))
				},
				ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: []statecheck.StateCheck{expectStateSize(quickstartSize)},
				Check:             func(*terraform.State) error { return unprotectAll(srv) },
				// Lifting the protection, for the test's own destroy, is drift.
				ExpectNonEmptyPlan: true,
			},
			acceptHandChanges(resource.TestStep{ProtoV6ProviderFactories: testProviders}),
		},
	})
}

// customersConfig is a set of customers made with for_each, each a tenant
// with an environment, a user bound as tenant_admin and a tenant-wide
// quota; var.customers says, per customer, whether its tenant has
// deletion_protection.
func customersConfig(srv *acctest.Server, suffix string) string {
	return srv.Config(fmt.Sprintf(`
terraform {
  required_providers {
    tenancy = { source = "tenancyhq/tenancy" }
  }
}

variable "customers" {
  type = map(object({ protect = bool }))
}

resource "tenancy_tenant" "customer" {
  for_each            = var.customers
  slug                = "${each.key}-%s"
  display_name        = each.key
  region              = "eu-west"
  deletion_protection = each.value.protect
}

resource "tenancy_environment" "production" {
  for_each  = var.customers
  tenant_id = tenancy_tenant.customer[each.key].id
  name      = "production"
  type      = "production"
}

resource "tenancy_user" "admin" {
  for_each     = var.customers
  tenant_id    = tenancy_tenant.customer[each.key].id
  email        = "admin@${each.key}.example.com"
  display_name = "Admin of ${each.key}"
}

resource "tenancy_role_binding" "admin" {
  for_each  = var.customers
  tenant_id = tenancy_tenant.customer[each.key].id
  user_id   = tenancy_user.admin[each.key].user_id
  role      = "tenant_admin"
}

resource "tenancy_quota" "customer" {
  for_each       = var.customers
  tenant_id      = tenancy_tenant.customer[each.key].id
  cpu_millicores = 4000
}
`, suffix))
}

// customers is the -var that sets var.customers of customersConfig.
func customers(protect map[string]bool) string {
	var entries []string
	for _, name := range slices.Sorted(maps.Keys(protect)) {
		entries = append(entries, fmt.Sprintf("%s = { protect = %t }", name, protect[name]))
	}
	return "customers={" + strings.Join(entries, ", ") + "}"
}

// TestAccTenant_protectedForEachRemovalFailsAtPlan removes one protected
// customer from a for_each map: the plan fails and the customer's five
// objects stay, on the platform and in the state. Then it follows the
// error's advice, lifting the protection in one apply and removing the
// customer in the next, which takes exactly that customer's objects away.
// The testing framework does not support for_each, so the test drives the
// Terraform CLI itself.
func TestAccTenant_protectedForEachRemovalFailsAtPlan(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test; set TF_ACC=1 (make test does)")
	}
	t.Parallel()
	srv := acctest.Start(t)
	suffix := acctest.RandomSuffix()
	alpha, bravo := "alpha-"+suffix, "bravo-"+suffix
	const perCustomer = 5
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(customersConfig(srv, suffix)), 0o600); err != nil {
		t.Fatal(err)
	}
	tf := srv.Terraform(t, dir, provider.NewProtocol6("test"))
	ctx := t.Context()
	expectObjects := func(tenant string, want int) {
		t.Helper()
		got := mustTenantObjects(t, srv, tenant)
		if total(got) != want {
			t.Fatalf("the platform holds %d objects of %s (%s), want %d", total(got), tenant, describeCounts(got), want)
		}
		t.Logf("objects of %s on the platform: %d of %d", tenant, total(got), want)
	}
	expectState := func(want int) {
		t.Helper()
		addrs, err := tf.StateAddresses(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(addrs) != want {
			t.Fatalf("the state holds %d resources, want %d: %v", len(addrs), want, addrs)
		}
		t.Logf("resources in state: %d", len(addrs))
	}

	if err := tf.Init(ctx); err != nil {
		t.Fatalf("init: %v", err)
	}
	both := customers(map[string]bool{"alpha": true, "bravo": true})
	if err := tf.Apply(ctx, both); err != nil {
		t.Fatalf("apply: %v", err)
	}
	expectState(2 * perCustomer)

	// Bravo leaves the map while protected: the plan fails, nothing goes.
	alphaOnly := customers(map[string]bool{"alpha": true})
	err := tf.Apply(ctx, alphaOnly)
	if err == nil {
		t.Fatal("removing a protected customer from for_each applied; want an error at plan time")
	}
	if !wrapped(`Tenant "`+bravo+`" is protected from deletion`, `set deletion_protection = false on tenant "`+bravo+`"`).MatchString(err.Error()) {
		t.Fatalf("the refusal does not name the tenant and the way out: %v", err)
	}
	expectObjects(bravo, perCustomer)
	expectObjects(alpha, perCustomer)
	expectState(2 * perCustomer)

	// The error's advice: lift bravo's protection in one apply, then remove it.
	if err := tf.Apply(ctx, customers(map[string]bool{"alpha": true, "bravo": false})); err != nil {
		t.Fatalf("lifting bravo's protection: %v", err)
	}
	if err := tf.Apply(ctx, alphaOnly); err != nil {
		t.Fatalf("removing bravo once unprotected: %v", err)
	}
	expectObjects(bravo, 0)
	expectObjects(alpha, perCustomer)
	expectState(perCustomer)

	// Cleaning up takes the same two steps.
	if err := tf.Apply(ctx, customers(map[string]bool{"alpha": false})); err != nil {
		t.Fatalf("lifting alpha's protection: %v", err)
	}
	if err := tf.Destroy(ctx, customers(map[string]bool{"alpha": false})); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	expectObjects(alpha, 0)
}
