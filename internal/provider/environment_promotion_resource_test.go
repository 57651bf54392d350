package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

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

const promotionAddr = "tenancy_environment_promotion.production"

// promotionTenant creates a tenant through the API, so that it outlives the
// test's configuration and CheckDestroy can look into it.
func promotionTenant(t *testing.T, srv *acctest.Server) string {
	t.Helper()
	slug := acctest.RandomSlug("promo")
	off := false
	if _, err := srv.Client.CreateTenant(t.Context(), api.TenantSpec{Slug: slug, DisplayName: slug, Region: "eu-west", DeletionProtection: &off}); err != nil {
		t.Fatalf("create tenant %s: %v", slug, err)
	}
	return slug
}

// promotionStory is the configuration of the user story: staging and
// production, a flag managed in staging only, a staging quota, and the
// promotion of staging to production.
type promotionStory struct {
	// tenant is the tenant's slug, or, in tenantExpr, an expression such
	// as tenancy_tenant.test.id.
	tenant, tenantExpr string
	logLevel           string // staging's settings.log_level
	enabled            bool   // new-billing in staging
	rollout            int    // new-billing's rollout_percentage in staging
	// promotion is the body of the promotion resource beyond its three
	// required attributes; noPromotion leaves the resource out.
	promotion   string
	noPromotion bool
	// more is appended as is.
	more string
}

func (s promotionStory) config(srv *acctest.Server) string { return srv.Config(s.hcl()) }

// hcl is the story's configuration without a provider block.
func (s promotionStory) hcl() string {
	tenant := s.tenantExpr
	if tenant == "" {
		tenant = fmt.Sprintf("%q", s.tenant)
	}
	cfg := fmt.Sprintf(`
resource "tenancy_environment" "staging" {
  tenant_id = %[1]s
  name      = "staging"
  type      = "staging"
  settings  = { log_level = %[2]q }
}

resource "tenancy_environment" "production" {
  tenant_id = %[1]s
  name      = "production"
  type      = "production"
  settings  = { log_level = "error" }

  # From here on the promotion manages production's settings.
  lifecycle {
    ignore_changes = [settings]
  }
}

resource "tenancy_quota" "staging" {
  tenant_id      = %[1]s
  environment    = tenancy_environment.staging.name
  cpu_millicores = 2000
}

# The flag manages staging only; the promotion carries it to production.
resource "tenancy_feature_flag" "billing" {
  tenant_id = %[1]s
  key       = "new-billing"
  environments = {
    (tenancy_environment.staging.name) = { enabled = %[3]t, rollout_percentage = %[4]d }
  }
}
`, tenant, s.logLevel, s.enabled, s.rollout)
	if !s.noPromotion {
		cfg += fmt.Sprintf(`
resource "tenancy_environment_promotion" "production" {
  tenant_id          = %s
  source_environment = tenancy_environment.staging.name
  target_environment = tenancy_environment.production.name
%s
  depends_on = [tenancy_feature_flag.billing, tenancy_quota.staging]
}
`, tenant, s.promotion)
	}
	return cfg + s.more
}

// promotionGeneratedConfig is the configuration of a promotion, under a
// tenancy_tenant.test, for TestAccGenerateConfig_everyResourceType: what
// `terraform plan -generate-config-out` writes for it must import with no
// change. Its import ID is "<slug>/staging/production".
func promotionGeneratedConfig() string {
	return promotionStory{tenantExpr: "tenancy_tenant.test.id", logLevel: "info", enabled: true, rollout: 40,
		promotion: `  include = ["settings", "feature_flags"]`}.hcl()
}

// The lines of the first promotion of the story with info and 25%.
var firstPromotionLines = []string{
	"feature_flags.new-billing.enabled: (absent) -> true",
	"feature_flags.new-billing.rollout_percentage: (absent) -> 25",
	"quotas.cpu_millicores: (absent) -> 2000",
	`settings.log_level: "error" -> "info"`,
}

// wrapped matches text in an error as Terraform prints it, wrapped at any
// space.
func wrapped(parts ...string) *regexp.Regexp {
	quoted := make([]string, len(parts))
	for i, p := range parts {
		words := strings.Fields(p)
		for j, w := range words {
			words[j] = regexp.QuoteMeta(w)
		}
		quoted[i] = strings.Join(words, `\s+`)
	}
	return regexp.MustCompile("(?s)" + strings.Join(quoted, ".*"))
}

func linesExact(lines ...string) knownvalue.Check {
	checks := make([]knownvalue.Check, len(lines))
	for i, l := range lines {
		checks[i] = knownvalue.StringExact(l)
	}
	return knownvalue.ListExact(checks)
}

// changesShownInFull checks that a plan updates changes from an empty list,
// so that the plan output shows every pending line, even lines equal to
// those of the last promotion.
type changesShownInFull struct{ addr string }

func (c changesShownInFull) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address != c.addr || rc.Change == nil {
			continue
		}
		before, _ := rc.Change.Before.(map[string]any)
		if l, ok := before["changes"].([]any); !ok || len(l) != 0 {
			resp.Error = fmt.Errorf("%s: changes before the update is %v; want [] so that the plan shows every line", c.addr, before["changes"])
		}
		return
	}
	resp.Error = fmt.Errorf("%s is not in the plan", c.addr)
}

// priorValue checks that, before a plan's update, a list attribute held
// exactly these strings.
type priorValue struct {
	addr, attr string
	want       []string
}

func (c priorValue) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address != c.addr || rc.Change == nil {
			continue
		}
		before, _ := rc.Change.Before.(map[string]any)
		got := fmt.Sprint(before[c.attr])
		if want := fmt.Sprint(c.want); got != want {
			resp.Error = fmt.Errorf("%s: %s before the update is %s; want %s", c.addr, c.attr, got, want)
		}
		return
	}
	resp.Error = fmt.Errorf("%s is not in the plan", c.addr)
}

// checkPromotionsDestroyed asserts against the API that no promotion of the
// state keeps its link.
func checkPromotionsDestroyed(srv *acctest.Server) resource.TestCheckFunc {
	// A destroyed promotion leaves its history; what goes is its link.
	return checkGone("tenancy_environment_promotion", func(ctx context.Context, a map[string]string) error {
		_, err := srv.Client.GetPromotionLink(ctx, a["tenant_id"], a["target_environment"])
		return err
	})
}

// production reads production's state through the API: its settings, its
// new-billing entry ("absent" when none) and its cpu quota (0 when none).
func production(t *testing.T, srv *acctest.Server, tenant string) (settings map[string]string, flag string, cpu int64) {
	t.Helper()
	ctx := context.Background()
	env, err := srv.Client.GetEnvironment(ctx, tenant, "production")
	if err != nil {
		t.Fatalf("read production: %v", err)
	}
	f, err := srv.Client.GetFeatureFlag(ctx, tenant, "new-billing")
	switch {
	case errors.Is(err, client.ErrNotFound):
		flag = "absent"
	case err != nil:
		t.Fatalf("read new-billing: %v", err)
	default:
		flag = "absent"
		if e, ok := f.Environments["production"]; ok {
			flag = fmt.Sprintf("%t/%d", e.Enabled, e.RolloutPercentage)
		}
	}
	q, err := srv.Client.GetQuota(ctx, tenant, "production")
	switch {
	case errors.Is(err, client.ErrNotFound):
	case err != nil:
		t.Fatalf("read production's quota: %v", err)
	case q.CPUMillicores != nil:
		cpu = *q.CPUMillicores
	}
	return env.Settings, flag, cpu
}

func expectStaging(t *testing.T, srv *acctest.Server, tenant, logLevel string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		env, err := srv.Client.GetEnvironment(context.Background(), tenant, "staging")
		if err != nil {
			return err
		}
		if env.Settings["log_level"] != logLevel {
			return fmt.Errorf("staging holds log_level %q; want %q", env.Settings["log_level"], logLevel)
		}
		return nil
	}
}

func expectProduction(t *testing.T, srv *acctest.Server, tenant, logLevel, flag string, cpu int64) resource.TestCheckFunc {
	return func(*terraform.State) error {
		settings, gotFlag, gotCPU := production(t, srv, tenant)
		if settings["log_level"] != logLevel || gotFlag != flag || gotCPU != cpu {
			return fmt.Errorf("production holds log_level %q, new-billing %s, cpu_millicores %d; want %q, %s, %d",
				settings["log_level"], gotFlag, gotCPU, logLevel, flag, cpu)
		}
		return nil
	}
}

func TestAccEnvironmentPromotion_firstPromotion(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := promotionTenant(t, srv)
	story := promotionStory{tenant: tenant, logLevel: "info", enabled: true, rollout: 25,
		promotion: `  triggers = { flags = jsonencode(tenancy_feature_flag.billing.environments) }`}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkPromotionsDestroyed(srv),
		Steps: []resource.TestStep{
			{
				Config: story.config(srv),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(promotionAddr, plancheck.ResourceActionCreate),
						// Staging does not exist yet: the preview is known only after apply.
						plancheck.ExpectUnknownValue(promotionAddr, tfjsonpath.New("changes")),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("id"), knownvalue.StringExact(tenant+"/staging/production")),
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("changes"), linesExact(firstPromotionLines...)),
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("revision"), knownvalue.StringRegexp(regexp.MustCompile(`^prm_[0-9a-f]{20}$`))),
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("promoted_at"), knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`))),
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("include"), knownvalue.SetExact([]knownvalue.Check{
						knownvalue.StringExact("settings"), knownvalue.StringExact("feature_flags"), knownvalue.StringExact("quotas"),
						knownvalue.StringExact("schema"),
					})),
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("rollback_on_destroy"), knownvalue.Bool(false)),
				},
				Check: expectProduction(t, srv, tenant, "info", "true/25", 2000),
			},
			{
				// Nothing moved: the preview is empty, and so is the plan.
				Config: story.config(srv),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				ResourceName:      promotionAddr,
				ImportState:       true,
				ImportStateId:     tenant + "/staging/production",
				ImportStateVerify: true,
				// triggers are configuration only, never on the platform.
				ImportStateVerifyIgnore: []string{"triggers"},
			},
		},
	})
}

func TestAccEnvironmentPromotion_previewInPlan(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := promotionTenant(t, srv)
	story := promotionStory{tenant: tenant, logLevel: "info", enabled: true, rollout: 25}
	moved := story
	moved.logLevel, moved.rollout = "warn", 50
	movedAgain := moved
	movedAgain.rollout = 60
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkPromotionsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: story.config(srv)},
			{
				// Staging moves on. Without triggers the promotion cannot know
				// in this plan; the next plan shows it.
				Config: moved.config(srv),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("tenancy_feature_flag.billing", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction(promotionAddr, plancheck.ResourceActionNoop),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(promotionAddr, plancheck.ResourceActionUpdate),
					},
				},
				ExpectNonEmptyPlan: true,
			},
			{
				// The plan says, line by line, what production is about to get.
				Config: moved.config(srv),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(promotionAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("changes"), linesExact(
							"feature_flags.new-billing.rollout_percentage: 25 -> 50",
							`settings.log_level: "info" -> "warn"`,
						)),
						plancheck.ExpectUnknownValue(promotionAddr, tfjsonpath.New("revision")),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("changes"), linesExact(
						"feature_flags.new-billing.rollout_percentage: 25 -> 50",
						`settings.log_level: "info" -> "warn"`,
					)),
				},
				Check: expectProduction(t, srv, tenant, "warn", "true/50", 2000),
			},
			{
				Config: moved.config(srv),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// A promotion is pending (production was changed by hand) and
				// staging changes in the same apply, without triggers: the apply
				// refuses to promote anything but what the plan showed.
				PreConfig: func() {
					if _, err := srv.Client.UpdateEnvironment(context.Background(), tenant, "production",
						json.RawMessage(`{"settings":{"log_level":"debug"}}`), 0); err != nil {
						t.Fatalf("change production by hand: %v", err)
					}
				},
				Config: movedAgain.config(srv),
				ExpectError: wrapped("The source or the target changed between the plan and the apply",
					`would now change ["feature_flags.new-billing.rollout_percentage: 50 -> 60", "settings.log_level: \"debug\" -> \"warn\""], not the expected ["settings.log_level: \"debug\" -> \"warn\""]`),
			},
		},
	})
}

func TestAccEnvironmentPromotion_driftInTarget(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := promotionTenant(t, srv)
	story := promotionStory{tenant: tenant, logLevel: "info", enabled: true, rollout: 25}
	// Someone switches the flag off in production and adds a setting there.
	handChange := func() {
		ctx := context.Background()
		if _, err := srv.Client.UpdateFeatureFlag(ctx, tenant, "new-billing", json.RawMessage(`{"environments":{"production":{"enabled":false,"rollout_percentage":25}}}`), 0); err != nil {
			t.Fatalf("change production's flag by hand: %v", err)
		}
		if _, err := srv.Client.UpdateEnvironment(ctx, tenant, "production", json.RawMessage(`{"settings":{"hand_made":"yes"}}`), 0); err != nil {
			t.Fatalf("change production's settings by hand: %v", err)
		}
	}
	revert := []string{"feature_flags.new-billing.enabled: false -> true", `settings.hand_made: "yes" -> (absent)`}
	driftStep := resource.TestStep{
		PreConfig: handChange,
		Config:    story.config(srv),
		ConfigPlanChecks: resource.ConfigPlanChecks{
			PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(promotionAddr, plancheck.ResourceActionUpdate),
				plancheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("changes"), linesExact(revert...)),
				changesShownInFull{promotionAddr},
			},
		},
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("changes"), linesExact(revert...)),
		},
		Check: func(s *terraform.State) error {
			settings, flag, _ := production(t, srv, tenant)
			if _, ok := settings["hand_made"]; ok || flag != "true/25" {
				return fmt.Errorf("production still has the hand change: settings %v, new-billing %s", settings, flag)
			}
			return nil
		},
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkPromotionsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: story.config(srv)},
			driftStep,
			// The same hand change again: the pending lines are exactly those
			// of the last promotion, and the plan still shows them.
			driftStep,
			{
				Config: story.config(srv),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

func TestAccEnvironmentPromotion_includeOneScope(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := promotionTenant(t, srv)
	story := promotionStory{tenant: tenant, logLevel: "info", enabled: true, rollout: 25, promotion: `  include = ["settings"]`}
	withFlags := story
	withFlags.promotion = `  include = ["settings", "feature_flags"]`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkPromotionsDestroyed(srv),
		Steps: []resource.TestStep{
			{
				// Only settings travel; production keeps no flag entry and no quota,
				// and the differences left out never show in a plan.
				Config: story.config(srv),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("changes"), linesExact(`settings.log_level: "error" -> "info"`)),
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("include"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("settings")})),
				},
				Check: expectProduction(t, srv, tenant, "info", "absent", 0),
			},
			{
				// Widening include shows what the new scope brings.
				Config: withFlags.config(srv),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(promotionAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("changes"), linesExact(firstPromotionLines[:2]...)),
					},
				},
				Check: expectProduction(t, srv, tenant, "info", "true/25", 0),
			},
		},
	})
}

// promotionTriggers reference staging's settings and the flag, as the
// documentation says: the plan resolves them to the configured values.
const promotionTriggers = `  triggers = {
    flags    = jsonencode(tenancy_feature_flag.billing.environments)
    settings = jsonencode(tenancy_environment.staging.settings)
  }`

// TestAccEnvironmentPromotion_oneApply changes staging in the configuration:
// with triggers, the plan previews the lines that follow from the configured
// staging (not "known after apply"), listed as additions, with last_changes
// keeping the first promotion's lines until the apply makes them the new
// ones, and the apply carries the change to production.
func TestAccEnvironmentPromotion_oneApply(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := promotionTenant(t, srv)
	story := promotionStory{tenant: tenant, logLevel: "info", enabled: true, rollout: 25, promotion: promotionTriggers}
	moved := story
	moved.rollout, moved.enabled, moved.logLevel = 75, false, "warn"
	movedLines := []string{
		"feature_flags.new-billing.enabled: true -> false",
		"feature_flags.new-billing.rollout_percentage: 25 -> 75",
		`settings.log_level: "info" -> "warn"`,
	}
	// A trigger the plan cannot resolve still promotes in the same apply.
	versioned := moved
	versioned.promotion = `  triggers = { release = "2" }`
	versioned.rollout = 80
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkPromotionsDestroyed(srv),
		Steps: []resource.TestStep{
			{
				Config: story.config(srv),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("last_changes"), linesExact(firstPromotionLines...)),
				},
			},
			{
				Config: moved.config(srv),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("tenancy_feature_flag.billing", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("tenancy_environment.staging", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction(promotionAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("changes"), linesExact(movedLines...)),
						plancheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("last_changes"), linesExact(movedLines...)),
						changesShownInFull{promotionAddr},
						priorValue{promotionAddr, "last_changes", firstPromotionLines},
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("changes"), linesExact(movedLines...)),
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("last_changes"), linesExact(movedLines...)),
				},
				Check: expectProduction(t, srv, tenant, "warn", "false/75", 2000),
			},
			{
				// Nothing pending: the plan is empty and the refresh keeps the
				// lines of the last apply in both attributes.
				Config: moved.config(srv),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("changes"), linesExact(movedLines...)),
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("last_changes"), linesExact(movedLines...)),
				},
			},
			{
				Config: versioned.config(srv),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(promotionAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(promotionAddr, tfjsonpath.New("changes")),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("last_changes"),
						linesExact("feature_flags.new-billing.rollout_percentage: 75 -> 80")),
				},
				Check: expectProduction(t, srv, tenant, "warn", "false/80", 2000),
			},
		},
	})
}

// TestAccEnvironmentPromotion_handChangeInSource changes staging by hand
// while triggers reference it: the plan puts staging back and previews the
// promotion of staging as configured (a hand change in production is put
// back too, the one in staging is not carried over), and the apply does
// exactly that. The same with a change to staging in the configuration in
// the same plan.
func TestAccEnvironmentPromotion_handChangeInSource(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := promotionTenant(t, srv)
	story := promotionStory{tenant: tenant, logLevel: "info", enabled: true, rollout: 25, promotion: promotionTriggers}
	moved := story
	moved.rollout = 60
	byHand := func(env, settings, flag string) func() {
		return func() {
			ctx := context.Background()
			if settings != "" {
				if _, err := srv.Client.UpdateEnvironment(ctx, tenant, env, json.RawMessage(settings), 0); err != nil {
					t.Fatalf("change %s by hand: %v", env, err)
				}
			}
			if flag != "" {
				if _, err := srv.Client.UpdateFeatureFlag(ctx, tenant, "new-billing", json.RawMessage(flag), 0); err != nil {
					t.Fatalf("change new-billing by hand: %v", err)
				}
			}
		}
	}
	stagingByHand := byHand("staging", `{"settings":{"log_level":"trace"}}`, `{"environments":{"production":{"enabled":false,"rollout_percentage":25}}}`)
	emptyPlan := resource.TestStep{
		Config:           moved.config(srv),
		ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkPromotionsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: story.config(srv), Check: expectProduction(t, srv, tenant, "info", "true/25", 2000)},
			{
				PreConfig: stagingByHand,
				Config:    story.config(srv),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("tenancy_environment.staging", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction(promotionAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("changes"),
							linesExact("feature_flags.new-billing.enabled: false -> true")),
						changesShownInFull{promotionAddr},
					},
				},
				Check: resource.ComposeTestCheckFunc(
					expectProduction(t, srv, tenant, "info", "true/25", 2000),
					expectStaging(t, srv, tenant, "info"),
				),
			},
			{
				// Only staging changed by hand: production already matches
				// staging as configured, so only staging is put back.
				PreConfig: byHand("staging", `{"settings":{"log_level":"trace"}}`, ""),
				Config:    story.config(srv),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("tenancy_environment.staging", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction(promotionAddr, plancheck.ResourceActionNoop),
					},
				},
				Check: resource.ComposeTestCheckFunc(
					expectProduction(t, srv, tenant, "info", "true/25", 2000),
					expectStaging(t, srv, tenant, "info"),
				),
			},
			{
				// A hand change in staging and a change to it in the
				// configuration, in one plan.
				PreConfig: stagingByHand,
				Config:    moved.config(srv),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("tenancy_environment.staging", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("tenancy_feature_flag.billing", plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("changes"), linesExact(
							"feature_flags.new-billing.enabled: false -> true",
							"feature_flags.new-billing.rollout_percentage: 25 -> 60",
						)),
					},
				},
				Check: resource.ComposeTestCheckFunc(
					expectProduction(t, srv, tenant, "info", "true/60", 2000),
					expectStaging(t, srv, tenant, "info"),
				),
			},
			emptyPlan,
		},
	})
}

func TestAccEnvironmentPromotion_rollbackOnDestroy(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := promotionTenant(t, srv)
	story := promotionStory{tenant: tenant, logLevel: "info", enabled: true, rollout: 25, promotion: `  rollback_on_destroy = true`}
	without := story
	without.noPromotion = true
	keep := story
	keep.promotion = ""
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkPromotionsDestroyed(srv),
		Steps: []resource.TestStep{
			{
				Config: story.config(srv),
				Check:  expectProduction(t, srv, tenant, "info", "true/25", 2000),
			},
			{
				// Destroying the promotion puts production back as it was.
				Config: without.config(srv),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(promotionAddr, plancheck.ResourceActionDestroy)},
				},
				Check: resource.ComposeTestCheckFunc(
					expectProduction(t, srv, tenant, "error", "absent", 0),
					checkPromotionsDestroyed(srv),
					func(*terraform.State) error {
						history, err := srv.Client.ListPromotions(context.Background(), tenant, "production")
						if err != nil {
							return err
						}
						if len(history) != 1 || history[0].RolledBackAt == nil || history[0].RolledBackBy == "" {
							return fmt.Errorf("history %+v; want the one promotion, rolled back", history)
						}
						return nil
					},
				),
			},
			{Config: keep.config(srv), Check: expectProduction(t, srv, tenant, "info", "true/25", 2000)},
			{
				// By default, destroying the promotion leaves production as it is.
				Config: without.config(srv),
				Check:  expectProduction(t, srv, tenant, "info", "true/25", 2000),
			},
		},
	})
}

func TestAccEnvironmentPromotion_twoPromotionsOneTarget(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := promotionTenant(t, srv)
	story := promotionStory{tenant: tenant, logLevel: "info", enabled: true, rollout: 25}
	second := story
	second.more = fmt.Sprintf(`
resource "tenancy_environment" "hotfix" {
  tenant_id = %q
  name      = "hotfix"
  type      = "staging"
}

resource "tenancy_environment_promotion" "hotfix" {
  tenant_id          = %[1]q
  source_environment = tenancy_environment.hotfix.name
  target_environment = tenancy_environment.production.name
  depends_on         = [tenancy_environment_promotion.production]
}
`, tenant)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkPromotionsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: story.config(srv)},
			{
				Config: second.config(srv),
				ExpectError: wrapped(`environment "production" is already the target of promotion link `+tenant+`/staging/production (from "staging"`,
					"an environment can be the target of only one tenancy_environment_promotion"),
			},
			{
				// The first promotion is unharmed, and nothing is left to fight over.
				Config: story.config(srv),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(promotionAddr, plancheck.ResourceActionNoop)},
				},
				Check: expectProduction(t, srv, tenant, "info", "true/25", 2000),
			},
		},
	})
}

func TestAccEnvironmentPromotion_import(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := promotionTenant(t, srv)
	story := promotionStory{tenant: tenant, logLevel: "info", enabled: true, rollout: 25, promotion: `  include = ["settings", "feature_flags"]`}
	cfg := story.config(srv)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkPromotionsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				ResourceName:      promotionAddr,
				ImportState:       true,
				ImportStateId:     tenant + "/staging/production",
				ImportStateVerify: true,
			},
			{
				Config:          cfg,
				ResourceName:    promotionAddr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   tenant + "/staging/production",
				ImportPlanChecks: resource.ImportPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(promotionAddr, plancheck.ResourceActionNoop)},
				},
			},
			{
				ResourceName:  promotionAddr,
				ImportState:   true,
				ImportStateId: tenant + "/production",
				ExpectError:   wrapped(`must look like "<tenant>/<source>/<target>" (such as "acme/staging/production")`),
			},
			{
				ResourceName:  promotionAddr,
				ImportState:   true,
				ImportStateId: tenant + "/development/production",
				ExpectError:   wrapped(`is promoted from "staging", not "development"`),
			},
			{
				ResourceName:  promotionAddr,
				ImportState:   true,
				ImportStateId: tenant + "/production/staging",
				ExpectError:   wrapped(`has no promotion link into environment "staging"`),
			},
		},
	})
}

func TestAccEnvironmentPromotion_disappears(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := promotionTenant(t, srv)
	story := promotionStory{tenant: tenant, logLevel: "info", enabled: true, rollout: 25}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkPromotionsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: story.config(srv)},
			{
				// The link is removed behind Terraform's back: the promotion is
				// planned again and made again.
				PreConfig: func() {
					if err := srv.Client.DeletePromotionLink(context.Background(), tenant, "production"); err != nil {
						t.Fatalf("delete the link: %v", err)
					}
				},
				Config: story.config(srv),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(promotionAddr, plancheck.ResourceActionCreate),
						// Source and target agree, and the plan knows it.
						plancheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("changes"), knownvalue.ListExact([]knownvalue.Check{})),
					},
				},
			},
		},
	})
}

func TestAccEnvironmentPromotion_invalid(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	base := `
resource "tenancy_environment_promotion" "production" {
  tenant_id          = "acme"
  source_environment = %q
  target_environment = "production"
%s
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      srv.Config(fmt.Sprintf(base, "production", "")),
				PlanOnly:    true,
				ExpectError: wrapped(`target_environment must differ from source_environment; both are "production"`),
			},
			{
				Config:      srv.Config(fmt.Sprintf(base, "staging", `  include = ["settings", "users"]`)),
				PlanOnly:    true,
				ExpectError: wrapped("include", `value must be one of: ["settings" "feature_flags" "quotas" "schema"], got: "users"`),
			},
			{
				Config:      srv.Config(fmt.Sprintf(base, "staging", `  include = []`)),
				PlanOnly:    true,
				ExpectError: wrapped("include", "set must contain at least 1 elements"),
			},
			{
				Config:      srv.Config(fmt.Sprintf(base, "Staging", "")),
				PlanOnly:    true,
				ExpectError: wrapped("source_environment", "must be an environment name"),
			},
		},
	})
}

// TestAccEnvironmentPromotion_productionNeedsAdmin plans with a tenant_user
// token: promoting into production fails at plan time, naming the role,
// with triggers too.
func TestAccEnvironmentPromotion_productionNeedsAdmin(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := promotionTenant(t, srv)
	ctx := context.Background()
	for _, e := range []api.EnvironmentSpec{{Name: "staging", Type: api.EnvStaging}, {Name: "production", Type: api.EnvProduction}, {Name: "qa", Type: api.EnvDevelopment}} {
		if _, err := srv.Client.CreateEnvironment(ctx, tenant, e); err != nil {
			t.Fatalf("create %s: %v", e.Name, err)
		}
	}
	tok, err := srv.Client.CreateToken(ctx, api.TokenRequest{Name: "ci", Tenant: tenant, Role: api.RoleTenantUser, TTLSeconds: int64(time.Hour / time.Second)})
	if err != nil {
		t.Fatalf("mint a tenant_user token: %v", err)
	}
	cfg := func(target string) string {
		return fmt.Sprintf(`
provider "tenancy" {
  endpoint = %q
  token    = %q
}

resource "tenancy_environment_promotion" "production" {
  tenant_id          = %q
  source_environment = "staging"
  target_environment = %q
  include            = ["settings", "feature_flags"]
}
`, srv.URL, tok.Token, tenant, target)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      cfg("production"),
				PlanOnly:    true,
				ExpectError: wrapped(`promoting into environment "production", of type production, needs role tenant_admin`),
			},
			{
				// New and with triggers, its changes are known only after
				// apply; the refusal is known at plan time all the same.
				Config: strings.Replace(cfg("production"), `include            = ["settings", "feature_flags"]`,
					`include            = ["settings", "feature_flags"]
  triggers           = { release = "1" }`, 1),
				PlanOnly: true,
				ExpectError: wrapped(`The provider's token (role tenant_user) may not promote "staging" to "production"`,
					`promoting into environment "production", of type production, needs role tenant_admin`),
			},
			{
				// Into a development environment, tenant_user is enough.
				Config: cfg("qa"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(promotionAddr, tfjsonpath.New("changes"), knownvalue.ListExact([]knownvalue.Check{})),
				},
			},
		},
	})
}

func TestAccEnvironmentPromotion_generateConfig(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	slug := acctest.RandomSlug("gen")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkTenantsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: srv.Config(tenantConfig(slug, "Generated", "") + promotionGeneratedConfig())},
			{
				ResourceName:    promotionAddr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   slug + "/staging/production",
				GenerateConfig:  true,
				ImportPlanChecks: resource.ImportPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(generatedAddress(promotionAddr), plancheck.ResourceActionNoop)},
				},
			},
		},
	})
}
