package provider_test

import (
	"errors"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

func usageAtLeast(n int64) knownvalue.Check {
	return knownvalue.Int64Func(func(v int64) error {
		if v < n {
			return fmt.Errorf("%d is less than %d", v, n)
		}
		return nil
	})
}

func TestAccTenantUsageDataSource(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := platformTenant(t, srv, "usage")
	ctx := t.Context()
	// Three calls on the tenant's paths, one of them failing.
	if _, err := srv.Client.CreateEnvironment(ctx, tenant, api.EnvironmentSpec{Name: "production", Type: api.EnvProduction}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client.CreateUser(ctx, tenant, api.UserSpec{Email: "ana@example.com", DisplayName: "Ana"}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client.GetEnvironment(ctx, tenant, "nope"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("GetEnvironment of a missing environment: %v", err)
	}
	const ds = "data.tenancy_tenant_usage.test"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			// Bad input first: the last step's configuration is the one destroyed.
			{
				Config: srv.Config(`
data "tenancy_tenant_usage" "test" {
  tenant_id = "no-such-tenant"
}
`),
				ExpectError: regexp.MustCompile(`(?s)Tenant not found.*No tenant "no-such-tenant"`),
			},
			{
				Config: srv.Config(`
data "tenancy_tenant_usage" "test" {
  tenant_id = "Not A Slug"
}
`),
				ExpectError: regexp.MustCompile(`(?s)tenant_id must be a tenant slug`),
			},
			{
				Config: srv.Config(fmt.Sprintf(`
data "tenancy_tenant_usage" "test" {
  tenant_id = %q
}
`, tenant)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("users"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("environments"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("api_calls"), usageAtLeast(3)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("api_errors"), usageAtLeast(1)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("error_rate"), knownvalue.Float64Func(func(v float64) error {
						if v <= 0 || v > 1 {
							return fmt.Errorf("error rate %v; want within (0, 1]", v)
						}
						return nil
					})),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("storage_bytes"), usageAtLeast(100)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("window_started_at"), knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`))),
				},
			},
		},
	})
}
