package provider_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// TestAccEnvironmentsDataSource lists the environments of a tenant made
// outside Terraform, all of them and those of one type.
func TestAccEnvironmentsDataSource(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := platformTenant(t, srv, "envlist")
	for _, e := range []api.EnvironmentSpec{
		{Name: "production", Type: api.EnvProduction, Settings: map[string]string{"replicas": "3"}},
		{Name: "staging", Type: api.EnvStaging},
	} {
		if _, err := srv.Client.CreateEnvironment(t.Context(), tenant, e); err != nil {
			t.Fatal(err)
		}
	}
	// Every store is a file of its own on SQLite, whatever its placement.
	database := func(env string) knownvalue.Check {
		return knownvalue.ObjectExact(map[string]knownvalue.Check{
			"engine": knownvalue.StringExact(api.EngineSQLite), "host": knownvalue.StringExact(""), "port": knownvalue.Int64Exact(0),
			"name":   knownvalue.StringRegexp(regexp.MustCompile("/" + tenant + "/" + env + `\.db$`)),
			"schema": knownvalue.StringExact(""), "isolation": knownvalue.StringExact(api.PlacementShared),
		})
	}
	production := knownvalue.ObjectExact(map[string]knownvalue.Check{
		"id": knownvalue.StringExact(tenant + "/production"), "tenant_id": knownvalue.StringExact(tenant),
		"name": knownvalue.StringExact("production"), "type": knownvalue.StringExact(api.EnvProduction),
		"settings": knownvalue.MapExact(map[string]knownvalue.Check{"replicas": knownvalue.StringExact("3")}),
		"status":   knownvalue.StringExact(api.StatusActive), "database": database("production"),
		"restore_from_backup": knownvalue.Null(),
	})
	staging := knownvalue.ObjectExact(map[string]knownvalue.Check{
		"id": knownvalue.StringExact(tenant + "/staging"), "tenant_id": knownvalue.StringExact(tenant),
		"name": knownvalue.StringExact("staging"), "type": knownvalue.StringExact(api.EnvStaging),
		"settings": knownvalue.Null(), "status": knownvalue.StringExact(api.StatusActive), "database": database("staging"),
		"restore_from_backup": knownvalue.Null(),
	})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: srv.Config(fmt.Sprintf(`
data "tenancy_environments" "bad" {
  tenant_id = %q
  type      = "qa"
}
`, tenant)),
				ExpectError: wrapped(`Attribute type value must be one of`),
			},
			{
				Config: srv.Config(fmt.Sprintf(`
data "tenancy_environments" "all" {
  tenant_id = %[1]q
}

data "tenancy_environments" "production" {
  tenant_id = %[1]q
  type      = "production"
}
`, tenant)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.tenancy_environments.all", tfjsonpath.New("environments"),
						knownvalue.ListExact([]knownvalue.Check{production, staging})),
					statecheck.ExpectKnownValue("data.tenancy_environments.production", tfjsonpath.New("environments"),
						knownvalue.ListExact([]knownvalue.Check{production})),
				},
			},
		},
	})
}
