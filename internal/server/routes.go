package server

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// handlerFunc serves one route for an authenticated principal (nil on public
// routes); the error it returns is written as the JSON error.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p *principal) error

// route is one entry of the API: its pattern and who may call it.
type route struct {
	pattern string
	access  access
	handler handlerFunc
}

// routeTable is every route of the API, each area's routes in its own file.
// The RBAC matrix test walks this table, so a route added here is tested.
func (s *Server) routeTable() []route {
	return slices.Concat(
		[]route{
			{"GET /healthz", public, s.healthz},
			{"GET /readyz", public, s.readyz},
		},
		s.tokenRoutes(),
		s.tenantRoutes(),
		s.environmentRoutes(),
		s.quotaRoutes(),
		s.userRoutes(),
		s.featureFlagRoutes(),
		s.integrationRoutes(),
		s.promotionRoutes(),
		s.usageRoutes(),
		s.backupRoutes(),
		s.schemaRoutes(),
		s.credentialsRoutes(),
		s.openapiRoutes(),
		s.dashboardRoutes(),
	)
}

func (s *Server) routes() {
	for _, rt := range s.routeTable() {
		s.mux.Handle(rt.pattern, s.serve(rt))
	}
	s.mux.Handle("GET /metrics", s.metricsHandler())
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errNoRoute(r))
	})
}

// serve wraps a route's handler with metrics, logging, authentication and
// the route's access rule.
func (s *Server) serve(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		p, err := s.authorizeAndServe(rec, r, rt)
		if err != nil {
			s.writeError(rec, r, err)
		}
		if p != nil {
			s.countUsage(r, p, rec.status)
		}
		s.metrics.requests.WithLabelValues(rt.pattern, strconv.Itoa(rec.status)).Inc()
		s.metrics.duration.WithLabelValues(rt.pattern).Observe(time.Since(start).Seconds())
		s.logRequest(r, rec.status)
	})
}

// authorizeAndServe returns the principal it authenticated, so that usage is
// counted for it whatever the answer.
func (s *Server) authorizeAndServe(w http.ResponseWriter, r *http.Request, rt route) (*principal, error) {
	if rt.access == public {
		return nil, rt.handler(w, r, nil)
	}
	p, err := s.authenticate(r.Context(), r)
	if err != nil {
		return nil, err
	}
	if err := authorize(p, rt.access, r.PathValue("tenant")); err != nil {
		return p, err
	}
	release, err := s.admit(w, r, p)
	if err != nil {
		return p, err
	}
	defer release()
	return p, rt.handler(w, r, p)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request, _ *principal) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ *principal) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "database not ready", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unavailable"})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}
