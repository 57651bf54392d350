package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
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
)

const userAddr = "tenancy_user.test"

// platformTenant creates a tenant through the API, as the platform team
// would hand one to the team whose configuration the test applies.
func platformTenant(t *testing.T, srv *acctest.Server, prefix string) string {
	t.Helper()
	slug := acctest.RandomSlug(prefix)
	noProtection := false
	_, err := srv.Client.CreateTenant(t.Context(), api.TenantSpec{
		Slug: slug, DisplayName: slug, Region: "eu-west", DeletionProtection: &noProtection,
	})
	if err != nil {
		t.Fatalf("create tenant %s: %v", slug, err)
	}
	return slug
}

func userConfig(tenant, email, displayName string) string {
	return fmt.Sprintf(`
resource "tenancy_user" "test" {
  tenant_id    = %q
  email        = %q
  display_name = %q
}
`, tenant, email, displayName)
}

// stateID returns the id attribute of a resource in state, the import ID of
// objects whose key the platform chose.
func stateID(address string) resource.ImportStateIdFunc {
	return func(s *terraform.State) (string, error) {
		rs, ok := s.RootModule().Resources[address]
		if !ok {
			return "", fmt.Errorf("%s is not in state", address)
		}
		return rs.Primary.Attributes["id"], nil
	}
}

// stateAttr reads one attribute of a resource in state.
func stateAttr(s *terraform.State, address, attr string) (string, error) {
	rs, ok := s.RootModule().Resources[address]
	if !ok {
		return "", fmt.Errorf("%s is not in state", address)
	}
	return rs.Primary.Attributes[attr], nil
}

// checkUsersDestroyed asserts against the API that no user of the state remains.
func checkUsersDestroyed(srv *acctest.Server) resource.TestCheckFunc {
	return checkGone("tenancy_user", func(ctx context.Context, a map[string]string) error {
		_, err := srv.Client.GetUser(ctx, a["tenant_id"], a["user_id"])
		return err
	})
}

var userIDPattern = regexp.MustCompile(`^usr_[0-9a-f]{20}$`)

func TestAccUser_lifecycle(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := platformTenant(t, srv, "users")
	other := platformTenant(t, srv, "moved")
	sameUserID := statecheck.CompareValue(compare.ValuesSame())
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkUsersDestroyed(srv),
		Steps: []resource.TestStep{
			{
				Config: srv.Config(userConfig(tenant, "alice@example.com", "Alice")),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(userAddr, tfjsonpath.New("user_id"), knownvalue.StringRegexp(userIDPattern)),
					statecheck.ExpectKnownValue(userAddr, tfjsonpath.New("id"), knownvalue.StringRegexp(regexp.MustCompile(`^`+tenant+`/usr_[0-9a-f]{20}$`))),
					statecheck.ExpectKnownValue(userAddr, tfjsonpath.New("tenant_id"), knownvalue.StringExact(tenant)),
					statecheck.ExpectKnownValue(userAddr, tfjsonpath.New("status"), knownvalue.StringExact(api.StatusActive)),
					sameUserID.AddStateValue(userAddr, tfjsonpath.New("user_id")),
				},
				Check: func(s *terraform.State) error {
					id, err := stateAttr(s, userAddr, "user_id")
					if err != nil {
						return err
					}
					u, err := srv.Client.GetUser(context.Background(), tenant, id)
					if err != nil {
						return err
					}
					if u.Email != "alice@example.com" || u.DisplayName != "Alice" {
						return fmt.Errorf("the platform holds %q <%s>", u.DisplayName, u.Email)
					}
					return nil
				},
			},
			{
				// A new name and address change the same user in place.
				Config: srv.Config(userConfig(tenant, "alice.liddell@example.com", "Alice Liddell")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(userAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(userAddr, tfjsonpath.New("email"), knownvalue.StringExact("alice.liddell@example.com")),
					statecheck.ExpectKnownValue(userAddr, tfjsonpath.New("display_name"), knownvalue.StringExact("Alice Liddell")),
					sameUserID.AddStateValue(userAddr, tfjsonpath.New("user_id")),
				},
			},
			{
				ResourceName:      userAddr,
				ImportState:       true,
				ImportStateIdFunc: stateID(userAddr),
				ImportStateVerify: true,
			},
			{
				// Users do not move between tenants: a new tenant is a new user.
				Config: srv.Config(userConfig(other, "alice.liddell@example.com", "Alice Liddell")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(userAddr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(userAddr, tfjsonpath.New("tenant_id"), knownvalue.StringExact(other)),
				},
				Check: func(*terraform.State) error {
					left, err := srv.Client.ListUsers(context.Background(), tenant, nil)
					if err != nil {
						return err
					}
					if len(left) != 0 {
						return fmt.Errorf("tenant %s still has users %+v", tenant, left)
					}
					return nil
				},
			},
		},
	})
}

func TestAccUser_importBlock(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := platformTenant(t, srv, "imported")
	cfg := srv.Config(userConfig(tenant, "bob@example.com", "Bob"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkUsersDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				Config:            cfg,
				ResourceName:      userAddr,
				ImportState:       true,
				ImportStateKind:   resource.ImportBlockWithID,
				ImportStateIdFunc: stateID(userAddr),
				ImportPlanChecks: resource.ImportPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(userAddr, plancheck.ResourceActionNoop)},
				},
			},
			{
				// By e-mail address, as people know their users, ignoring case.
				Config:          cfg,
				ResourceName:    userAddr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   tenant + "/Bob@Example.com",
				ImportPlanChecks: resource.ImportPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(userAddr, plancheck.ResourceActionNoop)},
				},
			},
			{
				Config:            cfg,
				ResourceName:      userAddr,
				ImportState:       true,
				ImportStateId:     tenant + "/bob@example.com",
				ImportStateVerify: true,
			},
			{
				ResourceName:  userAddr,
				ImportState:   true,
				ImportStateId: tenant,
				ExpectError: wrapped(`import ID "`+tenant+`" must look like "<tenant>/<user_id>" (such as "acme/usr_`,
					`or "<tenant>/<email>" (such as "acme/alice@example.com")`),
			},
			{
				ResourceName:  userAddr,
				ImportState:   true,
				ImportStateId: tenant + "/nobody@example.com",
				ExpectError: wrapped(`Tenant "`+tenant+`" has no user with the e-mail address "nobody@example.com"`,
					`import a user as `+tenant+`/<user_id>`, tenant+`/<email>`),
			},
			{
				ResourceName:  userAddr,
				ImportState:   true,
				ImportStateId: tenant + "/usr_nobody",
				ExpectError:   wrapped(`Tenant "`+tenant+`" has no user with user_id "usr_nobody"`, `import a user as `+tenant+`/<user_id>`),
			},
		},
	})
}

func TestAccUser_drift(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := platformTenant(t, srv, "drift")
	cfg := srv.Config(userConfig(tenant, "carol@example.com", "Carol"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkUsersDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				// Someone renames the user through the API: the plan puts the name back.
				PreConfig: func() {
					users, err := srv.Client.ListUsers(context.Background(), tenant, nil)
					if err != nil || len(users) != 1 {
						t.Fatalf("list users: %+v, %v", users, err)
					}
					patch := json.RawMessage(`{"display_name":"Renamed by hand"}`)
					if _, err := srv.Client.UpdateUser(context.Background(), tenant, users[0].UserID, patch, 0); err != nil {
						t.Fatalf("change behind Terraform's back: %v", err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(userAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(userAddr, tfjsonpath.New("display_name"), knownvalue.StringExact("Carol")),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(userAddr, tfjsonpath.New("display_name"), knownvalue.StringExact("Carol")),
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

func TestAccUser_disappears(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := platformTenant(t, srv, "gone")
	cfg := srv.Config(userConfig(tenant, "dave@example.com", "Dave"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkUsersDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				PreConfig: func() {
					users, err := srv.Client.ListUsers(context.Background(), tenant, nil)
					if err != nil || len(users) != 1 {
						t.Fatalf("list users: %+v, %v", users, err)
					}
					if err := srv.Client.DeleteUser(context.Background(), tenant, users[0].UserID, 0); err != nil {
						t.Fatalf("delete behind Terraform's back: %v", err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(userAddr, plancheck.ResourceActionCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(userAddr, tfjsonpath.New("status"), knownvalue.StringExact(api.StatusActive)),
				},
			},
		},
	})
}

// TestAccUser_platformRefusals shows the platform's own rules as apply errors
// that name the attribute: a taken address and a full quota.
func TestAccUser_platformRefusals(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := platformTenant(t, srv, "rules")
	taken, err := srv.Client.CreateUser(t.Context(), tenant, api.UserSpec{Email: "erin@example.com", DisplayName: "Erin"})
	if err != nil {
		t.Fatal(err)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkUsersDestroyed(srv),
		Steps: []resource.TestStep{
			{
				Config: srv.Config(userConfig(tenant, "ERIN@example.com", "Erin again")),
				ExpectError: regexp.MustCompile(`(?s)` + phrase(`email "ERIN@example.com" is already used by user `+taken.UserID) +
					`.*` + phrase(`terraform import tenancy_user.NAME `+taken.ID)),
			},
		},
	})
}

func TestAccUser_invalidInputFailsAtPlan(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	cases := []struct {
		name, tenant, email, displayName string
		want                             string
	}{
		{"email", "acme", "not-an-email", "X", `(?s)Invalid Email Address.*Attribute email: "not-an-email" is not an e-mail\s+address`},
		{"email-display-name", "acme", "Alice <alice@example.com>", "X", `(?s)Attribute email.*try\s+"alice@example.com"`},
		{"display-name", "acme", "a@example.com", "", `(?s)Attribute display_name string length must be between 1 and 200`},
		{"tenant", "Acme Corp", "a@example.com", "X", `(?s)Attribute tenant_id must be a tenant slug`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps: []resource.TestStep{{
					Config:      srv.Config(userConfig(tc.tenant, tc.email, tc.displayName)),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(tc.want),
				}},
			})
		})
	}
}
