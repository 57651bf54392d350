package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

// objectDrift is what changed an object since the revision Terraform last
// recorded for it (in private state), as the tenant's audit log tells it.
//
// Changes made by a tenancy_environment_promotion (a linked promotion),
// or by the rollback of one, are Terraform's own: the promotion resource
// plans and shows them. A drift explanation leaves them out, and the
// target's environment, feature flags and quota keep in their state what
// Terraform last wrote or read when nothing else changed them (see
// ownChangesOnly), so that a refresh right after an apply that promoted
// finds nothing to record.
type objectDrift struct {
	// last is the revision Terraform recorded (0: none), current the
	// platform's.
	last, current int64
	// byHand are the changes made otherwise, one warning line each.
	byHand []string
	// byPromotion counts the changes of linked promotions and their rollbacks.
	byPromotion int
	// complete says whether the audit log accounts for every change since
	// last; false when it could not be read, too.
	complete bool
}

// readDrift reads what changed an object since the revision its private
// state records; nothing, without a call, when the platform still holds that
// revision or Terraform recorded none (state that predates private revisions).
func readDrift(ctx context.Context, c *client.Client, private privateGetter, tenant, kind, key string, current int64) objectDrift {
	last, d := revisionFrom(ctx, private)
	if d.HasError() {
		last = 0
	}
	return driftSince(ctx, c, tenant, kind, key, last, current)
}

// driftSince reads what changed an object between revisions last and current.
func driftSince(ctx context.Context, c *client.Client, tenant, kind, key string, last, current int64) objectDrift {
	drift := objectDrift{last: last, current: current}
	if !drift.moved() {
		return drift
	}
	events, complete, err := c.ObjectHistorySince(ctx, tenant, kind, key, last)
	if err != nil {
		// The plan still shows the drift; only its explanation is missing.
		tflog.Warn(ctx, "cannot read the audit log to explain drift", map[string]any{"error": err.Error()})
		return drift
	}
	drift.complete = complete && len(events) > 0
	managed := managedPromotions{c: c, tenant: tenant}
	for _, e := range slices.Backward(events) {
		if managed.made(ctx, e.PromotionID, len(events)) {
			drift.byPromotion++
			continue
		}
		// A token's name is whatever its minter chose; its id is not.
		actor := strconv.Quote(e.Actor)
		if e.ActorTokenID != "" {
			actor += " (token " + e.ActorTokenID + ")"
		}
		line := fmt.Sprintf("  - %s by %s: %s (revision %d -> %d)", e.Time.UTC().Format(time.RFC3339), actor, e.Action, e.RevisionBefore, e.RevisionAfter)
		if e.Detail != "" {
			line += ", " + e.Detail
		}
		drift.byHand = append(drift.byHand, line)
	}
	return drift
}

// moved reports whether the object changed since Terraform recorded a
// revision of it.
func (d objectDrift) moved() bool { return d.last != 0 && d.last != d.current }

// ownChangesOnly reports whether the object changed since Terraform last
// recorded it, and only through linked promotions and their rollbacks:
// then its resource keeps its state and recorded revision as they were.
func (d objectDrift) ownChangesOnly() bool {
	return d.moved() && d.complete && len(d.byHand) == 0 && d.byPromotion > 0
}

// warn adds the warning that the object was changed outside Terraform,
// saying what changed, who changed it and when, unless it did not change or
// changed only through linked promotions and their rollbacks. The plan
// itself shows the differences; the warning says where they came from.
func (d objectDrift) warn(ctx context.Context, diags *diag.Diagnostics, what string) {
	if !d.moved() {
		return
	}
	lines := d.byHand
	if len(lines) == 0 && d.byPromotion > 0 {
		tflog.Debug(ctx, "the object changed only through a managed promotion", map[string]any{"object": what, "events": d.byPromotion})
		return
	}
	if len(lines) == 0 {
		lines = []string{"  (the audit log holds no event for these revisions)"}
	}
	diags.AddWarning(
		fmt.Sprintf("%s was changed outside Terraform", what),
		fmt.Sprintf("Terraform last saw revision %d; the platform now holds revision %d. Changes since then:\n%s\n\n"+
			"The plan shows where this differs from the configuration; apply puts the configuration back there, or change "+
			"the configuration to keep the change. Attributes under ignore_changes are left as they are.",
			d.last, d.current, strings.Join(lines, "\n")),
	)
}

// explainDrift warns, during refresh, when the platform holds a revision
// of an object other than the one Terraform last wrote or read, and says
// from the tenant's audit log what changed, who changed it and when,
// leaving out what linked promotions and their rollbacks changed.
func explainDrift(ctx context.Context, c *client.Client, private privateGetter, diags *diag.Diagnostics,
	what, tenant, kind, key string, current int64,
) {
	readDrift(ctx, c, private, tenant, kind, key, current).warn(ctx, diags, what)
}

// writeAtOwnRevision runs write with If-Match rev, the revision Terraform
// recorded. When the platform refuses it (412) because the object changed
// since, and only through linked promotions and their rollbacks (which a
// refresh leaves out of the recorded revision), it writes again at the
// revision current reads; any other change still fails the write, so
// Terraform never overwrites a change it has not shown.
func writeAtOwnRevision[T any](ctx context.Context, c *client.Client, tenant, kind, key string, rev int64,
	current func(context.Context) (int64, error), write func(rev int64) (T, error),
) (T, error) {
	out, err := write(rev)
	if rev == 0 || !errors.Is(err, client.ErrPreconditionFailed) {
		return out, err
	}
	now, getErr := current(ctx)
	if getErr != nil || !driftSince(ctx, c, tenant, kind, key, rev, now).ownChangesOnly() {
		return out, err
	}
	tflog.Debug(ctx, "the object changed only through a managed promotion since Terraform recorded it; writing at its current revision",
		map[string]any{"kind": kind, "key": key, "recorded": rev, "current": now})
	return write(now)
}

// managedPromotions tells, for one drift explanation, which promotions a
// tenancy_environment_promotion made.
type managedPromotions struct {
	c      *client.Client
	tenant string
	linked map[string]bool
	listed bool
}

// manyPromotions is how many events an explanation may have before
// managedPromotions reads the tenant's promotion history at once rather
// than each promotion on its own.
const manyPromotions = 3

// made reports whether the promotion with this id (empty for a change that
// no promotion made) is linked; the rollback of a promotion carries its id
// too. events is how many events the explanation has. A promotion it
// cannot read counts as made by hand: a needless warning is better than a
// missing one.
func (m *managedPromotions) made(ctx context.Context, id string, events int) bool {
	if id == "" {
		return false
	}
	if linked, ok := m.linked[id]; ok || m.listed {
		return linked
	}
	if m.linked == nil {
		m.linked = map[string]bool{}
	}
	if events > manyPromotions {
		m.listed = true
		history, err := m.c.ListPromotions(ctx, m.tenant, "")
		if err != nil {
			tflog.Warn(ctx, "cannot read the promotion history to explain drift", map[string]any{"error": err.Error()})
		}
		for _, p := range history {
			m.linked[p.ID] = p.Linked
		}
		return m.linked[id]
	}
	p, err := m.c.GetPromotion(ctx, m.tenant, id)
	if err != nil {
		tflog.Warn(ctx, "cannot read a promotion to explain drift", map[string]any{"promotion": id, "error": err.Error()})
	}
	m.linked[id] = err == nil && p.Linked
	return m.linked[id]
}
