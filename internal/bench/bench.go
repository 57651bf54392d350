// Package bench is the scale benchmark behind `make bench`: it builds the
// tenancy provider, tenancyd and the floor provider (internal/benchfloor),
// starts the real tenancyd on a fresh database, and times `terraform apply`,
// `plan`, `plan -refresh=false` and `destroy` of N resources of the tenancy
// provider next to N `terraform_data` (Terraform core alone) and N
// `benchfloor_item` (a framework provider that does no I/O), in the same
// run. It records the requests tenancyd served in each phase and the peak
// memory of the provider plugins, load-tests tenancyd against a static-JSON
// ceiling, and writes the results as JSON and as BENCHMARKS.md.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Options says what to measure.
type Options struct {
	// N is how many resources each subject has, spread over Tenants.
	N, Tenants int
	// Runs is how many times each subject goes through every phase; the
	// report shows medians.
	Runs int
	// Parallelism is Terraform's -parallelism; 0 keeps Terraform's default (10).
	Parallelism int
	// Subjects to measure, of AllSubjects; none means all of them.
	Subjects []string
	// Phases each run goes through, of Phases; none means all of them. A
	// run starts from an empty state, so every phase needs PhaseApply, and a
	// second run needs the first one's PhaseDestroy.
	Phases []string
	// Previous, when set, are the saved results of a run in the same
	// WorkDir that stopped before its end: its measured phases are kept and
	// not run again, its other subjects are carried over, and the run goes
	// on from there. Only subjects that need no tenancyd can go on (a new
	// tenancyd has new keys), and only after their apply was measured.
	Previous *Results
	// Checkpoint, when set, receives the results so far after every phase
	// of every subject, so that a run stopped halfway keeps what it measured.
	Checkpoint func(*Results) error
	// Database is the engine tenancyd uses for the Terraform runs: sqlite or postgres.
	Database string
	// PostgresURL is a PostgreSQL server on which the benchmark creates (and
	// drops) fresh databases; "" leaves PostgreSQL out of the load test.
	PostgresURL string
	// LoadDuration is how long each load test lasts; 0 skips them.
	LoadDuration    time.Duration
	LoadParallelism int
	// LoadRounds is how many times every load test runs, the targets taking
	// turns; the report shows medians.
	LoadRounds int
	// Terraform is the CLI to run.
	Terraform string
	// Root is the repository to build.
	Root string
	// WorkDir holds the binaries, databases, configurations and logs; ""
	// makes a temporary one, removed at the end unless Keep.
	WorkDir string
	Keep    bool
	// ProfileDir, when set, receives CPU profiles of tenancyd over each
	// phase of the first run of every tenancy subject.
	ProfileDir string
	// Self is this program, which serves the static-JSON ceiling when run
	// as "serve-static".
	Self string
	// Note describes the machine, such as that others were using it.
	Note string
	Log  io.Writer
}

// Results is everything one run of the benchmark measured.
type Results struct {
	N       int `json:"n"`
	Tenants int `json:"tenants"`
	Runs    int `json:"runs"`
	// Phases are those the run went through; the others were left out.
	Phases []string `json:"phases,omitempty"`
	// Unfinished says that the run had not gone through all its phases
	// when these results were saved.
	Unfinished bool `json:"unfinished,omitempty"`
	// Resumed counts the times a stopped run went on (Options.Previous).
	Resumed     int             `json:"resumed,omitempty"`
	Parallelism int             `json:"parallelism"`
	Database    string          `json:"database"`
	Started     time.Time       `json:"started"`
	Seconds     float64         `json:"seconds"`
	Machine     Machine         `json:"machine"`
	Versions    Versions        `json:"versions"`
	Subjects    []SubjectResult `json:"subjects"`
	Load        []LoadResult    `json:"load,omitempty"`
	// LoadRun is set when Load came from a later run of the load test
	// alone (-runs 0) than the Terraform phases: when and on what it ran.
	LoadRun  *LoadRun `json:"load_run,omitempty"`
	Profiles []string `json:"profiles,omitempty"`
}

// LoadRun is when and on what a load test alone ran, when its figures were
// kept with the Terraform phases of an earlier run (WithLoadOf).
type LoadRun struct {
	Started    time.Time `json:"started"`
	Commit     string    `json:"commit"`
	Go         string    `json:"go"`
	LoadBefore float64   `json:"load_before"`
	LoadAfter  float64   `json:"load_after"`
}

// WithLoadOf is r with the load test of loadOnly, a later run of the load
// test alone, in place of its own, saying when and on what that ran: the
// Terraform phases of a scale run take an hour, the load test a minute, so
// a change to tenancyd's hot paths is measured again without them.
func (r *Results) WithLoadOf(loadOnly *Results) *Results {
	out := *r
	out.Load = loadOnly.Load
	out.LoadRun = &LoadRun{
		Started: loadOnly.Started, Commit: loadOnly.Versions.Commit, Go: loadOnly.Versions.Go,
		LoadBefore: loadOnly.Machine.LoadBefore, LoadAfter: loadOnly.Machine.LoadAfter,
	}
	out.Profiles = append(slices.Clone(r.Profiles), loadOnly.Profiles...)
	return &out
}

// Versions of what was measured.
type Versions struct {
	Go        string `json:"go"`
	Terraform string `json:"terraform"`
	Commit    string `json:"commit"`
}

// SubjectResult is one configuration's phases.
type SubjectResult struct {
	Name      string         `json:"name"`
	Workload  string         `json:"workload,omitempty"`
	Resources int            `json:"resources"`
	Kinds     map[string]int `json:"kinds"`
	Phases    []PhaseResult  `json:"phases"`
}

// PhaseResult holds one phase's measurements, one entry per run.
type PhaseResult struct {
	Phase string `json:"phase"`
	// Seconds is the wall-clock time of the Terraform command.
	Seconds []float64 `json:"seconds"`
	// CPUSeconds is the CPU time of Terraform and its provider plugins.
	CPUSeconds []float64 `json:"cpu_seconds"`
	// ServerCPUSeconds is tenancyd's CPU time during the phase.
	ServerCPUSeconds []float64 `json:"server_cpu_seconds,omitempty"`
	// ProviderPeakBytes is the largest provider plugin's peak RSS (VmHWM).
	ProviderPeakBytes []int64 `json:"provider_peak_bytes"`
	// TerraformPeakBytes is Terraform's own peak RSS (VmHWM).
	TerraformPeakBytes []int64 `json:"terraform_peak_bytes"`
	// Requests tenancyd served during the phase.
	Requests []int `json:"requests,omitempty"`
	// RequestsByRoute is the first run's requests by route pattern.
	RequestsByRoute map[string]int `json:"requests_by_route,omitempty"`
}

// Run runs the benchmark.
func Run(ctx context.Context, o Options) (*Results, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, "tenancy-bench: "+format+"\n", args...)
		}
	}
	began := time.Now()
	res := &Results{N: o.N, Tenants: o.Tenants, Runs: o.Runs, Parallelism: o.Parallelism, Database: o.Database,
		Started: began.UTC().Truncate(time.Second), Machine: readMachine()}
	res.Machine.Note = o.Note
	if res.Parallelism == 0 {
		res.Parallelism = 10
	}
	var before float64 // seconds the run took before it was resumed
	if p := o.Previous; p != nil {
		res.Started, res.Machine.LoadBefore, res.Resumed, before = p.Started, p.Machine.LoadBefore, p.Resumed+1, p.Seconds
		if res.Machine.Note == "" {
			res.Machine.Note = p.Machine.Note
		}
	}

	dir := o.WorkDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "tenancy-bench-"); err != nil {
			return nil, err
		}
		if !o.Keep {
			defer func() { _ = os.RemoveAll(dir) }()
		}
	}
	// Terraform runs in each subject's directory, so the paths it is given
	// (its CLI configuration, the providers' directory) must not be relative.
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	logf("working in %s", dir)
	bin := filepath.Join(dir, "bin")
	if err := build(ctx, o.Root, bin); err != nil {
		return nil, err
	}
	res.Versions = versions(ctx, o.Root)
	if p := o.Previous; p != nil && p.Versions.Commit != res.Versions.Commit {
		res.Versions.Commit = p.Versions.Commit + ", resumed at " + res.Versions.Commit
	}
	tf, err := newTerraformCLI(o.Terraform, dir, bin, o.Parallelism)
	if err != nil {
		return nil, err
	}
	res.Versions.Terraform = tf.version(ctx)

	if o.Runs == 0 {
		// The load test alone.
		if res.Load, err = runLoad(ctx, &o, bin, dir, logf); err != nil {
			return nil, err
		}
		res.Machine.LoadAfter = loadAverage()
		res.Seconds = time.Since(began).Seconds()
		return res, nil
	}
	var subjects []subject
	var server *tenancyd
	for _, name := range o.Subjects {
		s := subject{key: name, dir: filepath.Join(dir, name)}
		var config map[string]any
		switch name {
		case SubjectTerraformData:
			s.name, s.kinds = subjectTerraformData, map[string]int{"terraform_data": o.N}
			config = terraformDataConfig(o.N, o.Tenants)
		case SubjectFloor:
			s.name, s.kinds = subjectFloor, map[string]int{"benchfloor_item": o.N}
			config = floorConfig(o.N, o.Tenants)
		case WorkloadFlags:
			s.name, s.kinds, s.tenancy = subjectFlags, map[string]int{"tenancy_feature_flag": o.N}, true
			config = flagsConfig(o.N, o.Tenants)
		case WorkloadMix:
			s.name, s.tenancy = subjectMix, true
			config, s.kinds = mixConfig(o.N, o.Tenants)
		}
		if err := writeConfig(s.dir, config); err != nil {
			return nil, err
		}
		subjects = append(subjects, s)
	}
	if workloads := o.workloads(); len(workloads) > 0 {
		// A resumed run's tenancy subjects start anew (checkResume), on a
		// database of their own: the stopped run's holds its tenants.
		name := "tenancyd"
		if o.Previous != nil {
			name = fmt.Sprintf("tenancyd-resumed-%d", res.Resumed)
		}
		server, err = startOn(ctx, filepath.Join(bin, "tenancyd"), dir, name, o.Database, o.PostgresURL, o.ProfileDir != "")
		if err != nil {
			return nil, err
		}
		defer func() { _ = server.Stop() }()
		if err := setupTenants(ctx, server, o.Tenants, workloads); err != nil {
			return nil, err
		}
	}

	results := make([]SubjectResult, len(subjects))
	for i, s := range subjects {
		results[i] = SubjectResult{Name: s.name, Resources: s.resources(), Kinds: s.kinds}
		if s.tenancy {
			results[i].Workload = s.key
		}
		for _, p := range o.Phases {
			pr := PhaseResult{Phase: p}
			if o.Previous != nil {
				if old := o.Previous.subject(s.name).phase(p); old != nil {
					pr = *old
				}
			}
			results[i].Phases = append(results[i].Phases, pr)
		}
	}
	res.Phases = o.Phases
	if o.Previous != nil {
		res.Phases = nil
		for _, p := range Phases {
			if slices.Contains(o.Phases, p) || slices.Contains(o.Previous.Phases, p) {
				res.Phases = append(res.Phases, p)
			}
		}
		for _, old := range o.Previous.Subjects {
			if !slices.ContainsFunc(results, func(r SubjectResult) bool { return r.Name == old.Name }) {
				results = append(results, old)
			}
		}
	}
	// ordered is results in the report's order of subjects, for saving.
	ordered := func() []SubjectResult {
		out := slices.Clone(results)
		rank := func(name string) int {
			return slices.Index([]string{subjectTerraformData, subjectFloor, subjectFlags, subjectMix}, name)
		}
		slices.SortStableFunc(out, func(a, b SubjectResult) int { return rank(a.Name) - rank(b.Name) })
		return out
	}
	var env []string
	if server != nil {
		env = []string{"TENANCY_ENDPOINT=" + server.URL, "TENANCY_TOKEN=" + server.Token}
	}
	// Each phase goes round the subjects before the next phase starts, and
	// each run starts the round with another subject, so that what else the
	// machine does at a moment weighs on every subject alike: a subject's
	// plan is measured minutes, not a quarter of an hour, from the floor's.
	for run := range o.Runs {
		for j, phase := range o.Phases {
			for k := range subjects {
				i := (k + run) % len(subjects)
				s, pr := subjects[i], &results[i].Phases[j]
				if len(pr.Seconds) > run {
					logf("run %d/%d: %-16s %-20s measured before it was resumed", run+1, o.Runs, s.name, phase)
					continue
				}
				profile := o.ProfileDir != "" && s.tenancy && run == 0
				if err := measure(ctx, tf, server, s, phase, env, pr, profile, &o, res, run); err != nil {
					return nil, err
				}
				logf("run %d/%d: %-16s %-20s %7.2fs", run+1, o.Runs, s.name, phase, pr.Seconds[run])
				if o.Checkpoint != nil {
					res.Subjects, res.Unfinished = ordered(), true
					res.Seconds = before + time.Since(began).Seconds()
					if err := o.Checkpoint(res); err != nil {
						return nil, fmt.Errorf("saving the results so far: %w", err)
					}
				}
			}
		}
	}
	res.Subjects, res.Unfinished = ordered(), false
	if server != nil {
		if err := server.Stop(); err != nil {
			logf("stopping tenancyd: %v", err)
		}
	}

	if o.LoadDuration > 0 {
		if res.Load, err = runLoad(ctx, &o, bin, dir, logf); err != nil {
			return nil, err
		}
	}
	res.Machine.LoadAfter = loadAverage()
	res.Seconds = before + time.Since(began).Seconds()
	return res, nil
}

// checkResume says whether o can go on from o.Previous.
func (o *Options) checkResume() error {
	p := o.Previous
	switch {
	case p == nil:
		return nil
	case o.WorkDir == "":
		return errors.New("resuming needs the working directory (-work) of the run that stopped")
	case p.N != o.N || p.Tenants != o.Tenants || p.Runs != o.Runs:
		return fmt.Errorf("the run to resume had n %d, tenants %d and runs %d; use the same", p.N, p.Tenants, p.Runs)
	}
	for _, key := range o.Subjects {
		name := subjectNames[key]
		apply := p.subject(name).phase(PhaseApply)
		measured := apply != nil && len(apply.Seconds) == o.Runs
		tenancy := key == WorkloadFlags || key == WorkloadMix
		switch {
		case measured && tenancy:
			// Its objects were in the stopped run's tenancyd, whose token
			// is gone with it.
			return fmt.Errorf("subject %s cannot go on from a stopped run after its apply: it needs the tenancyd of that run; "+
				"run it anew in another -results directory", key)
		case measured:
			continue
		}
		state := filepath.Join(o.WorkDir, key, "terraform.tfstate")
		if _, err := os.Stat(state); err == nil {
			return fmt.Errorf("subject %s has a state (%s) from an apply that was not measured to its end; remove it, and %s's resources if any, to run the subject anew",
				key, state, key)
		}
	}
	return nil
}

// subjectNames are the report's names of the subjects' keys.
var subjectNames = map[string]string{
	SubjectTerraformData: subjectTerraformData, SubjectFloor: subjectFloor, WorkloadFlags: subjectFlags, WorkloadMix: subjectMix,
}

// measure runs one phase of one subject and appends what it cost to pr.
func measure(ctx context.Context, tf *terraformCLI, server *tenancyd, s subject, phase string, env []string,
	pr *PhaseResult, profile bool, o *Options, res *Results, run int,
) error {
	var before serverCounters
	var err error
	if s.tenancy {
		if before, err = server.scrape(ctx); err != nil {
			return err
		}
		if profile {
			if err := cpuProfile(ctx, server.PprofURL, "start", ""); err != nil {
				return err
			}
		}
	}
	smp, err := tf.run(ctx, s.dir, phase, env)
	if err != nil {
		return err
	}
	pr.Seconds = append(pr.Seconds, smp.seconds)
	pr.CPUSeconds = append(pr.CPUSeconds, smp.cpuSeconds)
	pr.ProviderPeakBytes = append(pr.ProviderPeakBytes, smp.provider)
	pr.TerraformPeakBytes = append(pr.TerraformPeakBytes, smp.terraform)
	if !s.tenancy {
		return nil
	}
	if profile {
		name := fmt.Sprintf("tenancyd-%s-%s.pprof", strings.Trim(strings.NewReplacer(" ", "-", "(", "", ")", "").Replace(s.name), "-"),
			strings.NewReplacer(" ", "", "=", "-").Replace(phase))
		file := filepath.Join(o.ProfileDir, name)
		if err := cpuProfile(ctx, server.PprofURL, "stop", file); err != nil {
			return err
		}
		res.Profiles = append(res.Profiles, file)
	}
	after, err := server.scrape(ctx)
	if err != nil {
		return err
	}
	byRoute, cpu := after.since(before)
	total := 0
	for _, n := range byRoute {
		total += n
	}
	pr.Requests = append(pr.Requests, total)
	pr.ServerCPUSeconds = append(pr.ServerCPUSeconds, cpu)
	if run == 0 {
		pr.RequestsByRoute = byRoute
	}
	return nil
}

// cpuProfile starts or stops tenancyd's CPU profile (tenancyd serve
// --pprof-listen); stop saves the profile in file.
func cpuProfile(ctx context.Context, base, action, file string) error {
	if base == "" {
		return errors.New("tenancyd serves no profiler")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/debug/pprof/cpu/"+action, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("CPU profile %s: %w", action, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("CPU profile %s: %s: %s", action, resp.Status, b)
	}
	if file == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o750); err != nil {
		return err
	}
	out, err := os.Create(file) //nolint:gosec // Where the caller asked for profiles.
	if err != nil {
		return err
	}
	defer out.Close()
	_, err = io.Copy(out, resp.Body)
	return err
}

func (o *Options) check() error {
	switch {
	case o.N < 1:
		return fmt.Errorf("n is %d; use 1 or more", o.N)
	case o.Tenants < 1 || o.Tenants > o.N:
		return fmt.Errorf("tenants is %d; use 1 to n (%d)", o.Tenants, o.N)
	case o.Runs < 0:
		return fmt.Errorf("runs is %d; use 1 or more (3 or more for medians), or 0 for the load test alone", o.Runs)
	case o.Runs == 0 && o.LoadDuration <= 0:
		return errors.New("runs is 0 and the load test is off: nothing to measure")
	case o.Database != "sqlite" && o.Database != "postgres":
		return fmt.Errorf("database %q: use sqlite or postgres", o.Database)
	case o.Database == "postgres" && o.PostgresURL == "":
		return errors.New("database postgres needs a PostgreSQL URL")
	case o.Terraform == "":
		return errors.New("no Terraform CLI: put terraform on PATH or name it")
	case o.LoadDuration > 0 && o.Self == "":
		return errors.New("the load test needs the path of this program, to serve the static-JSON ceiling")
	}
	var err error
	if o.Subjects, err = pick("subject", o.Subjects, AllSubjects); err != nil {
		return err
	}
	if o.Phases, err = pick("phase", o.Phases, Phases); err != nil {
		return err
	}
	if o.Runs > 0 && !slices.Contains(o.Phases, PhaseApply) {
		return fmt.Errorf("phases %s leave out %s: every run starts from an empty state, so add %s",
			strings.Join(o.Phases, ", "), PhaseApply, PhaseApply)
	}
	if o.Runs > 1 && !slices.Contains(o.Phases, PhaseDestroy) {
		return fmt.Errorf("%d runs without %s: each run's %s starts from the empty state the previous run's %s leaves; add %s or use one run",
			o.Runs, PhaseDestroy, PhaseApply, PhaseDestroy, PhaseDestroy)
	}
	if err := o.checkResume(); err != nil {
		return err
	}
	if o.LoadParallelism < 1 {
		o.LoadParallelism = 10
	}
	if o.LoadRounds < 1 {
		o.LoadRounds = 1
	}
	return nil
}

// pick checks that every name in names is one of allowed, at most once,
// and returns them in allowed's order; none means all of allowed.
func pick(what string, names, allowed []string) ([]string, error) {
	if len(names) == 0 {
		return slices.Clone(allowed), nil
	}
	var out []string
	for i, name := range names {
		switch {
		case !slices.Contains(allowed, name):
			return nil, fmt.Errorf("%s %q: use one or more of %s", what, name, strings.Join(allowed, ", "))
		case slices.Contains(names[:i], name):
			return nil, fmt.Errorf("%s %q is named twice", what, name)
		}
	}
	for _, name := range allowed {
		if slices.Contains(names, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// workloads are the tenancy subjects among o.Subjects.
func (o *Options) workloads() []string {
	var out []string
	for _, s := range o.Subjects {
		if s == WorkloadFlags || s == WorkloadMix {
			out = append(out, s)
		}
	}
	return out
}

// build compiles the three programs the benchmark runs into bin.
func build(ctx context.Context, root, bin string) error {
	for name, pkg := range map[string]string{
		"terraform-provider-tenancy":    ".",
		"terraform-provider-benchfloor": "./cmd/terraform-provider-benchfloor",
		"tenancyd":                      "./cmd/tenancyd",
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, name), pkg) //nolint:gosec // Packages of this repository, by fixed names.
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
		}
	}
	return nil
}

// versions reads the Go toolchain's version and the repository's commit
// (with -dirty when the work tree has changes).
func versions(ctx context.Context, root string) Versions {
	v := Versions{Go: "unknown", Commit: "unknown"}
	if out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output(); err == nil {
		v.Go = strings.TrimSpace(string(out))
	}
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "--short=12", "HEAD")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		v.Commit = strings.TrimSpace(string(out))
		// The report and the results are what a run writes, not what it runs.
		status := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!BENCHMARKS.md", ":!benchmarks")
		status.Dir = root
		if out, err := status.Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
			v.Commit += "-dirty"
		}
	}
	return v
}

// Median of values; 0 for none.
func Median[T int | int64 | float64](values []T) float64 {
	if len(values) == 0 {
		return 0
	}
	s := slices.Clone(values)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return float64(s[n/2])
	}
	return (float64(s[n/2-1]) + float64(s[n/2])) / 2
}
