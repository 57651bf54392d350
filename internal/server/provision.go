package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

// provisionLoop advances provisioning tenants through their steps. Every
// replica runs it; the tenant lock and conditional writes make a step happen
// once however many replicas see it due.
func (s *Server) provisionLoop(ctx context.Context) {
	if s.provisioningDelay <= 0 {
		return
	}
	tick := min(max(s.provisioningDelay/10, 20*time.Millisecond), time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.provisionDue(ctx); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "provisioning", "error", err)
			}
		}
	}
}

// provisionDue moves every provisioning tenant to the step its age calls
// for, and retries the tenants whose provisioning failed.
func (s *Server) provisionDue(ctx context.Context) error {
	var due []string
	err := s.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		objs, err := tx.List(ctx, store.ListQuery{Kind: api.KindTenant})
		for _, o := range objs {
			t, err := tenantFromObject(o)
			if err != nil {
				return err
			}
			failedLongAgo := t.Status == api.StatusFailed && s.now().Sub(t.UpdatedAt) >= s.dataInterval
			if t.Status == api.StatusProvisioning || failedLongAgo {
				due = append(due, t.Slug)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, slug := range due {
		errs = append(errs, s.advance(ctx, slug))
	}
	return errors.Join(errs...)
}

// stepWork is the work of the provisioning steps that do some: resource
// allocation readies the data plane (on PostgreSQL, the shared tenant-data
// database), environment setup provisions the data store of every
// environment the tenant has by then.
func (s *Server) stepWork(ctx context.Context, slug, step string) error {
	switch step {
	case "resource_allocation":
		if err := s.data.Ping(ctx); err != nil {
			return fmt.Errorf("resource allocation: the tenant data plane: %w", err)
		}
	case "environment_setup":
		var names []string
		err := s.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
			envs, err := allObjects[api.Environment](ctx, tx, slug, api.KindEnvironment)
			for _, e := range envs {
				if e.Status != api.StatusActive || e.Database == nil {
					names = append(names, e.Name)
				}
			}
			return err
		})
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := s.setUpEnvironment(ctx, slug, n); err != nil {
				return fmt.Errorf("environment setup: environment %q: %w", n, err)
			}
		}
	}
	return nil
}

// advance moves a tenant through the steps its age calls for, doing each
// step's work outside any transaction. A step that fails leaves the tenant
// failed, with the reason, at the step before; the next pass retries it.
func (s *Server) advance(ctx context.Context, slug string) error {
	var t api.Tenant
	err := s.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		o, err := tx.Get(ctx, slug, api.KindTenant, slug)
		if err != nil {
			return err
		}
		t, err = tenantFromObject(o)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil // Deleted meanwhile.
	}
	if err != nil || (t.Status != api.StatusProvisioning && t.Status != api.StatusFailed) {
		return err
	}
	steps := api.ProvisioningSteps
	from := slices.Index(steps, t.ProvisioningStep)
	// The first step is done at creation; the rest are spread evenly over the delay.
	reached := len(steps) - 1
	if s.provisioningDelay > 0 {
		elapsed := s.now().Sub(t.CreatedAt)
		reached = min(1+int(elapsed*time.Duration(len(steps)-1)/s.provisioningDelay), len(steps)) - 1
	}
	if t.Status == api.StatusFailed {
		reached = max(reached, from+1)
	}
	if reached <= from {
		return nil
	}
	var workErr error
	for st := from + 1; st <= reached; st++ {
		if workErr = s.stepWork(ctx, slug, steps[st]); workErr != nil {
			reached = st - 1
			break
		}
	}
	return s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.Lock(ctx, lockTenant(slug)); err != nil {
			return err
		}
		o, err := tx.Get(ctx, slug, api.KindTenant, slug)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		cur, err := tenantFromObject(o)
		if err != nil || cur.ProvisioningStep != t.ProvisioningStep || cur.Status != t.Status {
			return err // Another replica got here first.
		}
		prev := cur.ProvisioningStep
		cur.ProvisioningStep = steps[max(reached, from)]
		cur.Status, cur.StatusReason = api.StatusProvisioning, ""
		switch {
		case workErr != nil:
			cur.Status, cur.StatusReason = api.StatusFailed, statusReason(workErr)
			if t.Status == api.StatusFailed && t.StatusReason == cur.StatusReason && prev == cur.ProvisioningStep {
				return nil // Failed again, for the same reason: nothing new to record.
			}
		case reached == len(steps)-1:
			cur.Status = api.StatusActive
		}
		next, err := tenantObject(cur)
		if err != nil {
			return err
		}
		if next, err = tx.Put(ctx, next, o.Revision); err != nil {
			return err
		}
		if err := s.recordProvisioning(ctx, tx, slug, next.Revision, prev, cur.ProvisioningStep); err != nil {
			return err
		}
		if workErr == nil {
			return nil
		}
		s.log.WarnContext(ctx, "provisioning a tenant failed; retried later", "tenant", slug, "error", workErr)
		return s.audit(ctx, tx, nil, auditEntry{tenant: slug, action: "tenant.provisioning.failed", kind: api.KindTenant, key: slug,
			before: o.Revision, after: next.Revision, detail: cur.StatusReason})
	})
}

// recordProvisioning writes one audit event per provisioning step passed
// since prev (exclusive) up to step (inclusive).
func (s *Server) recordProvisioning(ctx context.Context, tx store.Tx, slug string, rev int64, prev, step string) error {
	steps := api.ProvisioningSteps
	from, to := slices.Index(steps, prev)+1, slices.Index(steps, step)
	for _, st := range steps[from : to+1] {
		if err := s.audit(ctx, tx, nil, auditEntry{tenant: slug, action: "tenant.provisioning." + st,
			kind: api.KindTenant, key: slug, after: rev}); err != nil {
			return err
		}
	}
	return nil
}
