package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

// Writes: every POST, PUT, PATCH and DELETE runs through mutate, once per
// Idempotency-Key, under the locks it names; a dry run runs through
// checkOnly, writing nothing.

// Lock names. A transaction takes the platform lock before a tenant's.
const lockPlatform = "platform"

func lockTenant(slug string) string { return "tenant:" + slug }

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

// dryRunParam reads ?dry_run=, which asks a write only to be checked.
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

// creation is how one kind of a tenant's objects is created by POST.
type creation[T any] struct {
	kind string
	// check builds the object from the request body and runs every check
	// of the create; the dry run (?dry_run=true) and the create share it.
	check func(ctx context.Context, tx store.Tx, tenant string, body []byte) (T, error)
	// key is the object's store key; detail is what its audit event says.
	key, detail func(T) string
	// answer is what the caller sees of the object; nil: the object itself.
	answer func(T) any
}

// createIn creates an object of a tenant under the tenant's lock, with its
// audit event, or only checks it on a dry run.
func createIn[T any, P document[T]](s *Server, w http.ResponseWriter, r *http.Request, p *principal, c creation[T]) error {
	tenant := r.PathValue("tenant")
	answer := c.answer
	if answer == nil {
		answer = func(v T) any { return v }
	}
	dry, err := dryRunParam(r)
	if err != nil {
		return err
	}
	if dry {
		return s.checkOnly(w, r, func(ctx context.Context, tx store.Tx, body []byte) (any, error) {
			v, err := c.check(ctx, tx, tenant, body)
			return answer(v), err
		})
	}
	return s.mutate(w, r, p, []string{lockTenant(tenant)}, func(ctx context.Context, tx store.Tx, body []byte) (int, any, error) {
		v, err := c.check(ctx, tx, tenant, body)
		if err != nil {
			return 0, nil, err
		}
		if v, err = createObject[T, P](ctx, tx, tenant, c.kind, c.key(v), v); err != nil {
			return 0, nil, err
		}
		if err := s.audit(ctx, tx, p, auditEntry{tenant: tenant, action: c.kind + ".create", kind: c.kind, key: c.key(v),
			after: P(&v).GetMeta().Revision, detail: c.detail(v)}); err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, answer(v), nil
	})
}

// update is how one object of a tenant is changed by PATCH or PUT. Every
// such write takes the same steps (prepareUpdate, then writeUpdate): load the object,
// check If-Match against its revision, apply the request, and store the
// result with its audit event. A write that changes nothing keeps the
// revision and writes no audit event, so that nobody sees drift that is not
// there. A PUT whose object does not exist yet creates it.
type update[T any] struct {
	tenant, kind, key string
	// what names the object in messages, such as `user "usr_1"`.
	what string
	// load reads the object as it is: a 404 when it is missing, or, for a
	// PUT that creates it, the zero T (revision 0).
	load func(ctx context.Context, tx store.Tx) (T, error)
	// apply checks the request body against the object as it is and
	// returns the object as it would be; the dry run and the write share
	// it, so a dry run runs every check the write does.
	apply func(ctx context.Context, tx store.Tx, cur T, body []byte) (T, error)
	// detail is what the audit event says of the write.
	detail func(cur, next T, body []byte) string
	// same reports that next changes nothing of cur; nil compares the
	// documents the store would hold.
	same func(cur, next T) bool
	// answer is what the caller sees of the object; nil: the object itself.
	answer func(T) any
}

// prepareUpdate loads the object, checks the request's If-Match against it and
// applies the request: the object as it is, and as it would be.
func prepareUpdate[T any, P document[T]](ctx context.Context, tx store.Tx, u update[T], ifMatch precondition, body []byte) (cur, next T, err error) {
	if cur, err = u.load(ctx, tx); err != nil {
		return cur, next, err
	}
	if err = checkRevision(ifMatch, P(&cur).GetMeta().Revision, u.what); err != nil {
		return cur, next, err
	}
	next, err = u.apply(ctx, tx, cur, body)
	return cur, next, err
}

// unchanged reports whether writing next over cur would change nothing.
func unchanged[T any, P document[T]](u update[T], cur, next T) (bool, error) {
	if P(&cur).GetMeta().Revision == 0 {
		return false, nil // Not there yet: a PUT creates it.
	}
	if u.same != nil {
		return u.same(cur, next), nil
	}
	a, err := toObject[T, P](u.tenant, u.kind, u.key, cur)
	if err != nil {
		return false, err
	}
	b, err := toObject[T, P](u.tenant, u.kind, u.key, next)
	return bytes.Equal(a.Data, b.Data), err
}

func (u update[T]) answerWith(v T) any {
	if u.answer == nil {
		return v
	}
	return u.answer(v)
}

// writeUpdate stores next in place of cur, at cur's revision, with its audit
// event (or creates it when cur is at revision 0) and answers like a
// mutation; when nothing changes, it answers cur as it is.
func writeUpdate[T any, P document[T]](ctx context.Context, tx store.Tx, s *Server, p *principal, u update[T], cur, next T, body []byte) (int, any, error) {
	same, err := unchanged[T, P](u, cur, next)
	if err != nil {
		return 0, nil, err
	}
	if same {
		return http.StatusOK, u.answerWith(cur), nil
	}
	before := P(&cur).GetMeta().Revision
	status, action := http.StatusOK, u.kind+".update"
	var saved T
	if before == 0 {
		status, action = http.StatusCreated, u.kind+".create"
		saved, err = createObject[T, P](ctx, tx, u.tenant, u.kind, u.key, next)
	} else {
		*P(&next).GetMeta() = *P(&cur).GetMeta()
		saved, err = putObject[T, P](ctx, tx, u.tenant, u.kind, u.key, next)
	}
	if err != nil {
		return 0, nil, err
	}
	if err := s.audit(ctx, tx, p, auditEntry{tenant: u.tenant, action: action, kind: u.kind, key: u.key,
		before: before, after: P(&saved).GetMeta().Revision, detail: u.detail(cur, saved, body)}); err != nil {
		return 0, nil, err
	}
	return status, u.answerWith(saved), nil
}

// runUpdate prepares and writes an update in one transaction.
func runUpdate[T any, P document[T]](ctx context.Context, tx store.Tx, s *Server, p *principal, u update[T], ifMatch precondition, body []byte) (int, any, error) {
	cur, next, err := prepareUpdate[T, P](ctx, tx, u, ifMatch, body)
	if err != nil {
		return 0, nil, err
	}
	return writeUpdate[T, P](ctx, tx, s, p, u, cur, next, body)
}

// updateIn runs an update for a request under its tenant's lock, honouring
// If-Match; a PUT with ?dry_run=true only checks it and answers the object
// as it would be.
func updateIn[T any, P document[T]](s *Server, w http.ResponseWriter, r *http.Request, p *principal, u update[T]) error {
	ifMatch, err := parseIfMatch(r)
	if err != nil {
		return err
	}
	if r.Method == http.MethodPut {
		dry, err := dryRunParam(r)
		if err != nil {
			return err
		}
		if dry {
			return s.checkOnly(w, r, func(ctx context.Context, tx store.Tx, body []byte) (any, error) {
				_, next, err := prepareUpdate[T, P](ctx, tx, u, ifMatch, body)
				return u.answerWith(next), err
			})
		}
	}
	return s.mutate(w, r, p, []string{lockTenant(u.tenant)}, func(ctx context.Context, tx store.Tx, body []byte) (int, any, error) {
		return runUpdate[T, P](ctx, tx, s, p, u, ifMatch, body)
	})
}

// deletion is how one object of a tenant is deleted by DELETE. Every such
// write takes the same steps (runDeletion): load the object, check If-Match
// against its revision, apply the kind's own rules and delete what goes
// with the object, then delete the object at the revision read, with its
// audit event.
type deletion[T any] struct {
	tenant, kind, key string
	// what names the object in messages, such as `user "usr_1"`.
	what string
	// load reads the object; a 404 when it is missing.
	load func(ctx context.Context, tx store.Tx) (T, error)
	// cascade applies the kind's own rules (who may delete it, what must
	// stay), deletes what goes with the object, and returns what the
	// audit event says; nil: no rules, nothing else, no detail.
	cascade func(ctx context.Context, tx store.Tx, cur T) (detail string, err error)
}

// runDeletion deletes the object in the transaction of a mutation.
func runDeletion[T any, P document[T]](ctx context.Context, tx store.Tx, s *Server, p *principal, d deletion[T], ifMatch precondition) (int, any, error) {
	cur, err := d.load(ctx, tx)
	if err != nil {
		return 0, nil, err
	}
	rev := P(&cur).GetMeta().Revision
	if err := checkRevision(ifMatch, rev, d.what); err != nil {
		return 0, nil, err
	}
	var detail string
	if d.cascade != nil {
		if detail, err = d.cascade(ctx, tx, cur); err != nil {
			return 0, nil, err
		}
	}
	return http.StatusNoContent, nil, s.remove(ctx, tx, p, d.tenant, d.kind, d.key, rev, detail)
}

// deleteIn runs a deletion for a request under its tenant's lock,
// honouring If-Match.
func deleteIn[T any, P document[T]](s *Server, w http.ResponseWriter, r *http.Request, p *principal, d deletion[T]) error {
	ifMatch, err := parseIfMatch(r)
	if err != nil {
		return err
	}
	return s.mutate(w, r, p, []string{lockTenant(d.tenant)}, func(ctx context.Context, tx store.Tx, _ []byte) (int, any, error) {
		return runDeletion[T, P](ctx, tx, s, p, d, ifMatch)
	})
}

// remove deletes an object of a tenant at revision rev with its audit
// event: the end of every deletion, and of those another write causes
// (a user's bindings, an environment's quota).
func (s *Server) remove(ctx context.Context, tx store.Tx, p *principal, tenant, kind, key string, rev int64, detail string) error {
	if err := tx.Delete(ctx, tenant, kind, key, rev); err != nil {
		return err
	}
	return s.audit(ctx, tx, p, auditEntry{tenant: tenant, action: kind + ".delete", kind: kind, key: key, before: rev, detail: detail})
}

// applyMergePatch applies an RFC 7396 merge patch to v and decodes the
// result strictly, so a patch cannot smuggle in unknown fields.
func applyMergePatch[T any](v T, patch []byte) (T, error) {
	var out T
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(patch, &probe); err != nil || probe == nil {
		return out, errBadRequest("", "a PATCH body must be a JSON object (a JSON merge patch, RFC 7396)")
	}
	doc, err := json.Marshal(v)
	if err != nil {
		return out, err
	}
	merged, err := jsonpatch.MergePatch(doc, patch)
	if err != nil {
		return out, errBadRequest("", "the merge patch could not be applied: %v", err)
	}
	return out, decodeStrict(merged, &out)
}

// changedFields names the top-level fields a merge patch touches, for the audit log.
func changedFields(patch []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(patch, &m) != nil {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return "changed: " + strings.Join(keys, ", ")
}
