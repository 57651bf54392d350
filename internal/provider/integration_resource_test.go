package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

const integrationAddr = "tenancy_integration.test"

// Write-only attributes need Terraform 1.11 or newer.
var writeOnlyVersions = []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)}

// tenantOnly creates a tenant through the API; integrations need nothing else.
func tenantOnly(t *testing.T, srv *acctest.Server, prefix string) string {
	t.Helper()
	return tenantWithEnvironments(t, srv, prefix)
}

func integrationConfig(tenant, name, kind, body string) string {
	return fmt.Sprintf(`
resource "tenancy_integration" "test" {
  tenant_id = %q
  name      = %q
  kind      = %q
%s
}
`, tenant, name, kind, body)
}

func webhookConfig(tenant, url, secret string, version int) string {
	body := fmt.Sprintf(`  config = { url = %q }`, url)
	if secret != "" {
		body += fmt.Sprintf("\n  secret_wo         = %q\n  secret_wo_version = %d", secret, version)
	}
	return integrationConfig(tenant, "deploys", "webhook", body)
}

// platformSecret reads the secret tenancyd stores, which its API never
// returns, straight from its database, and decrypts it.
func platformSecret(srv *acctest.Server, tenant, name string) (*string, error) {
	var secret *string
	err := srv.Store.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
		o, err := tx.Get(ctx, tenant, api.KindIntegration, name)
		if err != nil {
			return err
		}
		// tenancyd keeps it encrypted at rest.
		secret, err = srv.OpenSecret(o.Data)
		return err
	})
	return secret, err
}

func expectPlatformSecret(srv *acctest.Server, tenant, name string, want *string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got, err := platformSecret(srv, tenant, name)
		switch {
		case err != nil:
			return err
		case want == nil && got != nil:
			return errors.New("the platform still holds a secret")
		case want != nil && (got == nil || *got != *want):
			return fmt.Errorf("the platform holds another secret than the one configured (set: %t)", got != nil)
		}
		return nil
	}
}

// noSecretInState fails when the secret appears anywhere in the state.
type noSecretInState string

func (s noSecretInState) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	b, err := json.Marshal(req.State)
	if err != nil {
		resp.Error = err
		return
	}
	if strings.Contains(string(b), string(s)) {
		resp.Error = errors.New("the write-only secret is in the state")
	}
}

// noSecretInPlan fails when the secret appears in what the plan records:
// planned values, resource changes and prior state. (The plan's copy of the
// configuration holds the literal as written, as the .tf file does.)
type noSecretInPlan string

func (s noSecretInPlan) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	b, err := json.Marshal([]any{req.Plan.PlannedValues, req.Plan.ResourceChanges, req.Plan.PriorState, req.Plan.ResourceDrift, req.Plan.Variables})
	if err != nil {
		resp.Error = err
		return
	}
	if strings.Contains(string(b), string(s)) {
		resp.Error = errors.New("the write-only secret is in the plan")
	}
}

// noSecretInFlatState checks the state as the SDK shim sees it, every attribute.
func noSecretInFlatState(secret string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		for addr, rs := range s.RootModule().Resources {
			for k, v := range rs.Primary.Attributes {
				if strings.Contains(v, secret) {
					return fmt.Errorf("%s.%s holds the write-only secret", addr, k)
				}
			}
		}
		return nil
	}
}

func checkIntegrationsDestroyed(srv *acctest.Server) resource.TestCheckFunc {
	return checkGone("tenancy_integration", func(ctx context.Context, a map[string]string) error {
		_, err := srv.Client.GetIntegration(ctx, a["tenant_id"], a["name"])
		return err
	})
}

func TestAccIntegration_writeOnlySecret(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := tenantOnly(t, srv, "hooks")
	first, second := "whsec_first-"+acctest.RandomSuffix(), "whsec_second-"+acctest.RandomSuffix()
	secretFree := func(secrets ...string) ([]statecheck.StateCheck, []plancheck.PlanCheck, resource.TestCheckFunc) {
		var sc []statecheck.StateCheck
		var pc []plancheck.PlanCheck
		var fc []resource.TestCheckFunc
		for _, s := range secrets {
			sc = append(sc, noSecretInState(s))
			pc = append(pc, noSecretInPlan(s))
			fc = append(fc, noSecretInFlatState(s))
		}
		return sc, pc, resource.ComposeTestCheckFunc(fc...)
	}
	stateOK, planOK, flatOK := secretFree(first, second)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		TerraformVersionChecks:   writeOnlyVersions,
		CheckDestroy:             checkIntegrationsDestroyed(srv),
		Steps: []resource.TestStep{
			{
				Config:           srv.Config(webhookConfig(tenant, "https://hooks.example.com/deploys", first, 1)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: planOK},
				ConfigStateChecks: append([]statecheck.StateCheck{
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("id"), knownvalue.StringExact(tenant+"/deploys")),
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("secret_set"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("secret_wo"), knownvalue.Null()),
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("secret_wo_version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("config"), knownvalue.MapExact(map[string]knownvalue.Check{
						"url": knownvalue.StringExact("https://hooks.example.com/deploys"),
					})),
				}, stateOK...),
				Check: resource.ComposeTestCheckFunc(flatOK, expectPlatformSecret(srv, tenant, "deploys", &first)),
			},
			{
				// A config change without a version bump keeps the secret.
				Config: srv.Config(webhookConfig(tenant, "https://hooks.example.com/v2", second, 1)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: append([]plancheck.PlanCheck{
					plancheck.ExpectResourceAction(integrationAddr, plancheck.ResourceActionUpdate),
				}, planOK...)},
				ConfigStateChecks: stateOK,
				Check:             resource.ComposeTestCheckFunc(flatOK, expectPlatformSecret(srv, tenant, "deploys", &first)),
			},
			{
				// Bumping the version sends the new secret.
				Config: srv.Config(webhookConfig(tenant, "https://hooks.example.com/v2", second, 2)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: append([]plancheck.PlanCheck{
					plancheck.ExpectResourceAction(integrationAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("secret_set"), knownvalue.Bool(true)),
				}, planOK...)},
				ConfigStateChecks: append([]statecheck.StateCheck{
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("secret_wo_version"), knownvalue.Int64Exact(2)),
				}, stateOK...),
				Check: resource.ComposeTestCheckFunc(flatOK, expectPlatformSecret(srv, tenant, "deploys", &second)),
			},
			{
				ResourceName:      integrationAddr,
				ImportState:       true,
				ImportStateId:     tenant + "/deploys",
				ImportStateVerify: true,
				// The version is Terraform's own bookkeeping; the platform does not keep it.
				ImportStateVerifyIgnore: []string{"secret_wo_version"},
			},
			{
				// Someone removes the secret by hand: the plan puts it back.
				PreConfig: func() {
					if _, err := srv.Client.UpdateIntegration(context.Background(), tenant, "deploys", json.RawMessage(`{"secret":null}`), 0); err != nil {
						t.Fatalf("change behind Terraform's back: %v", err)
					}
				},
				Config: srv.Config(webhookConfig(tenant, "https://hooks.example.com/v2", second, 2)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: append([]plancheck.PlanCheck{
					plancheck.ExpectResourceAction(integrationAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("secret_set"), knownvalue.Bool(true)),
				}, planOK...)},
				ConfigStateChecks: append([]statecheck.StateCheck{
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("secret_set"), knownvalue.Bool(true)),
				}, stateOK...),
				Check: expectPlatformSecret(srv, tenant, "deploys", &second),
			},
			{
				Config: srv.Config(webhookConfig(tenant, "https://hooks.example.com/v2", second, 2)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// Removing secret_wo with a version bump removes the secret.
				Config: srv.Config(integrationConfig(tenant, "deploys", "webhook", `
  config            = { url = "https://hooks.example.com/v2" }
  secret_wo_version = 3
`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(integrationAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("secret_set"), knownvalue.Bool(false)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("secret_set"), knownvalue.Bool(false)),
				},
				Check: expectPlatformSecret(srv, tenant, "deploys", nil),
			},
		},
	})
}

// TestAccIntegration_withoutSecret needs no write-only support: an
// integration that has no secret works on any Terraform version.
func TestAccIntegration_withoutSecret(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := tenantOnly(t, srv, "sso")
	oidc := func(clientID string) string {
		return srv.Config(integrationConfig(tenant, "sso", "oidc", fmt.Sprintf(`
  config = {
    issuer_url = "https://login.example.com"
    client_id  = %q
  }
`, clientID)))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkIntegrationsDestroyed(srv),
		Steps: []resource.TestStep{
			{
				Config: oidc("tenancy"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("secret_set"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("secret_wo_version"), knownvalue.Null()),
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("config").AtMapKey("client_id"), knownvalue.StringExact("tenancy")),
				},
			},
			{
				Config: oidc("tenancy-2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(integrationAddr, plancheck.ResourceActionUpdate)},
				},
				Check: func(*terraform.State) error {
					i, err := srv.Client.GetIntegration(context.Background(), tenant, "sso")
					if err != nil {
						return err
					}
					if i.Config["client_id"] != "tenancy-2" || i.SecretSet {
						return fmt.Errorf("platform holds %+v", i)
					}
					return nil
				},
			},
			{
				// A new kind is a new integration.
				Config: srv.Config(integrationConfig(tenant, "sso", "slack", `config = { channel = "#ops" }`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(integrationAddr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("kind"), knownvalue.StringExact("slack")),
				},
			},
		},
	})
}

func TestAccIntegration_importBlock(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := tenantOnly(t, srv, "hookimp")
	cfg := srv.Config(integrationConfig(tenant, "alerts", "slack", `
  config = {
    channel  = "#alerts"
    icon_url = "https://cdn.example.com/bot.png"
  }
`))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkIntegrationsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				Config:          cfg,
				ResourceName:    integrationAddr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   tenant + "/alerts",
				ImportPlanChecks: resource.ImportPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(integrationAddr, plancheck.ResourceActionNoop)},
				},
			},
			{
				// terraform plan -generate-config-out writes configuration that imports cleanly.
				Config:          cfg,
				ResourceName:    integrationAddr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   tenant + "/alerts",
				GenerateConfig:  true,
				ImportPlanChecks: resource.ImportPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(generatedAddress(integrationAddr), plancheck.ResourceActionNoop)},
				},
			},
			{
				ResourceName:  integrationAddr,
				ImportState:   true,
				ImportStateId: tenant + "/alerts/extra",
				ExpectError:   regexp.MustCompile(`(?s)An integration is imported by its tenant and name.*"<tenant>/<name>"\s+\(such\s+as\s+"acme/pagerduty"\)`),
			},
		},
	})
}

func TestAccIntegration_drift(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := tenantOnly(t, srv, "hookdrift")
	cfg := srv.Config(integrationConfig(tenant, "alerts", "slack", `config = { channel = "#alerts" }`))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkIntegrationsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				PreConfig: func() {
					patch := json.RawMessage(`{"config":{"channel":"#random","username":"bot"}}`)
					if _, err := srv.Client.UpdateIntegration(context.Background(), tenant, "alerts", patch, 0); err != nil {
						t.Fatalf("change behind Terraform's back: %v", err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(integrationAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(integrationAddr, tfjsonpath.New("config"), knownvalue.MapExact(map[string]knownvalue.Check{
							"channel": knownvalue.StringExact("#alerts"),
						})),
					},
				},
				Check: func(*terraform.State) error {
					i, err := srv.Client.GetIntegration(context.Background(), tenant, "alerts")
					if err != nil {
						return err
					}
					if len(i.Config) != 1 || i.Config["channel"] != "#alerts" {
						return fmt.Errorf("platform holds config %v", i.Config)
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

func TestAccIntegration_disappears(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := tenantOnly(t, srv, "hookgone")
	cfg := srv.Config(integrationConfig(tenant, "alerts", "slack", `config = { channel = "#alerts" }`))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkIntegrationsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				PreConfig: func() {
					if err := srv.Client.DeleteIntegration(context.Background(), tenant, "alerts", 0); err != nil {
						t.Fatalf("delete behind Terraform's back: %v", err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(integrationAddr, plancheck.ResourceActionCreate)},
				},
			},
		},
	})
}

func TestAccIntegration_invalidInput(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := tenantOnly(t, srv, "hookbad")
	cases := []struct {
		name, iname, kind, body, want string
	}{
		{"name", "Deploy Hook", "slack", `config = { channel = "#x" }`, `(?s)Attribute name must be an integration name: 1 to 63 characters`},
		{"kind", "x", "email", `config = { to = "a@example.com" }`, `(?s)kind\s+value\s+must\s+be\s+one\s+of`},
		{"webhook without url", "x", "webhook", "", `(?s)config\.url\s+is\s+required\s+when\s+kind\s+is\s+"webhook"`},
		{"webhook over http", "x", "webhook", `config = { url = "http://hooks.example.com" }`, `(?s)Invalid\s+integration\s+config.*config\.url:.*does\s+not\s+start\s+with\s+"https://"`},
		{"oidc without client_id", "x", "oidc", `config = { issuer_url = "https://id.example.com" }`, `(?s)config\.client_id\s+is\s+required\s+when\s+kind\s+is\s+"oidc",\s+which\s+needs\s+issuer_url\s+and\s+client_id`},
		{"slack without channel", "x", "slack", `config = { channel = "" }`, `(?s)config\.channel\s+is\s+required`},
		{"config key", "x", "slack", `config = { channel = "#x", "Bad Key" = "v" }`, `(?s)Attribute config\["Bad Key"\] must be a config key:\s+1\s+to\s+63`},
		{"empty secret", "x", "slack", `
  config    = { channel = "#x" }
  secret_wo = ""
`, `(?s)secret_wo\s+string\s+length\s+must\s+be\s+between\s+1\s+and\s+4096`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				TerraformVersionChecks:   writeOnlyVersions,
				Steps: []resource.TestStep{{
					Config:      srv.Config(integrationConfig(tenant, tc.iname, tc.kind, tc.body)),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(tc.want),
				}},
			})
		})
	}
	// A name taken outside Terraform fails at apply, pointing at import.
	if _, err := srv.Client.CreateIntegration(context.Background(), tenant, api.IntegrationSpec{
		Name: "taken", Kind: api.IntegrationSlack, Config: map[string]string{"channel": "#x"},
	}); err != nil {
		t.Fatal(err)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkIntegrationsDestroyed(srv),
		Steps: []resource.TestStep{{
			Config:      srv.Config(integrationConfig(tenant, "taken", "slack", `config = { channel = "#x" }`)),
			ExpectError: regexp.MustCompile(`(?s)already\s+exists.*terraform\s+import\s+tenancy_integration`),
		}},
	})
}
