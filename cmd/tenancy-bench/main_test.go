package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
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
}
