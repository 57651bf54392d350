package provider_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/provider"
)

// fleetSize is how many customers the fleet test gives a tenant each.
const fleetSize = 20

// TestAccExamples_fleet applies examples/fleet, the customer module with
// for_each, for twenty customers, and expects the next plan to be empty. The
// testing framework does not support modules, so it drives the Terraform CLI
// directly on a copy of examples/ laid out as in the repository.
func TestAccExamples_fleet(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test; set TF_ACC=1 (make test does)")
	}
	srv := acctest.Start(t, acctest.WithProvisioningDelay(0))
	// The provider runs in this process and reads its settings from here.
	t.Setenv("TENANCY_ENDPOINT", srv.URL)
	t.Setenv("TENANCY_TOKEN", srv.Token)
	root := t.TempDir()
	for _, dir := range []string{"fleet", filepath.Join("modules", "customer")} {
		acctest.CopyDir(t, filepath.Join(examplesDir, dir), filepath.Join(root, dir))
	}
	tf := srv.Terraform(t, filepath.Join(root, "fleet"), provider.NewProtocol6("test"))

	regions := []string{"us-east", "us-west", "eu-west", "eu-central", "ap-southeast"}
	var entries []string
	for i := range fleetSize {
		entries = append(entries, fmt.Sprintf(`"customer-%02d" = { name = "Customer %d", region = %q, plan = %q, admin = "admin@customer-%02d.example.com" }`,
			i, i, regions[i%len(regions)], []string{"starter", "pro", "enterprise"}[i%3], i))
	}
	vars := []string{"customers={" + strings.Join(entries, ", ") + "}", "deletion_protection=false"}

	ctx := t.Context()
	if err := tf.Init(ctx); err != nil {
		t.Fatalf("init: %v", err)
	}
	t.Cleanup(func() {
		if err := tf.Destroy(context.Background(), vars...); err != nil {
			t.Errorf("destroy: %v", err)
		}
	})
	if err := tf.Apply(ctx, vars...); err != nil {
		t.Fatalf("apply: %v", err)
	}
	tenants, err := srv.Client.ListTenants(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tenants) != fleetSize {
		t.Fatalf("the platform holds %d tenants, want %d", len(tenants), fleetSize)
	}
	// Staging's flag reached production through each customer's promotion.
	flag, err := srv.Client.GetFeatureFlag(ctx, "customer-07", "new-billing")
	if err != nil {
		t.Fatal(err)
	}
	if prod, ok := flag.Environments["production"]; !ok || !prod.Enabled || prod.RolloutPercentage != 100 {
		t.Errorf("production's new-billing is %+v (present %v), want enabled at 100%% as in staging", prod, ok)
	}
	changes, err := tf.Plan(ctx, vars...)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if changes {
		t.Fatal("the plan after applying the fleet is not empty")
	}
	t.Logf("applied %d customers; the next plan is empty", fleetSize)
}
