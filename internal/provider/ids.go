package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
)

// idExamples gives each part of an import ID an example, for error messages.
var idExamples = map[string]string{
	"tenant":      "acme",
	"environment": "staging",
	"user_id":     "usr_0123456789abcdef0123",
	"email":       "alice@example.com",
	"binding_id":  "rb_0123456789abcdef0123",
	"key":         "new-billing",
	"name":        "pagerduty",
	"source":      "staging",
	"target":      "production",
	"backup_id":   "bkp_0123456789abcdef0123",
}

// parseID splits an import ID such as "acme/staging" by the first of formats
// (such as "tenant/environment") with as many parts, all non-empty. The error
// names every accepted format with an example.
func parseID(id string, formats ...string) ([]string, error) {
	parts := strings.Split(id, "/")
	for _, f := range formats {
		if len(strings.Split(f, "/")) != len(parts) {
			continue
		}
		ok := true
		for _, p := range parts {
			ok = ok && p != "" && strings.TrimSpace(p) == p
		}
		if ok {
			return parts, nil
		}
	}
	accepted := make([]string, len(formats))
	for i, f := range formats {
		names := strings.Split(f, "/")
		examples := make([]string, len(names))
		for j, n := range names {
			examples[j] = idExamples[n]
			if examples[j] == "" {
				examples[j] = n
			}
		}
		accepted[i] = fmt.Sprintf("%q (such as %q)", "<"+strings.Join(names, ">/<")+">", strings.Join(examples, "/"))
	}
	return nil, fmt.Errorf("import ID %q must look like %s", id, strings.Join(accepted, " or "))
}

// formatID joins the parts of an ID; the inverse of parseID.
func formatID(parts ...string) string { return strings.Join(parts, "/") }

// importByID parses an import ID by one format, such as "tenant/name", and
// sets the attribute each part fills (attrs, in the format's order) and id.
// It returns the parts, or nil after reporting what the ID should look like;
// what introduces that report ("A user is imported by its tenant and user_id").
func importByID(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse, what, format string, attrs ...string) []string {
	parts, err := parseID(req.ID, format)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import ID", what+": "+err.Error()+".")
		return nil
	}
	for i, attr := range attrs {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attr), parts[i])...)
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), formatID(parts...))...)
	return parts
}
