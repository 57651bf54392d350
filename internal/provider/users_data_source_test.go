package provider_test

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// TestAccUsersDataSource lists the users of a tenant made outside
// Terraform, all of them and one by e-mail address, and then adopts one
// with an import block whose ID comes from the data source.
func TestAccUsersDataSource(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := platformTenant(t, srv, "userlist")
	var made []api.User
	for _, email := range []string{"alice@example.com", "bob@example.com"} {
		u, err := srv.Client.CreateUser(t.Context(), tenant, api.UserSpec{Email: email, DisplayName: "Person " + email})
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, *u)
	}
	userCheck := func(u api.User) knownvalue.Check {
		return knownvalue.ObjectExact(map[string]knownvalue.Check{
			"id": knownvalue.StringExact(tenant + "/" + u.UserID), "tenant_id": knownvalue.StringExact(tenant),
			"user_id": knownvalue.StringExact(u.UserID), "email": knownvalue.StringExact(u.Email),
			"display_name": knownvalue.StringExact(u.DisplayName), "status": knownvalue.StringExact(api.StatusActive),
		})
	}
	// The list is ordered by user_id.
	all := []knownvalue.Check{userCheck(made[0]), userCheck(made[1])}
	if made[1].UserID < made[0].UserID {
		all = []knownvalue.Check{userCheck(made[1]), userCheck(made[0])}
	}
	lookups := fmt.Sprintf(`
data "tenancy_users" "all" {
  tenant_id = %[1]q
}

data "tenancy_users" "bob" {
  tenant_id = %[1]q
  email     = "BOB@example.com"
}
`, tenant)
	adopt := lookups + fmt.Sprintf(`
import {
  to = tenancy_user.bob
  id = one(data.tenancy_users.bob.users).id
}

resource "tenancy_user" "bob" {
  tenant_id    = %q
  email        = "bob@example.com"
  display_name = "Person bob@example.com"
}
`, tenant)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: srv.Config(lookups),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.tenancy_users.all", tfjsonpath.New("users"), knownvalue.ListExact(all)),
					statecheck.ExpectKnownValue("data.tenancy_users.bob", tfjsonpath.New("users"), knownvalue.ListExact([]knownvalue.Check{userCheck(made[1])})),
				},
			},
		},
	})
	// An import block's id that is an expression needs Terraform 1.6.
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_6_0)},
		CheckDestroy:             checkUsersDestroyed(srv),
		Steps: []resource.TestStep{{
			Config: srv.Config(adopt),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction("tenancy_user.bob", plancheck.ResourceActionNoop),
			}},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("tenancy_user.bob", tfjsonpath.New("user_id"), knownvalue.StringExact(made[1].UserID)),
			},
		}},
	})
}

// TestAccUsersDataSource_otherTenant reads the users of a tenant the
// provider's token cannot see: the error says so, instead of an empty list.
func TestAccUsersDataSource_otherTenant(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	mine, theirs := platformTenant(t, srv, "mine"), platformTenant(t, srv, "theirs")
	tok, err := srv.Client.CreateToken(t.Context(), api.TokenRequest{Name: "mine-ci", Tenant: mine, Role: api.RoleTenantViewer, TTLSeconds: 3600})
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

data "tenancy_users" "theirs" {
  tenant_id = %q
}
`, srv.URL, tok.Token, theirs),
			ExpectError: wrapped(`Cannot list the users of tenant "`+theirs+`"`, `tenant "`+theirs+`" is out of reach of the token "mine-ci"`),
		}},
	})
}
