package provider

import (
	"context"
	"fmt"
	"slices"
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
	var lines []string
	for _, e := range slices.Backward(events) {
		if e.RevisionAfter <= last && e.RevisionBefore < last {
			continue
		}
		line := fmt.Sprintf("  - %s by %q: %s (revision %d -> %d)", e.Time.UTC().Format(time.RFC3339), e.Actor, e.Action, e.RevisionBefore, e.RevisionAfter)
		if e.Detail != "" {
			line += ", " + e.Detail
		}
		lines = append(lines, line)
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
