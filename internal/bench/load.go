package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// LoadResult is one load test: parallel clients calling one target as fast
// as it answers, over loopback.
type LoadResult struct {
	Target      string  `json:"target"`
	Method      string  `json:"method"`
	Parallelism int     `json:"parallelism"`
	Seconds     float64 `json:"seconds"`
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	PerSecond   float64 `json:"per_second"`
	P50Millis   float64 `json:"p50_ms"`
	P99Millis   float64 `json:"p99_ms"`
	// Rounds holds each round's figures when there were several; the
	// figures above are then their medians (Requests and Errors their sums).
	Rounds []LoadResult `json:"rounds,omitempty"`
}

// Load test targets, as the report names them.
const (
	TargetCeiling  = "static JSON (net/http)"
	TargetSQLite   = "tenancyd, SQLite"
	TargetPostgres = "tenancyd, PostgreSQL"
	loadFlags      = 100
)

// ServeStatic answers every request with body as JSON, after reading the
// request's own body: the fastest a net/http JSON API can be on this
// machine, the load test's ceiling. It writes the address it listens on to
// addrFile and serves until ctx ends.
func ServeStatic(ctx context.Context, addrFile string, body []byte) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if err := os.WriteFile(addrFile, []byte(ln.Addr().String()+"\n"), 0o600); err != nil {
		return err
	}
	etag := `"` + strconv.Itoa(len(body)) + `"`
	hs := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", etag)
		_, _ = w.Write(body)
	})}
	go func() {
		<-ctx.Done()
		_ = hs.Close()
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// loadTarget is a server under load and the requests it gets.
type loadTarget struct {
	name  string
	base  string
	token string
	// engine is tenancyd's database, "" for the ceiling; pprof is where
	// tenancyd serves its profiler, when asked to.
	engine, pprof string
}

// runLoad compares tenancyd's GET and PATCH of a feature flag, on SQLite and
// (with pgURL) PostgreSQL, with a static-JSON server answering the same
// bytes, in one run: each test keeps parallelism clients busy for d.
func runLoad(ctx context.Context, o *Options, bin, dir string, logf func(string, ...any)) ([]LoadResult, error) {
	engines := []string{"sqlite"}
	if o.PostgresURL != "" {
		engines = append(engines, "postgres")
	}
	var targets []loadTarget
	var sample []byte
	for _, engine := range engines {
		name := "load-" + engine
		t, err := startOn(ctx, filepath.Join(bin, "tenancyd"), dir, name, engine, o.PostgresURL, o.ProfileDir != "")
		if err != nil {
			return nil, err
		}
		defer func() { _ = t.Stop() }()
		if sample, err = setupLoad(ctx, t); err != nil {
			return nil, err
		}
		targets = append(targets, loadTarget{name: map[string]string{"sqlite": TargetSQLite, "postgres": TargetPostgres}[engine],
			base: t.URL, token: t.Token, engine: engine, pprof: t.PprofURL})
	}

	bodyFile := filepath.Join(dir, "static.json")
	if err := os.WriteFile(bodyFile, sample, 0o600); err != nil {
		return nil, err
	}
	addrFile := filepath.Join(dir, "static.addr")
	static := exec.CommandContext(ctx, o.Self, "serve-static", "-body", bodyFile, "-addr-file", addrFile) //nolint:gosec // This very program.
	static.Stderr = os.Stderr
	if err := static.Start(); err != nil {
		return nil, fmt.Errorf("start the static JSON server: %w", err)
	}
	defer func() {
		_ = static.Process.Kill()
		_ = static.Wait()
	}()
	addr, err := waitForFile(addrFile, 30*time.Second)
	if err != nil {
		return nil, fmt.Errorf("static JSON server: %w", err)
	}
	targets = append([]loadTarget{{name: TargetCeiling, base: "http://" + addr}}, targets...)

	// The targets take turns, round after round, so that whatever else the
	// machine does weighs on each alike; each round starts with another.
	var out []LoadResult
	for _, method := range []string{http.MethodGet, http.MethodPatch} {
		rounds := make([][]LoadResult, len(targets))
		for round := range o.LoadRounds {
			for k := range targets {
				i := (k + round) % len(targets)
				t := targets[i]
				logf("load: round %d/%d, %s %s, %d clients for %s", round+1, o.LoadRounds, method, t.name, o.LoadParallelism, o.LoadDuration)
				profile := t.pprof != "" && round == 0
				if profile {
					if err := cpuProfile(ctx, t.pprof, "start", ""); err != nil {
						return nil, err
					}
				}
				r, err := loadTest(ctx, t, method, o.LoadParallelism, o.LoadDuration)
				if err != nil {
					return nil, err
				}
				if profile {
					file := filepath.Join(o.ProfileDir, fmt.Sprintf("tenancyd-load-%s-%s.pprof", t.engine, strings.ToLower(method)))
					if err := cpuProfile(ctx, t.pprof, "stop", file); err != nil {
						return nil, err
					}
				}
				rounds[i] = append(rounds[i], r)
			}
		}
		for _, rs := range rounds {
			out = append(out, medianOfRounds(rs))
		}
	}
	return out, nil
}

// medianOfRounds sums up the rounds of one load test: medians of the rates
// and latencies, sums of the counts.
func medianOfRounds(rs []LoadResult) LoadResult {
	if len(rs) == 1 {
		return rs[0]
	}
	m := rs[0]
	m.Rounds = rs
	m.Requests, m.Errors, m.Seconds = 0, 0, 0
	var perSecond, p50, p99 []float64
	for _, r := range rs {
		m.Requests += r.Requests
		m.Errors += r.Errors
		m.Seconds += r.Seconds
		perSecond, p50, p99 = append(perSecond, r.PerSecond), append(p50, r.P50Millis), append(p99, r.P99Millis)
	}
	m.PerSecond, m.P50Millis, m.P99Millis = Median(perSecond), Median(p50), Median(p99)
	return m
}

// setupLoad gives a fresh tenancyd the tenant "load" with a staging
// environment and loadFlags flags, and returns one flag's GET answer.
func setupLoad(ctx context.Context, t *tenancyd) ([]byte, error) {
	off := false
	if _, err := t.Client.CreateTenant(ctx, api.TenantSpec{Slug: "load", DisplayName: "Load", Region: api.DefaultRegions[0], DeletionProtection: &off}); err != nil {
		return nil, fmt.Errorf("load setup: %w", err)
	}
	if _, err := t.Client.CreateEnvironment(ctx, "load", api.EnvironmentSpec{Name: "staging", Type: api.EnvStaging}); err != nil {
		return nil, fmt.Errorf("load setup: %w", err)
	}
	for i := range loadFlags {
		_, err := t.Client.CreateFeatureFlag(ctx, "load", api.FeatureFlagSpec{
			Key: loadFlagKey(i), Description: "Load flag",
			Environments: map[string]api.FlagEnvironment{"staging": {Enabled: true, RolloutPercentage: 50}},
		})
		if err != nil {
			return nil, fmt.Errorf("load setup: %w", err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL+"/v1/tenants/load/feature-flags/"+loadFlagKey(0), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+t.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func loadFlagKey(i int) string { return fmt.Sprintf("flag-%03d", i) }

// loadTest keeps parallelism clients calling t for d, after a warm-up of
// d/5 that is not counted. GETs read the flags in turn; PATCHes change one
// flag's description each, as the provider does, with an Idempotency-Key.
func loadTest(ctx context.Context, t loadTarget, method string, parallelism int, d time.Duration) (LoadResult, error) {
	transport := &http.Transport{MaxIdleConns: parallelism * 2, MaxIdleConnsPerHost: parallelism * 2, DisableCompression: true}
	defer transport.CloseIdleConnections()
	hc := &http.Client{Transport: transport, Timeout: 30 * time.Second}

	var mu sync.Mutex
	var latencies []time.Duration
	errs := 0
	var firstErr error
	warm := time.Now().Add(d / 5)
	end := warm.Add(d)
	var wg sync.WaitGroup
	for w := range parallelism {
		wg.Go(func() {
			var mine []time.Duration
			myErrs := 0
			var myErr error
			for i := 0; ; i++ {
				now := time.Now()
				if now.After(end) || ctx.Err() != nil {
					break
				}
				key := loadFlagKey((w*7 + i) % loadFlags)
				var body io.Reader
				if method == http.MethodPatch {
					body = strings.NewReader(fmt.Sprintf(`{"description":"load %d-%d"}`, w, i))
				}
				req, err := http.NewRequestWithContext(ctx, method, t.base+"/v1/tenants/load/feature-flags/"+key, body)
				if err != nil {
					return
				}
				req.Header.Set("Accept", "application/json")
				if t.token != "" {
					req.Header.Set("Authorization", "Bearer "+t.token)
				}
				if method == http.MethodPatch {
					req.Header.Set("Content-Type", "application/merge-patch+json")
					req.Header.Set(api.HeaderIdempotencyKey, randomHex(16))
				}
				start := time.Now()
				resp, err := hc.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("%s %s: %s", method, req.URL.Path, resp.Status)
					}
				}
				elapsed := time.Since(start)
				if start.Before(warm) {
					continue
				}
				if err != nil {
					myErrs++
					if myErr == nil {
						myErr = err
					}
					continue
				}
				mine = append(mine, elapsed)
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			errs += myErrs
			if firstErr == nil {
				firstErr = myErr
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return LoadResult{}, ctx.Err()
	}
	r := LoadResult{Target: t.name, Method: method, Parallelism: parallelism, Seconds: d.Seconds(), Requests: len(latencies), Errors: errs}
	if len(latencies) == 0 {
		return r, fmt.Errorf("load test of %s %s: no request succeeded: %w", method, t.name, firstErr)
	}
	if errs > len(latencies)/100 {
		return r, fmt.Errorf("load test of %s %s: %d of %d requests failed, the first: %w", method, t.name, errs, errs+len(latencies), firstErr)
	}
	slices.Sort(latencies)
	r.PerSecond = float64(len(latencies)) / d.Seconds()
	r.P50Millis = percentile(latencies, 0.50)
	r.P99Millis = percentile(latencies, 0.99)
	return r, nil
}

// percentile of sorted latencies, in milliseconds (nearest rank).
func percentile(sorted []time.Duration, p float64) float64 {
	i := int(float64(len(sorted))*p+0.5) - 1
	i = min(max(i, 0), len(sorted)-1)
	return float64(sorted[i].Microseconds()) / 1000
}

func waitForFile(file string, limit time.Duration) (string, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(file); err == nil && len(bytes.TrimSpace(b)) > 0 { //nolint:gosec // A file the benchmark asked a child to write.
			return string(bytes.TrimSpace(b)), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", fmt.Errorf("%s was not written within %s", file, limit)
}
