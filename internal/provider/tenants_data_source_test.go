package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// seedTenants creates tenants through the API, as another team would.
func seedTenants(t *testing.T, srv *acctest.Server, specs ...api.TenantSpec) {
	t.Helper()
	for _, s := range specs {
		s.DisplayName = "Tenant " + s.Slug
		if _, err := srv.Client.CreateTenant(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
}

// slugsAre expects a list of tenants with exactly these slugs, in order.
func slugsAre(slugs ...string) knownvalue.Check {
	items := make([]knownvalue.Check, len(slugs))
	for i, s := range slugs {
		items[i] = knownvalue.ObjectPartial(map[string]knownvalue.Check{"slug": knownvalue.StringExact(s), "id": knownvalue.StringExact(s)})
	}
	return knownvalue.ListExact(items)
}

func TestAccTenantsDataSource_filters(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	p := acctest.RandomSuffix()
	gold1, gold2, goldUS, silver, bare := "gold1-"+p, "gold2-"+p, "goldus-"+p, "silver-"+p, "bare-"+p
	seedTenants(t, srv,
		api.TenantSpec{Slug: gold1, Region: "eu-west", Labels: map[string]string{"tier": "gold", "team": "core"}},
		api.TenantSpec{Slug: gold2, Region: "eu-west", Labels: map[string]string{"tier": "gold"}},
		api.TenantSpec{Slug: goldUS, Region: "us-east", Labels: map[string]string{"tier": "gold", "team": "core"}},
		api.TenantSpec{Slug: silver, Region: "eu-west", Labels: map[string]string{"tier": "silver"}},
		api.TenantSpec{Slug: bare, Region: "us-east"},
	)
	config := srv.Config(`
data "tenancy_tenants" "all" {}

data "tenancy_tenants" "gold" {
  labels = { tier = "gold" }
}

data "tenancy_tenants" "gold_core_eu" {
  labels = { tier = "gold", team = "core" }
  region = "eu-west"
}

data "tenancy_tenants" "us" {
  region = "us-east"
}

data "tenancy_tenants" "platinum" {
  labels = { tier = "platinum" }
}

output "gold_slugs" {
  value = [for t in data.tenancy_tenants.gold.tenants : t.slug]
}
`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.tenancy_tenants.all", tfjsonpath.New("tenants"), slugsAre(bare, gold1, gold2, goldUS, silver)),
					statecheck.ExpectKnownValue("data.tenancy_tenants.gold", tfjsonpath.New("tenants"), slugsAre(gold1, gold2, goldUS)),
					statecheck.ExpectKnownValue("data.tenancy_tenants.gold_core_eu", tfjsonpath.New("tenants"), slugsAre(gold1)),
					statecheck.ExpectKnownValue("data.tenancy_tenants.us", tfjsonpath.New("tenants"), slugsAre(bare, goldUS)),
					// No match is an empty list, not null.
					statecheck.ExpectKnownValue("data.tenancy_tenants.platinum", tfjsonpath.New("tenants"), knownvalue.ListExact([]knownvalue.Check{})),
					statecheck.ExpectKnownOutputValue("gold_slugs", knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact(gold1), knownvalue.StringExact(gold2), knownvalue.StringExact(goldUS),
					})),
					// The main attributes, labels null when a tenant has none.
					statecheck.ExpectKnownValue("data.tenancy_tenants.us", tfjsonpath.New("tenants").AtSliceIndex(0), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"id": knownvalue.StringExact(bare), "slug": knownvalue.StringExact(bare), "display_name": knownvalue.StringExact("Tenant " + bare),
						"isolation": knownvalue.StringExact("shared"), "region": knownvalue.StringExact("us-east"), "domain": knownvalue.Null(),
						"timezone": knownvalue.StringExact("UTC"), "language": knownvalue.StringExact("en"), "labels": knownvalue.Null(),
						"data_retention_days": knownvalue.Int64Exact(30), "deletion_protection": knownvalue.Bool(true),
						"status":     knownvalue.StringRegexp(regexp.MustCompile(`^(provisioning|active)$`)),
						"created_at": knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)),
					})),
					statecheck.ExpectKnownValue("data.tenancy_tenants.gold_core_eu", tfjsonpath.New("tenants").AtSliceIndex(0).AtMapKey("labels"),
						knownvalue.MapExact(map[string]knownvalue.Check{"tier": knownvalue.StringExact("gold"), "team": knownvalue.StringExact("core")})),
				},
			},
			{
				// Someone relabels a tenant: the next read follows.
				PreConfig: func() {
					patch, _ := json.Marshal(map[string]any{"labels": map[string]any{"tier": "gold"}})
					if _, err := srv.Client.UpdateTenant(context.Background(), silver, patch, 0); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.tenancy_tenants.gold", tfjsonpath.New("tenants"), slugsAre(gold1, gold2, goldUS, silver)),
				},
			},
		},
	})
}

// TestAccTenantsDataSource_status lists tenants by lifecycle state, on a
// tenancyd whose tenants take an hour to provision.
func TestAccTenantsDataSource_status(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t, acctest.WithProvisioningDelay(time.Hour))
	slug := acctest.RandomSlug("new")
	seedTenants(t, srv, api.TenantSpec{Slug: slug, Region: "eu-west"})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: srv.Config(`
data "tenancy_tenants" "provisioning" {
  status = "provisioning"
}

data "tenancy_tenants" "active" {
  status = "active"
}
`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.tenancy_tenants.provisioning", tfjsonpath.New("tenants"), slugsAre(slug)),
				statecheck.ExpectKnownValue("data.tenancy_tenants.active", tfjsonpath.New("tenants"), knownvalue.ListExact([]knownvalue.Check{})),
			},
		}},
	})
}

// TestAccTenantsDataSource_tenantToken lists with a tenant-scoped token:
// the token's own tenant, never another.
func TestAccTenantsDataSource_tenantToken(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	mine, theirs := acctest.RandomSlug("mine"), acctest.RandomSlug("theirs")
	seedTenants(t, srv,
		api.TenantSpec{Slug: mine, Region: "eu-west", Labels: map[string]string{"tier": "gold"}},
		api.TenantSpec{Slug: theirs, Region: "eu-west", Labels: map[string]string{"tier": "gold"}},
	)
	tok, err := srv.Client.CreateToken(context.Background(), api.TokenRequest{Name: "viewer", Tenant: mine, Role: api.RoleTenantViewer})
	if err != nil {
		t.Fatal(err)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
provider "tenancy" {
  endpoint = %q
  token    = %q
}

data "tenancy_tenants" "gold" {
  labels = { tier = "gold" }
}
`, srv.URL, tok.Token),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.tenancy_tenants.gold", tfjsonpath.New("tenants"), slugsAre(mine)),
			},
		}},
	})
}

func TestAccTenantsDataSource_invalidFilters(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	for name, tc := range map[string]struct{ config, want string }{
		"status": {`status = "deleted"`, `(?s)status.*value\s+must\s+be\s+one\s+of.*"provisioning".*"active".*"deleted"`},
		"labels": {`labels = { "Bad Key" = "x" }`, `(?s)labels.*Bad Key`},
		"region": {`region = ""`, `(?s)region.*at\s+least\s+1`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps: []resource.TestStep{{
					Config:      srv.Config("data \"tenancy_tenants\" \"x\" {\n  " + tc.config + "\n}\n"),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(tc.want),
				}},
			})
		})
	}
}

// TestAccTenantsDataSource_example applies the documentation's example.
func TestAccTenantsDataSource_example(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	gold, silver, goldUS := acctest.RandomSlug("gold"), acctest.RandomSlug("silver"), acctest.RandomSlug("goldus")
	domain := gold + ".example.com"
	seedTenants(t, srv,
		api.TenantSpec{Slug: gold, Region: "eu-west", Labels: map[string]string{"tier": "gold"}, Domain: &domain},
		api.TenantSpec{Slug: silver, Region: "eu-west", Labels: map[string]string{"tier": "silver"}},
		api.TenantSpec{Slug: goldUS, Region: "us-east", Labels: map[string]string{"tier": "gold"}},
	)
	src, err := os.ReadFile(filepath.Join(examplesDir, "data-sources", "tenancy_tenants", "data-source.tf"))
	if err != nil {
		t.Fatal(err)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: srv.Config(string(src)),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownOutputValue("gold_eu_slugs", knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(gold)})),
				statecheck.ExpectKnownOutputValue("gold_eu_domains", knownvalue.MapExact(map[string]knownvalue.Check{gold: knownvalue.StringExact(domain)})),
			},
		}},
	})
}
