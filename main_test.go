package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
)

// devOverridesBlock finds the CLI configuration with dev_overrides that a
// document shows, in its first fenced block that has one.
var devOverridesBlock = regexp.MustCompile("(?s)```hcl\n([^`]*dev_overrides[^`]*)```")

// TestAccLocalProviderAsDocumented follows what README.md and the
// getting-started guide tell a user who builds the provider: the CLI
// configuration block they show, with its path filled in, lets `terraform
// plan` run the quickstart without `terraform init` (which needs the
// registry), and `terraform get` installs the fleet's local module. No
// network is used. It also checks that `KEEP=1 make demo` prints that
// configuration's TF_CLI_CONFIG_FILE line.
func TestAccLocalProviderAsDocumented(t *testing.T) {
	terraform := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if os.Getenv("TF_ACC") == "" || terraform == "" {
		t.Skip("acceptance test; set TF_ACC=1 and TF_ACC_TERRAFORM_PATH (make test does)")
	}
	root := t.TempDir()
	bin := filepath.Join(root, "bin")
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "terraform-provider-tenancy"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var blocks []string
	for _, doc := range []string{"README.md", filepath.Join("templates", "guides", "getting-started.md.tmpl")} {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		m := devOverridesBlock.FindSubmatch(text)
		if m == nil {
			t.Fatalf("%s shows no CLI configuration with dev_overrides", doc)
		}
		for _, want := range []string{"terraform get", "TF_CLI_CONFIG_FILE", "KEEP=1 make demo"} {
			if !bytes.Contains(text, []byte(want)) {
				t.Errorf("%s does not mention %s", doc, want)
			}
		}
		blocks = append(blocks, string(m[1]))
	}
	if blocks[0] != blocks[1] {
		t.Errorf("README.md and the getting-started guide show different CLI configurations:\n%s\n%s", blocks[0], blocks[1])
	}
	const placeholder = "/absolute/path/to/terraform-provider-tenancy/bin"
	if !strings.Contains(blocks[0], placeholder) {
		t.Fatalf("the documented CLI configuration has no %s to fill in:\n%s", placeholder, blocks[0])
	}
	rc := filepath.Join(root, "dev.tfrc")
	if err := os.WriteFile(rc, []byte(strings.ReplaceAll(blocks[0], placeholder, bin)), 0o600); err != nil {
		t.Fatal(err)
	}

	srv := acctest.Start(t)
	env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TENANCY_ENDPOINT="+srv.URL, "TENANCY_TOKEN="+srv.Token,
		"TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
	run := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), terraform, append(args, "-no-color")...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("terraform %s in %s: %v\n%s", strings.Join(args, " "), filepath.Base(dir), err, out)
		}
		return string(out)
	}
	for _, dir := range []string{"quickstart", "fleet", filepath.Join("modules", "customer")} {
		acctest.CopyDir(t, filepath.Join("examples", dir), filepath.Join(root, "examples", dir))
	}
	quickstart := filepath.Join(root, "examples", "quickstart")
	if out := run(quickstart, "plan", "-input=false"); !strings.Contains(out, "Plan: 15 to add") {
		t.Errorf("the quickstart's plan without terraform init does not create its 15 resources:\n%s", out)
	}
	fleet := filepath.Join(root, "examples", "fleet")
	run(fleet, "get")
	if out := run(fleet, "validate"); !strings.Contains(out, "The configuration is valid") {
		t.Errorf("the fleet is not valid after terraform get:\n%s", out)
	}

	demo, err := os.ReadFile(filepath.Join("scripts", "demo.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(demo), `echo "  export TF_CLI_CONFIG_FILE=$TF_CLI_CONFIG_FILE"`) {
		t.Error("KEEP=1 make demo does not print the TF_CLI_CONFIG_FILE line")
	}
}
