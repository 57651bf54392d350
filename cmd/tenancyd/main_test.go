package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const testBootstrapToken = "tny_cmd_test_bootstrap_0123456789"

// serveForTest runs `tenancyd serve` with args on a fresh SQLite file until
// the test ends, and returns the address it listens on.
func serveForTest(t *testing.T, args ...string) string {
	t.Helper()
	t.Setenv("TENANCY_BOOTSTRAP_TOKEN", testBootstrapToken)
	dir := t.TempDir()
	addrFile := filepath.Join(dir, "addr")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0", "--database", "sqlite://" + filepath.Join(dir, "t.db"),
			"--addr-file", addrFile, "--provisioning-delay", "0s", "--log-level", "error"}, args...), &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, stderr.String())
		}
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b))
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v\n%s", err, stderr.String())
		default:
		}
	}
	t.Fatal("tenancyd did not start listening")
	return ""
}

// trickle opens a connection, writes head at once and then one byte of
// rest every interval, until the server closes the connection or stop is
// closed; it reports how long the server kept the connection.
func trickle(addr, head, rest string, interval time.Duration, stop <-chan struct{}) (time.Duration, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	start := time.Now()
	if _, err := conn.Write([]byte(head)); err != nil {
		return time.Since(start), nil
	}
	closed := make(chan struct{})
	go func() {
		// Whatever the server answers, the connection ends when it closes it.
		_, _ = io.Copy(io.Discard, conn)
		close(closed)
	}()
	for i := 0; ; i++ {
		select {
		case <-closed:
			return time.Since(start), nil
		case <-stop:
			return time.Since(start), errors.New("still open when the test ended")
		case <-time.After(interval):
			if _, err := conn.Write([]byte{rest[i%len(rest)]}); err != nil {
				<-closed
				return time.Since(start), nil
			}
		}
	}
}

// TestSlowClientsDoNotStarveHealthz fills a tenancyd capped at 4
// connections with 20 clients that trickle their headers or their body,
// one byte at a time, with and without a token: every one is cut off at
// its deadline (a body trickled with a token was read forever before), so
// /healthz is answered behind them, and the process never holds more than
// 4 of their connections.
func TestSlowClientsDoNotStarveHealthz(t *testing.T) {
	const readTimeout = time.Second
	addr := serveForTest(t, "--max-connections", "4", "--read-header-timeout", readTimeout.String(), "--read-timeout", readTimeout.String())
	stop := make(chan struct{})
	var wg sync.WaitGroup
	held := make(chan time.Duration, 32)
	slow := func(n int, head, rest string) {
		for range n {
			wg.Go(func() {
				d, err := trickle(addr, head, rest, 100*time.Millisecond, stop)
				if err != nil {
					t.Errorf("a trickling client: %v", err)
				}
				held <- d
			})
		}
	}
	body := `{"slug":"slow","display_name":"Slow","region":"us-east"}` + strings.Repeat(" ", 1000)
	withBody := func(token string) string {
		auth := ""
		if token != "" {
			auth = "Authorization: Bearer " + token + "\r\n"
		}
		return "POST /v1/tenants HTTP/1.1\r\nHost: tenancyd\r\n" + auth + "Content-Type: application/json\r\n" +
			fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body))
	}
	// The server runs in this process: its file descriptors are ours. Each
	// client holds one; each connection the server accepted, one more.
	baseline := openFiles(t)
	// Headers that never end, and bodies that never end, with a token (the
	// handler reads them) and without (it answers 401 at once).
	slow(10, "GET /healthz HTTP/1.1\r\nHost: tenancyd\r\n", "X-Slow: still coming\r\n")
	slow(6, withBody(testBootstrapToken), body)
	slow(4, withBody(""), body)
	peak := 0
	for range 5 {
		time.Sleep(100 * time.Millisecond)
		peak = max(peak, openFiles(t)-baseline)
	}
	if peak > 20+4+4 {
		t.Errorf("%d more files open with 20 clients connected; the cap of 4 connections allows at most 20+4 (and a few for the database)", peak)
	}

	start := time.Now()
	hc := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("/healthz under slow clients: %v after %v", err, time.Since(start))
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %s", resp.Status)
	}
	t.Logf("/healthz answered after %v behind 20 trickling clients on 4 connections", time.Since(start).Round(time.Millisecond))
	if took := time.Since(start); took > 10*readTimeout {
		t.Errorf("/healthz took %v", took)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		close(stop)
		wg.Wait()
	}
	close(held)
	// Each waited for a slot, then held it for at most its deadline: 20
	// clients on 4 connections are all cut off within 5 deadlines or so.
	var longest time.Duration
	for d := range held {
		longest = max(longest, d)
	}
	if longest > 8*readTimeout {
		t.Errorf("a trickling client kept its connection for %v; 20 clients on 4 connections with a %v deadline should be done in about %v",
			longest, readTimeout, 5*readTimeout)
	}
	t.Logf("the last trickling client was cut off after %v", longest.Round(time.Millisecond))
}

// openFiles counts this process's open file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files here: %v", err)
	}
	return len(fds)
}

// TestUnreadBodyIsNotDrained sends a large body slowly without a token:
// the 401 comes at once with Connection: close, and the connection is
// closed, instead of net/http reading the body first at the client's pace.
func TestUnreadBodyIsNotDrained(t *testing.T) {
	addr := serveForTest(t) // The default deadlines: 30s to read a request.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("POST /v1/tenants HTTP/1.1\r\nHost: tenancyd\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n{\"slug\":")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer while the body is unsent: %v after %v", err, time.Since(start))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close || time.Since(start) > 2*time.Second {
		t.Errorf("answer %s (close %v) after %v; want 401 with Connection: close at once", resp.Status, resp.Close, time.Since(start))
	}
}

// TestServeHelp checks that asking for serve's help succeeds (exit status
// 0) and prints every flag on stdout, while a wrong flag still fails.
func TestServeHelp(t *testing.T) {
	for _, flag := range []string{"--help", "-help", "-h"} {
		var stdout, stderr bytes.Buffer
		if err := run(t.Context(), []string{"serve", flag}, &stdout, &stderr); err != nil {
			t.Errorf("tenancyd serve %s: %v; want success", flag, err)
		}
		for _, want := range []string{"Usage: tenancyd serve", "-listen", "-database", "-regions", "-provisioning-delay"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("tenancyd serve %s: stdout lacks %q:\n%s", flag, want, stdout.String())
			}
		}
	}
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"serve", "--no-such-flag"}, &stdout, &stderr); err == nil {
		t.Error("tenancyd serve --no-such-flag succeeded; want an error")
	}
	if !strings.Contains(stderr.String(), "-listen") {
		t.Errorf("a wrong flag does not show the flags on stderr:\n%s", stderr.String())
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"version"}} {
		if err := run(t.Context(), args, &stdout, &stderr); err != nil {
			t.Errorf("tenancyd %v: %v", args, err)
		}
	}
}
