package server

import (
	"context"
	"errors"
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

// provisionDue moves every provisioning tenant to the step its age calls for.
func (s *Server) provisionDue(ctx context.Context) error {
	var due []string
	err := s.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		objs, err := tx.List(ctx, store.ListQuery{Kind: store.KindTenant})
		for _, o := range objs {
			t, err := tenantFromObject(o)
			if err != nil {
				return err
			}
			if t.Status == api.StatusProvisioning {
				due = append(due, t.Slug)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	for _, slug := range due {
		if err := s.advance(ctx, slug); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) advance(ctx context.Context, slug string) error {
	return s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.Lock(ctx, lockTenant(slug)); err != nil {
			return err
		}
		o, err := tx.Get(ctx, slug, store.KindTenant, slug)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		t, err := tenantFromObject(o)
		if err != nil || t.Status != api.StatusProvisioning {
			return err
		}
		steps := api.ProvisioningSteps
		// The first step is done at creation; the rest are spread evenly over the delay.
		elapsed := s.now().Sub(t.CreatedAt)
		reached := min(1+int(elapsed*time.Duration(len(steps)-1)/s.provisioningDelay), len(steps)) - 1
		from := slices.Index(steps, t.ProvisioningStep)
		if reached <= from {
			return nil
		}
		prev := t.ProvisioningStep
		t.ProvisioningStep = steps[reached]
		if reached == len(steps)-1 {
			t.Status = api.StatusActive
		}
		next, err := tenantObject(t)
		if err != nil {
			return err
		}
		if next, err = tx.Put(ctx, next, o.Revision); err != nil {
			return err
		}
		return s.recordProvisioning(ctx, tx, slug, next.Revision, prev, t.ProvisioningStep)
	})
}

// recordProvisioning writes one audit event per provisioning step passed
// since prev (exclusive) up to step (inclusive).
func (s *Server) recordProvisioning(ctx context.Context, tx store.Tx, slug string, rev int64, prev, step string) error {
	steps := api.ProvisioningSteps
	from, to := slices.Index(steps, prev)+1, slices.Index(steps, step)
	for _, st := range steps[from : to+1] {
		if err := s.audit(ctx, tx, nil, auditEntry{tenant: slug, action: "tenant.provisioning." + st,
			kind: store.KindTenant, key: slug, after: rev}); err != nil {
			return err
		}
	}
	return nil
}
