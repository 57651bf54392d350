package acctest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
)

// ProviderAddress is the provider's registry address, as configurations
// with a required_providers block name it.
const ProviderAddress = "registry.terraform.io/tenancyhq/tenancy"

// Terraform is the real Terraform CLI (TF_ACC_TERRAFORM_PATH) working in one
// directory, with the provider served in-process and reattached, for
// configurations the testing framework cannot drive, such as ones with
// modules. The provider runs in the test's process and reads its settings
// from there: a test using this sets TENANCY_ENDPOINT and TENANCY_TOKEN with
// t.Setenv.
type Terraform struct {
	tf       *tfexec.Terraform
	reattach tfexec.ReattachInfo
}

// Terraform prepares the CLI in dir, serving provider until the test ends.
func (s *Server) Terraform(t *testing.T, dir string, provider func() tfprotov6.ProviderServer) *Terraform {
	t.Helper()
	path := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if path == "" {
		t.Skip("TF_ACC_TERRAFORM_PATH is not set; `make test` sets it")
	}
	ctx, cancel := context.WithCancel(context.Background())
	reattach := make(chan *plugin.ReattachConfig)
	closed := make(chan struct{})
	go func() {
		err := tf6server.Serve(ProviderAddress, provider,
			tf6server.WithDebug(ctx, reattach, closed),
			tf6server.WithGoPluginLogger(hclog.New(&hclog.LoggerOptions{Output: io.Discard})),
			tf6server.WithLoggingSink(t),
			tf6server.WithoutLogStderrOverride())
		if err != nil {
			t.Errorf("serve provider: %v", err)
		}
	}()
	cfg := <-reattach
	t.Cleanup(func() {
		cancel()
		<-closed
	})
	tf, err := tfexec.NewTerraform(dir, path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	// None of the machine's CLI configuration applies.
	none := filepath.Join(t.TempDir(), "terraformrc")
	if err := os.WriteFile(none, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env["TF_CLI_CONFIG_FILE"] = none
	for _, k := range []string{"TF_REATTACH_PROVIDERS", "TF_IN_AUTOMATION", "TF_LOG", "TF_CLI_ARGS", "TF_INPUT"} {
		delete(env, k)
	}
	if err := tf.SetEnv(env); err != nil {
		t.Fatal(err)
	}
	return &Terraform{tf: tf, reattach: tfexec.ReattachInfo{ProviderAddress: {
		Protocol: string(cfg.Protocol), ProtocolVersion: cfg.ProtocolVersion, Pid: cfg.Pid, Test: cfg.Test,
		Addr: tfexec.ReattachConfigAddr{Network: cfg.Addr.Network(), String: cfg.Addr.String()},
	}}}
}

// Init runs terraform init.
func (r *Terraform) Init(ctx context.Context) error {
	return r.tf.Init(ctx, tfexec.Reattach(r.reattach))
}

// Apply runs terraform apply with variables given as name=value.
func (r *Terraform) Apply(ctx context.Context, vars ...string) error {
	opts := []tfexec.ApplyOption{tfexec.Reattach(r.reattach)}
	for _, v := range vars {
		opts = append(opts, tfexec.Var(v))
	}
	return r.tf.Apply(ctx, opts...)
}

// ApplyTarget runs terraform apply -target=address, which applies that
// resource (and what it depends on) alone.
func (r *Terraform) ApplyTarget(ctx context.Context, address string, vars ...string) error {
	opts := []tfexec.ApplyOption{tfexec.Reattach(r.reattach), tfexec.Target(address)}
	for _, v := range vars {
		opts = append(opts, tfexec.Var(v))
	}
	return r.tf.Apply(ctx, opts...)
}

// Plan runs terraform plan and reports whether it has changes.
func (r *Terraform) Plan(ctx context.Context, vars ...string) (bool, error) {
	opts := []tfexec.PlanOption{tfexec.Reattach(r.reattach)}
	for _, v := range vars {
		opts = append(opts, tfexec.Var(v))
	}
	return r.tf.Plan(ctx, opts...)
}

// RefreshOnlyPlan runs terraform plan -refresh-only -detailed-exitcode, as a
// nightly drift-detection job does, and reports whether it exited 2.
func (r *Terraform) RefreshOnlyPlan(ctx context.Context, vars ...string) (bool, error) {
	opts := []tfexec.PlanOption{tfexec.Reattach(r.reattach), tfexec.RefreshOnly(true)}
	for _, v := range vars {
		opts = append(opts, tfexec.Var(v))
	}
	return r.tf.Plan(ctx, opts...)
}

// RefreshOnlyApply runs terraform apply -refresh-only, which records what
// refresh found in the state and changes nothing else.
func (r *Terraform) RefreshOnlyApply(ctx context.Context, vars ...string) error {
	opts := []tfexec.ApplyOption{tfexec.Reattach(r.reattach), tfexec.RefreshOnly(true)}
	for _, v := range vars {
		opts = append(opts, tfexec.Var(v))
	}
	return r.tf.Apply(ctx, opts...)
}

// StateAddresses lists the managed resource instances in the state, modules
// included, as terraform state list does.
func (r *Terraform) StateAddresses(ctx context.Context) ([]string, error) {
	s, err := r.tf.Show(ctx, tfexec.Reattach(r.reattach))
	if err != nil {
		return nil, err
	}
	var out []string
	var walk func(m *tfjson.StateModule)
	walk = func(m *tfjson.StateModule) {
		if m == nil {
			return
		}
		for _, res := range m.Resources {
			if res.Mode == tfjson.ManagedResourceMode {
				out = append(out, res.Address)
			}
		}
		for _, child := range m.ChildModules {
			walk(child)
		}
	}
	if s != nil && s.Values != nil {
		walk(s.Values.RootModule)
	}
	return out, nil
}

// Diagnostic is one diagnostic of a plan, as the CLI's JSON output has it.
type Diagnostic struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail"`
	Address  string `json:"address"`
}

// PlanJSON runs terraform plan -detailed-exitcode with machine-readable
// output and reports whether it exited 2, with the diagnostics it reported.
func (r *Terraform) PlanJSON(ctx context.Context) (bool, []Diagnostic, error) {
	return r.planJSON(ctx)
}

// PlanDiagnostics runs terraform plan with machine-readable output and
// returns the diagnostics it reported, warnings included, which the testing
// framework does not expose.
func (r *Terraform) PlanDiagnostics(ctx context.Context) ([]Diagnostic, error) {
	_, diags, err := r.planJSON(ctx)
	return diags, err
}

// RefreshOnlyPlanDiagnostics runs terraform plan -refresh-only
// -detailed-exitcode with machine-readable output, as a nightly
// drift-detection job does, and reports whether it exited 2, with the
// diagnostics it reported.
func (r *Terraform) RefreshOnlyPlanDiagnostics(ctx context.Context) (bool, []Diagnostic, error) {
	return r.planJSON(ctx, tfexec.RefreshOnly(true))
}

// planJSON runs terraform plan -detailed-exitcode -json and returns whether
// it exited 2 and the diagnostics it reported.
func (r *Terraform) planJSON(ctx context.Context, opts ...tfexec.PlanOption) (bool, []Diagnostic, error) {
	var out bytes.Buffer
	changes, err := r.tf.PlanJSON(ctx, &out, append([]tfexec.PlanOption{tfexec.Reattach(r.reattach)}, opts...)...)
	if err != nil {
		return false, nil, err
	}
	var diags []Diagnostic
	for _, line := range bytes.Split(out.Bytes(), []byte("\n")) {
		var msg struct {
			Type       string     `json:"type"`
			Diagnostic Diagnostic `json:"diagnostic"`
		}
		if json.Unmarshal(line, &msg) == nil && msg.Type == "diagnostic" {
			diags = append(diags, msg.Diagnostic)
		}
	}
	return changes, diags, nil
}

// Destroy runs terraform destroy.
func (r *Terraform) Destroy(ctx context.Context, vars ...string) error {
	opts := []tfexec.DestroyOption{tfexec.Reattach(r.reattach)}
	for _, v := range vars {
		opts = append(opts, tfexec.Var(v))
	}
	return r.tf.Destroy(ctx, opts...)
}

// CopyDir copies the files of one directory (not its subdirectories) into
// another, which it makes: a configuration from examples/ to a test's own
// directory, where Terraform writes its state.
func CopyDir(t testing.TB, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o750); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name())) //nolint:gosec // The test names the directory: the repository's own examples.
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil { //nolint:gosec // Into the test's own directory.
			t.Fatal(err)
		}
	}
}
