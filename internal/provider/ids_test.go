package provider

import (
	"slices"
	"strings"
	"testing"
)

func TestParseID(t *testing.T) {
	t.Parallel()
	cases := []struct {
		id      string
		formats []string
		want    []string
		wantErr string
	}{
		{"acme/staging", []string{"tenant/environment"}, []string{"acme", "staging"}, ""},
		{"acme", []string{"tenant", "tenant/environment"}, []string{"acme"}, ""},
		{"acme/production", []string{"tenant", "tenant/environment"}, []string{"acme", "production"}, ""},
		{"acme/staging/production", []string{"tenant/source/target"}, []string{"acme", "staging", "production"}, ""},
		{"acme", []string{"tenant/environment"}, nil, `import ID "acme" must look like "<tenant>/<environment>" (such as "acme/staging")`},
		{"acme//x", []string{"tenant/source/target"}, nil, `"<tenant>/<source>/<target>" (such as "acme/staging/production")`},
		{"", []string{"tenant"}, nil, `import ID "" must look like "<tenant>"`},
		{"a/b/c", []string{"tenant", "tenant/environment"}, nil, `"<tenant>" (such as "acme") or "<tenant>/<environment>"`},
		{" acme/x", []string{"tenant/key"}, nil, `must look like`},
	}
	for _, tc := range cases {
		got, err := parseID(tc.id, tc.formats...)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("parseID(%q): %v", tc.id, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("parseID(%q) error = %v, want it to contain %q", tc.id, err, tc.wantErr)
		case !slices.Equal(got, tc.want):
			t.Errorf("parseID(%q) = %q, want %q", tc.id, got, tc.want)
		}
		if err == nil && formatID(got...) != tc.id {
			t.Errorf("formatID(parseID(%q)) = %q", tc.id, formatID(got...))
		}
	}
}
