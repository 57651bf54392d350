package reliability_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/provider"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

// examplesDir is the repository's examples folder, relative to this package.
const examplesDir = "../../examples"

// needTerraform skips a test that drives the Terraform CLI outside an
// acceptance run.
func needTerraform(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test; set TF_ACC=1 (make test does)")
	}
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		t.Skip("TF_ACC_TERRAFORM_PATH is not set; `make test` sets it")
	}
}

// fleet is examples/fleet laid out in a directory of its own with the
// provider served in this process, for n customers.
type fleet struct {
	tf     *acctest.Terraform
	vars   []string
	n      int
	prefix string
}

// tenants are the slugs of the fleet's customers.
func (f *fleet) tenants() []string {
	out := make([]string, f.n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%02d", f.prefix, i)
	}
	return out
}

// newFleet prepares examples/fleet for n customers whose slugs start with
// prefix, its provider talking to endpoint with token. These are set in an
// override file rather than in the environment, which the provider, served
// in this process, would share with every other test.
func newFleet(t *testing.T, endpoint, token, prefix string, n int) *fleet {
	t.Helper()
	root := t.TempDir()
	for _, dir := range []string{"fleet", filepath.Join("modules", "customer")} {
		acctest.CopyDir(t, filepath.Join(examplesDir, dir), filepath.Join(root, dir))
	}
	// The example's own customers would be merged with the variable.
	if err := os.Remove(filepath.Join(root, "fleet", "customers.auto.tfvars")); err != nil {
		t.Fatal(err)
	}
	override := fmt.Sprintf("provider \"tenancy\" {\n  endpoint = %q\n  token    = %q\n}\n", endpoint, token)
	if err := os.WriteFile(filepath.Join(root, "fleet", "provider_override.tf"), []byte(override), 0o600); err != nil {
		t.Fatal(err)
	}
	tf := (&acctest.Server{}).Terraform(t, filepath.Join(root, "fleet"), providerserver.NewProtocol6(provider.New("test")()))
	regions := []string{"us-east", "us-west", "eu-west", "eu-central", "ap-southeast"}
	var entries []string
	for i := range n {
		entries = append(entries, fmt.Sprintf(`"%s-%02d" = { name = "Customer %d", region = %q, plan = %q, admin = "admin@%s-%02d.example.com" }`,
			prefix, i, i, regions[i%len(regions)], []string{"starter", "pro", "enterprise"}[i%3], prefix, i))
	}
	f := &fleet{tf: tf, n: n, prefix: prefix, vars: []string{"customers={" + strings.Join(entries, ", ") + "}", "deletion_protection=false"}}
	if err := tf.Init(t.Context()); err != nil {
		t.Fatalf("terraform init: %v", err)
	}
	return f
}

// expected is what the platform holds for a fleet of n customers of
// examples/fleet: per customer a tenant, three environments, an
// administrator and their binding, a tenant-wide quota and two environment
// quotas, one flag, and the promotion of staging to production (its record
// and its link to the target).
func expected(n int) map[string]int64 {
	per := map[string]int64{
		api.KindTenant: 1, api.KindEnvironment: 3, api.KindUser: 1, api.KindRoleBinding: 1,
		api.KindQuota: 3, api.KindFeatureFlag: 1, api.KindPromotion: 1, api.KindPromotionLink: 1,
		api.KindIntegration: 0,
	}
	for k := range per {
		per[k] *= int64(n)
	}
	return per
}

// countObjects counts the objects of each kind of expected, straight from
// the store: those of the given tenants, or of every tenant if none is given.
func countObjects(t *testing.T, st store.Store, kinds map[string]int64, tenants ...string) map[string]int64 {
	t.Helper()
	if len(tenants) == 0 {
		tenants = []string{""}
	}
	got := map[string]int64{}
	err := st.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
		for kind := range kinds {
			for _, tenant := range tenants {
				n, err := tx.Count(ctx, tenant, kind)
				if err != nil {
					return err
				}
				got[kind] += int64(n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("count objects: %v", err)
	}
	return got
}

// compareObjects returns how many objects are there beyond what is
// expected (duplicates) and how many are missing, with a line per kind that
// is off.
func compareObjects(want, got map[string]int64) (duplicates, missing int64, report string) {
	var lines []string
	for kind, w := range want {
		g := got[kind]
		switch {
		case g > w:
			duplicates += g - w
		case g < w:
			missing += w - g
		default:
			continue
		}
		lines = append(lines, fmt.Sprintf("%s: %d, want %d", kind, g, w))
	}
	sort.Strings(lines)
	return duplicates, missing, strings.Join(lines, "; ")
}
