package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
)

// requestsByRoute reads tenancyd's tenancyd_http_requests_total by route.
func requestsByRoute(t *testing.T, srv *acctest.Server) map[string]int {
	t.Helper()
	resp, err := http.Get(srv.URL + "/metrics") //nolint:noctx // A test's own server.
	if err != nil {
		t.Fatalf("scrape /metrics: %v", err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape /metrics: %v", err)
	}
	out := map[string]int{}
	for _, m := range families["tenancyd_http_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" {
				out[l.GetValue()] += int(m.GetCounter().GetValue())
			}
		}
	}
	return out
}

const (
	routeFlag  = "GET /v1/tenants/{tenant}/feature-flags/{key}"
	routeFlags = "GET /v1/tenants/{tenant}/feature-flags"
	routeUser  = "GET /v1/tenants/{tenant}/users/{user}"
	routeUsers = "GET /v1/tenants/{tenant}/users"
	routeRB    = "GET /v1/tenants/{tenant}/role-bindings/{binding}"
	routeRBs   = "GET /v1/tenants/{tenant}/role-bindings"
)

// TestAccRefresh_batchedAndNeverHidesAChange refreshes a tenant's flags,
// users and role bindings the way a fleet is refreshed: one GET for the
// first object of each kind, then one list for the rest, not a GET each.
// The read cache behind it lives for one Terraform operation, so a change
// made by hand between two plans, to objects the first plan read from a
// list, shows in the second as drift; a flag deleted by hand is planned for
// re-creation, and the apply that repairs them leaves a clean plan.
func TestAccRefresh_batchedAndNeverHidesAChange(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := tenantWithEnvironments(t, srv, "refresh", "staging")
	// Separate blocks, not for_each: the test framework's state checks do
	// not follow for_each keys.
	var hcl strings.Builder
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		fmt.Fprintf(&hcl, `
resource "tenancy_feature_flag" %[2]q {
  tenant_id    = %[1]q
  key          = "flag-%[2]s"
  description  = "Flag %[2]s"
  environments = { staging = { enabled = true, rollout_percentage = 50 } }
}
`, tenant, k)
	}
	for _, u := range []string{"ann", "bob", "cyd"} {
		fmt.Fprintf(&hcl, `
resource "tenancy_user" %[2]q {
  tenant_id    = %[1]q
  email        = "%[2]s@example.com"
  display_name = "User %[2]s"
}
`, tenant, u)
	}
	for _, u := range []string{"ann", "bob", "cyd"} {
		fmt.Fprintf(&hcl, `
resource "tenancy_role_binding" %[2]q {
  tenant_id = %[1]q
  user_id   = tenancy_user.%[2]s.user_id
  role      = "tenant_viewer"
}
`, tenant, u)
	}
	config := srv.Config(hcl.String())
	var before map[string]int
	var bobID string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkFlagsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: config},
			{
				// A plan that reads the flags through one list.
				PreConfig: func() { before = requestsByRoute(t, srv) },
				Config:    config,
				PlanOnly:  true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan(), listedOnce(t, srv, &before)},
				},
			},
			{
				// Between that plan and the next, someone changes two
				// flags (at least one of them was served by the list, since
				// only one flag is read with its own GET) and a user. The
				// next plan, which lists them again, shows every change.
				PreConfig: func() {
					setFlagByHand(t, srv, tenant, "flag-b", `{"description":"b changed by hand"}`)
					setFlagByHand(t, srv, tenant, "flag-d", `{"environments":{"staging":{"enabled":false}}}`)
					users, err := srv.Client.ListUsers(context.Background(), tenant, url.Values{"email": {"cyd@example.com"}})
					if err != nil || len(users) != 1 {
						t.Fatalf("find cyd: %v %v", users, err)
					}
					if _, err := srv.Client.UpdateUser(context.Background(), tenant, users[0].UserID, json.RawMessage(`{"display_name":"Cydney"}`), 0); err != nil {
						t.Fatal(err)
					}
					before = requestsByRoute(t, srv)
				},
				Config:             config,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("tenancy_feature_flag.b", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("tenancy_feature_flag.d", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("tenancy_user.cyd", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("tenancy_feature_flag.a", plancheck.ResourceActionNoop),
						plancheck.ExpectResourceAction("tenancy_user.ann", plancheck.ResourceActionNoop),
						listedOnce(t, srv, &before),
					},
				},
			},
			{
				// Between two plans, someone changes a flag and a user and
				// deletes another flag.
				PreConfig: func() {
					ctx := context.Background()
					setFlagByHand(t, srv, tenant, "flag-c", `{"description":"changed by hand"}`)
					if err := srv.Client.DeleteFeatureFlag(ctx, tenant, "flag-e"); err != nil {
						t.Fatal(err)
					}
					users, err := srv.Client.ListUsers(ctx, tenant, nil)
					if err != nil {
						t.Fatal(err)
					}
					for _, u := range users {
						if u.Email == "bob@example.com" {
							bobID = u.UserID
						}
					}
					if _, err := srv.Client.UpdateUser(ctx, tenant, bobID, json.RawMessage(`{"display_name":"Robert"}`), 0); err != nil {
						t.Fatal(err)
					}
					before = requestsByRoute(t, srv)
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("tenancy_feature_flag.c", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("tenancy_feature_flag.e", plancheck.ResourceActionCreate),
						plancheck.ExpectResourceAction("tenancy_user.bob", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("tenancy_feature_flag.a", plancheck.ResourceActionNoop),
						plancheck.ExpectResourceAction("tenancy_user.ann", plancheck.ResourceActionNoop),
						// The plan refreshed six flags and three users.
						planHook(func() {
							after := requestsByRoute(t, srv)
							d := func(route string) int { return after[route] - before[route] }
							t.Logf("refresh of 6 flags and 3 users: %d+%d flag GETs+lists, %d+%d user GETs+lists",
								d(routeFlag), d(routeFlags), d(routeUser), d(routeUsers))
							// One GET for the first flag, then one list;
							// flag-e, which the list lacks, is gone without
							// a GET of its own.
							if d(routeFlag) > 1 || d(routeFlags) != 1 {
								t.Errorf("refreshing 6 flags took %d GETs and %d lists; want at most 1 GET and one list", d(routeFlag), d(routeFlags))
							}
							if d(routeUser) > 1 || d(routeUsers) != 1 {
								t.Errorf("refreshing 3 users took %d GETs and %d lists; want at most 1 GET and one list", d(routeUser), d(routeUsers))
							}
							if d(routeRB) > 1 || d(routeRBs) != 1 {
								t.Errorf("refreshing 3 role bindings took %d GETs and %d lists; want at most 1 GET and one list", d(routeRB), d(routeRBs))
							}
						}),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(*terraform.State) error {
					f, err := srv.Client.GetFeatureFlag(context.Background(), tenant, "flag-c")
					if err != nil {
						return err
					}
					if f.Description != "Flag c" {
						return fmt.Errorf("flag-c has description %q after the apply, want %q", f.Description, "Flag c")
					}
					return nil
				},
			},
		},
	})
}

// listedOnce checks, at a plan, that since *before the plan's refresh read
// the flags, users and role bindings with one list each and at most one GET
// of each kind (the first of each, which comes before any list).
func listedOnce(t *testing.T, srv *acctest.Server, before *map[string]int) plancheck.PlanCheck {
	return planHook(func() {
		after := requestsByRoute(t, srv)
		for _, kind := range []struct{ get, list string }{{routeFlag, routeFlags}, {routeUser, routeUsers}, {routeRB, routeRBs}} {
			gets, lists := after[kind.get]-(*before)[kind.get], after[kind.list]-(*before)[kind.list]
			if gets > 1 || lists != 1 {
				t.Errorf("the plan made %d of %s and %d of %s; want at most one GET and one list", gets, kind.get, lists, kind.list)
			}
		}
	})
}
