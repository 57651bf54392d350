package reliability_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

// binDir holds the binaries built for this package's tests.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tenancy-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

var builds sync.Map // package path -> *buildResult

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// binary builds the command at pkg (relative to the repository, such as
// "./cmd/tenancyd") once per test binary and returns its path.
func binary(t *testing.T, pkg, name string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(pkg, &buildResult{})
	b := v.(*buildResult)
	b.once.Do(func() {
		b.path = filepath.Join(binDir, name)
		cmd := exec.Command("go", "build", "-o", b.path, pkg)
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// tenancyd is the real tenancyd binary run as a process of its own, which
// a test can kill and start again on the same address and database.
type tenancyd struct {
	t        *testing.T
	bin      string
	database string
	addr     string
	token    string
	env      []string
	args     []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	logs bytes.Buffer // every run's stderr and stdout
	runs int
}

// startTenancyd runs tenancyd on database (a sqlite:// or postgres:// URL)
// with a platform-admin token of its own, until the test ends.
func startTenancyd(t *testing.T, database string, args ...string) *tenancyd {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	d := &tenancyd{
		t: t, bin: binary(t, "./cmd/tenancyd", "tenancyd"), database: database,
		token: "tny_reliability_" + acctest.RandomSuffix() + acctest.RandomSuffix(),
		args:  args,
	}
	d.env = append(os.Environ(), "TENANCY_BOOTSTRAP_TOKEN="+d.token, "TENANCYD_SECRET_KEY="+base64.StdEncoding.EncodeToString(key))
	d.start()
	t.Cleanup(d.stop)
	return d
}

// URL is where the API listens, the same across restarts.
func (d *tenancyd) URL() string { return "http://" + d.addr }

// start runs the binary and waits until it answers /readyz.
func (d *tenancyd) start() {
	d.t.Helper()
	listen := d.addr
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	addrFile := filepath.Join(d.t.TempDir(), "addr")
	args := append([]string{"serve", "--listen", listen, "--database", d.database, "--provisioning-delay", "0s",
		"--addr-file", addrFile}, d.args...)
	deadline := time.Now().Add(30 * time.Second)
	for {
		cmd := exec.Command(d.bin, args...)
		cmd.Env = d.env
		w := &lockedWriter{mu: &d.mu, w: &d.logs}
		cmd.Stdout, cmd.Stderr = w, w
		if err := cmd.Start(); err != nil {
			d.t.Fatalf("start tenancyd: %v", err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		d.mu.Lock()
		d.cmd, d.done = cmd, done
		d.runs++
		d.mu.Unlock()
		for time.Now().Before(deadline) {
			select {
			case <-done:
				// It exited: most likely the port of the last run is not
				// free yet. Try again.
				time.Sleep(50 * time.Millisecond)
			default:
				if d.addr == "" {
					if b, err := os.ReadFile(addrFile); err == nil && strings.HasSuffix(string(b), "\n") {
						d.addr = strings.TrimSpace(string(b))
					}
				}
				if d.addr != "" && ready(d.URL()) {
					return
				}
				time.Sleep(20 * time.Millisecond)
				continue
			}
			break
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("tenancyd did not become ready within 30s; its output:\n%s", d.output())
		}
	}
}

func ready(url string) bool {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get(url + "/readyz")
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// kill sends SIGKILL and waits for the process to be gone.
func (d *tenancyd) kill() {
	d.mu.Lock()
	cmd, done := d.cmd, d.done
	d.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// stop ends the process gracefully (SIGTERM), or kills it after 15 s.
func (d *tenancyd) stop() {
	d.mu.Lock()
	cmd, done := d.cmd, d.done
	d.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
}

// output is everything every run printed.
func (d *tenancyd) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

// panics counts the Go panics in everything every run printed.
func (d *tenancyd) panics() int64 {
	return int64(strings.Count(d.output(), "panic:"))
}

// client is an API client with the platform-admin token and quick retries.
func (d *tenancyd) client(t *testing.T, retries int) *client.Client {
	t.Helper()
	return apiClient(t, d.URL(), d.token, retries)
}

func apiClient(t *testing.T, url, token string, retries int) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{
		Endpoint: url, Token: token, MaxRetries: retries, RequestTimeout: 10 * time.Second,
		RetryWaitMin: 50 * time.Millisecond, RetryWaitMax: 500 * time.Millisecond, MaxRetryAfter: 2 * time.Second,
		UserAgent: "reliability-test",
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}
