// Package server is tenancyd's HTTP API: routing, authentication and
// authorization, idempotent and conditional writes, and the handlers of
// every object, all over one store.Store.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"path"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
)

// Config configures a Server. Store and Data are required.
type Config struct {
	Store store.Store
	// Regions a tenant may be placed in; api.DefaultRegions when empty.
	Regions []string
	// ProvisioningDelay is how long a new tenant stays "provisioning" before
	// it becomes "active"; 0 activates it at once.
	ProvisioningDelay time.Duration
	// MaxBodyBytes limits request bodies; 1 MiB when 0.
	MaxBodyBytes int64
	Logger       *slog.Logger
	// Now is the clock, of the server and of the times its store stamps;
	// time.Now when nil. Tests move it.
	Now func() time.Time
	// IdempotencyTTL is how long the answer to a write with an
	// Idempotency-Key is kept for replays; 24 hours when 0.
	IdempotencyTTL time.Duration
	// SecretKey encrypts write-only secrets and backups at rest
	// (AES-256-GCM, 32 bytes, see ParseSecretKey); nil stores them
	// unencrypted.
	SecretKey []byte
	// DefaultRequestsPerMinute is the api_requests_per_minute of a tenant
	// whose quota sets none; 0 leaves such tenants unlimited.
	DefaultRequestsPerMinute int64
	// MaxTenantConcurrency caps one tenant's requests in progress on this
	// replica; 0 is no cap.
	MaxTenantConcurrency int
	// Data is where tenant environments keep their data (required).
	Data tenantdata.Plane
	// DataInterval is how often tenancyd retries what failed in the data
	// plane (provisioning, drops) and expires credentials; 10s
	// when 0.
	DataInterval time.Duration
	// TokenCacheMaxAge is how long an authenticated token is remembered
	// at most (see tokenCache); DefaultTokenCacheMaxAge when 0, and no
	// cache when negative.
	TokenCacheMaxAge time.Duration
}

// Server serves the tenancyd API.
type Server struct {
	store             store.Store
	regions           []string
	provisioningDelay time.Duration
	maxBody           int64
	log               *slog.Logger
	now               func() time.Time
	mux               *http.ServeMux
	metrics           *metrics
	// usageState holds this replica's unflushed usage counts and its rate
	// limiters.
	usageState     *usageState
	idempotencyTTL time.Duration
	secrets        *secretBox
	// defaultRequestsPerMinute and maxTenantConcurrency: see Config.
	defaultRequestsPerMinute int64
	maxTenantConcurrency     int
	data                     tenantdata.Plane
	dataInterval             time.Duration
	// tokens caches authenticated tokens.
	tokens *tokenCache
}

// New builds a Server; call Handler to serve it and Run for its background
// work. It fails on a missing Data and on a SecretKey of the wrong size.
func New(cfg Config) (*Server, error) {
	s := &Server{
		store:             cfg.Store,
		regions:           cfg.Regions,
		provisioningDelay: cfg.ProvisioningDelay,
		maxBody:           cfg.MaxBodyBytes,
		log:               cfg.Logger,
		now:               cfg.Now,
		mux:               http.NewServeMux(),
		usageState:        newUsageState(),
		idempotencyTTL:    cfg.IdempotencyTTL,

		defaultRequestsPerMinute: max(cfg.DefaultRequestsPerMinute, 0),
		maxTenantConcurrency:     max(cfg.MaxTenantConcurrency, 0),
		data:                     cfg.Data,
		dataInterval:             cfg.DataInterval,
	}
	if s.data == nil {
		return nil, errors.New("server: Config.Data is required: the tenant data plane (tenantdata.OpenSQLite or tenantdata.OpenPostgres)")
	}
	if s.dataInterval <= 0 {
		s.dataInterval = 10 * time.Second
	}
	if s.idempotencyTTL <= 0 {
		s.idempotencyTTL = 24 * time.Hour
	}
	if len(s.regions) == 0 {
		s.regions = slices.Clone(api.DefaultRegions)
	}
	if s.maxBody <= 0 {
		s.maxBody = 1 << 20
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	maxAge := cfg.TokenCacheMaxAge
	if maxAge == 0 {
		maxAge = DefaultTokenCacheMaxAge
	}
	shared := s.store != nil && s.store.Revocations().Shared()
	// Until Run connects the listener, a shared database's cache is off.
	s.tokens = newTokenCache(maxAge, shared)
	if s.store != nil {
		// One clock: the times the store stamps are the server's too.
		s.store = s.store.WithClock(s.now)
		s.store.Revocations().Subscribe(s.tokens.forget)
	}
	var err error
	if s.secrets, err = newSecretBox(cfg.SecretKey); err != nil {
		return nil, err
	}
	s.metrics = newMetrics()
	s.routes()
	return s, nil
}

// Handler is the whole API with its middleware.
func (s *Server) Handler() http.Handler {
	return watchBodies(s.recoverPanics(s.withRequestID(s.canonicalPaths(s.mux))))
}

// canonicalPaths refuses paths with dot segments or empty segments, which
// the router would otherwise answer with a redirect to another path, and
// paths that no identifier could match.
func (s *Server) canonicalPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Escaped slashes (%2F) stay inside their segment, as the router sees them.
		p := r.URL.EscapedPath()
		if p == "" || (p != "/" && path.Clean(p) != p) || strings.HasSuffix(p, "/.") {
			s.writeError(w, r, errBadRequest("path", "path %q is not canonical: it has empty, \".\" or \"..\" segments", p))
			return
		}
		// No identifier of the API holds control characters or invalid
		// UTF-8; refusing them here keeps them away from every database.
		if !printable(r.URL.Path) {
			s.writeError(w, r, errBadRequest("path", "path %q holds control characters or invalid UTF-8", p))
			return
		}
		// Query parameters reach the database as filters (object_key,
		// email, ...): PostgreSQL refuses a NUL byte or invalid UTF-8 in
		// text, so they are refused here, naming the parameter.
		for name, values := range r.URL.Query() {
			if !printable(name) {
				s.writeError(w, r, errBadRequest("query", "a query parameter name holds control characters or invalid UTF-8: %s", shortQuote(name)))
				return
			}
			for _, v := range values {
				if !printable(v) {
					s.writeError(w, r, errBadRequest(name, "%s holds control characters or invalid UTF-8: %s; send UTF-8 text", name, shortQuote(v)))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// printable reports whether s is UTF-8 text without control characters,
// which is all any identifier, filter or key of the API may hold.
func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// Run does the server's background work (listening for token revocations
// on a shared database, advancing tenant provisioning, flushing usage
// counts, expiring idempotency records and backups, retrying and expiring
// in the data plane) until ctx ends.
func (s *Server) Run(ctx context.Context) {
	if s.store.Revocations().Shared() {
		go s.listenRevocations(ctx)
	}
	go s.usageLoop(ctx)
	go s.idempotencyLoop(ctx)
	go s.backupExpiryLoop(ctx)
	go s.dataLoop(ctx)
	s.provisionLoop(ctx)
}

type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenancyd_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tenancyd_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
	}
	m.registry.MustRegister(m.requests, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})
}

type ctxKey int

const (
	requestIDKey ctxKey = iota
)

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(api.HeaderRequestID)
		if !requestIDPattern.MatchString(id) {
			id = newID("req")
		}
		w.Header().Set(api.HeaderRequestID, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// recoverPanics turns a handler panic into a logged 500 instead of a dropped
// connection; a panic is always a bug to fix, never an answer.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic", "method", r.Method, "path", r.URL.Path,
					"panic", v, "stack", string(debug.Stack()))
				writeJSON(w, http.StatusInternalServerError, api.ErrorBody{Error: api.ErrorDetail{
					Code: api.CodeInternal, Message: "internal error", RequestID: requestID(r.Context()),
				}})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status a handler wrote, for metrics and logs.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// newID returns a random identifier with a readable prefix, such as usr_3f9c...
func newID(prefix string) string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}
