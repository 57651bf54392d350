package provider_test

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// TestAccRoleBindingsDataSource lists the role bindings of a tenant made
// outside Terraform: all of them, those of one role and those of one user.
func TestAccRoleBindingsDataSource(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := bindingTenant(t, srv, "bindlist")
	ctx := t.Context()
	alice, err := srv.Client.CreateUser(ctx, tenant, api.UserSpec{Email: "alice@example.com", DisplayName: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	staging := "staging"
	viewer, err := srv.Client.CreateRoleBinding(ctx, tenant, api.RoleBindingSpec{UserID: alice.UserID, Role: api.RoleTenantViewer, Environment: &staging})
	if err != nil {
		t.Fatal(err)
	}
	all, err := srv.Client.ListRoleBindings(ctx, tenant, nil)
	if err != nil || len(all) != 2 {
		t.Fatalf("the tenant's bindings: %+v, %v; want the owner's and alice's", all, err)
	}
	bindingCheck := func(b api.RoleBinding) knownvalue.Check {
		var env knownvalue.Check = knownvalue.Null()
		if b.Environment != nil {
			env = knownvalue.StringExact(*b.Environment)
		}
		return knownvalue.ObjectExact(map[string]knownvalue.Check{
			"id": knownvalue.StringExact(tenant + "/" + b.BindingID), "tenant_id": knownvalue.StringExact(tenant),
			"binding_id": knownvalue.StringExact(b.BindingID), "user_id": knownvalue.StringExact(b.UserID),
			"role": knownvalue.StringExact(b.Role), "environment": env,
		})
	}
	owner := all[0]
	if owner.BindingID == viewer.BindingID {
		owner = all[1]
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: srv.Config(fmt.Sprintf(`
data "tenancy_role_bindings" "all" {
  tenant_id = %[1]q
}

data "tenancy_role_bindings" "admins" {
  tenant_id = %[1]q
  role      = "tenant_admin"
}

data "tenancy_role_bindings" "alice" {
  tenant_id = %[1]q
  user_id   = %[2]q
}
`, tenant, alice.UserID)),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.tenancy_role_bindings.all", tfjsonpath.New("bindings"),
					knownvalue.ListExact([]knownvalue.Check{bindingCheck(all[0]), bindingCheck(all[1])})),
				statecheck.ExpectKnownValue("data.tenancy_role_bindings.admins", tfjsonpath.New("bindings"),
					knownvalue.ListExact([]knownvalue.Check{bindingCheck(owner)})),
				statecheck.ExpectKnownValue("data.tenancy_role_bindings.alice", tfjsonpath.New("bindings"),
					knownvalue.ListExact([]knownvalue.Check{bindingCheck(*viewer)})),
			},
		}},
	})
}
