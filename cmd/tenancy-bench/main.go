// Command tenancy-bench is the scale benchmark `make bench` runs: the tenancy
// provider against a real tenancyd, next to terraform_data and a provider
// that does no I/O, and tenancyd under load next to a static-JSON server.
// It writes its measurements to a results directory and BENCHMARKS.md.
//
//	go run ./cmd/tenancy-bench -n 1000 -tenants 10 -runs 3
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tenancy-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "serve-static" {
		return serveStatic(ctx, args[1:], stderr)
	}
	fs := flag.NewFlagSet("tenancy-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := bench.Options{Log: stderr}
	fs.IntVar(&o.N, "n", bench.TargetN, "resources per subject")
	fs.IntVar(&o.Tenants, "tenants", bench.TargetTenants, "tenants the resources are spread over")
	fs.IntVar(&o.Runs, "runs", 3, "runs of every phase; the report shows medians (0: the load test alone, which replaces the load test of the results saved for this n and keeps their Terraform phases)")
	fs.IntVar(&o.Parallelism, "parallelism", 0, "terraform -parallelism (0: Terraform's default, 10)")
	subjects := fs.String("subjects", strings.Join(bench.AllSubjects, ","),
		"subjects, comma-separated: terraform_data (Terraform core alone), benchfloor_item (the no-I/O floor), flags and mix (the tenancy provider)")
	phases := fs.String("phases", strings.Join(phaseFlags, ","),
		"phases of every run, comma-separated, in this order; leaving destroy out needs -runs 1")
	fs.StringVar(&o.Database, "database", "sqlite", "tenancyd's database for the Terraform runs: sqlite or postgres")
	fs.StringVar(&o.PostgresURL, "postgres", os.Getenv("TENANCY_TEST_POSTGRES_URL"),
		"PostgreSQL server to create throwaway databases on (default $TENANCY_TEST_POSTGRES_URL, which scripts/with-postgres.sh sets); empty leaves PostgreSQL out")
	fs.DurationVar(&o.LoadDuration, "load", 10*time.Second, "duration of each load test; 0 skips the load test")
	fs.IntVar(&o.LoadParallelism, "load-parallelism", 10, "clients of the load test")
	fs.IntVar(&o.LoadRounds, "load-rounds", 3, "rounds of the load test, the targets taking turns; the report shows medians")
	fs.StringVar(&o.Terraform, "terraform", "", "Terraform CLI (default: terraform on PATH)")
	fs.StringVar(&o.WorkDir, "work", "", "working directory (default: a temporary one, removed at the end)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temporary working directory, with its logs and databases")
	fs.StringVar(&o.ProfileDir, "profile", "", "save CPU profiles of tenancyd here: over each phase of the first run, and over each load test")
	fs.StringVar(&o.Note, "note", "", "a sentence about the machine for the report, such as that it was shared")
	resultsDir := fs.String("results", "benchmarks", "directory of the results, one n<N>.json per N; the report covers them all")
	out := fs.String("out", "BENCHMARKS.md", "report to write (between its markers); empty writes none")
	resume := fs.Bool("resume", false, "go on with the run saved in the results directory for this n, in its -work directory: "+
		"phases measured before are kept (terraform_data and benchfloor_item), and flags or mix not measured before start anew on a tenancyd of their own")
	reportOnly := fs.Bool("report-only", false, "measure nothing: rewrite the report from the results directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: every setting is a flag (-h lists them)", fs.Args())
	}
	if *reportOnly {
		return report(*resultsDir, *out, nil, stdout)
	}
	var err error
	o.Subjects = split(*subjects)
	if *resume {
		if o.Previous, err = previous(*resultsDir, o.N); err != nil {
			return err
		}
	}
	if o.Phases, err = parsePhases(*phases); err != nil {
		return err
	}
	if o.Terraform == "" {
		if p, err := exec.LookPath("terraform"); err == nil {
			o.Terraform = p
		}
	}
	if o.Self, err = os.Executable(); err != nil {
		return err
	}
	if o.Root, err = moduleRoot(ctx); err != nil {
		return err
	}

	// After every phase, the results so far and the report from them, so
	// that a run stopped halfway (a scale run takes hours) keeps what it
	// measured.
	o.Checkpoint = func(r *bench.Results) error {
		if _, err := bench.SaveResults(*resultsDir, r); err != nil {
			return err
		}
		if *out == "" {
			return nil
		}
		return writeReport(*resultsDir, *out, r)
	}
	res, err := bench.Run(ctx, o)
	if err != nil {
		return err
	}
	if o.Runs == 0 {
		// The load test alone takes the place of the saved run's load
		// test for this n, which keeps its Terraform phases.
		saved, err := savedFor(*resultsDir, o.N)
		if err != nil {
			return err
		}
		if saved != nil && len(saved.Subjects) > 0 {
			res = saved.WithLoadOf(res)
		}
	}
	file, err := bench.SaveResults(*resultsDir, res)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "results: %s\n", file)
	return report(*resultsDir, *out, res, stdout)
}

// previous are the saved results for n, to resume.
func previous(dir string, n int) (*bench.Results, error) {
	r, err := savedFor(dir, n)
	if err == nil && r == nil {
		err = fmt.Errorf("no results for n %d in %s to resume", n, dir)
	}
	return r, err
}

// savedFor are the results saved in dir for n, or nil when there are none.
func savedFor(dir string, n int) (*bench.Results, error) {
	all, err := bench.LoadResults(dir)
	if err != nil {
		return nil, err
	}
	for _, r := range all {
		if r.N == n {
			return r, nil
		}
	}
	return nil, nil
}

// phaseFlags name the phases on the command line, in bench.Phases' order.
var phaseFlags = []string{"apply", "plan", "plan-refresh-false", "destroy"}

func parsePhases(list string) ([]string, error) {
	var out []string
	for _, name := range split(list) {
		i := slices.Index(phaseFlags, name)
		if i < 0 {
			return nil, fmt.Errorf("phase %q: use one or more of %s", name, strings.Join(phaseFlags, ", "))
		}
		out = append(out, bench.Phases[i])
	}
	return out, nil
}

func split(list string) []string {
	var out []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// report prints the targets from every result in dir and writes the
// report to out ("" for none); latest is the run just made, or nil.
func report(dir, out string, latest *bench.Results, stdout io.Writer) error {
	all, err := bench.LoadResults(dir)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		return fmt.Errorf("no results in %s: run the benchmark first (make bench)", dir)
	}
	if latest == nil {
		latest = all[len(all)-1]
	}
	for _, t := range bench.Targets(primaryOf(all, latest), scaleOf(all)) {
		fmt.Fprintf(stdout, "%-90s %-45s %s\n", t.Name, t.Measured, t.Met)
	}
	if out == "" {
		return nil
	}
	if err := writeReport(dir, out, latest); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "report: %s\n", out)
	return nil
}

func writeReport(dir, out string, latest *bench.Results) error {
	all, err := bench.LoadResults(dir)
	if err != nil {
		return err
	}
	return bench.WriteReport(out, bench.Report(all, latest))
}

func primaryOf(all []*bench.Results, latest *bench.Results) *bench.Results {
	for _, r := range all {
		if r.N == bench.TargetN {
			return r
		}
	}
	return latest
}

func scaleOf(all []*bench.Results) *bench.Results {
	for _, r := range all {
		if r.N == bench.TargetScaleN {
			return r
		}
	}
	return nil
}

// moduleRoot is the directory of the go.mod the working directory is in.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run tenancy-bench from within the repository: it builds the provider and tenancyd from it")
	}
	return filepath.Dir(mod), nil
}

// serveStatic is the load test's ceiling, run as a process of its own.
func serveStatic(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve-static", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bodyFile := fs.String("body", "", "file whose bytes every answer carries")
	addrFile := fs.String("addr-file", "", "file to write the address listened on to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		return err
	}
	return bench.ServeStatic(ctx, *addrFile, body)
}
