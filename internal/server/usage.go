package server

import "net/http"

// usageRoutes lists this area's routes; it is filled in as the area is built.
func (s *Server) usageRoutes() []route { return nil }

// admit decides whether an authenticated request may proceed under its
// tenant's api_requests_per_minute; it answers the refusal itself (429).
func (s *Server) admit(_ http.ResponseWriter, _ *http.Request, _ *principal) error { return nil }

// countUsage records an answered request in its tenant's usage.
func (s *Server) countUsage(_ *http.Request, _ *principal, _ int) {}
