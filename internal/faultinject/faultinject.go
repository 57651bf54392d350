// Package faultinject puts a faulty network between a client and tenancyd,
// for tests: Shopify's toxiproxy, run in this process, for faults of the
// connection (a reset before the request reaches the server, latency), in
// front of an httputil.ReverseProxy for faults that need to understand HTTP
// (a 5xx or a dropped connection after the server committed, 429 with
// Retry-After, truncated and wrong bodies). Every fault is drawn from one
// random source with a set seed and rate, and counted by kind.
//
//	client ──> toxiproxy (reset, latency) ──> HTTP fault proxy ──> tenancyd
package faultinject

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
)

// Kind is a kind of fault.
type Kind string

// The kinds of fault injected.
const (
	// ErrorAfterCommit forwards the request, lets the server commit it, and
	// answers 500, 502, 503 or 504 instead of the server's answer.
	ErrorAfterCommit Kind = "5xx_after_commit"
	// DropAfterCommit forwards the request and resets the connection
	// instead of answering, once the server has committed and answered.
	DropAfterCommit Kind = "drop_after_commit"
	// TooManyRequests answers 429 with Retry-After without forwarding.
	TooManyRequests Kind = "429_retry_after"
	// TruncatedBody forwards, then sends the server's status and headers
	// but only part of its body, and closes the connection.
	TruncatedBody Kind = "truncated_body"
	// WrongBody forwards, then answers the server's status with a body that
	// is not the JSON the server sent (an HTML page, as a misbehaving
	// gateway gives).
	WrongBody Kind = "wrong_body"
	// ResetBeforeRequest resets the client's connection (TCP RST) as the
	// request arrives, before it reaches the server (toxiproxy).
	ResetBeforeRequest Kind = "reset_before_request"
	// Latency delays an answer by 50 to 500 ms (toxiproxy).
	Latency Kind = "latency"
)

// Rates are the probabilities of each kind of fault. HTTP kinds are drawn
// per request that reaches the HTTP proxy (their sum must not exceed 1);
// ResetBeforeRequest per request that starts on a connection, Latency per
// answer.
type Rates map[Kind]float64

// DefaultRates fault about three requests in ten: 21% at the HTTP proxy,
// 4% reset before they arrive, and 5% of answers delayed on top.
func DefaultRates() Rates {
	return Rates{
		ErrorAfterCommit:   0.05,
		DropAfterCommit:    0.04,
		TooManyRequests:    0.04,
		TruncatedBody:      0.04,
		WrongBody:          0.04,
		ResetBeforeRequest: 0.04,
		Latency:            0.05,
	}
}

// httpKinds are the kinds the HTTP proxy draws, in a fixed order so that
// one seed gives one sequence.
var httpKinds = []Kind{ErrorAfterCommit, DropAfterCommit, TooManyRequests, TruncatedBody, WrongBody}

// Counts says how many requests passed and how many faults of each kind
// were injected.
type Counts struct {
	// Requests is every request the client sent: those that reached the
	// HTTP proxy and those reset before they did.
	Requests int64
	Faults   map[Kind]int64
	// ServerErrors counts the 5xx answers the server itself gave (not the
	// injected ones): a server that holds up gives none.
	ServerErrors int64
}

// Faulted is the number of requests that failed by a fault: every kind but
// Latency, which only slows a request down.
func (c Counts) Faulted() int64 {
	var n int64
	for k, v := range c.Faults {
		if k != Latency {
			n += v
		}
	}
	return n
}

// Rate is Faulted as a fraction of Requests.
func (c Counts) Rate() float64 {
	if c.Requests == 0 {
		return 0
	}
	return float64(c.Faulted()) / float64(c.Requests)
}

func (c Counts) String() string {
	s := fmt.Sprintf("%d requests, %d faulted (%.1f%%), %d 5xx from the server:", c.Requests, c.Faulted(), 100*c.Rate(), c.ServerErrors)
	for _, k := range slices.Sorted(maps.Keys(c.Faults)) {
		s += fmt.Sprintf(" %s=%d", k, c.Faults[k])
	}
	return s
}

// dice draws faults from one seeded source and counts them.
type dice struct {
	mu       sync.Mutex
	rng      *rand.Rand
	rates    Rates
	requests int64
	faults   map[Kind]int64
	enabled  bool
	server5x int64
}

func newDice(seed uint64, rates Rates) *dice {
	return &dice{
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), //nolint:gosec // Faults need a reproducible, not a secret, sequence.
		rates:   maps.Clone(rates),
		faults:  map[Kind]int64{},
		enabled: true,
	}
}

// roll reports, for one event, whether a fault of kind k happens, and
// counts it.
func (d *dice) roll(k Kind) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.enabled || d.rng.Float64() >= d.rates[k] {
		return false
	}
	d.faults[k]++
	if k == ResetBeforeRequest {
		d.requests++ // It never reaches the HTTP proxy, which counts the others.
	}
	return true
}

// request counts one request at the HTTP proxy and draws its fault, if any.
func (d *dice) request() (Kind, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.requests++
	if !d.enabled {
		return "", false
	}
	x := d.rng.Float64()
	for _, k := range httpKinds {
		if x < d.rates[k] {
			d.faults[k]++
			return k, true
		}
		x -= d.rates[k]
	}
	return "", false
}

// duration draws a duration in [lo, hi).
func (d *dice) duration(lo, hi int64) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return lo + d.rng.Int64N(hi-lo)
}

func (d *dice) counts() Counts {
	d.mu.Lock()
	defer d.mu.Unlock()
	return Counts{Requests: d.requests, Faults: maps.Clone(d.faults), ServerErrors: d.server5x}
}

func (d *dice) enable(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.enabled = on
}
