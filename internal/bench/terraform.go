package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Phases, in the order each run goes through them.
const (
	PhaseApply          = "apply"
	PhasePlan           = "plan"
	PhasePlanNoRefresh  = "plan -refresh=false"
	PhaseDestroy        = "destroy"
	samplingInterval    = 20 * time.Millisecond
	terraformLogMaxTail = 30
)

// Phases lists the phases in order.
var Phases = []string{PhaseApply, PhasePlan, PhasePlanNoRefresh, PhaseDestroy}

// terraformCLI runs the Terraform CLI against the providers the benchmark
// built, through dev_overrides: no registry, no network.
type terraformCLI struct {
	path        string
	env         []string
	parallelism int
}

func newTerraformCLI(path, dir, bin string, parallelism int) (*terraformCLI, error) {
	rc := filepath.Join(dir, "terraformrc")
	cfg := fmt.Sprintf(`provider_installation {
  dev_overrides {
    "tenancyhq/tenancy"    = %q
    "tenancyhq/benchfloor" = %q
  }
}
`, bin, bin)
	if err := os.WriteFile(rc, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	env := []string{"TF_CLI_CONFIG_FILE=" + rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1"}
	for _, kv := range os.Environ() {
		// The benchmark decides Terraform's settings, not the caller's shell.
		if !strings.HasPrefix(kv, "TF_") && !strings.HasPrefix(kv, "TENANCY_") {
			env = append(env, kv)
		}
	}
	return &terraformCLI{path: path, env: env, parallelism: parallelism}, nil
}

// sample is what one Terraform command cost.
type sample struct {
	seconds    float64
	cpuSeconds float64 // Terraform and the plugins it started and waited for
	terraform  int64   // Terraform's peak RSS, bytes
	provider   int64   // the largest provider plugin's peak RSS, bytes
}

// run runs one phase in dir with extra environment, writing its output to
// dir/<log>.log; a plan must find nothing to change.
func (tf *terraformCLI) run(ctx context.Context, dir, phase string, extraEnv []string) (sample, error) {
	args := map[string][]string{
		PhaseApply:         {"apply", "-auto-approve"},
		PhasePlan:          {"plan", "-detailed-exitcode"},
		PhasePlanNoRefresh: {"plan", "-detailed-exitcode", "-refresh=false"},
		PhaseDestroy:       {"destroy", "-auto-approve"},
	}[phase]
	args = append(args, "-input=false", "-no-color")
	if tf.parallelism > 0 {
		args = append(args, fmt.Sprintf("-parallelism=%d", tf.parallelism))
	}
	logFile := filepath.Join(dir, strings.NewReplacer(" ", "", "=", "-").Replace(phase)+".log")
	out, err := os.Create(logFile) //nolint:gosec // A log in the benchmark's own directory.
	if err != nil {
		return sample{}, err
	}
	defer out.Close()
	cmd := exec.CommandContext(ctx, tf.path, args...) //nolint:gosec // The Terraform CLI the caller chose.
	cmd.Dir = dir
	cmd.Env = append(append([]string{}, tf.env...), extraEnv...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = time.Minute

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return sample{}, fmt.Errorf("terraform %s: %w", phase, err)
	}
	sampler := startPeakSampler(cmd.Process.Pid, samplingInterval)
	err = cmd.Wait()
	elapsed := time.Since(start)
	tfPeak, provPeak := sampler.Stop()
	s := sample{seconds: elapsed.Seconds(), terraform: tfPeak, provider: provPeak}
	if st := cmd.ProcessState; st != nil {
		s.cpuSeconds = (st.UserTime() + st.SystemTime()).Seconds()
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() == 2 && strings.HasPrefix(phase, "plan"):
		return s, fmt.Errorf("terraform %s in %s found changes after apply; the benchmark measures a clean plan:\n%s",
			phase, dir, tailLines(logFile, terraformLogMaxTail))
	default:
		return s, fmt.Errorf("terraform %s in %s: %w:\n%s", phase, dir, err, tailLines(logFile, terraformLogMaxTail))
	}
	return s, nil
}

// version is the CLI's version, such as 1.11.4.
func (tf *terraformCLI) version(ctx context.Context) string {
	cmd := exec.CommandContext(ctx, tf.path, "version") //nolint:gosec // The Terraform CLI the caller chose.
	cmd.Env = tf.env
	out, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimPrefix(strings.TrimSpace(first), "Terraform v")
}

func tailLines(file string, n int) string {
	lines := strings.Split(strings.TrimRight(tail(file), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
