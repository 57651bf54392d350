package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

// tenancyd is a tenancyd process the benchmark started: the real binary,
// over its own database.
type tenancyd struct {
	URL   string
	Token string
	// PprofURL is where Go's profiler is served, when asked for.
	PprofURL string
	Client   *client.Client
	cmd      *exec.Cmd
	waited   chan error
	log      string
	// dropDB drops the PostgreSQL database made for this server, if any.
	dropDB func(context.Context) error
}

// startTenancyd starts bin/tenancyd on database (a URL), logging to
// dir/name.log, and waits until it answers /readyz. With pprof, it also
// serves Go's profiler on a loopback port.
func startTenancyd(ctx context.Context, bin, dir, name, database string, pprof bool) (*tenancyd, error) {
	token := "tny_bench_" + randomHex(16)
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	addrFile := filepath.Join(dir, name+".addr")
	logFile := filepath.Join(dir, name+".log")
	_ = os.Remove(addrFile)
	out, err := os.Create(logFile) //nolint:gosec // A file in the benchmark's own directory.
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--listen", "127.0.0.1:0", "--database", database, "--addr-file", addrFile,
		"--provisioning-delay", "0s"}
	var pprofAddr string
	if pprof {
		if pprofAddr, err = freeLoopbackAddr(); err != nil {
			_ = out.Close()
			return nil, err
		}
		args = append(args, "--pprof-listen", pprofAddr)
	}
	cmd := exec.CommandContext(ctx, bin, args...) //nolint:gosec // The binary the benchmark built.
	cmd.Env = append(os.Environ(), "TENANCY_BOOTSTRAP_TOKEN="+token, "TENANCYD_SECRET_KEY="+base64.StdEncoding.EncodeToString(secret))
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	if err := cmd.Start(); err != nil {
		_ = out.Close()
		return nil, fmt.Errorf("start tenancyd: %w", err)
	}
	t := &tenancyd{Token: token, cmd: cmd, waited: make(chan error, 1), log: logFile}
	if pprofAddr != "" {
		t.PprofURL = "http://" + pprofAddr
	}
	go func() {
		t.waited <- cmd.Wait()
		_ = out.Close()
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, err := os.ReadFile(addrFile); err == nil && len(strings.TrimSpace(string(b))) > 0 { //nolint:gosec // The file tenancyd was told to write.
			t.URL = "http://" + strings.TrimSpace(string(b))
			break
		}
		select {
		case err := <-t.waited:
			t.waited <- err
			return nil, fmt.Errorf("tenancyd exited before listening (%w); see %s:\n%s", err, logFile, tail(logFile))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = t.Stop()
			return nil, fmt.Errorf("tenancyd did not listen within a minute; see %s", logFile)
		}
	}
	t.Client, err = client.New(client.Config{Endpoint: t.URL, Token: token, MaxRetries: 3, UserAgent: "tenancy-bench"})
	if err != nil {
		_ = t.Stop()
		return nil, err
	}
	return t, nil
}

// Stop ends tenancyd with SIGTERM and waits for it.
func (t *tenancyd) Stop() error {
	if t.cmd.ProcessState == nil {
		_ = t.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case err := <-t.waited:
		t.waited <- err
	case <-time.After(30 * time.Second):
		_ = t.cmd.Process.Kill()
	}
	if t.dropDB != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return t.dropDB(ctx)
	}
	return nil
}

// freeLoopbackAddr finds a free loopback port. Another process could take
// it before tenancyd does; on a benchmark machine that is unlikely, and
// tenancyd then fails to start with a clear error.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// serverCounters is what /metrics says at one moment.
type serverCounters struct {
	requests   map[string]float64 // by route
	cpuSeconds float64
}

// scrape reads tenancyd_http_requests_total (summed over status codes, by
// route) and process_cpu_seconds_total from /metrics, which is served
// outside the counted routes, so scraping does not count itself.
func (t *tenancyd) scrape(ctx context.Context) (serverCounters, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL+"/metrics", nil)
	if err != nil {
		return serverCounters{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return serverCounters{}, fmt.Errorf("scrape /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return serverCounters{}, fmt.Errorf("scrape /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return serverCounters{}, fmt.Errorf("scrape /metrics: %w", err)
	}
	c := serverCounters{requests: map[string]float64{}}
	if f := families["tenancyd_http_requests_total"]; f != nil {
		for _, m := range f.GetMetric() {
			route := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" {
					route = l.GetValue()
				}
			}
			c.requests[route] += m.GetCounter().GetValue()
		}
	}
	if f := families["process_cpu_seconds_total"]; f != nil && len(f.GetMetric()) > 0 {
		c.cpuSeconds = f.GetMetric()[0].GetCounter().GetValue()
	}
	return c, nil
}

// since is what happened between an earlier scrape and this one.
func (c serverCounters) since(before serverCounters) (requests map[string]int, cpu float64) {
	requests = map[string]int{}
	for route, v := range c.requests {
		if d := int(v - before.requests[route] + 0.5); d > 0 {
			requests[route] = d
		}
	}
	return requests, c.cpuSeconds - before.cpuSeconds
}

// freshPostgres makes a new database on the server base names, so each
// tenancyd starts empty, and returns its URL and how to drop it.
func freshPostgres(ctx context.Context, base string) (string, func(context.Context) error, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, fmt.Errorf("PostgreSQL URL: %w", err)
	}
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	name := "tenancy_bench_" + randomHex(6)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	_ = conn.Close(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u.Path = "/" + name
	drop := func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close(ctx) }()
		_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		return err
	}
	return u.String(), drop, nil
}

// startOn starts tenancyd on a fresh database of the engine named: sqlite
// (a file in dir) or postgres (a new database on pgURL).
func startOn(ctx context.Context, bin, dir, name, engine, pgURL string, pprof bool) (*tenancyd, error) {
	switch engine {
	case "sqlite":
		return startTenancyd(ctx, bin, dir, name, "sqlite://"+filepath.Join(dir, name+".db"), pprof)
	case "postgres":
		if pgURL == "" {
			return nil, errors.New("PostgreSQL needs -postgres URL (make bench passes a throwaway server)")
		}
		db, drop, err := freshPostgres(ctx, pgURL)
		if err != nil {
			return nil, err
		}
		t, err := startTenancyd(ctx, bin, dir, name, db, pprof)
		if err != nil {
			_ = drop(context.WithoutCancel(ctx))
			return nil, err
		}
		t.dropDB = drop
		return t, nil
	}
	return nil, fmt.Errorf("database %q: want sqlite or postgres", engine)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tail is the end of a log file, for errors.
func tail(file string) string {
	f, err := os.Open(file) //nolint:gosec // A log the benchmark wrote.
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	if st.Size() > 4096 {
		_, _ = f.Seek(-4096, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
