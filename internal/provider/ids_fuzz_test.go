package provider

import (
	"strings"
	"testing"
)

// importFormats are the import ID formats of the resources.
var importFormats = [][]string{
	{"tenant"}, {"tenant/environment"}, {"tenant/user_id"}, {"tenant/binding_id"}, {"tenant", "tenant/environment"},
	{"tenant/key"}, {"tenant/name"}, {"tenant/source/target"},
}

// FuzzParseID parses arbitrary import IDs by every format: never a panic;
// an accepted ID has the format's number of parts, none empty or padded
// with spaces, and formats back to itself; a refused one gets an error
// that quotes it and shows an example.
func FuzzParseID(f *testing.F) {
	for _, seed := range []string{
		"acme", "acme/staging", "acme/usr_0123456789abcdef0123", "acme/staging/production",
		"", "/", "//", "acme/", "/staging", " acme", "acme /staging", "acme/staging/production/extra",
		"acme\x00/staging", "ac%2Fme/staging", "acme/\u00e9t\u00e9", "acme\n/staging",
	} {
		for i := range importFormats {
			f.Add(uint8(i), seed)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, id string) {
		formats := importFormats[int(which)%len(importFormats)]
		parts, err := parseID(id, formats...)
		if err != nil {
			if parts != nil {
				t.Fatalf("parseID(%q) gave parts %q with error %v", id, parts, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "import ID ") || !strings.Contains(msg, "such as") {
				t.Fatalf("parseID(%q): error %q neither quotes the ID nor shows an example", id, msg)
			}
			return
		}
		if formatID(parts...) != id {
			t.Fatalf("parseID(%q) = %q, which formats as %q", id, parts, formatID(parts...))
		}
		matches := false
		for _, format := range formats {
			matches = matches || len(strings.Split(format, "/")) == len(parts)
		}
		if !matches {
			t.Fatalf("parseID(%q) = %q: %d parts, but no format of %q has as many", id, parts, len(parts), formats)
		}
		for _, p := range parts {
			if p == "" || strings.TrimSpace(p) != p || strings.Contains(p, "/") {
				t.Fatalf("parseID(%q) accepted part %q", id, p)
			}
		}
	})
}
