package server

import (
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// dashboardAssets are the dashboard's files by path, with the type each is
// served as.
var dashboardAssets = []struct {
	path, contentType string
	body              []byte
}{
	{"/", "text/html; charset=utf-8", dashboardHTML},
	{"/dashboard/app.js", "text/javascript; charset=utf-8", dashboardJS},
	{"/dashboard/app.css", "text/css; charset=utf-8", dashboardCSS},
}

func TestDashboardIsServedWithSecurityHeaders(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	for _, a := range dashboardAssets {
		// No token: the files hold no data.
		r := ts.mustCall(t, http.StatusOK, "", "GET", a.path, nil)
		if string(r.body) != string(a.body) {
			t.Errorf("GET %s does not serve the embedded file", a.path)
		}
		for name, want := range map[string]string{
			"Content-Type":            a.contentType,
			"Content-Security-Policy": dashboardCSP,
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"X-Frame-Options":         "DENY",
			"Cache-Control":           "no-cache",
		} {
			if got := r.header.Get(name); got != want {
				t.Errorf("GET %s: %s %q, want %q", a.path, name, got, want)
			}
		}
		etag := r.header.Get("ETag")
		if etag == "" {
			t.Errorf("GET %s: no ETag", a.path)
			continue
		}
		ts.mustCall(t, http.StatusNotModified, "", "GET", a.path, nil, "If-None-Match", etag)
	}
}

// TestDashboardWorksOffline checks that nothing on the page comes from, or
// goes to, another host, and that the page runs under its own policy: no
// inline script or style, which the policy would block.
func TestDashboardWorksOffline(t *testing.T) {
	t.Parallel()
	csp := strings.Split(dashboardCSP, "; ")
	for _, directive := range csp {
		for _, source := range strings.Fields(directive)[1:] {
			if source != "'self'" && source != "'none'" {
				t.Errorf("Content-Security-Policy directive %q allows %s; only 'self' and 'none' are wanted", directive, source)
			}
		}
	}
	for _, want := range []string{"default-src 'none'", "connect-src 'self'", "form-action 'none'", "frame-ancestors 'none'"} {
		if !slices.Contains(csp, want) {
			t.Errorf("Content-Security-Policy lacks %q: %s", want, dashboardCSP)
		}
	}

	absolute := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|https?://`)
	for _, a := range dashboardAssets {
		if m := absolute.Find(a.body); m != nil {
			t.Errorf("%s refers to another host: %s", a.path, m)
		}
	}

	html := string(dashboardHTML)
	refs := regexp.MustCompile(`(?i)\b(?:src|href)\s*=\s*"([^"]*)"`).FindAllStringSubmatch(html, -1)
	var paths []string
	for _, m := range refs {
		switch ref := m[1]; {
		case ref == "#":
		case strings.HasPrefix(ref, "/") && !strings.HasPrefix(ref, "//"):
			paths = append(paths, ref)
		default:
			t.Errorf("index.html refers to %q; only paths of this server are allowed", ref)
		}
	}
	if !slices.Equal(paths, []string{"/dashboard/app.css", "/dashboard/app.js"}) {
		t.Errorf("index.html loads %v, want the style sheet and the script", paths)
	}
	if regexp.MustCompile(`(?is)<script[^>]*>\s*[^<\s]`).MatchString(html) {
		t.Error("index.html has an inline script, which the Content-Security-Policy blocks")
	}
	if regexp.MustCompile(`(?i)<style|\sstyle\s*=|\son[a-z]+\s*=`).MatchString(html) {
		t.Error("index.html has inline style or event handler attributes, which the Content-Security-Policy blocks")
	}
}

func TestDashboardLeavesOtherPathsToTheAPI(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	for _, c := range []struct{ method, path string }{
		{"GET", "/nope"}, {"GET", "/index.html"}, {"GET", "/dashboard"}, {"GET", "/dashboard/app"},
		{"GET", "/dashboard/app.js.map"}, {"GET", "/dashboard/index.html"}, {"GET", "/v1"}, {"GET", "/%2F"},
		{"POST", "/"}, {"DELETE", "/"}, {"POST", "/dashboard/app.js"},
	} {
		r := ts.mustCall(t, http.StatusNotFound, "", c.method, c.path, nil)
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q, want the API's JSON 404", c.method, c.path, ct)
		}
		if e := r.apiError(t); e.Code != api.CodeNoRoute {
			t.Errorf("%s %s: error code %q, want %q", c.method, c.path, e.Code, api.CodeNoRoute)
		}
	}
}

// apiPathPattern finds the route patterns the script reads, which it
// writes as the route table does: "/v1/tenants/{tenant}/usage".
var apiPathPattern = regexp.MustCompile(`"(/v1/[^"]*)"`)

// TestDashboardReadsOnlyRoutesOfTheAPI checks every path the script calls
// against the route table, and that a tenant_viewer token may read them all.
func TestDashboardReadsOnlyRoutesOfTheAPI(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	js := string(dashboardJS)

	var called []string
	for _, m := range apiPathPattern.FindAllStringSubmatch(js, -1) {
		if !slices.Contains(called, m[1]) {
			called = append(called, m[1])
		}
	}
	for _, want := range []string{
		"/v1/tenants", "/v1/tenants/{tenant}/environments", "/v1/tenants/{tenant}/quota",
		"/v1/tenants/{tenant}/environments/{env}/quota", "/v1/tenants/{tenant}/usage",
		"/v1/tenants/{tenant}/feature-flags", "/v1/tenants/{tenant}/role-bindings", "/v1/tenants/{tenant}/users",
		"/v1/tenants/{tenant}/audit-events", "/v1/tenants/{tenant}/promotions",
	} {
		if !slices.Contains(called, want) {
			t.Errorf("the dashboard does not read %s", want)
		}
	}
	for _, path := range called {
		if !slices.ContainsFunc(ts.srv.routeTable(), func(rt route) bool { return rt.pattern == "GET "+path && rt.access != public }) {
			t.Errorf("the dashboard reads %s, which is no authenticated GET route of the route table", path)
		}
	}
	// It only reads: fetch's default method, never another one.
	if m := regexp.MustCompile(`\bmethod\s*:|"(POST|PUT|PATCH|DELETE)"`).FindString(js); m != "" {
		t.Errorf("the dashboard must only GET, but its script says %s", m)
	}

	ts.createTenant(t, "acme")
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/environments",
		map[string]any{"name": "staging", "type": api.EnvStaging, "settings": map[string]string{}})
	ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", "/v1/tenants/acme/quota", map[string]any{"cpu_millicores": 8000, "max_users": 10})
	ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", "/v1/tenants/acme/environments/staging/quota", map[string]any{"cpu_millicores": 2000})
	viewer := ts.token(t, "acme", api.RoleTenantViewer)
	for _, path := range called {
		filled := strings.NewReplacer("{tenant}", "acme", "{env}", "staging").Replace(path)
		ts.mustCall(t, http.StatusOK, viewer, "GET", filled, nil)
	}
	// The audit log is read newest first, a page of twenty.
	ts.mustCall(t, http.StatusOK, viewer, "GET", "/v1/tenants/acme/audit-events?order=desc&page_size=20", nil)
}

// TestDashboardScriptInsertsDataAsText keeps the script away from the APIs
// that would parse data as HTML or keep the token beyond the browser tab.
func TestDashboardScriptInsertsDataAsText(t *testing.T) {
	t.Parallel()
	js := string(dashboardJS)
	for _, banned := range []string{
		"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "DOMParser", "createContextualFragment",
		"eval(", "Function(", "localStorage", "document.cookie", "indexedDB", "location.search",
	} {
		if strings.Contains(js, banned) {
			t.Errorf("the dashboard's script uses %s", banned)
		}
	}
	if !strings.Contains(js, "sessionStorage.setItem(") || !strings.Contains(js, "sessionStorage.removeItem(") {
		t.Error("the dashboard's script does not keep its token in sessionStorage")
	}
}

// TestDashboardScriptParses catches a syntax error in the script, which no
// Go test would otherwise notice. It needs Node.js and skips without it.
func TestDashboardScriptParses(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	if out, err := exec.CommandContext(t.Context(), node, "--check", "dashboard/app.js").CombinedOutput(); err != nil {
		t.Errorf("node --check dashboard/app.js: %v\n%s", err, out)
	}
}
