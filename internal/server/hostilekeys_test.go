package server

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawRequest writes one HTTP/1.1 request byte for byte, headers and all,
// so that values a Go client refuses to send (a NUL, a DEL) reach the server.
func rawRequest(t *testing.T, ts *testServer, method, target string, headers []string, body string) (int, string) {
	t.Helper()
	u, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: " + u.Host + "\r\nAuthorization: Bearer " + ts.admin + "\r\nConnection: close\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %q: %v", method, target, err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&sb)
	return resp.StatusCode, sb.String()
}

// TestHostileKeysAreRefusedBeforeTheDatabase sends a NUL byte, invalid
// UTF-8 and other control characters in object_key (and other filters) and
// in Idempotency-Key, on SQLite and on PostgreSQL (which refuses such text
// with an error that used to surface as a 500): every one is a 400, and
// nothing is written.
func TestHostileKeysAreRefusedBeforeTheDatabase(t *testing.T) {
	t.Parallel()
	for name, url := range replicaDatabases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts := serveStore(t, openStore(t, url(t)))
			ts.createTenant(t, "acme")
			before := storeSnapshot(t, ts.store)
			for _, q := range []string{"object_key=%00", "object_key=a%00b", "object_key=%ff", "object_key=%C0%AE",
				"object_kind=%ed%a0%80", "object_key=%7f", "object_key=x%1b%5b31m"} {
				status, body := rawRequest(t, ts, "GET", "/v1/tenants/acme/audit-events?"+q, nil, "")
				if status != http.StatusBadRequest || !strings.Contains(body, `"field":"object_`) {
					t.Errorf("audit-events?%s: %d %s, want 400 naming the parameter", q, status, body)
				}
			}
			create := `{"slug":"bravo","display_name":"Bravo","region":"us-east"}`
			for _, key := range []string{"\x00", "a\x00b", "\xff\xfe", "caf\xe9", "\xed\xa0\x80", "key\x7f", "key\x1b"} {
				status, body := rawRequest(t, ts, "POST", "/v1/tenants", []string{"Idempotency-Key: " + key}, create)
				// Go's server itself refuses some control characters in a
				// header (400, plain text); what it lets through, tenancyd must.
				if status != http.StatusBadRequest {
					t.Errorf("Idempotency-Key %q: %d %s, want 400", key, status, body)
				}
				if strings.HasPrefix(body, "{") && !strings.Contains(body, `"field":"Idempotency-Key"`) {
					t.Errorf("Idempotency-Key %q: %s does not name the header", key, body)
				}
			}
			if after := storeSnapshot(t, ts.store); after != before {
				t.Errorf("refused requests wrote:\n%s", snapshotDiff(before, after))
			}
			// A good key still works.
			if status, body := rawRequest(t, ts, "POST", "/v1/tenants", []string{"Idempotency-Key: 7c4a2f9e-ok"}, create); status != http.StatusCreated {
				t.Errorf("a printable key: %d %s", status, body)
			}
		})
	}
}
