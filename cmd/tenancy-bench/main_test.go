package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/bench"
)

// TestSmoke builds the benchmark and runs it at N=50, one run, with a short
// load test, as CI does: it checks that every subject went through every
// phase and that the report is whole, not how fast anything was.
func TestSmoke(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("runs the Terraform CLI: set TF_ACC=1 (make test does)")
	}
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		var err error
		if tf, err = exec.LookPath("terraform"); err != nil {
			t.Skip("no Terraform CLI: set TF_ACC_TERRAFORM_PATH or put terraform on PATH")
		}
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "tenancy-bench")
	if out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const n, tenants = 50, 5
	results, report := filepath.Join(dir, "results"), filepath.Join(dir, "BENCHMARKS.md")
	cmd := exec.Command(exe, "-n", "50", "-tenants", "5", "-runs", "1", "-load", "1s", "-load-rounds", "2",
		"-terraform", tf, "-work", filepath.Join(dir, "work"), "-results", results, "-out", report)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tenancy-bench: %v\n%s", err, out)
	}

	b, err := os.ReadFile(filepath.Join(results, "n50.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res bench.Results
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("results are not JSON: %v", err)
	}
	if res.N != n || res.Tenants != tenants || res.Runs != 1 || res.Versions.Terraform == "" || res.Versions.Go == "" {
		t.Errorf("results describe another run: n=%d tenants=%d runs=%d versions=%+v", res.N, res.Tenants, res.Runs, res.Versions)
	}
	subjects := map[string]bench.SubjectResult{}
	for _, s := range res.Subjects {
		subjects[s.Name] = s
	}
	for _, name := range []string{"terraform_data", "benchfloor_item", "tenancy (flags)", "tenancy (mix)"} {
		s, ok := subjects[name]
		if !ok {
			t.Errorf("no results for %s", name)
			continue
		}
		if s.Resources != n {
			t.Errorf("%s has %d resources, want %d", name, s.Resources, n)
		}
		if len(s.Phases) != len(bench.Phases) {
			t.Errorf("%s went through %d phases, want %d", name, len(s.Phases), len(bench.Phases))
		}
		for _, p := range s.Phases {
			if len(p.Seconds) != 1 || p.Seconds[0] <= 0 || len(p.TerraformPeakBytes) != 1 || p.TerraformPeakBytes[0] <= 0 {
				t.Errorf("%s %s: times %v, Terraform peaks %v; want one positive each", name, p.Phase, p.Seconds, p.TerraformPeakBytes)
			}
			if name != "terraform_data" && (len(p.ProviderPeakBytes) != 1 || p.ProviderPeakBytes[0] <= 0) {
				t.Errorf("%s %s: provider peaks %v, want one positive", name, p.Phase, p.ProviderPeakBytes)
			}
			tenancy := strings.HasPrefix(name, "tenancy")
			if tenancy != (len(p.Requests) == 1) {
				t.Errorf("%s %s: requests %v", name, p.Phase, p.Requests)
			}
		}
	}
	// Every flag is created by one POST and deleted by one DELETE, whatever
	// else the provider asks; plan -refresh=false reads no object, only the
	// provider's own token, once, as every operation does.
	flags := subjects["tenancy (flags)"]
	for _, p := range flags.Phases {
		want := map[string]struct {
			route string
			n     int
		}{
			bench.PhaseApply:   {"POST /v1/tenants/{tenant}/feature-flags", n},
			bench.PhaseDestroy: {"DELETE /v1/tenants/{tenant}/feature-flags/{key}", n},
		}[p.Phase]
		if want.route != "" && p.RequestsByRoute[want.route] != want.n {
			t.Errorf("flags %s: %d requests to %s, want %d (all: %v)", p.Phase, p.RequestsByRoute[want.route], want.route, want.n, p.RequestsByRoute)
		}
		if p.Phase == bench.PhasePlan {
			// A refresh costs a tenant one GET and one list, and the
			// operation its token's own GET.
			if total := p.Requests[0]; total > 2*tenants+1 {
				t.Errorf("flags plan made %d requests for %d flags over %d tenants, want at most %d (all: %v)", total, n, tenants, 2*tenants+1, p.RequestsByRoute)
			}
		}
		if p.Phase != bench.PhasePlanNoRefresh {
			continue
		}
		for route, count := range p.RequestsByRoute {
			if route != "GET /v1/tokens/self" || count > 1 {
				t.Errorf("flags plan -refresh=false made %d requests to %s (all: %v); want the token's own once at most", count, route, p.RequestsByRoute)
			}
		}
	}
	targets := map[string]bool{}
	for _, l := range res.Load {
		if l.Requests <= 0 || l.PerSecond <= 0 || l.P99Millis < l.P50Millis || len(l.Rounds) != 2 {
			t.Errorf("load test %s %s: %+v; want requests, a rate, latencies and two rounds", l.Method, l.Target, l)
		}
		targets[l.Method+" "+l.Target] = true
	}
	want := []string{"GET " + bench.TargetCeiling, "GET " + bench.TargetSQLite, "PATCH " + bench.TargetCeiling, "PATCH " + bench.TargetSQLite}
	if os.Getenv("TENANCY_TEST_POSTGRES_URL") != "" {
		want = append(want, "GET "+bench.TargetPostgres, "PATCH "+bench.TargetPostgres)
	}
	for _, w := range want {
		if !targets[w] {
			t.Errorf("no load test of %s", w)
		}
	}

	md, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"<!-- tenancy-bench:begin", "<!-- tenancy-bench:end -->", "## Targets", "## N = 50 over 5 tenants",
		"## Load test", "| tenancy (flags) | 50 |", "| benchfloor_item | 50 |", "| terraform_data | 50 |"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("the report lacks %q", s)
		}
	}
	for _, target := range bench.Targets(&res, nil) {
		if !strings.Contains(string(md), "| "+target.Name+" | "+target.Measured+" | "+target.Met+" |") {
			t.Errorf("the report lacks the target %q", target.Name)
		}
	}

	// A partial run: two subjects, two phases, results kept beside n50's,
	// in a working directory named by a relative path.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	work, err := filepath.Rel(wd, filepath.Join(dir, "work10"))
	if err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(exe, "-n", "10", "-tenants", "2", "-runs", "1", "-load", "0", "-subjects", "flags,terraform_data", "-phases", "apply,plan",
		"-terraform", tf, "-work", work, "-results", results, "-out", report)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tenancy-bench, partial run: %v\n%s", err, out)
	}
	b, err = os.ReadFile(filepath.Join(results, "n10.json"))
	if err != nil {
		t.Fatal(err)
	}
	var partial bench.Results
	if err := json.Unmarshal(b, &partial); err != nil {
		t.Fatal(err)
	}
	if len(partial.Subjects) != 2 || partial.Subjects[0].Name != "terraform_data" || partial.Subjects[1].Name != "tenancy (flags)" || partial.Unfinished {
		t.Fatalf("partial run: %+v; want terraform_data's and the flags' apply and plan, finished", partial)
	}
	for _, s := range partial.Subjects {
		if len(s.Phases) != 2 || s.Phases[0].Phase != bench.PhaseApply || s.Phases[1].Phase != bench.PhasePlan || len(s.Phases[1].Seconds) != 1 {
			t.Errorf("partial run, %s: %+v; want its apply and plan", s.Name, s.Phases)
		}
	}

	if md, err = os.ReadFile(report); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "## N = 10 over 2 tenants") || !strings.Contains(string(md), "| not run | not run |") {
		t.Errorf("the report lacks the partial run, with the phases it left out as not run:\n%s", md)
	}

	// The load test alone takes the place of n10's load test and keeps its
	// Terraform phases, saying when it ran.
	cmd = exec.Command(exe, "-n", "10", "-runs", "0", "-load", "500ms", "-load-rounds", "1", "-postgres", "",
		"-terraform", tf, "-work", filepath.Join(dir, "work10load"), "-results", results, "-out", report)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tenancy-bench, load test alone: %v\n%s", err, out)
	}
	loaded := readResults(t, filepath.Join(results, "n10.json"))
	if loaded.LoadRun == nil || loaded.LoadRun.Started.Before(partial.Started) || len(loaded.Load) == 0 ||
		len(loaded.Subjects) != 2 || !slices.Equal(loaded.Subjects[1].Phases[1].Seconds, partial.Subjects[1].Phases[1].Seconds) {
		t.Errorf("after a load test alone, n10 is %+v; want the partial run's phases kept and the load test with when it ran", loaded)
	}
	if md, err = os.ReadFile(report); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "Measured in a run of the load test alone (`-runs 0`)") {
		t.Errorf("the report does not say the load test ran alone:\n%s", md)
	}

	// A run that stopped after terraform_data's apply goes on with its plan
	// in the same working directory, keeping the apply it measured.
	resumeArgs := []string{"-n", "12", "-tenants", "2", "-runs", "1", "-load", "0", "-subjects", "terraform_data",
		"-terraform", tf, "-work", filepath.Join(dir, "work12"), "-results", results, "-out", ""}
	if out, err := exec.Command(exe, append(resumeArgs, "-phases", "apply")...).CombinedOutput(); err != nil {
		t.Fatalf("tenancy-bench, apply: %v\n%s", err, out)
	}
	first := readResults(t, filepath.Join(results, "n12.json"))
	if out, err := exec.Command(exe, append(resumeArgs, "-phases", "apply,plan", "-resume")...).CombinedOutput(); err != nil {
		t.Fatalf("tenancy-bench -resume: %v\n%s", err, out)
	}
	resumed := readResults(t, filepath.Join(results, "n12.json"))
	if resumed.Resumed != 1 || !resumed.Started.Equal(first.Started) || len(resumed.Subjects) != 1 || len(resumed.Subjects[0].Phases) != 2 {
		t.Fatalf("resumed run: %+v; want terraform_data's apply and plan, resumed once, started when the first was", resumed)
	}
	apply, plan := resumed.Subjects[0].Phases[0], resumed.Subjects[0].Phases[1]
	if !slices.Equal(apply.Seconds, first.Subjects[0].Phases[0].Seconds) || len(plan.Seconds) != 1 || plan.Seconds[0] <= 0 {
		t.Errorf("resumed run: apply %v (first run's %v), plan %v; want the apply kept and the plan measured",
			apply.Seconds, first.Subjects[0].Phases[0].Seconds, plan.Seconds)
	}

	// The flags, not run before, join it on a tenancyd of their own.
	if out, err := exec.Command(exe, append(resumeArgs, "-subjects", "flags", "-phases", "apply,plan", "-resume")...).CombinedOutput(); err != nil {
		t.Fatalf("tenancy-bench -resume with the flags: %v\n%s", err, out)
	}
	joined := readResults(t, filepath.Join(results, "n12.json"))
	if joined.Resumed != 2 || len(joined.Subjects) != 2 || joined.Subjects[1].Name != "tenancy (flags)" ||
		!slices.Equal(joined.Subjects[0].Phases[1].Seconds, plan.Seconds) {
		t.Fatalf("resumed with the flags: %+v; want terraform_data's apply and plan kept and the flags' added", joined)
	}
	for _, p := range joined.Subjects[1].Phases {
		if len(p.Seconds) != 1 || len(p.ProviderPeakBytes) != 1 || p.ProviderPeakBytes[0] <= 0 || len(p.Requests) != 1 {
			t.Errorf("resumed with the flags, %s: %+v; want a time, the provider's peak and tenancyd's requests", p.Phase, p)
		}
	}
}

func readResults(t *testing.T, file string) bench.Results {
	t.Helper()
	b, err := os.ReadFile(file) //nolint:gosec // The test's own results.
	if err != nil {
		t.Fatal(err)
	}
	var r bench.Results
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestFlags(t *testing.T) {
	got, err := parsePhases("apply, plan-refresh-false,")
	if err != nil || !slices.Equal(got, []string{bench.PhaseApply, bench.PhasePlanNoRefresh}) {
		t.Errorf("parsePhases = %v, %v", got, err)
	}
	for _, c := range []struct{ args []string }{
		{[]string{"-phases", "apply,refresh"}},
		{[]string{"-phases", "plan", "-runs", "1"}},
		{[]string{"-subjects", "floor"}},
		{[]string{"-n", "10", "10000"}},
	} {
		var stderr strings.Builder
		err := run(context.Background(), append(c.args, "-terraform", "terraform", "-out", "", "-results", t.TempDir()), io.Discard, &stderr)
		if err == nil {
			t.Errorf("%v: no error", c.args)
		}
	}
}

// TestReportOnly rewrites the report from saved results, one of them a
// scale run stopped after terraform_data's plan.
func TestReportOnly(t *testing.T) {
	dir := t.TempDir()
	results, report := filepath.Join(dir, "results"), filepath.Join(dir, "BENCHMARKS.md")
	plan := func(s float64) bench.PhaseResult {
		return bench.PhaseResult{Phase: bench.PhasePlan, Seconds: []float64{s}, CPUSeconds: []float64{s}, TerraformPeakBytes: []int64{1 << 20}}
	}
	for _, r := range []*bench.Results{
		{N: bench.TargetN, Tenants: 10, Runs: 1, Subjects: []bench.SubjectResult{
			{Name: "terraform_data", Phases: []bench.PhaseResult{plan(2)}},
			{Name: "tenancy (flags)", Workload: "flags", Phases: []bench.PhaseResult{plan(4)}},
		}},
		{N: bench.TargetScaleN, Tenants: 10, Runs: 1, Unfinished: true, Subjects: []bench.SubjectResult{
			{Name: "terraform_data", Phases: []bench.PhaseResult{plan(100)}},
			{Name: "tenancy (flags)", Workload: "flags", Phases: []bench.PhaseResult{{Phase: bench.PhasePlan}}},
		}},
	} {
		if _, err := bench.SaveResults(results, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(report, []byte("# Benchmarks\n\nKept.\n"), 0o600); err == nil {
		var stdout strings.Builder
		err := run(context.Background(), []string{"-report-only", "-results", results, "-out", report}, &stdout, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "markers") {
			t.Errorf("a report without markers: %v, want an error naming them", err)
		}
	}
	if err := os.Remove(report); err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	if err := run(context.Background(), []string{"-report-only", "-results", results, "-out", report}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"## N = 1000 over 10 tenants", "## N = 10000 over 10 tenants", "stopped before its end",
		"| plan at N=10000 <= 12x plan at N=1000 (flags) | tenancy (flags): not run at N=10000; terraform_data (Terraform core alone): 50.0x (100.0 s vs 2.00 s) | not measured |",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if !strings.Contains(stdout.String(), "not measured") {
		t.Errorf("stdout lacks the targets: %s", stdout.String())
	}
	if err := run(context.Background(), []string{"-report-only", "-results", filepath.Join(dir, "none")}, io.Discard, io.Discard); err == nil {
		t.Error("-report-only without results: no error")
	}
}
