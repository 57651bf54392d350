package acctest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"testing"
)

// Proxy is an HTTP reverse proxy in front of a Server, for tests that put a
// misbehaving proxy (or an attacker) between the provider and tenancyd. Its
// hooks may be set and cleared while it runs; with none it passes
// everything through unchanged.
type Proxy struct {
	URL    string
	server *Server

	mu      sync.Mutex
	before  func(*http.Request)
	rewrite func(*http.Request, []byte) []byte
}

// Proxy starts a reverse proxy in front of s until the test ends.
func (s *Server) Proxy(t testing.TB) *Proxy {
	t.Helper()
	target, err := url.Parse(s.URL)
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &Proxy{server: s}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = p.modifyResponse
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		before := p.before
		p.mu.Unlock()
		if before != nil {
			before(r)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	p.URL = hs.URL
	return p
}

// Before runs fn on every request before it is passed on; nil stops it.
func (p *Proxy) Before(fn func(*http.Request)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.before = fn
}

// Rewrite replaces the body of every answer with what fn returns for the
// request and the body tenancyd sent; nil stops it.
func (p *Proxy) Rewrite(fn func(r *http.Request, body []byte) []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rewrite = fn
}

func (p *Proxy) modifyResponse(resp *http.Response) error {
	p.mu.Lock()
	rewrite := p.rewrite
	p.mu.Unlock()
	if rewrite == nil {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return err
	}
	body = rewrite(resp.Request, body)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// ProviderConfig is a provider block that reaches tenancyd through the proxy.
func (p *Proxy) ProviderConfig() string {
	return fmt.Sprintf(`
provider "tenancy" {
  endpoint    = %q
  token       = %q
  max_retries = 2
}
`, p.URL, p.server.Token)
}

// Config is the proxy's provider block followed by the given configuration.
func (p *Proxy) Config(hcl string) string { return p.ProviderConfig() + hcl }
