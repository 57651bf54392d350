package provider_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/provider"
)

// testProviders serve the provider in-process to the Terraform CLI, so no
// registry or installed plugin is needed.
var testProviders = map[string]func() (tfprotov6.ProviderServer, error){
	"tenancy": func() (tfprotov6.ProviderServer, error) { return provider.NewProtocol6("test")(), nil },
}

// checkGone is a CheckDestroy: every resource of type typ that the state
// held is gone from the platform, which read, given the resource's
// attributes, reports as client.ErrNotFound.
func checkGone(typ string, read func(ctx context.Context, attrs map[string]string) error) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		for _, rs := range s.RootModule().Resources {
			if rs.Type != typ {
				continue
			}
			err := read(context.Background(), rs.Primary.Attributes)
			if err == nil {
				return fmt.Errorf("%s %s still exists after destroy", typ, rs.Primary.ID)
			}
			if !errors.Is(err, client.ErrNotFound) {
				return fmt.Errorf("%s %s after destroy: %w", typ, rs.Primary.ID, err)
			}
		}
		return nil
	}
}

const lookupMissing = `
data "tenancy_tenant" "x" {
  slug = "does-not-matter"
}
`

// These tests change the process environment, which the in-process provider
// reads, so they do not run in parallel.

func TestAccProvider_missingSettings(t *testing.T) {
	t.Setenv("TENANCY_ENDPOINT", "")
	t.Setenv("TENANCY_TOKEN", "")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      `provider "tenancy" {}` + lookupMissing,
				ExpectError: regexp.MustCompile(`(?s)Missing endpoint.*TENANCY_ENDPOINT`),
			},
			{
				Config:      `provider "tenancy" { endpoint = "http://127.0.0.1:1" }` + lookupMissing,
				ExpectError: regexp.MustCompile(`(?s)Missing token.*TENANCY_TOKEN`),
			},
			{
				Config:      `provider "tenancy" { endpoint = "127.0.0.1:8480" }` + lookupMissing,
				ExpectError: regexp.MustCompile(`(?s)Invalid endpoint.*absolute http:// or https:// URL`),
			},
			{
				Config: `provider "tenancy" {
  endpoint        = "http://127.0.0.1:1"
  request_timeout = "soon"
}` + lookupMissing,
				ExpectError: regexp.MustCompile(`(?s)request_timeout must be a positive Go duration.*"soon"`),
			},
			{
				Config:      `provider "tenancy" { max_retries = 99 }` + lookupMissing,
				ExpectError: regexp.MustCompile(`(?s)max_retries.*between 0 and 20`),
			},
		},
	})
}

func TestAccProvider_environment(t *testing.T) {
	srv := acctest.Start(t)
	t.Setenv("TENANCY_ENDPOINT", srv.URL)
	t.Setenv("TENANCY_TOKEN", srv.Token)
	t.Setenv("TENANCY_REQUEST_TIMEOUT", "20s")
	t.Setenv("TENANCY_MAX_RETRIES", "1")
	slug := acctest.RandomSlug("envcfg")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkTenantsDestroyed(srv),
		Steps: []resource.TestStep{{
			Config: `provider "tenancy" {}` + tenantConfig(slug, "From the environment", ""),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(tenantAddr, tfjsonpath.New("id"), knownvalue.StringExact(slug)),
			},
		}},
	})
}

func TestAccProvider_badEnvironment(t *testing.T) {
	t.Setenv("TENANCY_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("TENANCY_TOKEN", "x")
	t.Setenv("TENANCY_MAX_RETRIES", "many")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:      `provider "tenancy" {}` + lookupMissing,
			ExpectError: regexp.MustCompile(`(?s)TENANCY_MAX_RETRIES must be a whole number from 0 to 20; got "many"`),
		}},
	})
}

// resourceTypes lists the provider's resource type names, for tests that
// must cover every one.
func resourceTypes(t *testing.T) []string {
	t.Helper()
	p := provider.New("test")()
	var names []string
	for _, newResource := range p.Resources(t.Context()) {
		var resp fwresource.MetadataResponse
		newResource().Metadata(t.Context(), fwresource.MetadataRequest{ProviderTypeName: "tenancy"}, &resp)
		names = append(names, resp.TypeName)
	}
	return names
}

// generatedAddress is where a GenerateConfig import step puts the resource.
func generatedAddress(address string) string {
	typ, _, _ := strings.Cut(address, ".")
	return typ + ".generated"
}

// TestAccProvider_narrowTokenOrWrongEndpointKeepsState applies the
// quickstart with a platform token, then plans and applies it with a valid
// token of another tenant, with the endpoint followed by /v1, and with a
// token the platform does not know. Each time the plan fails with an error
// that says what to fix, proposes no create, and the state keeps every
// resource; the platform keeps every object.
func TestAccProvider_narrowTokenOrWrongEndpointKeepsState(t *testing.T) {
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
		t.Setenv("TENANCY_ENDPOINT", srv.URL)
		t.Setenv("TENANCY_TOKEN", srv.Token)
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
	stateSize := func() int {
		t.Helper()
		addrs, err := tf.StateAddresses(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(addrs)
	}
	before := stateSize()
	objects := total(mustTenantObjects(t, srv, "acme"))
	if before != quickstartSize || objects != quickstartSize {
		t.Fatalf("after the apply: %d resources in state and %d objects on the platform, want %d", before, objects, quickstartSize)
	}

	if _, err := srv.Client.CreateTenant(ctx, api.TenantSpec{Slug: "globex", DisplayName: "Globex", Region: "us-east"}); err != nil {
		t.Fatal(err)
	}
	globex, err := srv.Client.CreateToken(ctx, api.TokenRequest{Name: "globex-ci", Tenant: "globex", Role: api.RoleTenantAdmin, TTLSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, endpoint, token string
		want                  *regexp.Regexp
	}{
		{"a valid token of another tenant", srv.URL, globex.Token,
			wrapped(`Cannot read tenant "acme" with this token`, `tenant "acme" is out of reach of the token "globex-ci"`,
				`a tenant_admin token of tenant "globex"`, `It stays in the state, unchanged`)},
		{"the endpoint followed by /v1", srv.URL + "/v1", srv.Token,
			wrapped(`The endpoint is not tenancyd's root URL`, `TENANCY_ENDPOINT`, srv.URL+`/v1`, `without /v1`)},
		{"a token the platform does not know", srv.URL, "tny_" + acctest.RandomSuffix() + acctest.RandomSuffix(),
			wrapped(`The platform refused the token`, `Set TENANCY_TOKEN`)},
	}
	for _, c := range cases {
		t.Setenv("TENANCY_ENDPOINT", c.endpoint)
		t.Setenv("TENANCY_TOKEN", c.token)
		changes, err := tf.Plan(ctx)
		switch {
		case err == nil:
			t.Errorf("%s: the plan succeeded (changes: %v); want an error", c.name, changes)
		case !c.want.MatchString(err.Error()):
			t.Errorf("%s: the plan failed without saying what to fix:\n%v", c.name, err)
		}
		if err := tf.Apply(ctx); err == nil {
			t.Errorf("%s: the apply succeeded; want an error", c.name)
		}
		after := stateSize()
		left := total(mustTenantObjects(t, srv, "acme"))
		t.Logf("%s: resources in state before/after plan and apply: %d/%d; objects of acme on the platform: %d of %d",
			c.name, before, after, left, objects)
		if after != before || left != objects {
			t.Errorf("%s: the state went from %d to %d resources and the platform from %d to %d objects; nothing may go", c.name, before, after, objects, left)
		}
	}

	// With the right settings again, nothing is left to do.
	t.Setenv("TENANCY_ENDPOINT", srv.URL)
	t.Setenv("TENANCY_TOKEN", srv.Token)
	if changes, err := tf.Plan(ctx); err != nil || changes {
		t.Fatalf("plan with the platform token again: changes %v, error %v; want no changes", changes, err)
	}
}
