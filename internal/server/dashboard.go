package server

import (
	"bytes"
	"crypto/sha256"
	_ "embed" // The dashboard's files are compiled into tenancyd.
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// The tenant health dashboard: one page and its script and style sheet,
// embedded in the binary so that it works offline. The page holds no data;
// its script asks for a token and reads the JSON API with it, so these
// routes are public like /healthz.
var (
	//go:embed dashboard/index.html
	dashboardHTML []byte
	//go:embed dashboard/app.js
	dashboardJS []byte
	//go:embed dashboard/app.css
	dashboardCSS []byte
)

// dashboardCSP lets the page load only its own script and style sheet and
// talk only to this server: no inline code, nothing from another host, no
// form submission (the token must never end up in a URL) and no framing.
const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// The dashboard's routes. "/{$}" is the root alone: every other unknown
// path still gets the catch-all's JSON 404.
const (
	dashboardPage   = "GET /{$}"
	dashboardScript = "GET /dashboard/app.js"
	dashboardStyle  = "GET /dashboard/app.css"
)

// dashboardRoutes serves the page, its script and its style sheet.
func (s *Server) dashboardRoutes() []route {
	return []route{
		dashboardRoute(dashboardPage, dashboardHTML, "text/html; charset=utf-8"),
		dashboardRoute(dashboardScript, dashboardJS, "text/javascript; charset=utf-8"),
		dashboardRoute(dashboardStyle, dashboardCSS, "text/css; charset=utf-8"),
	}
}

// isDashboard reports whether a route is one of the dashboard's. They serve
// a browser client of the JSON API, so /openapi.json, which describes that
// API, leaves them out.
func isDashboard(rt route) bool {
	switch rt.pattern {
	case dashboardPage, dashboardScript, dashboardStyle:
		return true
	}
	return false
}

// dashboardRoute serves one embedded file, at its path alone: the router
// also sends "/%2F" to "GET /{$}", which must get the catch-all's 404.
// Browsers revalidate the file on every load (no-cache) and get a 304 while
// the ETag, its content hash, matches, so a new tenancyd never runs with a
// stale script.
func dashboardRoute(pattern string, body []byte, contentType string) route {
	path := strings.TrimSuffix(strings.TrimPrefix(pattern, "GET "), "{$}")
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	return route{pattern, public, func(w http.ResponseWriter, r *http.Request, _ *principal) error {
		if r.URL.Path != path {
			return errNoRoute(r)
		}
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("Content-Security-Policy", dashboardCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
		return nil
	}}
}
