package faultinject

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/rs/zerolog"
)

// Proxy is a faulty network in front of one server.
type Proxy struct {
	// URL is where clients send their requests instead of the server.
	URL string

	dice  *dice
	hs    *http.Server
	tp    *toxiproxy.Proxy
	close sync.Once
}

// New starts a faulty network in front of target (such as
// http://127.0.0.1:8480), drawing faults at rates from a source seeded with
// seed. Close it when done.
func New(target string, seed uint64, rates Rates) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("fault proxy: target %q is not an absolute URL", target)
	}
	for k, r := range rates {
		if r < 0 || r > 1 {
			return nil, fmt.Errorf("fault proxy: rate of %s is %v; use a probability from 0 to 1", k, r)
		}
	}
	d := newDice(seed, rates)

	// The HTTP layer.
	transport := &http.Transport{MaxIdleConnsPerHost: 32, IdleConnTimeout: 30 * time.Second}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host
		},
		Transport: transport,
		ErrorLog:  log.New(io.Discard, "", 0),
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode >= 500 {
				d.mu.Lock()
				d.server5x++
				d.mu.Unlock()
			}
			return nil
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fault proxy: %w", err)
	}
	hs := &http.Server{
		Handler:           &httpFaults{rp: rp, dice: d},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { _ = hs.Serve(ln) }()

	// The connection layer, in front of it.
	registerToxics()
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	tp := toxiproxy.NewProxy(api, "tenancyd", "127.0.0.1:0", ln.Addr().String())
	if err := tp.Start(); err != nil {
		_ = hs.Close()
		return nil, fmt.Errorf("fault proxy: toxiproxy: %w", err)
	}
	p := &Proxy{URL: "http://" + tp.Listen, dice: d, hs: hs, tp: tp}
	toxicsJSON := []string{
		`{"name": "reset", "type": "tenancy_reset", "stream": "upstream", "toxicity": 1}`,
		// Never fires (toxicity 0), but its presence makes toxiproxy close
		// every connection with SO_LINGER 0, so the reset above is a TCP RST
		// rather than an orderly close.
		`{"name": "linger", "type": "reset_peer", "stream": "upstream", "toxicity": 0}`,
		`{"name": "latency", "type": "tenancy_latency", "stream": "downstream", "toxicity": 1}`,
	}
	for _, js := range toxicsJSON {
		w, err := tp.Toxics.AddToxicJson(strings.NewReader(js))
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("fault proxy: toxic %s: %w", js, err)
		}
		if s, ok := w.Toxic.(seeded); ok {
			s.use(d)
		}
	}
	return p, nil
}

// Counts returns the requests and faults so far.
func (p *Proxy) Counts() Counts { return p.dice.counts() }

// Enable turns fault injection on or off; requests still pass and count.
func (p *Proxy) Enable(on bool) { p.dice.enable(on) }

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() {
	p.close.Do(func() {
		p.tp.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.hs.Shutdown(ctx); err != nil {
			_ = p.hs.Close()
		}
	})
}

// httpFaults injects the faults that need to understand HTTP.
type httpFaults struct {
	rp   *httputil.ReverseProxy
	dice *dice
}

const injectedNote = "injected by the fault proxy"

func (h *httpFaults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind, fault := h.dice.request()
	if !fault {
		h.rp.ServeHTTP(w, r)
		return
	}
	if kind == TooManyRequests {
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = fmt.Fprintf(w, `{"error":{"code":"rate_limited","message":"too many requests (%s)"}}`, injectedNote)
		return
	}
	// The others let the server do its work first.
	rec := httptest.NewRecorder()
	h.rp.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if len(body) == 0 && (kind == TruncatedBody || kind == WrongBody) {
		// An answer without a body has nothing to cut or replace: drop it.
		h.dice.recount(kind, DropAfterCommit)
		kind = DropAfterCommit
	}
	switch kind {
	case ErrorAfterCommit:
		status := []int{http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout}[len(r.URL.Path)%4]
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, "%d %s (%s)\n", status, http.StatusText(status), injectedNote)
	case DropAfterCommit:
		hijack(w, func(conn net.Conn, _ *bufio.ReadWriter) {
			if tcp, ok := conn.(*net.TCPConn); ok {
				_ = tcp.SetLinger(0)
			}
		})
	case TruncatedBody:
		hijack(w, func(_ net.Conn, buf *bufio.ReadWriter) {
			header := rec.Header().Clone()
			header.Del("Transfer-Encoding")
			header.Set("Content-Length", strconv.Itoa(len(body)))
			_, _ = fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\n", rec.Code, http.StatusText(rec.Code))
			_ = header.Write(buf)
			_, _ = buf.WriteString("\r\n")
			_, _ = buf.Write(body[:len(body)/2])
			_ = buf.Flush()
		})
	case WrongBody:
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		page := []byte("<html><body><h1>Welcome</h1><p>" + injectedNote + "</p></body></html>\n")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(page)))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(page)
	}
}

// hijack takes the connection over from the HTTP server, lets f write to
// it, and closes it.
func hijack(w http.ResponseWriter, f func(net.Conn, *bufio.ReadWriter)) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // Closes the connection all the same.
	}
	f(conn, buf)
	_ = conn.Close()
}

func (d *dice) recount(from, to Kind) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.faults[from]--
	d.faults[to]++
	if d.faults[from] == 0 {
		delete(d.faults, from)
	}
}

// The connection faults are toxiproxy toxics of our own, registered with
// it, which draw from the proxy's seeded dice rather than toxiproxy's
// unseeded per-connection toxicity, and count what they do.

type seeded interface{ use(*dice) }

var registerOnce sync.Once

func registerToxics() {
	registerOnce.Do(func() {
		toxics.Register("tenancy_reset", new(resetToxic))
		toxics.Register("tenancy_latency", new(latencyToxic))
	})
}

// methods start the first chunk of a request, which is where a reset is
// drawn: once per request, not per chunk.
var methods = [][]byte{[]byte("GET "), []byte("POST "), []byte("PUT "), []byte("PATCH "), []byte("DELETE "), []byte("HEAD ")}

func startsRequest(b []byte) bool {
	for _, m := range methods {
		if bytes.HasPrefix(b, m) {
			return true
		}
	}
	return false
}

// resetToxic closes the connection (with SO_LINGER 0: a reset) instead of
// passing on the start of a request.
type resetToxic struct{ dice *dice }

func (t *resetToxic) use(d *dice) { t.dice = d }

// Pipe passes chunks on until it draws a reset.
func (t *resetToxic) Pipe(stub *toxics.ToxicStub) {
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			if t.dice != nil && startsRequest(c.Data) && t.dice.roll(ResetBeforeRequest) {
				stub.Close()
				return
			}
			stub.Output <- c
		}
	}
}

// latencyToxic delays the start of some answers.
type latencyToxic struct{ dice *dice }

func (t *latencyToxic) use(d *dice) { t.dice = d }

// Pipe passes chunks on, holding back the first chunk of an answer when it
// draws a delay.
func (t *latencyToxic) Pipe(stub *toxics.ToxicStub) {
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			if t.dice != nil && bytes.HasPrefix(c.Data, []byte("HTTP/1.")) && t.dice.roll(Latency) {
				select {
				case <-time.After(time.Duration(t.dice.duration(50, 500)) * time.Millisecond):
				case <-stub.Interrupt:
					stub.Output <- c // Keep the data when interrupted.
					return
				}
			}
			stub.Output <- c
		}
	}
}

var (
	_ toxics.Toxic = (*resetToxic)(nil)
	_ toxics.Toxic = (*latencyToxic)(nil)
)
