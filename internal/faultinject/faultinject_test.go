package faultinject

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// TestProxyInjectsEveryKind sends requests through a proxy that faults all
// of them, one kind at a time, and checks what the client sees and what
// the server did.
func TestProxyInjectsEveryKind(t *testing.T) {
	var served atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"slug":"acme","display_name":"Acme Corporation"}`)
	}))
	t.Cleanup(backend.Close)

	cases := []struct {
		kind Kind
		// check inspects the answer or the transport error.
		check func(t *testing.T, resp *http.Response, body []byte, err error)
		// reaches says whether the server handles the request.
		reaches bool
	}{
		{ErrorAfterCommit, func(t *testing.T, resp *http.Response, _ []byte, err error) {
			if err != nil || resp.StatusCode < 500 {
				t.Errorf("got %v, %v; want a 5xx", resp, err)
			}
		}, true},
		{DropAfterCommit, func(t *testing.T, _ *http.Response, _ []byte, err error) {
			if err == nil {
				t.Error("the request succeeded; want the connection dropped")
			}
		}, true},
		{TooManyRequests, func(t *testing.T, resp *http.Response, _ []byte, err error) {
			if err != nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
				t.Errorf("got %v, %v; want 429 with Retry-After", resp, err)
			}
		}, false},
		{TruncatedBody, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err == nil && resp.StatusCode == http.StatusOK && strings.HasSuffix(string(body), "}") {
				t.Errorf("got the whole body %q; want it cut short", body)
			}
		}, true},
		{WrongBody, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "<html>") {
				t.Errorf("got %v %q, %v; want 200 with an HTML body", resp, body, err)
			}
		}, true},
		{ResetBeforeRequest, func(t *testing.T, _ *http.Response, _ []byte, err error) {
			if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("got %v; want the connection reset", err)
			}
		}, false},
	}
	for _, tc := range cases {
		t.Run(string(tc.kind), func(t *testing.T) {
			p, err := New(backend.URL, 1, Rates{tc.kind: 1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Close)
			before := served.Load()
			// A fresh connection each time: a reused one would be retried
			// by the transport itself.
			c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := c.Get(p.URL + "/v1/tenants/acme")
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				_ = resp.Body.Close()
			}
			tc.check(t, resp, body, err)
			if got := served.Load() - before; (got == 1) != tc.reaches {
				t.Errorf("the server handled %d requests; want it to handle it: %v", got, tc.reaches)
			}
			counts := p.Counts()
			if counts.Requests != 1 || counts.Faults[tc.kind] != 1 || counts.Faulted() != 1 {
				t.Errorf("counts %v; want one request, faulted by %s", counts, tc.kind)
			}
		})
	}
}

// TestProxyRates sends requests through the default rates and expects the
// faults near them, the same for the same seed.
func TestProxyRates(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(backend.Close)
	run := func() Counts {
		p, err := New(backend.URL, 42, DefaultRates())
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		c := &http.Client{Transport: &http.Transport{}}
		for range 400 {
			resp, err := c.Get(p.URL + "/")
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		}
		return p.Counts()
	}
	a := run()
	if a.Rate() < 0.18 || a.Rate() > 0.35 {
		t.Errorf("%v; want about 25%% faulted", a)
	}
	for _, k := range []Kind{ErrorAfterCommit, DropAfterCommit, TooManyRequests, TruncatedBody, WrongBody, ResetBeforeRequest, Latency} {
		if a.Faults[k] == 0 {
			t.Errorf("%v: no %s", a, k)
		}
	}
	t.Log(a)
}

// TestProxyCountsServerErrors tells the server's own 5xx from injected ones.
func TestProxyCountsServerErrors(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/broken" {
			http.Error(w, "broken", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(backend.Close)
	p, err := New(backend.URL, 1, Rates{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	for _, path := range []string{"/", "/broken", "/"} {
		resp, err := http.Get(p.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	if c := p.Counts(); c.ServerErrors != 1 || c.Requests != 3 || c.Faulted() != 0 {
		t.Errorf("counts %v; want 3 requests, none faulted, one 5xx from the server", c)
	}
}
