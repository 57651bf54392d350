package provider_test

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/provider"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store/pgtest"
)

// examplesDir is the repository's examples folder, relative to this package.
const examplesDir = "../../examples"

// TestAccExamples_resources applies every resource example as a user would
// paste it, each against its own tenancyd, and expects the second plan to be
// empty. Examples must therefore be complete on their own.
func TestAccExamples_resources(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(examplesDir, "resources", "*", "resource.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no resource examples found: %v", err)
	}
	for _, file := range files {
		name := filepath.Base(filepath.Dir(file))
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			srv := acctest.Start(t)
			cfg := srv.Config(string(src))
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				CheckDestroy:             checkTenantsDestroyed(srv),
				Steps:                    applyTwiceThenUnprotect(srv, resource.TestStep{Config: cfg}),
			})
		})
	}
}

// TestAccExamples_quickstart applies examples/quickstart unchanged, with the
// endpoint and token from the environment as its comments tell the user.
func TestAccExamples_quickstart(t *testing.T) {
	srv := acctest.Start(t)
	t.Setenv("TENANCY_ENDPOINT", srv.URL)
	t.Setenv("TENANCY_TOKEN", srv.Token)
	// The quickstart names its provider's source, tenancyhq/tenancy.
	t.Setenv("TF_ACC_PROVIDER_NAMESPACE", "tenancyhq")
	dir := config.StaticDirectory(filepath.Join(examplesDir, "quickstart"))
	// A configuration with its own terraform block names its providers per step.
	resource.Test(t, resource.TestCase{
		CheckDestroy: checkTenantsDestroyed(srv),
		Steps:        applyTwiceThenUnprotect(srv, resource.TestStep{ConfigDirectory: dir, ProtoV6ProviderFactories: testProviders}),
	})
}

// applyTwiceThenUnprotect applies a configuration, expects the next plan to
// be empty, and then lifts deletion_protection on every tenant through the
// API, so that the test's destroy can clean up configurations that (rightly)
// keep the default protection.
func applyTwiceThenUnprotect(srv *acctest.Server, step resource.TestStep) []resource.TestStep {
	second := step
	second.ConfigPlanChecks = resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}
	second.Check = func(*terraform.State) error { return unprotectAll(srv) }
	// Lifting the protection is drift the post-apply plan would see.
	second.ExpectNonEmptyPlan = true
	return []resource.TestStep{step, second, acceptHandChanges(step)}
}

// acceptHandChanges is a refresh-only step: it records in the state the
// changes made through the API (lifting deletion_protection), as a user
// does with terraform apply -refresh-only, since Terraform deletes a tenant
// only as its state last recorded it and the test's destroy does not
// refresh. The configuration still asks for the protection: the plan after
// it is not empty.
func acceptHandChanges(step resource.TestStep) resource.TestStep {
	return resource.TestStep{RefreshState: true, ExpectNonEmptyPlan: true, ProtoV6ProviderFactories: step.ProtoV6ProviderFactories}
}

func unprotectAll(srv *acctest.Server) error {
	ctx := context.Background()
	tenants, err := srv.Client.ListTenants(ctx, nil)
	if err != nil {
		return err
	}
	for _, tn := range tenants {
		if _, err := srv.Client.UpdateTenant(ctx, tn.Slug, json.RawMessage(`{"deletion_protection":false}`), 0); err != nil {
			return err
		}
	}
	return nil
}

// TestAccExamples_dataSources reads every data source example against the
// platform that examples/quickstart builds, as a user would after it.
func TestAccExamples_dataSources(t *testing.T) {
	srv := acctest.Start(t)
	t.Setenv("TENANCY_ENDPOINT", srv.URL)
	t.Setenv("TENANCY_TOKEN", srv.Token)
	t.Setenv("TF_ACC_PROVIDER_NAMESPACE", "tenancyhq")
	files, err := filepath.Glob(filepath.Join(examplesDir, "data-sources", "*", "data-source.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no data source examples found: %v", err)
	}
	quickstart := filepath.Join(examplesDir, "quickstart")
	withAll := t.TempDir()
	acctest.CopyDir(t, quickstart, withAll)
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(filepath.Dir(file)) + ".tf"
		if err := os.WriteFile(filepath.Join(withAll, name), src, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	resource.Test(t, resource.TestCase{
		CheckDestroy: checkTenantsDestroyed(srv),
		Steps: []resource.TestStep{
			{ConfigDirectory: config.StaticDirectory(quickstart), ProtoV6ProviderFactories: testProviders},
			{
				ConfigDirectory: config.StaticDirectory(withAll), ProtoV6ProviderFactories: testProviders,
				Check: func(*terraform.State) error { return unprotectAll(srv) },
				// Usage counts grow with every call, so outputs built on
				// tenancy_tenant_usage change from one plan to the next.
				ExpectNonEmptyPlan: true,
			},
			acceptHandChanges(resource.TestStep{ProtoV6ProviderFactories: testProviders}),
		},
	})
}

// TestAccExamples_quickstartRefreshOnly runs the nightly drift job of a
// platform team, `terraform plan -refresh-only -detailed-exitcode`, against
// the quickstart (with rollback_on_destroy on its promotion), on SQLite and
// on PostgreSQL. Right after an apply, the promotion in it included, the job
// exits 0 and warns of nothing, night after night; a hand change of
// production makes it exit 2 with a warning that names the token; the
// promotion's rollback, by hand or by destroying the promotion, warns of
// nothing.
func TestAccExamples_quickstartRefreshOnly(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test; set TF_ACC=1 (make test does)")
	}
	// Not in parallel: the provider runs in this process and reads its
	// settings from its environment.
	t.Run("sqlite", func(t *testing.T) {
		quickstartRefreshOnly(t, acctest.Start(t, acctest.WithProvisioningDelay(0)))
	})
	t.Run("postgres", func(t *testing.T) {
		quickstartRefreshOnly(t, acctest.Start(t, acctest.WithDatabase(pgtest.URL(t)), acctest.WithProvisioningDelay(0)))
	})
}

func quickstartRefreshOnly(t *testing.T, srv *acctest.Server) {
	t.Setenv("TENANCY_ENDPOINT", srv.URL)
	t.Setenv("TENANCY_TOKEN", srv.Token)
	dir := t.TempDir()
	acctest.CopyDir(t, filepath.Join(examplesDir, "quickstart"), dir)
	mainTF := filepath.Join(dir, "main.tf")
	edit(t, mainTF, `  include            = ["settings", "feature_flags", "schema"]`+"\n",
		`  include            = ["settings", "feature_flags", "schema"]`+"\n"+`  rollback_on_destroy = true`+"\n")
	tf := srv.Terraform(t, dir, provider.NewProtocol6("test"))
	ctx := t.Context()
	if err := tf.Init(ctx); err != nil {
		t.Fatalf("init: %v", err)
	}
	t.Cleanup(func() {
		if err := unprotectAll(srv); err != nil {
			t.Errorf("lifting deletion_protection: %v", err)
		}
		if err := tf.Destroy(context.Background()); err != nil {
			t.Errorf("destroy: %v", err)
		}
	})
	apply := func(what string) {
		t.Helper()
		if err := tf.Apply(ctx); err != nil {
			t.Fatalf("%s: apply: %v", what, err)
		}
	}
	// driftWarnings are the plan's "changed outside Terraform" warnings;
	// any other diagnostic fails the test.
	driftWarnings := func(what string, diags []acctest.Diagnostic) []acctest.Diagnostic {
		t.Helper()
		var out []acctest.Diagnostic
		for _, d := range diags {
			if d.Severity == "warning" && strings.HasSuffix(d.Summary, "was changed outside Terraform") {
				out = append(out, d)
				continue
			}
			t.Errorf("%s: the plan says %s %q:\n%s", what, d.Severity, d.Summary, d.Detail)
		}
		return out
	}
	nightly := func(what string) (int, []acctest.Diagnostic) {
		t.Helper()
		changes, diags, err := tf.RefreshOnlyPlanDiagnostics(ctx)
		if err != nil {
			t.Fatalf("%s: plan -refresh-only: %v", what, err)
		}
		code := 0
		if changes {
			code = 2
		}
		t.Logf("%s: terraform plan -refresh-only -detailed-exitcode exits %d with %d diagnostics", what, code, len(diags))
		return code, driftWarnings(what, diags)
	}
	quietNight := func(what string) {
		t.Helper()
		code, warnings := nightly(what)
		if code != 0 || len(warnings) != 0 {
			t.Errorf("%s: exit code %d and %d drift warnings %+v; want 0 and none", what, code, len(warnings), warnings)
		}
	}
	quietPlan := func(what string, wantChanges bool) {
		t.Helper()
		changes, diags, err := tf.PlanJSON(ctx)
		if err != nil {
			t.Fatalf("%s: plan: %v", what, err)
		}
		if warnings := driftWarnings(what, diags); len(warnings) != 0 {
			t.Errorf("%s: drift warnings %+v; want none", what, warnings)
		}
		if changes != wantChanges {
			t.Errorf("%s: the plan has changes: %t; want %t", what, changes, wantChanges)
		}
	}

	apply("first apply")
	addrs, err := tf.StateAddresses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, a := range addrs {
		typ, _, _ := strings.Cut(a, ".")
		types[typ] = true
	}
	t.Logf("the quickstart manages %d resources of %d types: %v", len(addrs), len(types), slices.Sorted(maps.Keys(types)))
	// The apply promoted staging into production: the configuration's own
	// change, nothing for a refresh to record.
	quietNight("right after the first apply")
	quietNight("the second night")
	quietPlan("terraform plan after the first apply", false)

	// Someone changes production by hand: the job pages, and says who.
	ops, tok := srv.ClientAs(t, api.TokenRequest{Name: "ops-bot", Role: api.RolePlatformAdmin})
	if _, err := ops.UpdateEnvironment(ctx, "acme", "production", json.RawMessage(`{"settings":{"log_level":"trace"}}`), 0); err != nil {
		t.Fatal(err)
	}
	code, warnings := nightly("after a hand change of production")
	if code != 2 || len(warnings) != 1 || warnings[0].Summary != "Environment acme/production was changed outside Terraform" {
		t.Fatalf("after a hand change of production: exit code %d, drift warnings %+v; want 2 and one for production", code, warnings)
	}
	detail := warnings[0].Detail
	if n := strings.Count(detail, "\n  - "); n != 1 || !strings.Contains(detail, `by "ops-bot" (token `+tok.ID+`): environment.update`) ||
		!strings.Contains(detail, "changed: settings.log_level") {
		t.Errorf("the warning should name the one hand change (and not the promotion), by ops-bot:\n%s", detail)
	}
	// Recorded, then put back by the promotion: quiet again.
	if err := tf.RefreshOnlyApply(ctx); err != nil {
		t.Fatalf("apply -refresh-only: %v", err)
	}
	quietNight("after apply -refresh-only")
	apply("the apply that promotes again")
	if e, err := srv.Client.GetEnvironment(ctx, "acme", "production"); err != nil || e.Settings["log_level"] != "info" {
		t.Fatalf("production after the apply: %+v, %v; want log_level info again", e, err)
	}
	quietNight("right after the apply that put the hand change back")

	// A normal apply of a change (the tenant's display name) leaves nothing
	// for a refresh to find.
	edit(t, mainTF, `display_name = "Acme Corporation"`, `display_name = "Acme Corp."`)
	apply("the apply of a new display name")
	quietNight("right after a normal apply")

	// The promotion rolled back by hand: the plan promotes again, and no
	// object warns that it changed outside Terraform.
	history, err := srv.Client.ListPromotions(ctx, "acme", "production")
	if err != nil || len(history) == 0 || !history[0].Linked {
		t.Fatalf("production's promotions: %+v, %v; want the quickstart's, linked, newest first", history, err)
	}
	if _, err := ops.RollbackPromotion(ctx, "acme", history[0].ID); err != nil {
		t.Fatal(err)
	}
	quietPlan("after a rollback of the promotion", true)
	apply("the apply that promotes after the rollback")
	quietNight("right after the apply that promoted after the rollback")

	// Destroying the promotion rolls it back (rollback_on_destroy).
	removed := cutBlock(t, mainTF, `resource "tenancy_environment_promotion" "production" {`)
	edit(t, mainTF, "depends_on = [tenancy_environment_promotion.production]", "")
	t.Logf("removed from the configuration:\n%s", removed)
	apply("the apply that destroys the promotion")
	history, err = srv.Client.ListPromotions(ctx, "acme", "production")
	if err != nil || len(history) == 0 || history[0].RolledBackAt == nil {
		t.Fatalf("production's promotions: %+v, %v; want the newest rolled back", history, err)
	}
	quietNight("right after rollback_on_destroy")
	quietPlan("terraform plan after rollback_on_destroy", false)
}

// edit replaces the first old in file with new, failing when file lacks it.
func edit(t *testing.T, file, old, new string) {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), old) {
		t.Fatalf("%s no longer has %q", filepath.Base(file), old)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(src), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

// cutBlock removes from file the top-level block that starts with the line
// head and ends with the next line "}", and returns it.
func cutBlock(t *testing.T, file, head string) string {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(src), head+"\n")
	if start < 0 {
		t.Fatalf("%s has no %q", filepath.Base(file), head)
	}
	end := strings.Index(string(src)[start:], "\n}\n")
	if end < 0 {
		t.Fatalf("%s: the block %q does not end", filepath.Base(file), head)
	}
	end += start + len("\n}\n")
	if err := os.WriteFile(file, []byte(string(src)[:start]+string(src)[end:]), 0o600); err != nil {
		t.Fatal(err)
	}
	return string(src)[start:end]
}
