package server

// Tenant data: every environment has a data store in the data plane
// (package tenantdata), made when the environment is created and dropped,
// after the final backup, when it is deleted.
//
// A write that works in the data plane runs in three steps (dataWrite):
// checks in a read-only transaction of the platform's database, the work
// in the data plane outside any such transaction (a migration may run for
// minutes, and on SQLite a write transaction holds up every other write),
// then one transaction that records the outcome with its audit events and
// idempotency record. Dropping a store is never part of the work: the
// record of the drop is written with the outcome, and the drop runs after
// the commit (and again, until it succeeds, from the data loop), so that a
// failure never leaves a record pointing at a store that is gone.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
)

// Records that belong to no tenant are kept under dataTenant, which no slug
// can be.
const (
	dataTenant    = "@data"
	kindStoreDrop = "store_drop"
)

// storeDrop is a store to drop once the transaction that records it
// commits.
type storeDrop struct {
	Tenant      string    `json:"tenant"`
	Environment string    `json:"environment"`
	Placement   string    `json:"placement"`
	Reason      string    `json:"reason"`
	Since       time.Time `json:"since"`
}

func (d storeDrop) ref() tenantdata.Ref {
	return tenantdata.Ref{Tenant: d.Tenant, Environment: d.Environment, Placement: d.Placement}
}

func dropKey(ref tenantdata.Ref) string {
	return ref.Tenant + "/" + ref.Environment + "/" + ref.Placement
}

// storeRef is the store of an environment of a tenant: where it is, when
// it was provisioned, else where the tenant's isolation puts it.
func storeRef(t api.Tenant, e api.Environment) tenantdata.Ref {
	ref := tenantdata.Ref{Tenant: t.Slug, Environment: e.Name, Placement: tenantdata.PlacementFor(t.Isolation, e.Type)}
	if e.Database != nil && e.Database.Isolation != "" {
		ref.Placement = e.Database.Isolation
	}
	return ref
}

// wantedPlacement is where the tenant's isolation puts the environment.
func wantedPlacement(t api.Tenant, e api.Environment) string {
	return tenantdata.PlacementFor(t.Isolation, e.Type)
}

func (s *Server) location(ref tenantdata.Ref) *api.Database {
	loc := s.data.Location(ref)
	return &loc
}

// scheduleDrop records in tx that a store is to be dropped.
func (s *Server) scheduleDrop(ctx context.Context, tx store.Tx, ref tenantdata.Ref, reason string) error {
	data, err := json.Marshal(storeDrop{Tenant: ref.Tenant, Environment: ref.Environment, Placement: ref.Placement,
		Reason: reason, Since: s.now().UTC()})
	if err != nil {
		return err
	}
	_, err = tx.Create(ctx, store.Object{Tenant: dataTenant, Kind: kindStoreDrop, Key: dropKey(ref), Data: data})
	if errors.Is(err, store.ErrExists) {
		return nil // Already scheduled.
	}
	return err
}

// runDrops drops the stores whose drops are scheduled (those of refs, or
// all of them when none is given), each record going once its store is
// gone.
func (s *Server) runDrops(ctx context.Context, refs ...tenantdata.Ref) error {
	var due []store.Object
	err := s.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		if len(refs) == 0 {
			var err error
			due, err = tx.List(ctx, store.ListQuery{Tenant: dataTenant, Kind: kindStoreDrop})
			return err
		}
		for _, ref := range refs {
			o, err := tx.Get(ctx, dataTenant, kindStoreDrop, dropKey(ref))
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			due = append(due, o)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, o := range due {
		var d storeDrop
		if err := json.Unmarshal(o.Data, &d); err != nil {
			errs = append(errs, fmt.Errorf("scheduled drop %s: %w", o.Key, err))
			continue
		}
		if err := s.data.Drop(ctx, d.ref()); err != nil {
			errs = append(errs, err)
			continue
		}
		err := s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			err := tx.Delete(ctx, dataTenant, kindStoreDrop, o.Key, 0)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.log.InfoContext(ctx, "dropped a data store", "store", d.ref().String(), "reason", d.Reason)
	}
	return errors.Join(errs...)
}

// provisionStore makes a store, after dropping what an earlier life of the
// same environment may have left scheduled for dropping.
func (s *Server) provisionStore(ctx context.Context, ref tenantdata.Ref) error {
	if err := s.runDrops(ctx, ref.In(api.PlacementShared), ref.In(api.PlacementDedicated)); err != nil {
		return err
	}
	return s.data.Provision(ctx, ref)
}

// dataWrite is a write whose work happens in the data plane.
type dataWrite struct {
	locks []string
	// prepare runs every check in a read-only transaction and returns the
	// work to do (nil: none).
	prepare func(ctx context.Context, tx store.Tx, body []byte) (work func(ctx context.Context) error, err error)
	// commit records the outcome, given what the work returned, and
	// answers like a mutation: an error it returns rolls everything back,
	// while an error answer (see errorAnswer) commits what it recorded.
	commit func(ctx context.Context, tx store.Tx, body []byte, workErr error) (int, any, error)
	// after runs once the outcome is committed (and not on a replay).
	after func(ctx context.Context)
}

// writeData runs a dataWrite for a request, exactly once per
// Idempotency-Key as mutate does: a retry of a request that was answered
// gets the first answer without the work being done again.
func (s *Server) writeData(w http.ResponseWriter, r *http.Request, p *principal, dw dataWrite) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	key := r.Header.Get(api.HeaderIdempotencyKey)
	if len(key) > 255 || !printable(key) {
		// mutate says what is wrong with it, before any work is done.
		r.Body = io.NopCloser(bytes.NewReader(body))
		return s.mutate(w, r, p, dw.locks, nil)
	}
	if key != "" {
		var rec store.IdempotencyRecord
		var found bool
		err := s.store.View(r.Context(), func(ctx context.Context, tx store.Tx) error {
			var err error
			rec, err = tx.Idempotency(ctx, p.TokenID, key)
			found = err == nil
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			return err
		}
		if found {
			if rec.RequestHash != requestHash(r, body) {
				return errInvalid(api.HeaderIdempotencyKey,
					"Idempotency-Key %q was already used for a different request; use a new key for a new request", key)
			}
			w.Header().Set("Idempotent-Replayed", "true")
			setETag(w, rec.Body)
			writeRaw(w, rec.Status, rec.Body)
			return nil
		}
	}
	var work func(ctx context.Context) error
	err = s.store.View(r.Context(), func(ctx context.Context, tx store.Tx) error {
		var err error
		work, err = dw.prepare(ctx, tx, body)
		return err
	})
	if err != nil {
		return err
	}
	var workErr error
	if work != nil {
		// The work goes on if the client goes away: a retry then waits for
		// it in the data plane and finds it done.
		workErr = work(context.WithoutCancel(r.Context()))
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	committed := false
	err = s.mutate(w, r, p, dw.locks, func(ctx context.Context, tx store.Tx, body []byte) (int, any, error) {
		st, out, err := dw.commit(ctx, tx, body, workErr)
		committed = err == nil
		return st, out, err
	})
	if err == nil && committed && dw.after != nil {
		dw.after(context.WithoutCancel(r.Context()))
	}
	return err
}

// errorAnswer turns an error into an answer that a mutation commits with:
// for an outcome that is recorded although the request failed.
func errorAnswer(ctx context.Context, err error) (int, any, error) {
	ae := toAPIError(err)
	if ae == nil {
		return 0, nil, err
	}
	return ae.status, api.ErrorBody{Error: api.ErrorDetail{
		Code: ae.code, Message: ae.message, Field: ae.field, RequestID: requestID(ctx),
	}}, nil
}

// dataError explains a data plane error about an environment's store, or
// returns it as it is (a 500, whose detail goes to the log).
func dataError(tenant, env string, err error) error {
	var me *tenantdata.MigrationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &me):
		return errInvalid(fmt.Sprintf("migrations.%d", me.Version), "%s", me.Error())
	case errors.Is(err, tenantdata.ErrNotFound):
		return errConflict("", "environment %q of tenant %q has no data store yet: its provisioning failed or is under way; tenancyd retries it, see the environment's status_reason", env, tenant)
	case errors.Is(err, tenantdata.ErrUnsupported):
		return errConflict("", "environment %q of tenant %q: %v", env, tenant, err)
	case errors.Is(err, tenantdata.ErrCorrupt):
		return errConflict("", "%v", err)
	}
	return err
}

// activeStore loads an environment whose store is provisioned, and its
// tenant; a failed environment is a 409 that says why.
func activeStore(ctx context.Context, tx store.Tx, tenant, env string) (api.Tenant, api.Environment, tenantdata.Ref, error) {
	t, err := loadTenant(ctx, tx, tenant)
	if err != nil {
		return t, api.Environment{}, tenantdata.Ref{}, err
	}
	e, err := loadEnvironment(ctx, tx, tenant, env)
	if err != nil {
		return t, e, tenantdata.Ref{}, err
	}
	if e.Database == nil || e.Status != api.StatusActive {
		reason := e.StatusReason
		if reason == "" {
			reason = "its data store is not provisioned yet"
		}
		return t, e, tenantdata.Ref{}, errConflict("", "environment %q of tenant %q is %s (%s); tenancyd retries its provisioning, try again later",
			env, tenant, orDefault(e.Status, "provisioning"), reason)
	}
	return t, e, storeRef(t, e), nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// statusReason is an error as an environment's or tenant's status_reason:
// one line, bounded.
func statusReason(err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if r := []rune(msg); len(r) > 500 {
		msg = string(r[:500]) + "…"
	}
	return msg
}

// setUpEnvironment provisions the store of an environment that has none,
// or whose provisioning failed, and records the outcome on it: active with
// its database, or failed with the reason.
func (s *Server) setUpEnvironment(ctx context.Context, tenant, name string) error {
	var ref tenantdata.Ref
	var skip bool
	err := s.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		t, err := loadTenant(ctx, tx, tenant)
		if err != nil {
			return err
		}
		e, err := loadEnvironment(ctx, tx, tenant, name)
		if err != nil {
			return err
		}
		skip = e.Status == api.StatusActive && e.Database != nil
		ref = storeRef(t, e)
		return nil
	})
	if err != nil || skip {
		return err
	}
	provErr := s.provisionStore(ctx, ref)
	err = s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.Lock(ctx, lockTenant(tenant)); err != nil {
			return err
		}
		e, err := loadEnvironment(ctx, tx, tenant, name)
		if err != nil {
			return err
		}
		before := e
		if provErr != nil {
			e.Status, e.StatusReason = api.StatusFailed, statusReason(provErr)
		} else {
			e.Status, e.StatusReason, e.Database = api.StatusActive, "", s.location(ref)
		}
		sameFailure := provErr != nil && e.StatusReason == before.StatusReason && before.Status == api.StatusFailed
		if sameFailure || (e.Status == before.Status && before.Database != nil && e.StatusReason == before.StatusReason) {
			return nil // Nothing new to record.
		}
		next, err := putObject[api.Environment](ctx, tx, tenant, api.KindEnvironment, name, e)
		if err != nil {
			return err
		}
		detail := "data store " + ref.String() + " provisioned"
		if provErr != nil {
			detail = "provisioning the data store failed: " + e.StatusReason
		}
		return s.audit(ctx, tx, nil, auditEntry{tenant: tenant, action: "environment.provision", kind: api.KindEnvironment, key: name,
			before: before.Revision, after: next.Revision, detail: detail})
	})
	return errors.Join(provErr, err)
}

// dataLoop retries what failed in the data plane and expires credentials,
// until ctx ends; backupExpiryLoop expires backups.
func (s *Server) dataLoop(ctx context.Context) {
	t := time.NewTicker(s.dataInterval)
	defer t.Stop()
	for {
		s.dataRound(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// dataRound is one pass of the data loop; its errors go to the log, and
// the next pass tries again.
func (s *Server) dataRound(ctx context.Context) {
	warn := func(what string, err error) {
		if err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, what, "error", err)
		}
	}
	warn("dropping data stores", s.runDrops(ctx))
	warn("provisioning environments", s.retryEnvironments(ctx))
	if n, err := s.data.ExpireCredentials(ctx); err != nil {
		warn("expiring database credentials", err)
	} else if n > 0 {
		s.log.InfoContext(ctx, "expired database credentials", "count", n)
	}
}

// retryEnvironments provisions the environments that have no store: those
// whose provisioning failed, and those made before tenancyd kept tenant
// data. Environments of tenants that are still provisioning are left to
// the tenant's own steps.
func (s *Server) retryEnvironments(ctx context.Context) error {
	type todo struct{ tenant, env string }
	var due []todo
	err := s.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		envs, err := tx.List(ctx, store.ListQuery{Kind: api.KindEnvironment})
		if err != nil {
			return err
		}
		for _, o := range envs {
			e, err := fromObject[api.Environment](o)
			if err != nil {
				return err
			}
			if e.Status == api.StatusActive && e.Database != nil {
				continue
			}
			t, err := loadTenant(ctx, tx, o.Tenant)
			if err != nil || t.Status == api.StatusProvisioning {
				continue
			}
			due = append(due, todo{o.Tenant, e.Name})
		}
		return nil
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range due {
		errs = append(errs, s.setUpEnvironment(ctx, d.tenant, d.env))
	}
	return errors.Join(errs...)
}

// storeMove is an environment's store going to another placement: its
// data is copied there (and checked) as the work of a write, and the
// source is dropped once the write is recorded.
type storeMove struct {
	s    *Server
	env  string
	from tenantdata.Ref
	to   string
	// dump is what was copied; nil when both placements are one physical
	// store and nothing needed copying.
	dump *tenantdata.Dump
	err  error
	done bool
}

func (m *storeMove) target() tenantdata.Ref { return m.from.In(m.to) }

func (m *storeMove) run(ctx context.Context) error {
	m.dump, m.err = tenantdata.Copy(ctx, m.s.data, m.from, m.to)
	m.done = m.err == nil
	return m.err
}

// moveFor is the move an environment's store needs to be where the
// tenant's isolation puts an environment of type typ; nil when it is
// there, or has no store yet (its provisioning will place it).
func (s *Server) moveFor(t api.Tenant, e api.Environment, typ string) *storeMove {
	if e.Database == nil {
		return nil
	}
	from := storeRef(t, e)
	to := tenantdata.PlacementFor(t.Isolation, typ)
	if from.Placement == to {
		return nil
	}
	return &storeMove{s: s, env: e.Name, from: from, to: to}
}

// runMoves runs moves in order and stops at the first that fails.
func runMoves(ctx context.Context, moves []*storeMove) error {
	for _, m := range moves {
		if err := m.run(ctx); err != nil {
			return err
		}
	}
	return nil
}

// recordMove records a move's outcome on e, the environment about to be
// written: its new location, the audit event, and the drop of the source.
// A move that failed, or whose environment changed (from revision rev)
// while it ran, is an error, and what it may have made in the target is
// scheduled for dropping; the environment stays where it was.
func (s *Server) recordMove(ctx context.Context, tx store.Tx, p *principal, m *storeMove, workErr error, rev int64, e *api.Environment) error {
	if !m.done || e.Revision != rev {
		if m.from.Placement != m.to && !tenantdata.SamePlace(s.data.Location(m.from), s.data.Location(m.target())) {
			if err := s.scheduleDrop(ctx, tx, m.target(), "an unfinished move of environment "+m.env); err != nil {
				return err
			}
		}
		if e.Revision != rev {
			return newError(http.StatusPreconditionFailed, api.CodePreconditionFailed, "",
				"environment %q changed while its data moved to %s; it stays %s: retry", m.env, m.to, m.from.Placement)
		}
		err := workErr
		if err == nil {
			err = m.err
		}
		return errConflict("isolation", "moving the data of environment %q from %s to %s failed, and it stays %s: %v; fix the cause and retry",
			m.env, m.from.Placement, m.to, m.from.Placement, dataError(m.from.Tenant, m.env, err))
	}
	e.Database = s.location(m.target())
	detail := fmt.Sprintf("data store moved from %s to %s", m.from.Placement, m.to)
	if m.dump != nil {
		detail += fmt.Sprintf(" (%s, row counts and checksums verified)", tablesLine(m.dump.Summary()))
		if err := s.scheduleDrop(ctx, tx, m.from, "environment "+m.env+" moved to "+m.to); err != nil {
			return err
		}
	}
	return s.audit(ctx, tx, p, auditEntry{tenant: m.from.Tenant, action: "environment.move", kind: api.KindEnvironment, key: m.env,
		before: rev, detail: detail})
}

// afterMove drops the sources of the moves that were recorded.
func (s *Server) afterMove(ctx context.Context, moves ...*storeMove) {
	var refs []tenantdata.Ref
	for _, m := range moves {
		if m != nil {
			refs = append(refs, m.from, m.target())
		}
	}
	if len(refs) == 0 {
		return
	}
	if err := s.runDrops(ctx, refs...); err != nil {
		s.log.WarnContext(ctx, "dropping data stores after a move; retried later", "error", err)
	}
}
