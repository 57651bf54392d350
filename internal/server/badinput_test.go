package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/reliability"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store/pgtest"
)

// badMaxBody keeps the oversized bodies of these tests small.
const badMaxBody = 64 << 10

// hostileIDs are path parameter values an attacker or a broken client
// sends; each goes into every path parameter of every route, escaped as a
// client would.
var hostileIDs = []string{
	"..", ".", "../", "../../etc/passwd", "a/b", "a%2Fb", "%252F", "\x00", "a\x00b",
	strings.Repeat("a", 10<<10), "tenänt", "🙂", "\u202eevil", "ＡＣＭＥ", "ACME",
	"' OR 1=1 --", `"`, `" OR ""="`, "; DROP TABLE objects; --", " ", " acme ", "acme\r\nSet-Cookie: x=1",
	"-1", "0", "null", "{tenant}", "*", "%", "?page_size=1", "#frag", `\`, "<script>alert(1)</script>",
}

// rawHostileSegments go into the path as they are, unescaped.
var rawHostileSegments = []string{"..", "%2E%2E", "%2F", "a%2Fb", "%00", "%2e%2e%2f", "%C0%AE%C0%AE", "%ff"}

// hostileIdempotencyKeys are keys no database should see: invalid UTF-8 and
// control characters (Go's client refuses to send those in a header; see
// TestHostileKeysAreRefusedBeforeTheDatabase for that).
var hostileIdempotencyKeys = []string{"caf\xe9", "\xff\xfe", "\xc0\xae"}

// malformedIfMatch are If-Match values that are not entity tags (RFC 9110):
// a 400. unmatchedIfMatch are valid entity tags that name no revision: a
// 412, as for any tag that does not match.
var (
	malformedIfMatch = []string{"garbage", "3", `"unterminated`, `"a"b"`, `"a b"`, `"1",,oops`}
	unmatchedIfMatch = []string{`W/"abc"`, `"0"`, `"-3"`, `"99999999999999999999"`, `"abc"`}
)

// wrongTypes are, by collection, a body field and a value of the wrong type for it.
var wrongTypes = map[string]map[string]any{
	"tenants":       {"display_name": 12},
	"environments":  {"settings": "log_level=debug"},
	"users":         {"display_name": []string{"x"}},
	"role-bindings": {"role": 7},
	"quota":         {"cpu_millicores": "lots"},
	"feature-flags": {"description": map[string]any{}},
	"integrations":  {"config": 5},
	"promotions":    {"include": "settings"},
	"tokens":        {"ttl_seconds": "soon"},
	"schema":        {"migrations": "CREATE TABLE x (id int)"},
	"credentials":   {"ttl_seconds": "soon"},
	"backups":       {"retain_days": "forever"},
	"restore":       {"replace": "yes"},
}

// badCase is one bad request and what its answer must name.
type badCase struct {
	what         string
	method, path string // path may be raw: it is sent as is
	body         []byte
	headers      []string
	wantStatus   int    // 0: any 4xx
	wantField    string // "": any
}

func jsonBody(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// withField adds (or overrides) one field of a JSON object body.
func withField(body any, field string, v any) []byte {
	m := map[string]any{}
	_ = json.Unmarshal(jsonBody(body), &m)
	m[field] = v
	return jsonBody(m)
}

// sendRaw sends a case exactly: the path is written to the wire unchanged
// and redirects are not followed, since a 3xx is an answer to check too.
// It may run on any goroutine, so it returns its error.
func (ts *testServer) sendRaw(ctx context.Context, c badCase) (response, error) {
	req, err := http.NewRequestWithContext(ctx, c.method, ts.URL+"/", bytes.NewReader(c.body))
	if err != nil {
		return response{}, err
	}
	req.URL.Opaque = c.path
	req.Header.Set("Authorization", "Bearer "+ts.admin)
	for i := 0; i+1 < len(c.headers); i += 2 {
		req.Header.Set(c.headers[i], c.headers[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: data}, err
}

// escapeSegment escapes a path segment as a careful client does, dots included.
func escapeSegment(v string) string {
	if v == "." || v == ".." {
		return strings.Repeat("%2E", len(v))
	}
	return url.PathEscape(v)
}

// subResources are the objects that hang off another by a fixed name, and
// take a body like any object, unlike actions.
var subResources = []string{"quota", "schema", "credentials"}

// collectionOf is the collection a route's path is about, and whether the
// route is an action on an object (such as .../rollback) rather than the
// object itself.
func collectionOf(path string) (collection string, action bool) {
	segs := strings.Split(path, "/")
	last := segs[len(segs)-1]
	if strings.HasPrefix(last, "{") {
		return segs[len(segs)-2], false
	}
	if len(segs) > 2 && strings.HasPrefix(segs[len(segs)-2], "{") && !slices.Contains(subResources, last) {
		return last, true
	}
	return last, false
}

// badCases builds every bad request for every route of the table.
func badCases(t *testing.T, w *world, wt *worldTenant) []badCase {
	t.Helper()
	ts := w.ts
	var cases []badCase
	for _, rt := range ts.srv.routeTable() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		body := w.bodyFor(method, path, wt)
		collection, action := collectionOf(path)
		good := w.fill(path, wt, nil)

		// Hostile ids in every path parameter, one at a time, escaped.
		segs := strings.Split(path, "/")
		for i, seg := range segs {
			if !strings.HasPrefix(seg, "{") {
				continue
			}
			for _, v := range hostileIDs {
				bad := strings.Split(good, "/")
				bad[i] = escapeSegment(v)
				cases = append(cases, badCase{what: fmt.Sprintf("%s with %s = %.40q", rt.pattern, seg, v),
					method: method, path: strings.Join(bad, "/"), body: jsonBody(body)})
			}
			for _, raw := range rawHostileSegments {
				bad := strings.Split(good, "/")
				bad[i] = raw
				cases = append(cases, badCase{what: fmt.Sprintf("%s with %s = raw %s", rt.pattern, seg, raw),
					method: method, path: strings.Join(bad, "/"), body: jsonBody(body)})
			}
		}

		switch method {
		case http.MethodGet:
			// Every list refuses absurd paging.
			probe := ts.call(t, ts.admin, method, good, nil)
			var list map[string]json.RawMessage
			if probe.status != http.StatusOK || json.Unmarshal(probe.body, &list) != nil || list["items"] == nil {
				continue
			}
			for _, size := range []string{"0", "-1", "1000000000", "99999999999999999999", "abc", "1.5", "1e3", "0x10", "%20", "%00", "5%3B"} {
				cases = append(cases, badCase{what: rt.pattern + " page_size=" + size, method: method,
					path: good + "?page_size=" + size, wantStatus: http.StatusBadRequest, wantField: "page_size"})
			}
			for _, tok := range []string{"!!!", "%27%20OR%201%3D1%20--", "%00", "..%2F"} {
				cases = append(cases, badCase{what: rt.pattern + " page_token=" + tok, method: method,
					path: good + "?page_token=" + tok, wantStatus: http.StatusBadRequest, wantField: "page_token"})
			}
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			if action {
				// Actions take no body; only the size limit applies.
				cases = append(cases, badCase{what: rt.pattern + " oversized body", method: method, path: good,
					body: []byte(`{"x":"` + strings.Repeat("a", badMaxBody) + `"}`), wantStatus: http.StatusRequestEntityTooLarge})
				continue
			}
			cases = append(cases,
				badCase{what: rt.pattern + " unknown field", method: method, path: good,
					body: withField(body, "zz_unknown", 1), wantStatus: http.StatusBadRequest, wantField: "zz_unknown"},
				badCase{what: rt.pattern + " oversized body", method: method, path: good,
					body: withField(body, "zz_padding", strings.Repeat("a", badMaxBody)), wantStatus: http.StatusRequestEntityTooLarge},
			)
			for field, v := range wrongTypes[collection] {
				cases = append(cases, badCase{what: fmt.Sprintf("%s %s of the wrong type", rt.pattern, field), method: method, path: good,
					body: withField(body, field, v), wantStatus: http.StatusBadRequest, wantField: field})
			}
			for _, b := range []string{"", "[]", `"acme"`, "42", "true", "{", `{"a":1}{"b":2}`, "\x00", "\xff\xfe",
				strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
				`{"display_name":` + strings.Repeat(`{"a":`, 500) + "1" + strings.Repeat("}", 500) + "}"} {
				cases = append(cases, badCase{what: fmt.Sprintf("%s body %.20q", rt.pattern, b), method: method, path: good, body: []byte(b)})
			}
			// Tokens have no revisions; If-Match is about objects of tenants.
			if method != http.MethodPost && strings.HasPrefix(path, "/v1/tenants/") {
				for _, v := range malformedIfMatch {
					cases = append(cases, badCase{what: rt.pattern + " If-Match " + v, method: method, path: good,
						body: jsonBody(body), headers: []string{"If-Match", v}, wantStatus: http.StatusBadRequest, wantField: "If-Match"})
				}
				for _, v := range unmatchedIfMatch {
					cases = append(cases, badCase{what: rt.pattern + " If-Match " + v, method: method, path: good,
						body: jsonBody(body), headers: []string{"If-Match", v}, wantStatus: http.StatusPreconditionFailed})
				}
			}
			cases = append(cases, badCase{what: rt.pattern + " long Idempotency-Key", method: method, path: good, body: jsonBody(body),
				headers: []string{api.HeaderIdempotencyKey, strings.Repeat("k", 300)}, wantStatus: http.StatusBadRequest, wantField: api.HeaderIdempotencyKey})
			for _, key := range hostileIdempotencyKeys {
				cases = append(cases, badCase{what: fmt.Sprintf("%s Idempotency-Key %q", rt.pattern, key), method: method, path: good, body: jsonBody(body),
					headers: []string{api.HeaderIdempotencyKey, key}, wantStatus: http.StatusBadRequest, wantField: api.HeaderIdempotencyKey})
			}
			if method != http.MethodPatch && strings.HasPrefix(path, "/v1/tenants/{tenant}/") {
				cases = append(cases, badCase{what: rt.pattern + " dry_run=maybe", method: method, path: good + "?dry_run=maybe",
					body: jsonBody(body), wantStatus: http.StatusBadRequest, wantField: "dry_run"})
			}
		case http.MethodDelete:
			if !strings.HasPrefix(path, "/v1/tenants/") {
				continue
			}
			for _, v := range malformedIfMatch {
				cases = append(cases, badCase{what: rt.pattern + " If-Match " + v, method: method, path: good,
					headers: []string{"If-Match", v}, wantStatus: http.StatusBadRequest, wantField: "If-Match"})
			}
			for _, v := range unmatchedIfMatch {
				cases = append(cases, badCase{what: rt.pattern + " If-Match " + v, method: method, path: good,
					headers: []string{"If-Match", v}, wantStatus: http.StatusPreconditionFailed})
			}
		}
	}

	// Filters of particular lists.
	for _, q := range []struct{ path, field string }{
		{"/v1/tenants?status=bogus", "status"},
		{"/v1/tenants?label=novalue", "label"},
		{"/v1/tenants?label==x", "label"},
		{"/v1/tenants/" + wt.slug + "/audit-events?order=sideways", "order"},
		{"/v1/tenants/" + wt.slug + "/audit-events?page_token=-5", "page_token"},
		{"/v1/backups?tenant=..%2F", "tenant"},
		{"/v1/backups?tenant=%27%20OR%201%3D1%20--", "tenant"},
		// Filters that reach the database: PostgreSQL refuses NUL and
		// invalid UTF-8, which must be a 400 before they get there.
		{"/v1/tenants/" + wt.slug + "/audit-events?object_key=%00", "object_key"},
		{"/v1/tenants/" + wt.slug + "/audit-events?object_key=a%00b", "object_key"},
		{"/v1/tenants/" + wt.slug + "/audit-events?object_key=%ff", "object_key"},
		{"/v1/tenants/" + wt.slug + "/audit-events?object_key=%C0%AE", "object_key"},
		{"/v1/tenants/" + wt.slug + "/audit-events?object_kind=%ff%fe", "object_kind"},
		{"/v1/tenants/" + wt.slug + "/users?email=%ff%40x.example", "email"},
		{"/v1/tenants?region=%00", "region"},
		{"/v1/tenants?label=k%3D%ff", "label"},
		// Page tokens that decode to a NUL byte or invalid UTF-8.
		{"/v1/tenants?page_token=_w", "page_token"},
		{"/v1/tenants/" + wt.slug + "/users?page_token=YQA", "page_token"},
	} {
		cases = append(cases, badCase{what: "GET " + q.path, method: http.MethodGet, path: q.path, wantStatus: http.StatusBadRequest, wantField: q.field})
	}
	// A token that asks for more than it may say so precisely.
	for field, req := range map[string]api.TokenRequest{
		"role":        {Name: "x", Tenant: wt.slug, Role: "root"},
		"tenant":      {Name: "x", Role: api.RoleTenantAdmin},
		"name":        {Name: strings.Repeat("n", 101), Tenant: wt.slug, Role: api.RoleTenantViewer},
		"ttl_seconds": {Name: "x", Tenant: wt.slug, Role: api.RoleTenantViewer, TTLSeconds: -1},
	} {
		cases = append(cases, badCase{what: "POST /v1/tokens bad " + field, method: http.MethodPost, path: "/v1/tokens",
			body: jsonBody(req), wantStatus: http.StatusUnprocessableEntity, wantField: field})
	}
	return cases
}

// badProblem says what is wrong with the answer to a bad case; "" if nothing.
func badProblem(c badCase, r response) string {
	var e api.ErrorBody
	switch {
	case r.status < 400 || r.status > 499:
		return fmt.Sprintf("status %d, want 4xx", r.status)
	case c.wantStatus != 0 && r.status != c.wantStatus:
		return fmt.Sprintf("status %d, want %d", r.status, c.wantStatus)
	case r.header.Get("Content-Type") != "application/json":
		return fmt.Sprintf("Content-Type %q, want application/json", r.header.Get("Content-Type"))
	case json.Unmarshal(r.body, &e) != nil || e.Error.Code == "" || e.Error.Message == "":
		return "the answer is not a JSON error"
	case c.wantField != "" && e.Error.Field != c.wantField:
		return fmt.Sprintf("field %q, want %q", e.Error.Field, c.wantField)
	}
	return ""
}

// runBadInput sends every bad case, eight at a time, and checks each
// answer: a 4xx, a JSON error with a code and a message, the field where
// one is expected; and at the end, that the store did not change at all.
// Failures are grouped by what went wrong, with a few examples each.
func runBadInput(t *testing.T, ts *testServer, database string) {
	t.Helper()
	fig := reliability.Record(t, "hostile input",
		"malformed, oversized, deep, unknown-field and invalid requests to every route on "+database+"; each must be a 4xx JSON error naming the field, and write nothing")
	w := buildWorld(t, ts, "acme", "bravo")
	cases := badCases(t, w, w.tenants["acme"])
	before := storeSnapshot(t, ts.store)

	type failure struct {
		c badCase
		r response
	}
	var mu sync.Mutex
	byProblem := map[string][]failure{}
	var serverErrors, dropped atomic.Int64
	work := make(chan badCase)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for c := range work {
				r, err := ts.sendRaw(t.Context(), c)
				if err != nil {
					dropped.Add(1) // A handler that panics drops the connection.
				} else if r.status >= 500 {
					serverErrors.Add(1)
				}
				problem := badProblem(c, r)
				if err != nil {
					problem = "transport error: " + err.Error()
				}
				if problem != "" {
					mu.Lock()
					byProblem[problem] = append(byProblem[problem], failure{c, r})
					mu.Unlock()
				}
			}
		})
	}
	for _, c := range cases {
		work <- c
	}
	close(work)
	wg.Wait()

	failures := 0
	for _, problem := range slices.Sorted(maps.Keys(byProblem)) {
		list := byProblem[problem]
		failures += len(list)
		var b strings.Builder
		for _, f := range list[:min(5, len(list))] {
			fmt.Fprintf(&b, "\n  %s (%s %.120s): %.300s", f.c.what, f.c.method, f.c.path, f.r.body)
		}
		t.Errorf("%d bad requests: %s; for example:%s", len(list), problem, b.String())
	}
	wrote := int64(0)
	if after := storeSnapshot(t, ts.store); after != before {
		wrote = 1
		t.Errorf("bad requests wrote to the store:\n%s", snapshotDiff(before, after))
	}
	fig.Set("hostile requests", int64(len(cases)))
	fig.Set("answered wrongly", int64(failures), "= 0")
	fig.Set("5xx answers", serverErrors.Load(), "= 0")
	fig.Set("connections dropped (panics)", dropped.Load(), "= 0")
	fig.Set("stores changed by them", wrote, "= 0")
	t.Logf("bad input: %d requests over %d routes, %d answered wrongly", len(cases), len(ts.srv.routeTable()), failures)
}

// TestDeepJSONIsRefusedQuickly sends every PATCH route a merge patch nested
// thousands of levels deep, well within the body limit: it must be refused
// at once, not after seconds of work that a few such requests would
// multiply into a denial of service.
func TestDeepJSONIsRefusedQuickly(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	w := buildWorld(t, ts, "acme")
	const depth = 6000
	deep := `{"display_name":` + strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth) + "}"
	var wg sync.WaitGroup
	for _, rt := range ts.srv.routeTable() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		if method != http.MethodPatch {
			continue
		}
		wg.Go(func() {
			start := time.Now()
			r, err := ts.sendRaw(t.Context(), badCase{method: method, path: w.fill(path, w.tenants["acme"], nil), body: []byte(deep)})
			took := time.Since(start)
			switch {
			case err != nil:
				t.Errorf("%s: %v", rt.pattern, err)
			case r.status < 400 || r.status > 499:
				t.Errorf("%s with a body nested %d deep: status %d, want 4xx", rt.pattern, depth, r.status)
			case took > time.Second:
				t.Errorf("%s with a %d-byte body nested %d deep took %v to refuse; bound the nesting before merging", rt.pattern, len(deep), depth, took.Round(time.Millisecond))
			}
		})
	}
	wg.Wait()
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	runBadInput(t, newTestServer(t, func(c *Config) { c.MaxBodyBytes = badMaxBody }), "SQLite")
}

// TestBadInputPostgres runs the same on PostgreSQL, which refuses some
// strings (a NUL byte, invalid UTF-8) that SQLite stores.
func TestBadInputPostgres(t *testing.T) {
	t.Parallel()
	st := openStore(t, pgtest.URL(t))
	runBadInput(t, serveStore(t, st, func(c *Config) { c.MaxBodyBytes = badMaxBody }), "PostgreSQL")
}
