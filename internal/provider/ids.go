package provider

import (
	"fmt"
	"strings"
)

// idExamples gives each part of an import ID an example, for error messages.
var idExamples = map[string]string{
	"tenant":      "acme",
	"environment": "staging",
	"user_id":     "usr_0123456789abcdef0123",
	"binding_id":  "rb_0123456789abcdef0123",
	"key":         "new-billing",
	"name":        "pagerduty",
	"source":      "staging",
	"target":      "production",
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
