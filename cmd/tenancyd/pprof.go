package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	runtimepprof "runtime/pprof"
	"sync"
	"time"
)

// checkPprofAddr admits only loopback addresses: the profiler shows the
// process's internals and needs no token, so it is never served to the network.
func checkPprofAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--pprof-listen %q: %w; use a loopback address such as 127.0.0.1:6060", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--pprof-listen %q: the profiler is served on loopback only; use an address such as 127.0.0.1:6060", addr)
	}
	return nil
}

// pprofHandler serves Go's profiles under /debug/pprof/ (without cmdline,
// whose arguments may hold a database password) and a CPU profile that the
// caller starts and stops, so that it covers exactly one piece of work:
// POST /debug/pprof/cpu/start, then POST /debug/pprof/cpu/stop answers the
// profile. The scale benchmark profiles each Terraform phase this way.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	var mu sync.Mutex
	var cpu *bytes.Buffer
	mux.HandleFunc("POST /debug/pprof/cpu/start", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if cpu != nil {
			http.Error(w, "a CPU profile is already running; stop it first", http.StatusConflict)
			return
		}
		buf := &bytes.Buffer{}
		if err := runtimepprof.StartCPUProfile(buf); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		cpu = buf
	})
	mux.HandleFunc("POST /debug/pprof/cpu/stop", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if cpu == nil {
			http.Error(w, "no CPU profile is running; start one first", http.StatusConflict)
			return
		}
		runtimepprof.StopCPUProfile()
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(cpu.Bytes())
		cpu = nil
	})
	return mux
}

// servePprof serves the profiler on ln until it is closed.
func servePprof(ln net.Listener) error {
	hs := &http.Server{Handler: pprofHandler(), ReadHeaderTimeout: 10 * time.Second}
	if err := hs.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
