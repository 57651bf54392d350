package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
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

const bindingAddr = "tenancy_role_binding.test"

// bindingTenant creates, through the API, a tenant with a staging
// environment and an administrator that the configuration does not manage:
// a tenant keeps its last tenant-wide tenant_admin binding, so the bindings a
// test manages can come and go around this one.
func bindingTenant(t *testing.T, srv *acctest.Server, prefix string) string {
	t.Helper()
	ctx := t.Context()
	slug := platformTenant(t, srv, prefix)
	if _, err := client.Create[api.Environment](ctx, srv.Client, client.PathEscape("v1", "tenants", slug, "environments"),
		api.EnvironmentSpec{Name: "staging", Type: api.EnvStaging}); err != nil {
		t.Fatalf("create environment: %v", err)
	}
	owner, err := srv.Client.CreateUser(ctx, slug, api.UserSpec{Email: "owner@example.com", DisplayName: "Owner"})
	if err != nil {
		t.Fatalf("create owner: %v", err)
	}
	if _, err := srv.Client.CreateRoleBinding(ctx, slug, api.RoleBindingSpec{UserID: owner.UserID, Role: api.RoleTenantAdmin}); err != nil {
		t.Fatalf("bind owner: %v", err)
	}
	return slug
}

// bindingConfig is users alice and bob and a binding of user (alice or
// bob) with a role and, unless "", an environment.
func bindingConfig(tenant, user, role, environment string) string {
	env := ""
	if environment != "" {
		env = fmt.Sprintf("environment = %q", environment)
	}
	return fmt.Sprintf(`
resource "tenancy_user" "alice" {
  tenant_id    = %[1]q
  email        = "alice@example.com"
  display_name = "Alice"
}

resource "tenancy_user" "bob" {
  tenant_id    = %[1]q
  email        = "bob@example.com"
  display_name = "Bob"
}

resource "tenancy_role_binding" "test" {
  tenant_id = %[1]q
  user_id   = tenancy_user.%[2]s.user_id
  role      = %[3]q
  %[4]s
}
`, tenant, user, role, env)
}

// checkBindingsDestroyed asserts against the API that no role binding of the state remains.
func checkBindingsDestroyed(srv *acctest.Server) resource.TestCheckFunc {
	return resource.ComposeTestCheckFunc(
		checkGone("tenancy_role_binding", func(ctx context.Context, a map[string]string) error {
			_, err := srv.Client.GetRoleBinding(ctx, a["tenant_id"], a["binding_id"])
			return err
		}),
		checkUsersDestroyed(srv),
	)
}

// bindingOf finds the one binding the test manages, by its user's address.
func bindingOf(t *testing.T, srv *acctest.Server, tenant, email string) api.RoleBinding {
	t.Helper()
	users, err := srv.Client.ListUsers(context.Background(), tenant, map[string][]string{"email": {email}})
	if err != nil || len(users) != 1 {
		t.Fatalf("user %s: %+v, %v", email, users, err)
	}
	bindings, err := srv.Client.ListRoleBindings(context.Background(), tenant, map[string][]string{"user_id": {users[0].UserID}})
	if err != nil || len(bindings) != 1 {
		t.Fatalf("bindings of %s: %+v, %v", email, bindings, err)
	}
	return bindings[0]
}

// phrase matches words of a message however Terraform wrapped its lines.
func phrase(s string) string {
	return strings.Join(strings.Fields(regexp.QuoteMeta(s)), `\s+`)
}

func TestAccRoleBinding_lifecycle(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := bindingTenant(t, srv, "bindings")
	sameBinding := statecheck.CompareValue(compare.ValuesSame())
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkBindingsDestroyed(srv),
		Steps: []resource.TestStep{
			{
				Config: srv.Config(bindingConfig(tenant, "alice", api.RoleTenantViewer, "staging")),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(bindingAddr, tfjsonpath.New("binding_id"), knownvalue.StringRegexp(regexp.MustCompile(`^rb_[0-9a-f]{20}$`))),
					statecheck.ExpectKnownValue(bindingAddr, tfjsonpath.New("id"), knownvalue.StringRegexp(regexp.MustCompile(`^`+tenant+`/rb_[0-9a-f]{20}$`))),
					statecheck.ExpectKnownValue(bindingAddr, tfjsonpath.New("role"), knownvalue.StringExact(api.RoleTenantViewer)),
					statecheck.ExpectKnownValue(bindingAddr, tfjsonpath.New("environment"), knownvalue.StringExact("staging")),
					statecheck.CompareValuePairs(bindingAddr, tfjsonpath.New("user_id"), "tenancy_user.alice", tfjsonpath.New("user_id"), compare.ValuesSame()),
					sameBinding.AddStateValue(bindingAddr, tfjsonpath.New("binding_id")),
				},
				Check: func(*terraform.State) error {
					b := bindingOf(t, srv, tenant, "alice@example.com")
					if b.Role != api.RoleTenantViewer || b.Environment == nil || *b.Environment != "staging" {
						return fmt.Errorf("the platform holds %+v", b)
					}
					return nil
				},
			},
			{
				// Raising the role and widening it to every environment is an update in place.
				Config: srv.Config(bindingConfig(tenant, "alice", api.RoleTenantUser, "")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(bindingAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(bindingAddr, tfjsonpath.New("role"), knownvalue.StringExact(api.RoleTenantUser)),
					statecheck.ExpectKnownValue(bindingAddr, tfjsonpath.New("environment"), knownvalue.Null()),
					sameBinding.AddStateValue(bindingAddr, tfjsonpath.New("binding_id")),
				},
			},
			{
				Config: srv.Config(bindingConfig(tenant, "alice", api.RoleTenantAdmin, "")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(bindingAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(bindingAddr, tfjsonpath.New("role"), knownvalue.StringExact(api.RoleTenantAdmin)),
					sameBinding.AddStateValue(bindingAddr, tfjsonpath.New("binding_id")),
				},
			},
			{
				ResourceName:      bindingAddr,
				ImportState:       true,
				ImportStateIdFunc: stateID(bindingAddr),
				ImportStateVerify: true,
			},
			{
				// Granting the role to someone else is another binding.
				Config: srv.Config(bindingConfig(tenant, "bob", api.RoleTenantAdmin, "")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(bindingAddr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.CompareValuePairs(bindingAddr, tfjsonpath.New("user_id"), "tenancy_user.bob", tfjsonpath.New("user_id"), compare.ValuesSame()),
				},
				Check: func(*terraform.State) error {
					b := bindingOf(t, srv, tenant, "bob@example.com")
					if b.Role != api.RoleTenantAdmin || b.Environment != nil {
						return fmt.Errorf("the platform holds %+v", b)
					}
					return nil
				},
			},
		},
	})
}

func TestAccRoleBinding_importBlock(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := bindingTenant(t, srv, "imported")
	cfg := srv.Config(bindingConfig(tenant, "alice", api.RoleTenantUser, "staging"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkBindingsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				Config:            cfg,
				ResourceName:      bindingAddr,
				ImportState:       true,
				ImportStateKind:   resource.ImportBlockWithID,
				ImportStateIdFunc: stateID(bindingAddr),
				ImportPlanChecks: resource.ImportPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(bindingAddr, plancheck.ResourceActionNoop)},
				},
			},
			{
				ResourceName:  bindingAddr,
				ImportState:   true,
				ImportStateId: tenant + "/rb_1/extra",
				ExpectError:   regexp.MustCompile(`(?s)` + phrase(`must look like "<tenant>/<binding_id>" (such as "acme/rb_0123456789abcdef0123")`)),
			},
		},
	})
}

func TestAccRoleBinding_drift(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := bindingTenant(t, srv, "drift")
	cfg := srv.Config(bindingConfig(tenant, "alice", api.RoleTenantViewer, "staging"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkBindingsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				// Someone raises Alice to tenant_user everywhere through the API: the plan takes it back.
				PreConfig: func() {
					b := bindingOf(t, srv, tenant, "alice@example.com")
					patch := json.RawMessage(`{"role":"tenant_user","environment":null}`)
					if _, err := srv.Client.UpdateRoleBinding(context.Background(), tenant, b.BindingID, patch, 0); err != nil {
						t.Fatalf("change behind Terraform's back: %v", err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(bindingAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(bindingAddr, tfjsonpath.New("role"), knownvalue.StringExact(api.RoleTenantViewer)),
						plancheck.ExpectKnownValue(bindingAddr, tfjsonpath.New("environment"), knownvalue.StringExact("staging")),
					},
				},
				Check: func(*terraform.State) error {
					if b := bindingOf(t, srv, tenant, "alice@example.com"); b.Role != api.RoleTenantViewer || b.Environment == nil {
						return fmt.Errorf("the platform holds %+v after apply", b)
					}
					return nil
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

func TestAccRoleBinding_disappears(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := bindingTenant(t, srv, "gone")
	cfg := srv.Config(bindingConfig(tenant, "alice", api.RoleTenantUser, ""))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkBindingsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				PreConfig: func() {
					b := bindingOf(t, srv, tenant, "alice@example.com")
					if err := srv.Client.DeleteRoleBinding(context.Background(), tenant, b.BindingID, 0); err != nil {
						t.Fatalf("delete behind Terraform's back: %v", err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(bindingAddr, plancheck.ResourceActionCreate),
						plancheck.ExpectResourceAction("tenancy_user.alice", plancheck.ResourceActionNoop),
					},
				},
			},
		},
	})
}

func TestAccRoleBinding_invalidInputFailsAtPlan(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	cases := []struct {
		name, role, environment, want string
	}{
		{"role", "owner", "", `(?s)Attribute role value must be one of:.*"tenant_admin".*"owner"`},
		{"platform-role", api.RolePlatformAdmin, "", `(?s)Attribute role value must be one of`},
		{"environment", api.RoleTenantUser, "Staging Env", `(?s)Attribute environment must be an environment name`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps: []resource.TestStep{{
					Config:      srv.Config(bindingConfig("acme", "alice", tc.role, tc.environment)),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(tc.want),
				}},
			})
		})
	}
}

// TestAccRoleBinding_grantAboveOwnRoleFailsAtPlan configures the provider with
// a tenant_user token: granting tenant_admin fails at plan, naming the
// resource, the role and the token's role, and nothing reaches the platform.
func TestAccRoleBinding_grantAboveOwnRoleFailsAtPlan(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := bindingTenant(t, srv, "grants")
	ctx := t.Context()
	alice, err := srv.Client.CreateUser(ctx, tenant, api.UserSpec{Email: "alice@example.com", DisplayName: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	mint := func(role string) string {
		tok, err := srv.Client.CreateToken(ctx, api.TokenRequest{Name: "ci-" + role, Tenant: tenant, Role: role, TTLSeconds: 3600})
		if err != nil {
			t.Fatal(err)
		}
		return tok.Token
	}
	withToken := func(token, role string) string {
		return fmt.Sprintf(`
provider "tenancy" {
  endpoint    = %q
  token       = %q
  max_retries = 0
}

resource "tenancy_role_binding" "promote_alice" {
  tenant_id = %q
  user_id   = %q
  role      = %q
}
`, srv.URL, token, tenant, alice.UserID, role)
	}
	userToken, adminToken := mint(api.RoleTenantUser), mint(api.RoleTenantAdmin)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkBindingsDestroyed(srv),
		Steps: []resource.TestStep{
			{
				Config:   withToken(userToken, api.RoleTenantAdmin),
				PlanOnly: true,
				ExpectError: regexp.MustCompile(`(?s)` + phrase(`The provider's token may not grant role "tenant_admin"`) +
					`.*` + phrase(`with tenancy_role_binding.promote_alice`) +
					`.*` + phrase(`grants role "tenant_admin" to user "`+alice.UserID+`" in tenant "`+tenant+`", but the provider's token has role tenant_user`)),
			},
			{
				// The check fails the plan the same way for a role below the token's own:
				// only tenant_admin tokens manage bindings.
				Config:      withToken(userToken, api.RoleTenantViewer),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)` + phrase(`may not grant role "tenant_viewer"`) + `.*` + phrase(`has role tenant_user`)),
			},
			{
				// A tenant_admin token may grant tenant_admin.
				Config: withToken(adminToken, api.RoleTenantAdmin),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("tenancy_role_binding.promote_alice", tfjsonpath.New("role"), knownvalue.StringExact(api.RoleTenantAdmin)),
				},
			},
		},
	})
}

// TestAccRoleBinding_newUserGrantByTenantUserFailsAtPlan plans, with a
// tenant_user token, a new user and a tenant_admin binding for that user,
// whose user_id is known only after apply. The plan fails, saying the token
// needs role tenant_admin, and nothing reaches the platform. Then the
// binding alone, for a user_id that only the apply knows, fails at plan
// the same way.
func TestAccRoleBinding_newUserGrantByTenantUserFailsAtPlan(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := bindingTenant(t, srv, "newgrant")
	ctx := t.Context()
	tok, err := srv.Client.CreateToken(ctx, api.TokenRequest{Name: "ci-user", Tenant: tenant, Role: api.RoleTenantUser, TTLSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := srv.Client.CreateUser(ctx, tenant, api.UserSpec{Email: "alice@example.com", DisplayName: "Alice"})
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
	newUserAndGrant := provider + fmt.Sprintf(`
resource "tenancy_user" "bob" {
  tenant_id    = %[1]q
  email        = "bob@example.com"
  display_name = "Bob"
}

resource "tenancy_role_binding" "bob_admin" {
  tenant_id = %[1]q
  user_id   = tenancy_user.bob.user_id
  role      = "tenant_admin"
}
`, tenant)
	// terraform_data's output is known only after apply, like a new user's id.
	grantOnly := provider + fmt.Sprintf(`
resource "terraform_data" "user_id" {
  input = %[2]q
}

resource "tenancy_role_binding" "later" {
  tenant_id = %[1]q
  user_id   = terraform_data.user_id.output
  role      = "tenant_admin"
}
`, tenant, alice.UserID)
	before := mustTenantObjects(t, srv, tenant)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: newUserAndGrant,
				ExpectError: wrapped(`The provider's token has role tenant_user, and creating user "bob@example.com" needs role tenant_admin`,
					`the provider's token "ci-user" has role tenant_user in tenant "`+tenant+`"`),
			},
			{
				Config: grantOnly,
				ExpectError: wrapped(`The provider's token may not grant role "tenant_admin"`, `with tenancy_role_binding.later`,
					`grants role "tenant_admin" to user (known only after apply) in tenant "`+tenant+`", but the provider's token has role tenant_user`),
			},
		},
	})
	after := mustTenantObjects(t, srv, tenant)
	t.Logf("objects of %s on the platform before/after the refused plans: %d/%d (%s)", tenant, total(before), total(after), describeCounts(after))
	if !maps.Equal(before, after) {
		t.Errorf("the refused plans changed the platform: before %s, after %s", describeCounts(before), describeCounts(after))
	}
}
