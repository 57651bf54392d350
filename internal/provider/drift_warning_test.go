package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/provider"
)

// driftCase changes one resource type's object behind Terraform's back.
type driftCase struct {
	config string // resources after the tenant "acme"
	// change changes the object through the API as the token "ops-bot".
	change func(ctx context.Context, ops *client.Client) error
	// summary is how the warning names the object.
	summary string
	// adopted, when set, replaces config after the change: the change is one
	// that Terraform cannot undo (a migration applied by hand), so the
	// configuration takes it in, and the plan explains where it came from.
	adopted string
}

func driftCases() map[string]driftCase {
	patch := func(path, body string) func(context.Context, *client.Client) error {
		return func(ctx context.Context, ops *client.Client) error {
			_, err := client.Patch[json.RawMessage](ctx, ops, path, json.RawMessage(body), 0)
			return err
		}
	}
	onlyOne := func(list, field, body string) func(context.Context, *client.Client) error {
		return func(ctx context.Context, ops *client.Client) error {
			items, err := client.ListAll[map[string]any](ctx, ops, "/v1/tenants/acme/"+list, nil)
			if err != nil {
				return err
			}
			if len(items) != 1 {
				return fmt.Errorf("want one of %s, got %d", list, len(items))
			}
			return patch(fmt.Sprintf("/v1/tenants/acme/%s/%v", list, items[0][field]), body)(ctx, ops)
		}
	}
	const env = `
resource "tenancy_environment" "staging" {
  tenant_id = tenancy_tenant.acme.id
  name      = "staging"
  type      = "staging"
}
`
	const user = `
resource "tenancy_user" "alice" {
  tenant_id    = tenancy_tenant.acme.id
  email        = "alice@acme.example.com"
  display_name = "Alice"
}
`
	return map[string]driftCase{
		"tenancy_tenant": {
			change:  patch("/v1/tenants/acme", `{"display_name":"Renamed by hand"}`),
			summary: `Tenant "acme" was changed outside Terraform`,
		},
		"tenancy_environment": {
			config:  env,
			change:  patch("/v1/tenants/acme/environments/staging", `{"settings":{"log_level":"trace"}}`),
			summary: "was changed outside Terraform",
		},
		"tenancy_user": {
			config:  user,
			change:  onlyOne("users", "user_id", `{"display_name":"Alice (by hand)"}`),
			summary: "was changed outside Terraform",
		},
		"tenancy_role_binding": {
			config: user + `
resource "tenancy_role_binding" "alice" {
  tenant_id = tenancy_tenant.acme.id
  user_id   = tenancy_user.alice.user_id
  role      = "tenant_viewer"
}
`,
			change:  onlyOne("role-bindings", "binding_id", `{"role":"tenant_user"}`),
			summary: "was changed outside Terraform",
		},
		"tenancy_quota": {
			config: `
resource "tenancy_quota" "acme" {
  tenant_id      = tenancy_tenant.acme.id
  cpu_millicores = 4000
}
`,
			change: func(ctx context.Context, ops *client.Client) error {
				_, err := client.Put[api.Quota](ctx, ops, "/v1/tenants/acme/quota", map[string]any{"cpu_millicores": 8000}, 0)
				return err
			},
			summary: "was changed outside Terraform",
		},
		"tenancy_feature_flag": {
			config: env + `
resource "tenancy_feature_flag" "beta" {
  tenant_id    = tenancy_tenant.acme.id
  key          = "beta"
  environments = { (tenancy_environment.staging.name) = { enabled = true } }
}
`,
			change:  patch("/v1/tenants/acme/feature-flags/beta", `{"environments":{"staging":{"enabled":false,"rollout_percentage":0}}}`),
			summary: "was changed outside Terraform",
		},
		"tenancy_integration": {
			config: `
resource "tenancy_integration" "alerts" {
  tenant_id = tenancy_tenant.acme.id
  name      = "alerts"
  kind      = "slack"
  config    = { channel = "#alerts" }
}
`,
			change:  patch("/v1/tenants/acme/integrations/alerts", `{"config":{"channel":"#elsewhere"}}`),
			summary: "was changed outside Terraform",
		},
		"tenancy_schema": {
			config: env + fmt.Sprintf(schemaDriftConfig, ""),
			change: func(ctx context.Context, ops *client.Client) error {
				_, err := ops.SetSchema(ctx, "acme", "staging", api.SchemaSpec{Migrations: map[string]string{"1": createItems, "2": fillItems}}, 0, 0)
				return err
			},
			summary: "Schema acme/staging was changed outside Terraform",
			adopted: env + fmt.Sprintf(schemaDriftConfig, fmt.Sprintf("    \"2\" = %q\n", fillItems)),
		},
	}
}

// schemaDriftConfig is the schema of the drift case, with room for more
// migrations.
var schemaDriftConfig = `
resource "tenancy_schema" "staging" {
  tenant_id   = tenancy_tenant.acme.id
  environment = tenancy_environment.staging.name
  migrations = {
    "1" = "` + createItems + `"
%s  }
}
`

// TestAccDriftWarning_everyResourceType changes each resource type's object
// through the API as a token named "ops-bot" and expects the next plan to
// carry a warning that names the change, the token (its name and id) and
// the revisions, from
// the audit log. The testing framework does not expose warnings, so this
// reads the CLI's machine-readable plan output. A promotion's drift is its
// preview of changes, tested with the promotion resource.
func TestAccDriftWarning_everyResourceType(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test; set TF_ACC=1 (make test does)")
	}
	cases := driftCases()
	for _, typ := range resourceTypes(t) {
		// A promotion's drift is its preview; a backup never changes (one
		// deleted by hand is taken again: TestAccBackup_lifecycle).
		if _, ok := cases[typ]; !ok && typ != "tenancy_environment_promotion" && typ != "tenancy_backup" {
			t.Errorf("resource type %s has no drift warning case", typ)
		}
	}
	for typ, tc := range cases {
		t.Run(typ, func(t *testing.T) {
			srv := acctest.Start(t, acctest.WithProvisioningDelay(0))
			// The provider runs in this process and reads its settings from here.
			t.Setenv("TENANCY_ENDPOINT", srv.URL)
			t.Setenv("TENANCY_TOKEN", srv.Token)
			dir := t.TempDir()
			cfg := `
terraform {
  required_providers {
    tenancy = { source = "tenancyhq/tenancy" }
  }
}

provider "tenancy" {}

resource "tenancy_tenant" "acme" {
  slug                = "acme"
  display_name        = "Acme"
  region              = "eu-west"
  deletion_protection = false
}
` + tc.config
			if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			tf := srv.Terraform(t, dir, provider.NewProtocol6("test"))
			ctx := t.Context()
			if err := tf.Init(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := tf.Destroy(context.Background()); err != nil {
					t.Errorf("destroy: %v", err)
				}
			})
			if err := tf.Apply(ctx); err != nil {
				t.Fatal(err)
			}
			if diags, err := tf.PlanDiagnostics(ctx); err != nil || len(diags) != 0 {
				t.Fatalf("before any change: diagnostics %+v, error %v", diags, err)
			}

			ops, tok := srv.ClientAs(t, api.TokenRequest{Name: "ops-bot", Role: api.RolePlatformAdmin})
			if err := tc.change(ctx, ops); err != nil {
				t.Fatalf("change behind Terraform's back: %v", err)
			}
			if tc.adopted != "" {
				if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(strings.Replace(cfg, tc.config, tc.adopted, 1)), 0o600); err != nil {
					t.Fatal(err)
				}
			}

			diags, err := tf.PlanDiagnostics(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, d := range diags {
				if d.Severity == "warning" && strings.Contains(d.Summary, tc.summary) {
					found = true
					// The name is the minter's free choice; the token id is not.
					for _, want := range []string{`by "ops-bot" (token ` + tok.ID + `)`, "Terraform last saw revision", ".update"} {
						if !strings.Contains(d.Detail, want) {
							t.Errorf("the warning lacks %q:\n%s", want, d.Detail)
						}
					}
				}
			}
			if !found {
				t.Fatalf("no drift warning %q in the plan's diagnostics: %+v", tc.summary, diags)
			}
			// Applying repairs the drift; the warning is gone with it.
			if err := tf.Apply(ctx); err != nil {
				t.Fatal(err)
			}
			if diags, err := tf.PlanDiagnostics(ctx); err != nil || len(diags) != 0 {
				t.Fatalf("after the repair: diagnostics %+v, error %v", diags, err)
			}
		})
	}
}

// TestAccDriftWarning_managedPromotion applies examples/quickstart, whose
// promotion writes production's settings and its new-billing entry, and
// expects the plans after it, and after an apply that carries a staging
// change to production, to carry no diagnostic at all: what the promotion
// changed is the configuration's own doing. Changes by hand still warn,
// naming the token: a setting of production, and a promotion into
// production made by hand through the API.
func TestAccDriftWarning_managedPromotion(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test; set TF_ACC=1 (make test does)")
	}
	srv := acctest.Start(t, acctest.WithProvisioningDelay(0))
	t.Setenv("TENANCY_ENDPOINT", srv.URL)
	t.Setenv("TENANCY_TOKEN", srv.Token)
	dir := t.TempDir()
	acctest.CopyDir(t, filepath.Join(examplesDir, "quickstart"), dir)
	tf := srv.Terraform(t, dir, provider.NewProtocol6("test"))
	ctx := t.Context()
	if err := tf.Init(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unprotectAll(srv); err != nil {
			t.Errorf("lift deletion_protection: %v", err)
		}
		if err := tf.Destroy(context.Background()); err != nil {
			t.Errorf("destroy: %v", err)
		}
	})
	quiet := func(when string) {
		t.Helper()
		diags, err := tf.PlanDiagnostics(ctx)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		for _, d := range diags {
			t.Errorf("%s: the plan says %s %q:\n%s", when, d.Severity, d.Summary, d.Detail)
		}
	}
	warns := func(when string, want ...string) {
		t.Helper()
		diags, err := tf.PlanDiagnostics(ctx)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		for _, d := range diags {
			if d.Severity == "warning" && d.Summary == "Environment acme/production was changed outside Terraform" {
				for _, w := range want {
					if !strings.Contains(d.Detail, w) {
						t.Errorf("%s: the warning lacks %q:\n%s", when, w, d.Detail)
					}
				}
				return
			}
		}
		t.Errorf("%s: no drift warning for production in %+v", when, diags)
	}

	if err := tf.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	quiet("after the first apply")

	// Staging's flag goes to 100% in the configuration; the promotion
	// carries it to production in the same apply.
	mainTF := filepath.Join(dir, "main.tf")
	src, err := os.ReadFile(mainTF)
	if err != nil {
		t.Fatal(err)
	}
	moved := strings.Replace(string(src), "rollout_percentage = 50 }", "rollout_percentage = 100 }", 1)
	if moved == string(src) {
		t.Fatal("the quickstart no longer sets staging's rollout_percentage to 50")
	}
	if err := os.WriteFile(mainTF, []byte(moved), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := tf.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if f, err := srv.Client.GetFeatureFlag(ctx, "acme", "new-billing"); err != nil || f.Environments["production"].RolloutPercentage != 100 {
		t.Fatalf("production's new-billing after the apply: %+v, %v; want it at 100%%", f, err)
	}
	quiet("after a promotion carried a staging change")

	ops, tok := srv.ClientAs(t, api.TokenRequest{Name: "ops-bot", Role: api.RolePlatformAdmin})
	if _, err := ops.UpdateEnvironment(ctx, "acme", "production", json.RawMessage(`{"settings":{"log_level":"trace"}}`), 0); err != nil {
		t.Fatal(err)
	}
	warns("after a hand change", `by "ops-bot" (token `+tok.ID+`): environment.update`, "changed: settings")
	// The apply promotes staging again, which puts the setting back.
	if err := tf.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	quiet("after the promotion put the hand change back")

	// A promotion by hand is a hand change too, though a promotion made it.
	if _, err := ops.Promote(ctx, "acme", api.PromotionRequest{
		SourceEnvironment: "development", TargetEnvironment: "production", Include: []string{api.ScopeSettings},
	}); err != nil {
		t.Fatal(err)
	}
	warns("after a promotion by hand", `by "ops-bot" (token `+tok.ID+`): environment.update`, `from "development"`)
}
