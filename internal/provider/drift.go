package provider

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

// driftHistoryLimit is how many of an object's newest audit events a drift
// explanation looks at.
const driftHistoryLimit = 20

// explainDrift warns, during refresh, when the backend holds a revision of an
// object other than the one Terraform last wrote or read, and says from the
// tenant's audit log what changed, who changed it and when. The plan itself
// shows the differences; the warning says where they came from.
//
// Changes made by a tenancy_environment_promotion (a linked promotion) are
// Terraform's own: the promotion resource plans and shows them, so they are
// left out, and when nothing else changed there is no warning.
func explainDrift(ctx context.Context, c *client.Client, private privateGetter, diags *diag.Diagnostics,
	what, tenant, kind, key string, current int64,
) {
	last, d := revisionFrom(ctx, private)
	if d.HasError() || last == 0 || last == current {
		return
	}
	events, err := c.ObjectHistory(ctx, tenant, kind, key, driftHistoryLimit)
	if err != nil {
		// The plan still shows the drift; only its explanation is missing.
		tflog.Warn(ctx, "cannot read the audit log to explain drift", map[string]any{"error": err.Error()})
		return
	}
	managed := managedPromotions{c: c, tenant: tenant}
	var lines []string
	var byPromotion int
	for _, e := range slices.Backward(events) {
		if e.RevisionAfter <= last && e.RevisionBefore < last {
			continue
		}
		if managed.made(ctx, e.PromotionID) {
			byPromotion++
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
		lines = append(lines, line)
	}
	if len(lines) == 0 && byPromotion > 0 {
		tflog.Debug(ctx, "the object changed only through a managed promotion", map[string]any{"object": what, "events": byPromotion})
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
			last, current, strings.Join(lines, "\n")),
	)
}

// managedPromotions tells, for one drift explanation, which promotions a
// tenancy_environment_promotion made; it reads each promotion once.
type managedPromotions struct {
	c      *client.Client
	tenant string
	seen   map[string]bool
}

// made reports whether the promotion with this id (empty for a change that
// no promotion made) is linked. A promotion it cannot read counts as made
// by hand: a needless warning is better than a missing one.
func (m *managedPromotions) made(ctx context.Context, id string) bool {
	if id == "" {
		return false
	}
	if linked, ok := m.seen[id]; ok {
		return linked
	}
	p, err := m.c.GetPromotion(ctx, m.tenant, id)
	if err != nil {
		tflog.Warn(ctx, "cannot read a promotion to explain drift", map[string]any{"promotion": id, "error": err.Error()})
	}
	linked := err == nil && p.Linked
	if m.seen == nil {
		m.seen = map[string]bool{}
	}
	m.seen[id] = linked
	return linked
}
