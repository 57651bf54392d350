package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// TestAccessLog shows the line every request leaves: its method, path,
// status and request ID at level INFO, and no header (so no token).
func TestAccessLog(t *testing.T) {
	t.Parallel()
	w := &tokenWatch{}
	w.testServer = newTestServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	w.createTenant(t, "acme")
	found := w.call(t, w.admin, "GET", "/v1/tenants/acme", nil, api.HeaderRequestID, "req-found")
	missing := w.call(t, w.admin, "GET", "/v1/tenants/acme/feature-flags/gone", nil, api.HeaderRequestID, "req-missing")

	want := map[string]map[string]any{
		"req-found":   {"level": "INFO", "msg": "request", "method": "GET", "path": "/v1/tenants/acme", "status": float64(found.status)},
		"req-missing": {"level": "INFO", "msg": "request", "method": "GET", "path": "/v1/tenants/acme/feature-flags/gone", "status": float64(missing.status)},
	}
	w.mu.Lock()
	log := bytes.Clone(w.log.Bytes())
	w.mu.Unlock()
	if bytes.Contains(log, []byte(w.admin)) {
		t.Errorf("the log holds the token:\n%s", log)
	}
	for line := range bytes.Lines(log) {
		var got map[string]any
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("log line %s: %v", line, err)
		}
		id, _ := got["request_id"].(string)
		fields, ok := want[id]
		if !ok || got["msg"] != "request" {
			continue
		}
		delete(want, id)
		for k, v := range fields {
			if got[k] != v {
				t.Errorf("request %s: log field %s = %v, want %v (line %s)", id, k, got[k], v, line)
			}
		}
		if _, ok := got["time"]; !ok {
			t.Errorf("request %s: log line has no time: %s", id, line)
		}
	}
	for id := range want {
		t.Errorf("no access log line for request %s in:\n%s", id, log)
	}
	if found.status != http.StatusOK || missing.status != http.StatusNotFound {
		t.Errorf("statuses %d and %d, want 200 and 404", found.status, missing.status)
	}
}
