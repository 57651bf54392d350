// Package reliability holds what the reliability tests share: whether the
// long versions run, and the figures each test reports. The tests themselves
// (faults, crashes, replicas, secrets) live beside it; `make reliability`
// runs their long versions and renders RELIABILITY.md from the figures.
package reliability

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// Environment variables the reliability tests read.
const (
	// EnvMode set to "long" runs the long versions (`make reliability`).
	EnvMode = "TENANCY_RELIABILITY"
	// EnvFigures names a file each test appends one JSON line of figures to.
	EnvFigures = "TENANCY_RELIABILITY_FIGURES"
)

// Long reports whether the long versions run.
func Long() bool { return os.Getenv(EnvMode) == "long" }

// Pick returns short in a plain test run and long under `make reliability`.
func Pick[T any](short, long T) T {
	if Long() {
		return long
	}
	return short
}

// Figure is one measured quantity of a test, such as "duplicates: 0".
type Figure struct {
	Name  string `json:"name"`
	Value int64  `json:"value"`
	// Want says what the test requires of the value, such as "= 0" or ">= 20",
	// or is empty for a figure that is only reported.
	Want string `json:"want,omitempty"`
}

// Report is what one test tried and what it counted.
type Report struct {
	Test     string   `json:"test"`
	Area     string   `json:"area"`
	Tried    string   `json:"tried"`
	Mode     string   `json:"mode"`
	Seconds  float64  `json:"seconds"`
	Passed   bool     `json:"passed"`
	Figures  []Figure `json:"figures"`
	Recorded string   `json:"recorded"`
}

// Recorder collects one test's figures and writes them when the test ends,
// with whether it passed.
type Recorder struct {
	t       testing.TB
	start   time.Time
	mu      sync.Mutex
	report  Report
	written bool
}

// Record starts the figures of t, in area ("faults", "crashes", ...), which
// tried what tried says. They are written to EnvFigures, if set, when t ends.
func Record(t testing.TB, area, tried string) *Recorder {
	r := &Recorder{t: t, start: time.Now(), report: Report{
		Test: t.Name(), Area: area, Tried: tried, Mode: Pick("short", "long"),
	}}
	t.Cleanup(r.write)
	return r
}

// Set sets (or replaces) a figure; want, if given, is what the test requires.
func (r *Recorder) Set(name string, value int64, want ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := Figure{Name: name, Value: value}
	if len(want) > 0 {
		f.Want = want[0]
	}
	for i := range r.report.Figures {
		if r.report.Figures[i].Name == name {
			r.report.Figures[i] = f
			return
		}
	}
	r.report.Figures = append(r.report.Figures, f)
}

// Add adds delta to a figure, creating it at 0 first.
func (r *Recorder) Add(name string, delta int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.report.Figures {
		if r.report.Figures[i].Name == name {
			r.report.Figures[i].Value += delta
			return
		}
	}
	r.report.Figures = append(r.report.Figures, Figure{Name: name, Value: delta})
}

// Get returns a figure's value, 0 if it was never set.
func (r *Recorder) Get(name string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.report.Figures {
		if f.Name == name {
			return f.Value
		}
	}
	return 0
}

func (r *Recorder) write() {
	r.mu.Lock()
	defer r.mu.Unlock()
	path := os.Getenv(EnvFigures)
	if path == "" || r.written {
		return
	}
	r.written = true
	r.report.Seconds = time.Since(r.start).Round(100 * time.Millisecond).Seconds()
	r.report.Passed = !r.t.Failed() && !r.t.Skipped()
	r.report.Recorded = time.Now().UTC().Format(time.RFC3339)
	line, err := json.Marshal(r.report)
	if err != nil {
		r.t.Errorf("figures: %v", err)
		return
	}
	if err := appendLine(path, line); err != nil {
		r.t.Errorf("figures: %v", err)
	}
}

// appendLine appends one line in one write, so that tests of several
// packages running at once do not interleave their lines.
func appendLine(path string, line []byte) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600) //nolint:gosec // The path is the one make reliability chose.
	if err != nil {
		return fmt.Errorf("open %s (%s): %w", path, EnvFigures, err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
