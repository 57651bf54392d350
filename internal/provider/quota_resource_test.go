package provider_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
	"github.com/tenancyhq/terraform-provider-tenancy/internal/provider"
)

const (
	tenantQuotaAddr = "tenancy_quota.tenant"
	prodQuotaAddr   = "tenancy_quota.production"
)

// quotaConfig is a quota resource named name; env "" is the tenant-wide quota.
func quotaConfig(name, tenant, env, limits string) string {
	if env != "" {
		env = fmt.Sprintf("  environment = %q\n", env)
	}
	return fmt.Sprintf(`
resource "tenancy_quota" %q {
  tenant_id = %q
%s%s
}
`, name, tenant, env, limits)
}

// checkQuotasDestroyed asserts against the API that no quota of the state remains.
func checkQuotasDestroyed(srv *acctest.Server) resource.TestCheckFunc {
	return checkGone("tenancy_quota", func(ctx context.Context, a map[string]string) error {
		_, err := srv.Client.GetQuota(ctx, a["tenant_id"], a["environment"])
		return err
	})
}

// quotaFixture gives a tenant, made through the API, the environments named.
func quotaFixture(t *testing.T, srv *acctest.Server, prefix string, envs ...string) string {
	t.Helper()
	tenant := platformTenant(t, srv, prefix)
	for _, e := range envs {
		if _, err := srv.Client.CreateEnvironment(t.Context(), tenant, api.EnvironmentSpec{Name: e, Type: api.EnvSandbox}); err != nil {
			t.Fatal(err)
		}
	}
	return tenant
}

func quotaLimit(n int64) *int64 { return &n }

// quotaPattern matches the given phrases in order, however Terraform wraps
// the lines of a diagnostic.
func quotaPattern(phrases ...string) *regexp.Regexp {
	quoted := make([]string, len(phrases))
	for i, p := range phrases {
		quoted[i] = strings.Join(strings.Fields(regexp.QuoteMeta(p)), `\s+`)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(quoted, ".*"))
}

// TestAccQuota_lifecycle gives a new tenant a budget and shares it with an
// environment, all in one apply: the platform knows none of it at plan time.
func TestAccQuota_lifecycle(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	slug := acctest.RandomSlug("quota")
	config := func(tenantLimits, prodLimits string) string {
		return srv.Config(tenantConfig(slug, "Quota Inc", "") + `
resource "tenancy_environment" "production" {
  tenant_id = tenancy_tenant.test.id
  name      = "production"
  type      = "production"
}

resource "tenancy_quota" "tenant" {
  tenant_id = tenancy_tenant.test.id
` + tenantLimits + `
}

resource "tenancy_quota" "production" {
  tenant_id   = tenancy_tenant.test.id
  environment = tenancy_environment.production.name
` + prodLimits + `
  depends_on = [tenancy_quota.tenant]
}
`)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             resource.ComposeTestCheckFunc(checkQuotasDestroyed(srv), checkTenantsDestroyed(srv)),
		Steps: []resource.TestStep{
			{
				Config: config(`
  cpu_millicores          = 8000
  max_users               = 10
  api_requests_per_minute = 6000
`, `
  cpu_millicores = 4000
  memory_mb      = 2048
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(tenantQuotaAddr, tfjsonpath.New("id"), knownvalue.StringExact(slug)),
					statecheck.ExpectKnownValue(tenantQuotaAddr, tfjsonpath.New("environment"), knownvalue.Null()),
					statecheck.ExpectKnownValue(tenantQuotaAddr, tfjsonpath.New("cpu_millicores"), knownvalue.Int64Exact(8000)),
					statecheck.ExpectKnownValue(tenantQuotaAddr, tfjsonpath.New("memory_mb"), knownvalue.Null()),
					statecheck.ExpectKnownValue(prodQuotaAddr, tfjsonpath.New("id"), knownvalue.StringExact(slug+"/production")),
					statecheck.ExpectKnownValue(prodQuotaAddr, tfjsonpath.New("environment"), knownvalue.StringExact("production")),
					statecheck.ExpectKnownValue(prodQuotaAddr, tfjsonpath.New("memory_mb"), knownvalue.Int64Exact(2048)),
				},
				Check: func(*terraform.State) error {
					q, err := srv.Client.GetQuota(context.Background(), slug, "production")
					if err != nil {
						return err
					}
					if *q.CPUMillicores != 4000 || q.MaxUsers != nil {
						return fmt.Errorf("the platform holds %+v", q.QuotaSpec)
					}
					return nil
				},
			},
			{
				// Limits change in place; a limit taken out becomes unlimited.
				Config: config(`
  cpu_millicores = 6000
  memory_mb      = 4096
`, `
  cpu_millicores = 6000
`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(tenantQuotaAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction(prodQuotaAddr, plancheck.ResourceActionUpdate),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(tenantQuotaAddr, tfjsonpath.New("max_users"), knownvalue.Null()),
					statecheck.ExpectKnownValue(prodQuotaAddr, tfjsonpath.New("cpu_millicores"), knownvalue.Int64Exact(6000)),
					statecheck.ExpectKnownValue(prodQuotaAddr, tfjsonpath.New("memory_mb"), knownvalue.Null()),
				},
				Check: func(*terraform.State) error {
					q, err := srv.Client.GetQuota(context.Background(), slug, "")
					if err != nil {
						return err
					}
					if q.MaxUsers != nil || q.APIRequestsPerMinute != nil || *q.MemoryMB != 4096 {
						return fmt.Errorf("the platform holds %+v", q.QuotaSpec)
					}
					return nil
				},
			},
			{
				ResourceName:      tenantQuotaAddr,
				ImportState:       true,
				ImportStateId:     slug,
				ImportStateVerify: true,
			},
			{
				ResourceName:      prodQuotaAddr,
				ImportState:       true,
				ImportStateId:     slug + "/production",
				ImportStateVerify: true,
			},
		},
	})
}

func TestAccQuota_importBlock(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := quotaFixture(t, srv, "quotaimp", "production")
	ctx := t.Context()
	if _, err := srv.Client.SetQuota(ctx, tenant, "", api.QuotaSpec{CPUMillicores: quotaLimit(8000), MaxUsers: quotaLimit(25)}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client.SetQuota(ctx, tenant, "production", api.QuotaSpec{CPUMillicores: quotaLimit(3000)}, 0); err != nil {
		t.Fatal(err)
	}
	cfg := srv.Config(quotaConfig("tenant", tenant, "", "  cpu_millicores = 8000\n  max_users = 25") +
		quotaConfig("production", tenant, "production", "  cpu_millicores = 3000"))
	// Quotas set outside Terraform are adopted with import blocks, and plan clean.
	for addr, id := range map[string]string{tenantQuotaAddr: tenant, prodQuotaAddr: tenant + "/production"} {
		t.Run(addr, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps: []resource.TestStep{
					{
						Config:          cfg,
						ResourceName:    addr,
						ImportState:     true,
						ImportStateKind: resource.ImportBlockWithID,
						ImportStateId:   id,
						ImportPlanChecks: resource.ImportPlanChecks{
							PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionNoop)},
						},
					},
					{
						Config:        cfg,
						ResourceName:  addr,
						ImportState:   true,
						ImportStateId: id + "/production/extra",
						ExpectError:   regexp.MustCompile(`(?s)A quota is imported by its tenant.*"<tenant>" \(such as "acme"\) or\s+"<tenant>/<environment>" \(such as\s+"acme/staging"\)`),
					},
				},
			})
		})
	}
}

func TestAccQuota_drift(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := quotaFixture(t, srv, "quotadrift", "production")
	cfg := srv.Config(quotaConfig("production", tenant, "production", "  cpu_millicores = 2000\n  storage_gb = 100"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkQuotasDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				// Someone doubles production's CPU by hand: the plan takes it back.
				PreConfig: func() {
					_, err := srv.Client.SetQuota(context.Background(), tenant, "production", api.QuotaSpec{CPUMillicores: quotaLimit(4000), StorageGB: quotaLimit(100)}, 0)
					if err != nil {
						t.Fatalf("change behind Terraform's back: %v", err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(prodQuotaAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(prodQuotaAddr, tfjsonpath.New("cpu_millicores"), knownvalue.Int64Exact(2000)),
					},
				},
				Check: func(*terraform.State) error {
					q, err := srv.Client.GetQuota(context.Background(), tenant, "production")
					if err != nil {
						return err
					}
					if *q.CPUMillicores != 2000 {
						return fmt.Errorf("after apply the platform holds cpu_millicores %d", *q.CPUMillicores)
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

func TestAccQuota_disappears(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := quotaFixture(t, srv, "quotagone")
	cfg := srv.Config(quotaConfig("tenant", tenant, "", "  max_users = 5"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkQuotasDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				PreConfig: func() {
					if err := srv.Client.DeleteQuota(context.Background(), tenant, ""); err != nil {
						t.Fatalf("delete behind Terraform's back: %v", err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(tenantQuotaAddr, plancheck.ResourceActionCreate)},
				},
				Check: func(*terraform.State) error {
					q, err := srv.Client.GetQuota(context.Background(), tenant, "")
					if err != nil {
						return err
					}
					if *q.MaxUsers != 5 {
						return fmt.Errorf("the platform holds %+v", q.QuotaSpec)
					}
					return nil
				},
			},
		},
	})
}

func TestAccQuota_invalidInputFailsAtPlan(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	cases := []struct {
		name, env, limits, want string
	}{
		{"negative", "", "  cpu_millicores = -1", `(?s)Attribute cpu_millicores value must be at least 0, got: -1`},
		{"absurd", "", "  storage_gb = 1000000000001", `(?s)Attribute storage_gb value must be at most 1000000000000`},
		{"environment", "Prod", "  memory_mb = 1", `(?s)Attribute environment must be an environment name`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps: []resource.TestStep{{
					Config:      srv.Config(quotaConfig("tenant", "acme", tc.env, tc.limits)),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(tc.want),
				}},
			})
		})
	}
}

// TestAccQuota_doesNotFitFailsAtPlan: a quota the platform would refuse
// fails the plan with the numbers, and nothing is written.
func TestAccQuota_doesNotFitFailsAtPlan(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := quotaFixture(t, srv, "quotafit", "production", "staging")
	ctx := t.Context()
	if _, err := srv.Client.SetQuota(ctx, tenant, "", api.QuotaSpec{CPUMillicores: quotaLimit(5000)}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client.SetQuota(ctx, tenant, "production", api.QuotaSpec{CPUMillicores: quotaLimit(4000)}, 0); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"ana@example.com", "bo@example.com"} {
		if _, err := srv.Client.CreateUser(ctx, tenant, api.UserSpec{Email: email, DisplayName: email}); err != nil {
			t.Fatal(err)
		}
	}
	staging := quotaConfig("staging", tenant, "staging", "  cpu_millicores = 2000")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkQuotasDestroyed(srv),
		Steps: []resource.TestStep{
			{
				Config:   srv.Config(staging),
				PlanOnly: true,
				ExpectError: quotaPattern(`quota of environment "staging" of tenant "`+tenant+`" does not fit`,
					`cpu_millicores: environment quotas add up to 6000 (production 4000, staging 2000), above the tenant quota of 5000`),
			},
			{
				// Lowering the tenant-wide quota under what its environments hold.
				Config:   srv.Config(quotaConfig("tenant", tenant, "", "  cpu_millicores = 3000")),
				PlanOnly: true,
				ExpectError: quotaPattern(`tenant-wide quota of tenant "`+tenant+`" does not fit`,
					`environment quotas add up to 4000 (production 4000), above the tenant quota of 3000`),
			},
			{
				// Below the users the tenant already has.
				Config:      srv.Config(quotaConfig("tenant", tenant, "", "  cpu_millicores = 5000\n  max_users = 1")),
				PlanOnly:    true,
				ExpectError: quotaPattern(`max_users: the tenant has 2 users, above the new limit of 1`),
			},
			{
				// What fits plans and applies.
				Config: srv.Config(quotaConfig("staging", tenant, "staging", "  cpu_millicores = 1000")),
				Check: func(*terraform.State) error {
					q, err := srv.Client.GetQuota(context.Background(), tenant, "")
					if err != nil {
						return err
					}
					if *q.CPUMillicores != 5000 || q.MaxUsers != nil {
						return fmt.Errorf("a refused plan changed the tenant quota: %+v", q.QuotaSpec)
					}
					return nil
				},
			},
		},
	})
}

// TestAccQuota_tokenMayNotSetTenantQuota: a tenant admin shares the budget
// out but does not set it, and learns so at plan time.
func TestAccQuota_tokenMayNotSetTenantQuota(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := quotaFixture(t, srv, "quotarole", "production")
	tok, err := srv.Client.CreateToken(t.Context(), api.TokenRequest{Name: "team", Tenant: tenant, Role: api.RoleTenantAdmin, TTLSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	provider := fmt.Sprintf(`
provider "tenancy" {
  endpoint    = %q
  token       = %q
  max_retries = 0
}
`, srv.URL, tok.Token)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkQuotasDestroyed(srv),
		Steps: []resource.TestStep{
			{
				Config:      provider + quotaConfig("tenant", tenant, "", "  cpu_millicores = 1000"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)The provider's token may not set the tenant-wide quota.*platform_admin`),
			},
			{
				Config: provider + quotaConfig("production", tenant, "production", "  cpu_millicores = 1000"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(prodQuotaAddr, tfjsonpath.New("cpu_millicores"), knownvalue.Int64Exact(1000)),
				},
			},
		},
	})
}

// newCustomerQuotas is a new tenant with two environments, its tenant-wide
// quota and the environments' quotas, all created by one apply.
func newCustomerQuotas(srv *acctest.Server, slug string, tenantCPU, prodCPU, stagingCPU int) string {
	return srv.Config(fmt.Sprintf(`
resource "tenancy_tenant" "customer" {
  slug                = %[1]q
  display_name        = "New customer"
  region              = "eu-west"
  deletion_protection = false
}

resource "tenancy_environment" "production" {
  tenant_id = tenancy_tenant.customer.id
  name      = "production"
  type      = "production"
}

resource "tenancy_environment" "staging" {
  tenant_id = tenancy_tenant.customer.id
  name      = "staging"
  type      = "staging"
}

resource "tenancy_quota" "tenant" {
  tenant_id      = tenancy_tenant.customer.id
  cpu_millicores = %[2]d
  memory_mb      = 8192
}

resource "tenancy_quota" "production" {
  tenant_id      = tenancy_tenant.customer.id
  environment    = tenancy_environment.production.name
  cpu_millicores = %[3]d
  memory_mb      = 4096
}

resource "tenancy_quota" "staging" {
  tenant_id      = tenancy_tenant.customer.id
  environment    = tenancy_environment.staging.name
  cpu_millicores = %[4]d
  memory_mb      = 2048
}
`, slug, tenantCPU, prodCPU, stagingCPU))
}

// TestAccQuota_newTenantOverQuotaFailsAtPlan plans a new tenant whose
// environment quotas add up to more CPU than its tenant-wide quota: nothing
// of it exists yet, so the platform's dry run cannot tell, but the plan
// adds up the quotas it plans and fails, with the numbers; nothing is
// created. With quotas that fit, the same configuration applies.
func TestAccQuota_newTenantOverQuotaFailsAtPlan(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	slug := acctest.RandomSlug("overbooked")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkTenantsDestroyed(srv),
		Steps: []resource.TestStep{
			{
				Config: newCustomerQuotas(srv, slug, 4000, 3000, 2000),
				ExpectError: quotaPattern(`The environment quotas of tenant "`+slug+`" do not fit`,
					`add up to more than the tenant-wide quota planned here`,
					`cpu_millicores: environment quotas add up to 5000 (production 3000, staging 2000), above the tenant quota of 4000`,
					`Lower the environment quotas, or raise the tenant-wide quota`),
			},
			{
				PreConfig: func() {
					left := mustTenantObjects(t, srv, slug)
					t.Logf("objects of %s on the platform after the refused plan: %d", slug, total(left))
					if total(left) != 0 {
						t.Fatalf("the refused plan created %s", describeCounts(left))
					}
				},
				Config:            newCustomerQuotas(srv, slug, 4000, 3000, 1000),
				ConfigStateChecks: []statecheck.StateCheck{expectStateSize(6)},
				Check: func(*terraform.State) error {
					if n := total(mustTenantObjects(t, srv, slug)); n != 6 {
						return fmt.Errorf("the platform holds %d objects of %s, want 6", n, slug)
					}
					return nil
				},
			},
		},
	})
}

// TestAccQuota_raiseAndUseInOneChange raises the tenant-wide quota and, in
// the same change, gives production a quota that fits only the raised one.
// The platform checks each quota against what it holds, so the plan fails
// and says to apply the raise alone first with -target; doing just that,
// then applying the rest, works.
func TestAccQuota_raiseAndUseInOneChange(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test; set TF_ACC=1 (make test does)")
	}
	t.Parallel()
	srv := acctest.Start(t)
	tenant := quotaFixture(t, srv, "raise", "production")
	config := func(tenantCPU, prodCPU int) string {
		return srv.Config(fmt.Sprintf(`
terraform {
  required_providers {
    tenancy = { source = "tenancyhq/tenancy" }
  }
}

resource "tenancy_quota" "tenant" {
  tenant_id      = %[1]q
  cpu_millicores = %[2]d
}

resource "tenancy_quota" "production" {
  tenant_id      = %[1]q
  environment    = "production"
  cpu_millicores = %[3]d

  depends_on = [tenancy_quota.tenant]
}
`, tenant, tenantCPU, prodCPU))
	}
	dir := t.TempDir()
	write := func(hcl string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(hcl), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(config(4000, 3000))
	tf := srv.Terraform(t, dir, provider.NewProtocol6("test"))
	ctx := t.Context()
	if err := tf.Init(ctx); err != nil {
		t.Fatalf("init: %v", err)
	}
	if err := tf.Apply(ctx); err != nil {
		t.Fatalf("apply: %v", err)
	}

	write(config(8000, 6000))
	_, err := tf.Plan(ctx)
	if err == nil {
		t.Fatal("the plan that raises the tenant quota and uses the room in one change succeeded; want an error")
	}
	want := quotaPattern(`The quota of environment "production" of tenant "`+tenant+`" does not fit`,
		`This plan also raises the tenant-wide quota of tenant "`+tenant+`"`,
		`Apply the raise on its own first: terraform apply -target=ADDRESS`, `(such as -target=tenancy_quota.`+tenant+`)`)
	if !want.MatchString(err.Error()) {
		t.Fatalf("the plan failed without the -target advice:\n%v", err)
	}
	if q, err := srv.Client.GetQuota(ctx, tenant, "production"); err != nil || *q.CPUMillicores != 3000 {
		t.Fatalf("production's quota after the refused plan: %+v, %v; want cpu_millicores 3000", q, err)
	}

	// The advice: the raise alone, then the rest.
	if err := tf.ApplyTarget(ctx, "tenancy_quota.tenant"); err != nil {
		t.Fatalf("apply -target=tenancy_quota.tenant: %v", err)
	}
	if err := tf.Apply(ctx); err != nil {
		t.Fatalf("apply after the raise: %v", err)
	}
	for env, want := range map[string]int64{"": 8000, "production": 6000} {
		q, err := srv.Client.GetQuota(ctx, tenant, env)
		if err != nil || *q.CPUMillicores != want {
			t.Errorf("quota %q: %+v, %v; want cpu_millicores %d", env, q, err, want)
		}
	}
	if err := tf.Destroy(ctx); err != nil {
		t.Errorf("destroy: %v", err)
	}
}
