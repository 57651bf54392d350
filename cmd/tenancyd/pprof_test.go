package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCheckPprofAddr(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:6060": true, "[::1]:6060": true, "localhost:0": true,
		"0.0.0.0:6060": false, ":6060": false, "10.0.0.1:6060": false, "127.0.0.1": false,
	} {
		err := checkPprofAddr(addr)
		if (err == nil) != ok {
			t.Errorf("checkPprofAddr(%q) = %v, want ok=%v", addr, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "127.0.0.1:6060") {
			t.Errorf("checkPprofAddr(%q) = %v, want an example of a loopback address", addr, err)
		}
	}
}

func TestPprofCPUProfileStartStop(t *testing.T) {
	srv := httptest.NewServer(pprofHandler())
	defer srv.Close()
	post := func(path string) (int, string) {
		resp, err := http.Post(srv.URL+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	if code, body := post("/debug/pprof/cpu/stop"); code != http.StatusConflict {
		t.Errorf("stop before start: %d %s, want 409", code, body)
	}
	if code, body := post("/debug/pprof/cpu/start"); code != http.StatusOK {
		t.Fatalf("start: %d %s", code, body)
	}
	if code, body := post("/debug/pprof/cpu/start"); code != http.StatusConflict {
		t.Errorf("second start: %d %s, want 409", code, body)
	}
	code, body := post("/debug/pprof/cpu/stop")
	if code != http.StatusOK || len(body) == 0 {
		t.Errorf("stop: %d, %d bytes; want a profile", code, len(body))
	}
	resp, err := http.Get(srv.URL + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Error("/debug/pprof/cmdline is served; its arguments may hold a database password")
	}
}
