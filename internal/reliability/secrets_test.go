package reliability_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/ephemeral"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/provider"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/reliability"
)

// tokenPattern is the shape of every token tenancyd mints ("tny_" and 43
// characters of URL-safe base64) and of the tokens this test makes up, so
// that a token the test never saw, such as one an ephemeral resource
// minted, is found too.
var tokenPattern = regexp.MustCompile(`tny_[A-Za-z0-9_-]{20,}`)

// TestSecretsNeverLeak runs the real Terraform CLI with the real provider
// binary (TF_LOG=TRACE) against the real tenancyd binary (--log-level
// debug) over a configuration with every resource type, data sources, a
// write-only integration secret that is then rotated, a provider
// configured with another token, and the provider's ephemeral resources;
// through apply, a saved plan, its apply, a refresh and destroy. Then it
// scans everything written for every token and secret used: both logs,
// the plan file (its bytes and each file in it), `terraform show -json`
// of the plan and of the state, the state files and the CLI's output.
func TestSecretsNeverLeak(t *testing.T) {
	needTerraform(t)
	t.Parallel()
	ephemerals := providerEphemeralResources(t)
	opened := "the provider's ephemeral resources (" + strings.Join(ephemerals, ", ") + ")"
	if len(ephemerals) == 0 {
		opened = "no ephemeral resource (the provider has none yet)"
	}
	fig := reliability.Record(t, "secrets",
		"every resource type and data sources, a write-only secret rotated, a second token, "+opened+
			"; Terraform at TRACE and tenancyd at debug; logs, plan files, plan and state JSON and state files scanned")
	ctx := t.Context()

	d := startTenancyd(t, "sqlite://"+filepath.Join(t.TempDir(), "tenancy.db"), "--log-level", "debug")
	admin := d.client(t, 2)
	if _, err := admin.CreateTenant(ctx, api.TenantSpec{Slug: "secrets-viewer", DisplayName: "Viewer", Region: "eu-west"}); err != nil {
		t.Fatal(err)
	}
	viewer, err := admin.CreateToken(ctx, api.TokenRequest{Name: "viewer", Tenant: "secrets-viewer", Role: api.RoleTenantViewer, TTLSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	rotations := reliability.Pick(1, 3)
	webhookSecrets := make([]string, rotations+1)
	for i := range webhookSecrets {
		webhookSecrets[i] = fmt.Sprintf("whsec_%d_%s%s", i, acctest.RandomSuffix(), acctest.RandomSuffix())
	}
	secretKey := envValue(d.env, "TENANCYD_SECRET_KEY")
	secrets := map[string]string{
		"platform-admin token (TENANCY_TOKEN)": d.token,
		"tenant viewer token":                  viewer.Token,
		"TENANCYD_SECRET_KEY":                  secretKey,
	}
	for i, s := range webhookSecrets {
		secrets[fmt.Sprintf("integration secret_wo, version %d", i+1)] = s
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(secretsConfig(ephemerals)), 0o600); err != nil {
		t.Fatal(err)
	}
	tf := newCLI(t, dir, d)
	// Secrets go in as TF_VAR_ variables, as a user should pass them:
	// Terraform logs its command line.
	vars := func(version int) []string {
		tf.secretEnv = []string{"TF_VAR_viewer_token=" + viewer.Token, "TF_VAR_webhook_secret=" + webhookSecrets[version-1]}
		return []string{"-var", fmt.Sprintf("secret_version=%d", version)}
	}

	if out := tf.run(ctx, append([]string{"apply", "-auto-approve", "-input=false"}, vars(1)...)...); !strings.Contains(out, `viewer_sees = "Viewer"`) {
		t.Fatalf("the provider configured with the viewer token did not read its tenant:\n%s", out)
	}
	var plans [][]byte
	for v := 2; v <= rotations+1; v++ {
		plan := filepath.Join(dir, fmt.Sprintf("rotate-%d.tfplan", v))
		tf.run(ctx, append([]string{"plan", "-input=false", "-out=" + plan}, vars(v)...)...)
		shown := tf.run(ctx, "show", "-json", plan)
		if !strings.Contains(shown, `"tenancy_integration"`) || !strings.Contains(shown, `"secret_wo_version"`) {
			t.Fatalf("terraform show -json of the plan does not show the integration's rotation:\n%.2000s", shown)
		}
		b, err := os.ReadFile(plan)
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, b)
		// Ephemeral variables are given again when a saved plan is applied.
		tf.run(ctx, append([]string{"apply", "-input=false"}, append(vars(v), plan)...)...)
	}
	tf.run(ctx, append([]string{"plan", "-refresh-only", "-input=false"}, vars(rotations+1)...)...)
	tf.run(ctx, "show", "-json")
	stateFiles := readFiles(t, filepath.Join(dir, "terraform.tfstate"), filepath.Join(dir, "terraform.tfstate.backup"))
	tf.run(ctx, append([]string{"destroy", "-auto-approve", "-input=false"}, vars(rotations+1)...)...)

	artifacts := map[string][]byte{
		"Terraform log (TF_LOG=TRACE)":       tf.log(t),
		"tenancyd output (debug)":            []byte(d.output()),
		"Terraform CLI output":               tf.out.Bytes(),
		"terraform.tfstate and backup":       stateFiles,
		"terraform show -json (plan, state)": tf.shown.Bytes(),
	}
	for i, p := range plans {
		artifacts[fmt.Sprintf("plan file %d (bytes)", i+1)] = p
		artifacts[fmt.Sprintf("plan file %d (unzipped)", i+1)] = unzipAll(t, p)
	}
	// The scan must have something to scan: the logs hold the requests.
	if !bytes.Contains(artifacts["Terraform log (TF_LOG=TRACE)"], []byte("tenancy API request")) {
		t.Fatal("the Terraform log has no provider request logged at TRACE; the scan would prove nothing")
	}
	if !bytes.Contains(artifacts["tenancyd output (debug)"], []byte("msg=request")) {
		t.Fatal("tenancyd logged no request; the scan would prove nothing")
	}
	var bytesScanned int64
	for _, a := range artifacts {
		bytesScanned += int64(len(a))
	}
	found := scanSecrets(artifacts, secrets)
	fig.Set("secrets and tokens looked for", int64(len(secrets))+1)
	fig.Set("artifacts scanned", int64(len(artifacts)))
	fig.Set("kilobytes scanned", bytesScanned/1024)
	fig.Set("secret_wo rotations", int64(rotations))
	fig.Set("ephemeral resources exercised", int64(len(ephemerals)))
	fig.Set("secrets found", int64(len(found)), "= 0")
	for _, f := range found {
		t.Error(f)
	}

	// The scanner itself finds what it looks for.
	planted := scanSecrets(map[string][]byte{"planted": []byte("x " + webhookSecrets[0] + " tny_" + strings.Repeat("A", 43))}, secrets)
	if len(planted) != 2 {
		t.Errorf("the scanner found %d of 2 planted secrets: %q", len(planted), planted)
	}
}

// scanSecrets lists where a secret, or anything shaped like a token,
// appears in the artifacts.
func scanSecrets(artifacts map[string][]byte, secrets map[string]string) []string {
	var found []string
	for where, data := range artifacts {
		for what, s := range secrets {
			if i := bytes.Index(data, []byte(s)); s != "" && i >= 0 {
				found = append(found, fmt.Sprintf("%s found in %s: %q", what, where, data[max(0, i-300):i]))
			}
		}
		for _, m := range tokenPattern.FindAll(data, -1) {
			known := false
			for _, s := range secrets {
				known = known || string(m) == s
			}
			if !known {
				found = append(found, fmt.Sprintf("a token (%.8s...) found in %s", m, where))
			}
		}
	}
	slices.Sort(found)
	return found
}

// providerEphemeralResources lists the type names of the provider's
// ephemeral resources, which the configuration opens.
func providerEphemeralResources(t *testing.T) []string {
	t.Helper()
	p, ok := provider.New("test")().(interface {
		EphemeralResources(context.Context) []func() ephemeral.EphemeralResource
	})
	if !ok {
		return nil
	}
	var names []string
	for _, f := range p.EphemeralResources(t.Context()) {
		var resp ephemeral.MetadataResponse
		f().Metadata(t.Context(), ephemeral.MetadataRequest{ProviderTypeName: "tenancy"}, &resp)
		names = append(names, resp.TypeName)
	}
	return names
}

// secretsConfig has every resource type, data sources, a provider with
// another token, and a block for each ephemeral resource the provider has.
func secretsConfig(ephemerals []string) string {
	var b strings.Builder
	b.WriteString(`
terraform {
  required_providers {
    tenancy = { source = "tenancyhq/tenancy" }
  }
}

# The platform-admin token comes from TENANCY_TOKEN.
provider "tenancy" {}

provider "tenancy" {
  alias = "viewer"
  token = var.viewer_token
}

variable "viewer_token" {
  type      = string
  sensitive = true
  ephemeral = true
}

variable "webhook_secret" {
  type      = string
  sensitive = true
  ephemeral = true
}

variable "secret_version" {
  type = number
}

resource "tenancy_tenant" "this" {
  slug                = "secrets"
  display_name        = "Secrets"
  region              = "eu-west"
  deletion_protection = false
}

resource "tenancy_environment" "production" {
  tenant_id = tenancy_tenant.this.id
  name      = "production"
  type      = "production"
}

resource "tenancy_environment" "staging" {
  tenant_id = tenancy_tenant.this.id
  name      = "staging"
  type      = "staging"
  settings  = { log_level = "debug" }
}

resource "tenancy_user" "admin" {
  tenant_id    = tenancy_tenant.this.id
  email        = "admin@secrets.example.com"
  display_name = "Admin"
}

resource "tenancy_role_binding" "admin" {
  tenant_id = tenancy_tenant.this.id
  user_id   = tenancy_user.admin.user_id
  role      = "tenant_admin"
}

resource "tenancy_quota" "tenant" {
  tenant_id      = tenancy_tenant.this.id
  cpu_millicores = 4000
  max_users      = 10
}

resource "tenancy_feature_flag" "billing" {
  tenant_id    = tenancy_tenant.this.id
  key          = "new-billing"
  environments = { staging = { enabled = true, rollout_percentage = 100 } }
  depends_on   = [tenancy_environment.staging, tenancy_environment.production]
}

resource "tenancy_integration" "hook" {
  tenant_id         = tenancy_tenant.this.id
  name              = "hook"
  kind              = "webhook"
  config            = { url = "https://hooks.example.com/secrets" }
  secret_wo         = var.webhook_secret
  secret_wo_version = var.secret_version
}

resource "tenancy_environment_promotion" "flags" {
  tenant_id          = tenancy_tenant.this.id
  source_environment = tenancy_environment.staging.name
  target_environment = tenancy_environment.production.name
  include            = ["feature_flags"]
  depends_on         = [tenancy_feature_flag.billing]
}

resource "tenancy_schema" "staging" {
  tenant_id   = tenancy_tenant.this.id
  environment = tenancy_environment.staging.name
  migrations  = { "1" = "CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount_cents INTEGER NOT NULL)" }
}

resource "tenancy_backup" "staging" {
  tenant_id   = tenancy_tenant.this.id
  environment = tenancy_environment.staging.name
  depends_on  = [tenancy_schema.staging]
}

data "tenancy_tenant" "viewer" {
  provider = tenancy.viewer
  slug     = "secrets-viewer"
}

data "tenancy_tenants" "all" {
  depends_on = [tenancy_tenant.this]
}

data "tenancy_tenant_usage" "this" {
  tenant_id = tenancy_tenant.this.id
}

output "viewer_sees" {
  value = data.tenancy_tenant.viewer.display_name
}
`)
	for _, name := range ephemerals {
		switch name {
		case "tenancy_api_token":
			b.WriteString(`
ephemeral "tenancy_api_token" "ci" {
  tenant_id   = tenancy_tenant.this.id
  role        = "tenant_viewer"
  ttl_seconds = 600
}

provider "tenancy" {
  alias = "ephemeral"
  token = ephemeral.tenancy_api_token.ci.token
}

data "tenancy_environment" "through_ephemeral_token" {
  provider  = tenancy.ephemeral
  tenant_id = tenancy_tenant.this.id
  name      = tenancy_environment.production.name
}
`)
		case "tenancy_database_credentials":
			b.WriteString(`
ephemeral "tenancy_database_credentials" "staging" {
  tenant_id   = tenancy_tenant.this.id
  environment = tenancy_environment.staging.name
  ttl         = "10m"
}
`)
		default:
			panic("secretsConfig: add a block for the provider's ephemeral resource " + name)
		}
	}
	return b.String()
}

// cli is the real Terraform CLI with the provider binary built from this
// repository (a dev override), logging at TRACE.
type cli struct {
	t       *testing.T
	dir     string
	env     []string
	logPath string
	// secretEnv is added to the environment of the next commands.
	secretEnv []string
	out       bytes.Buffer // every command's output
	shown     bytes.Buffer // the output of `terraform show`
}

func newCLI(t *testing.T, dir string, d *tenancyd) *cli {
	t.Helper()
	providerBin := binary(t, ".", "terraform-provider-tenancy")
	rc := filepath.Join(t.TempDir(), "terraformrc")
	override := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    %q = %q\n  }\n  direct {}\n}\n",
		acctest.ProviderAddress, filepath.Dir(providerBin))
	if err := os.WriteFile(rc, []byte(override), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &cli{t: t, dir: dir, logPath: filepath.Join(t.TempDir(), "terraform.log")}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TF_") || strings.HasPrefix(kv, "TENANCY_") {
			continue
		}
		c.env = append(c.env, kv)
	}
	c.env = append(c.env, "TF_CLI_CONFIG_FILE="+rc, "TF_LOG=TRACE", "TF_LOG_PATH="+c.logPath,
		"TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1",
		"TENANCY_ENDPOINT="+d.URL(), "TENANCY_TOKEN="+d.token)
	return c
}

// run runs one terraform command and returns its standard output; a
// failure fails the test.
func (c *cli) run(ctx context.Context, args ...string) string {
	c.t.Helper()
	cmd := exec.CommandContext(ctx, os.Getenv("TF_ACC_TERRAFORM_PATH"), append([]string{"-chdir=" + c.dir}, args...)...)
	cmd.Env = append(slices.Clone(c.env), c.secretEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	c.out.Write(stdout.Bytes())
	c.out.Write(stderr.Bytes())
	if args[0] == "show" {
		c.shown.Write(stdout.Bytes())
	}
	if err != nil {
		c.t.Fatalf("terraform %s: %v\n%s%s", args[0], err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func (c *cli) log(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readFiles is the files' contents one after the other; a missing file is
// skipped.
func readFiles(t *testing.T, paths ...string) []byte {
	t.Helper()
	var out []byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

// unzipAll is every file of a zip archive (a plan file) uncompressed.
func unzipAll(t *testing.T, archive []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatalf("the plan file is not a zip archive: %v", err)
	}
	var out bytes.Buffer
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "== %s\n", f.Name)
		_, err = io.Copy(&out, rc)
		_ = rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

// envValue is the value of name in an environment list.
func envValue(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}
