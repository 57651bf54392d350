package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

// Lock names. A transaction takes the platform lock before a tenant's.
const lockPlatform = "platform"

func lockTenant(slug string) string { return "tenant:" + slug }

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
		s.log.LogAttrs(r.Context(), levelFor(rec.status), "request", logAttrs(r, rec.status)...)
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

// mutation is the body of a write: it runs inside one transaction, holding
// the locks mutate took, and returns the status and object to answer with.
type mutation func(ctx context.Context, tx store.Tx, body []byte) (status int, out any, err error)

// mutate runs a write exactly once per Idempotency-Key: the answer is stored
// in the same transaction as the write, so a retried request gets the first
// answer and never writes twice; the same key on another request is refused.
func (s *Server) mutate(w http.ResponseWriter, r *http.Request, p *principal, locks []string, fn mutation) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	key := r.Header.Get(api.HeaderIdempotencyKey)
	if len(key) > 255 {
		return errBadRequest(api.HeaderIdempotencyKey, "Idempotency-Key is %d characters long; at most 255 are allowed", len(key))
	}
	// The key is stored as text: refused before it reaches a database that
	// cannot store a NUL byte or invalid UTF-8 (PostgreSQL).
	if !printable(key) {
		return errBadRequest(api.HeaderIdempotencyKey, "Idempotency-Key holds control characters or invalid UTF-8: %s; use printable text such as a UUID", shortQuote(key))
	}
	hash := requestHash(r, body)

	var status int
	var answer []byte
	err = s.store.Update(r.Context(), func(ctx context.Context, tx store.Tx) error {
		if err := tx.Lock(ctx, locks...); err != nil {
			return err
		}
		if key != "" {
			rec, err := tx.Idempotency(ctx, p.TokenID, key)
			switch {
			case err == nil && rec.RequestHash != hash:
				return errInvalid(api.HeaderIdempotencyKey,
					"Idempotency-Key %q was already used for a different request; use a new key for a new request", key)
			case err == nil:
				status, answer = rec.Status, rec.Body
				w.Header().Set("Idempotent-Replayed", "true")
				return nil
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
		}
		st, out, err := fn(ctx, tx, body)
		if err != nil {
			return err
		}
		if status, answer = st, nil; out != nil {
			if answer, err = json.Marshal(out); err != nil {
				return err
			}
		}
		if key == "" {
			return nil
		}
		rec := store.IdempotencyRecord{
			Scope: p.TokenID, Key: key, RequestHash: hash, Status: status, Body: answer, CreatedAt: s.now().UTC(),
		}
		if once, ok := out.(shownOnce); ok {
			replay := once.replay()
			rec.Status = replay.status
			if rec.Body, err = json.Marshal(api.ErrorBody{Error: api.ErrorDetail{Code: replay.code, Message: replay.message}}); err != nil {
				return err
			}
		}
		return tx.PutIdempotency(ctx, rec)
	})
	if err != nil {
		return err
	}
	setETag(w, answer)
	writeRaw(w, status, answer)
	return nil
}

// requestHash is what tells a retry of a request (the same hash) from
// another request under the same Idempotency-Key.
func requestHash(r *http.Request, body []byte) string {
	digest := sha256.Sum256([]byte(r.Method + " " + r.URL.RequestURI() + "\n" + string(body)))
	return hex.EncodeToString(digest[:])
}

// dryRunParam reads ?dry_run=, which asks a POST only to be checked.
func dryRunParam(r *http.Request) (bool, error) {
	switch v := r.URL.Query().Get("dry_run"); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, errBadRequest("dry_run", "dry_run must be \"true\" or \"false\"; got %q", v)
	}
}

// checkOnly answers a dry run: fn runs every check of the write in a
// read-only transaction and returns the object as it would be, which is
// answered with 200. Nothing is written: no object, audit event or
// idempotency record.
func (s *Server) checkOnly(w http.ResponseWriter, r *http.Request, fn func(ctx context.Context, tx store.Tx, body []byte) (any, error)) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var out any
	err = s.store.View(r.Context(), func(ctx context.Context, tx store.Tx) error {
		out, err = fn(ctx, tx, body)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// idempotencyLoop deletes idempotency records older than the TTL, so a key
// is honoured for at least that long and the table does not grow forever.
func (s *Server) idempotencyLoop(ctx context.Context) {
	t := time.NewTicker(min(s.idempotencyTTL/24, time.Hour))
	defer t.Stop()
	for {
		if err := s.pruneIdempotency(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "expiring idempotency records", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) pruneIdempotency(ctx context.Context) error {
	return s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		n, err := tx.PruneIdempotency(ctx, s.now().Add(-s.idempotencyTTL))
		if n > 0 {
			s.log.DebugContext(ctx, "expired idempotency records", "count", n)
		}
		return err
	})
}

// shownOnce is an answer holding a secret that must be shown only once, so
// the idempotency record keeps, instead of the answer, the error a replay
// gets.
type shownOnce interface {
	replay() *apiError
}

// setETag publishes the revision of the object a body holds, if it has one.
func setETag(w http.ResponseWriter, body []byte) {
	var rev struct {
		Revision int64 `json:"revision"`
	}
	if json.Unmarshal(body, &rev) == nil && rev.Revision > 0 {
		w.Header().Set("ETag", etag(rev.Revision))
	}
}

func etag(rev int64) string { return `"` + strconv.FormatInt(rev, 10) + `"` }

// writeObject answers a read of one object, with its ETag.
func writeObject(w http.ResponseWriter, rev int64, v any) {
	w.Header().Set("ETag", etag(rev))
	writeJSON(w, http.StatusOK, v)
}

// page reads the paging parameters of a list request.
func page(r *http.Request) (after string, size int, err error) {
	size = api.DefaultPageSize
	if v := r.URL.Query().Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > api.MaxPageSize {
			return "", 0, errBadRequest("page_size", "page_size must be a whole number from 1 to %d; got %q", api.MaxPageSize, v)
		}
		size = n
	}
	if v := r.URL.Query().Get("page_token"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		// Keys are printable text; a token decoding to anything else is
		// forged, and must not reach the database as a bound.
		if err != nil || len(b) == 0 || !printable(string(b)) {
			return "", 0, errBadRequest("page_token", "page_token is not one this server returned; start again without it")
		}
		after = string(b)
	}
	return after, size, nil
}

func pageToken(lastKey string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(lastKey))
}

// listPage reads one page of objects that keep passes, in key order,
// scanning past those it drops.
func listPage(ctx context.Context, tx store.Tx, q store.ListQuery, size int, keep func(store.Object) (bool, error)) ([]store.Object, string, error) {
	var out []store.Object
	for {
		q.Limit = size + 1
		objs, err := tx.List(ctx, q)
		if err != nil {
			return nil, "", err
		}
		for i, o := range objs {
			if i == size {
				break
			}
			q.After = o.Key
			ok, err := keep(o)
			if err != nil {
				return nil, "", err
			}
			if !ok {
				continue
			}
			out = append(out, o)
			if len(out) == size {
				more := i+1 < len(objs)
				if !more {
					return out, "", nil
				}
				return out, pageToken(o.Key), nil
			}
		}
		if len(objs) <= size {
			return out, "", nil
		}
	}
}
