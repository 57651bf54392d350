package bench

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestMixConfigHasNResources(t *testing.T) {
	for _, c := range []struct{ n, tenants int }{{1000, 10}, {50, 5}, {10000, 10}, {7, 3}, {101, 10}} {
		_, kinds := mixConfig(c.n, c.tenants)
		total := 0
		for _, v := range kinds {
			total += v
		}
		if total != c.n {
			t.Errorf("mix of %d over %d tenants has %d resources (%v)", c.n, c.tenants, total, kinds)
		}
		if c.n/c.tenants >= 10 {
			for kind, v := range kinds {
				if v == 0 {
					t.Errorf("mix of %d over %d tenants has no %s", c.n, c.tenants, kind)
				}
			}
		}
		if got := len(floorItems(c.n, c.tenants)); got != c.n {
			t.Errorf("floor of %d over %d tenants has %d items", c.n, c.tenants, got)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestWriteReportKeepsWhatIsOutsideTheMarkers(t *testing.T) {
	file := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := WriteReport(file, "first\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	edited := "# Benchmarks\n\nIntro.\n\n" + strings.TrimPrefix(string(b), "# Benchmarks\n\n") + "\n## Analysis\n\nWhy.\n"
	if err := os.WriteFile(file, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteReport(file, "second\n"); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(file)
	want := "# Benchmarks\n\nIntro.\n\n" + markerBegin + "\nsecond\n" + markerEnd + "\n\n## Analysis\n\nWhy.\n"
	if string(b) != want {
		t.Errorf("report:\n%s\nwant:\n%s", b, want)
	}
	if err := os.WriteFile(file, []byte("no markers\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteReport(file, "third\n"); err == nil || !strings.Contains(err.Error(), "markers") {
		t.Errorf("writing over a file without markers: %v, want an error naming the markers", err)
	}
}

func TestTargets(t *testing.T) {
	phases := func(apply, plan float64, requests int) []PhaseResult {
		return []PhaseResult{
			{Phase: PhaseApply, Seconds: []float64{apply}, Requests: []int{requests}},
			{Phase: PhasePlan, Seconds: []float64{plan, plan + 1, plan - 1}, Requests: []int{requests}},
		}
	}
	primary := &Results{N: TargetN, Tenants: TargetTenants, Subjects: []SubjectResult{
		{Name: subjectFloor, Phases: phases(10, 4, 0)},
		{Name: subjectFlags, Phases: phases(16, 5, 30)},
	}, Load: []LoadResult{
		{Target: TargetCeiling, Method: "GET", PerSecond: 1000, Parallelism: 10},
		{Target: TargetSQLite, Method: "GET", PerSecond: 600, P99Millis: 12, Parallelism: 10},
	}}
	primary.Subjects = append(primary.Subjects, SubjectResult{Name: subjectTerraformData, Phases: phases(8, 2, 0)})
	scale := &Results{N: TargetScaleN, Phases: []string{PhaseApply, PhasePlan}, Subjects: []SubjectResult{
		{Name: subjectTerraformData, Phases: []PhaseResult{{Phase: PhasePlan, Seconds: []float64{110}}}},
		{Name: subjectFlags, Workload: WorkloadFlags, Phases: []PhaseResult{
			{Phase: PhaseApply, Seconds: []float64{900}, ProviderPeakBytes: []int64{120 << 20}},
			{Phase: PhasePlan, Seconds: []float64{65}, ProviderPeakBytes: []int64{100 << 20}},
		}},
	}}
	got := map[string]Target{}
	for _, target := range Targets(primary, scale) {
		got[target.Name] = target
	}
	growth := got["plan at N=10000 <= 12x plan at N=1000 (flags)"].Measured
	for _, want := range []string{"tenancy (flags): 13.0x (65.0 s vs 5.00 s)", "terraform_data (Terraform core alone): 55.0x (110.0 s vs 2.00 s)"} {
		if !strings.Contains(growth, want) {
			t.Errorf("plan growth %q lacks %q", growth, want)
		}
	}
	if strings.Contains(growth, subjectFloor) {
		t.Errorf("plan growth %q names the floor, which was not run at N=10000", growth)
	}
	if m := got["provider peak memory at N=10000 <= 150 MiB"].Measured; m != "120 MiB (tenancy (flags), apply)" {
		t.Errorf("peak memory measured %q, want the apply's 120 MiB", m)
	}
	for name, want := range map[string]string{
		"plan of tenancy (flags) <= 1.25x the floor's (N=1000)":                   "yes",
		"apply of tenancy (flags) <= 1.5x the floor's (N=1000)":                   "no",
		"a refresh of 1000 flags over 10 tenants: <= 50 requests":                 "yes",
		"provider peak memory at N=10000 <= 150 MiB":                              "yes",
		"plan at N=10000 <= 12x plan at N=1000 (flags)":                           "no",
		"GET throughput, tenancyd, SQLite: >= 50% of the static-JSON ceiling":     "yes",
		"GET p99, tenancyd, SQLite, 10 clients: < 10 ms":                          "no",
		"GET throughput, tenancyd, PostgreSQL: >= 50% of the static-JSON ceiling": "not measured",
	} {
		if got[name].Met != want {
			t.Errorf("%s: met %q (%s), want %q", name, got[name].Met, got[name].Measured, want)
		}
	}
}

func TestMedianOfRounds(t *testing.T) {
	rs := []LoadResult{
		{Target: TargetSQLite, Method: "GET", Parallelism: 10, Seconds: 10, Requests: 100, Errors: 1, PerSecond: 10, P50Millis: 1, P99Millis: 9},
		{Target: TargetSQLite, Method: "GET", Parallelism: 10, Seconds: 10, Requests: 300, PerSecond: 30, P50Millis: 3, P99Millis: 3},
		{Target: TargetSQLite, Method: "GET", Parallelism: 10, Seconds: 10, Requests: 200, Errors: 2, PerSecond: 20, P50Millis: 2, P99Millis: 5},
	}
	m := medianOfRounds(rs)
	if m.PerSecond != 20 || m.P50Millis != 2 || m.P99Millis != 5 || m.Requests != 600 || m.Errors != 3 || m.Seconds != 30 || len(m.Rounds) != 3 {
		t.Errorf("medianOfRounds = %+v", m)
	}
	if one := medianOfRounds(rs[:1]); one.PerSecond != 10 || one.Rounds != nil {
		t.Errorf("one round = %+v, want it as it is", one)
	}
}

func TestScaleTargetsNotRun(t *testing.T) {
	primary := &Results{N: TargetN, Subjects: []SubjectResult{
		{Name: subjectFlags, Workload: WorkloadFlags, Phases: []PhaseResult{{Phase: PhasePlan, Seconds: []float64{5}}}},
		{Name: subjectTerraformData, Phases: []PhaseResult{{Phase: PhasePlan, Seconds: []float64{2}}}},
	}}
	// Stopped after terraform_data's plan, before the provider's.
	scale := &Results{N: TargetScaleN, Unfinished: true, Subjects: []SubjectResult{
		{Name: subjectTerraformData, Phases: []PhaseResult{{Phase: PhaseApply, Seconds: []float64{900}}, {Phase: PhasePlan, Seconds: []float64{100}}}},
		{Name: subjectFlags, Workload: WorkloadFlags, Phases: []PhaseResult{{Phase: PhaseApply}, {Phase: PhasePlan}}},
	}}
	got := scaleTargets(primary, scale)
	if got[0].Met != "not measured" || got[0].Measured != notRun {
		t.Errorf("peak memory without a provider phase: %+v", got[0])
	}
	want := "tenancy (flags): not run at N=10000; terraform_data (Terraform core alone): 50.0x (100.0 s vs 2.00 s)"
	if got[1].Met != "not measured" || got[1].Measured != want {
		t.Errorf("plan growth = %+v, want measured %q and not measured", got[1], want)
	}
}

func TestReportShowsPhasesNotRun(t *testing.T) {
	r := &Results{N: 20, Tenants: 2, Runs: 1, Unfinished: true, Phases: []string{PhaseApply, PhasePlan}, Subjects: []SubjectResult{
		{Name: subjectTerraformData, Resources: 20, Phases: []PhaseResult{
			{Phase: PhaseApply, Seconds: []float64{3}, CPUSeconds: []float64{2}, TerraformPeakBytes: []int64{50 << 20}, ProviderPeakBytes: []int64{0}},
			{Phase: PhasePlan},
		}},
	}}
	md := Report([]*Results{r}, r)
	for _, want := range []string{
		"| terraform_data | 20 | 3.00 (3.00-3.00) | not run | not run | not run |",
		"| terraform_data | 20 | 2.0 | not run | not run | not run |",
		"| terraform_data | 20 | - / 50 | not run | not run | not run |",
		"stopped before its end",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "0.00 (") || strings.Contains(md, "/ 0.00 |") {
		t.Errorf("report shows a phase not run, or the load after a run that did not end, as zero:\n%s", md)
	}
	if strings.Contains(md, "Requests by route") {
		t.Errorf("report has a table of requests by route for a run without tenancyd:\n%s", md)
	}
}

func TestOptionsCheck(t *testing.T) {
	base := func() Options {
		return Options{N: 10, Tenants: 2, Runs: 1, Database: "sqlite", Terraform: "terraform"}
	}
	o := base()
	if err := o.check(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.Subjects, AllSubjects) || !slices.Equal(o.Phases, Phases) {
		t.Errorf("defaults: subjects %v, phases %v; want all", o.Subjects, o.Phases)
	}
	o = base()
	o.Subjects, o.Phases = []string{WorkloadFlags, SubjectTerraformData}, []string{PhasePlan, PhaseApply}
	if err := o.check(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.Subjects, []string{SubjectTerraformData, WorkloadFlags}) || !slices.Equal(o.Phases, []string{PhaseApply, PhasePlan}) {
		t.Errorf("subjects %v, phases %v; want them in the benchmark's order", o.Subjects, o.Phases)
	}
	if w := o.workloads(); !slices.Equal(w, []string{WorkloadFlags}) {
		t.Errorf("workloads %v, want flags", w)
	}
	for _, c := range []struct {
		runs     int
		subjects []string
		phases   []string
		want     string
	}{
		{1, []string{"flag"}, nil, `subject "flag": use one or more of terraform_data, benchfloor_item, flags, mix`},
		{1, []string{"mix", "mix"}, nil, `subject "mix" is named twice`},
		{1, nil, []string{"refresh"}, `phase "refresh": use one or more of`},
		{1, nil, []string{PhasePlan}, "leave out apply"},
		{3, nil, []string{PhaseApply, PhasePlan}, "3 runs without destroy"},
	} {
		o := base()
		o.Runs, o.Subjects, o.Phases = c.runs, c.subjects, c.phases
		if err := o.check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("runs %d, subjects %v, phases %v: %v, want an error with %q", c.runs, c.subjects, c.phases, err, c.want)
		}
	}
}

func TestCheckResume(t *testing.T) {
	work := t.TempDir()
	prev := &Results{N: 10, Tenants: 2, Runs: 1, Subjects: []SubjectResult{
		{Name: subjectTerraformData, Phases: []PhaseResult{{Phase: PhaseApply, Seconds: []float64{3}}, {Phase: PhasePlan}}},
		{Name: subjectMix, Phases: []PhaseResult{{Phase: PhaseApply, Seconds: []float64{4}}, {Phase: PhasePlan}}},
	}}
	if err := os.MkdirAll(filepath.Join(work, SubjectFloor), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, SubjectFloor, "terraform.tfstate"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		work     string
		n        int
		subjects []string
		want     string
	}{
		{work, 10, []string{SubjectTerraformData}, ""},
		{"", 10, []string{SubjectTerraformData}, "working directory"},
		{work, 20, []string{SubjectTerraformData}, "n 10"},
		// Flags were not measured: they start anew on a tenancyd of their own.
		{work, 10, []string{WorkloadFlags, SubjectTerraformData}, ""},
		{work, 10, []string{WorkloadMix}, "subject mix cannot go on"},
		{work, 10, []string{SubjectFloor}, "apply that was not measured"},
	} {
		o := Options{N: c.n, Tenants: 2, Runs: 1, Database: "sqlite", Terraform: "terraform", WorkDir: c.work, Subjects: c.subjects, Previous: prev}
		err := o.check()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("resume %+v: %v, want %q", c, err, c.want)
		}
	}
}

func TestReportShowsGrowthWithN(t *testing.T) {
	phase := func(name string, secs, cpu float64) PhaseResult {
		return PhaseResult{Phase: name, Seconds: []float64{secs}, CPUSeconds: []float64{cpu}, TerraformPeakBytes: []int64{1 << 20}}
	}
	small := &Results{N: TargetN, Tenants: 10, Runs: 1, Subjects: []SubjectResult{
		{Name: subjectTerraformData, Resources: TargetN, Phases: []PhaseResult{phase(PhaseApply, 80, 40), phase(PhasePlan, 10, 10)}},
	}}
	big := &Results{N: TargetScaleN, Tenants: 10, Runs: 1, Subjects: []SubjectResult{
		{Name: subjectTerraformData, Resources: TargetScaleN, Phases: []PhaseResult{phase(PhaseApply, 4000, 4400), {Phase: PhasePlan}}},
	}}
	md := Report([]*Results{small, big}, big)
	want := "Growth from N=1000 to N=10000 (10x the resources), wall-clock / CPU seconds of Terraform with its plugins:"
	if strings.Count(md, "Growth from") != 1 || !strings.Contains(md, want) {
		t.Errorf("report lacks %q once:\n%s", want, md)
	}
	if row := "| terraform_data | 10000 | 50.0x / 110.0x | not run | not run | not run |"; !strings.Contains(md, row) {
		t.Errorf("report lacks %q:\n%s", row, md)
	}
}
