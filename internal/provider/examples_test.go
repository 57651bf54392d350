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
	"github.com/tenancyhq/terraform-provider-tenancy/internal/provider"
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

// TestAccExamples_quickstartRefreshOnlyConverges runs the nightly drift job
// of a platform team, `terraform plan -refresh-only -detailed-exitcode`,
// against the quickstart: once `apply -refresh-only` has recorded what the
// first apply's promotion did to production, it exits 0, night after
// night; and it still exits 0 right after a normal apply.
func TestAccExamples_quickstartRefreshOnlyConverges(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test; set TF_ACC=1 (make test does)")
	}
	srv := acctest.Start(t)
	// The provider runs in this process and reads its settings from here.
	t.Setenv("TENANCY_ENDPOINT", srv.URL)
	t.Setenv("TENANCY_TOKEN", srv.Token)
	dir := t.TempDir()
	acctest.CopyDir(t, filepath.Join(examplesDir, "quickstart"), dir)
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
	if err := tf.Apply(ctx); err != nil {
		t.Fatalf("apply: %v", err)
	}
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

	exitCode := func(what string) int {
		t.Helper()
		changes, err := tf.RefreshOnlyPlan(ctx)
		if err != nil {
			t.Fatalf("%s: plan -refresh-only: %v", what, err)
		}
		code := 0
		if changes {
			code = 2
		}
		t.Logf("%s: terraform plan -refresh-only -detailed-exitcode exits %d", what, code)
		return code
	}
	if err := tf.RefreshOnlyApply(ctx); err != nil {
		t.Fatalf("apply -refresh-only: %v", err)
	}
	for _, night := range []string{"first night after apply -refresh-only", "second night"} {
		if code := exitCode(night); code != 0 {
			t.Fatalf("%s: exit code %d, want 0: nothing changed since apply -refresh-only", night, code)
		}
	}
	if changes, err := tf.Plan(ctx); err != nil || changes {
		t.Fatalf("terraform plan after the refresh: changes %v, error %v; want no changes", changes, err)
	}

	// A normal apply of a change (the tenant's display name) leaves nothing
	// for a refresh to find.
	mainTF := filepath.Join(dir, "main.tf")
	src, err := os.ReadFile(mainTF)
	if err != nil {
		t.Fatal(err)
	}
	renamed := strings.Replace(string(src), `display_name = "Acme Corporation"`, `display_name = "Acme Corp."`, 1)
	if renamed == string(src) {
		t.Fatal("the quickstart's tenant display_name is not where this test expects it")
	}
	if err := os.WriteFile(mainTF, []byte(renamed), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := tf.Apply(ctx); err != nil {
		t.Fatalf("apply of the new display name: %v", err)
	}
	if code := exitCode("right after a normal apply"); code != 0 {
		t.Fatalf("right after a normal apply: exit code %d, want 0", code)
	}
}
