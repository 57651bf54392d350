package promotion

import (
	"slices"
	"strings"
	"testing"
)

func TestSortLinesPutsSchemaInVersionOrder(t *testing.T) {
	lines := []string{
		"settings.log_level: \"debug\" -> \"info\"",
		SchemaLine(10),
		"quotas.cpu_millicores: 2000 -> 4000",
		SchemaLine(2),
		SchemaLine(9),
		"feature_flags.new-billing.enabled: false -> true",
	}
	SortLines(lines)
	want := []string{
		"feature_flags.new-billing.enabled: false -> true",
		"quotas.cpu_millicores: 2000 -> 4000",
		"schema.2: pending -> applied",
		"schema.9: pending -> applied",
		"schema.10: pending -> applied",
		"settings.log_level: \"debug\" -> \"info\"",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("sorted:\n%q\nwant\n%q", lines, want)
	}
	local := []string{"settings.a: \"1\" -> \"2\""}
	preview := []string{SchemaLine(10), "settings.a: \"1\" -> \"3\"", SchemaLine(9)}
	if got := WithSchemaLines(local, preview); !slices.Equal(got, []string{SchemaLine(9), SchemaLine(10), local[0]}) {
		t.Errorf("WithSchemaLines = %q", got)
	}
	if got := SchemaLines([]int64{12, 3, 100}); !slices.Equal(got, []string{"schema.3: pending -> applied", "schema.12: pending -> applied", "schema.100: pending -> applied"}) {
		t.Errorf("SchemaLines = %q", got)
	}
}

func TestSchemaVersions(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name           string
		source, target map[int64]string
		want           []int64
		err            string
	}{
		{name: "nothing anywhere", want: nil},
		{name: "all new", source: map[int64]string{10: "c", 2: "b", 1: "a"}, want: []int64{1, 2, 10}},
		{name: "some applied", source: map[int64]string{1: "a", 2: "b", 3: "c"}, target: map[int64]string{1: "a"}, want: []int64{2, 3}},
		{name: "in step", source: map[int64]string{1: "a", 2: "b"}, target: map[int64]string{1: "a", 2: "b"}, want: nil},
		{name: "the target has more", source: map[int64]string{1: "a"}, target: map[int64]string{1: "a", 2: "b"}, want: nil},
		{
			name: "same version, other SQL", source: map[int64]string{1: "a", 2: "b"}, target: map[int64]string{1: "a", 2: "x"},
			err: "migration 2 is applied in both with different SQL (checksums b and x)",
		},
		{
			name: "below the target's highest", source: map[int64]string{1: "a", 5: "e", 20: "t"}, target: map[int64]string{1: "a", 10: "j"},
			err: `migration 5 of "staging" comes before migration 10, which "production" has applied already`,
		},
		{
			// A conflict is named before an order problem, whatever their versions.
			name: "both", source: map[int64]string{3: "c", 9: "i"}, target: map[int64]string{5: "e", 9: "x"},
			err: "migration 9 is applied in both with different SQL",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := SchemaVersions(c.source, c.target, "staging", "production")
			switch {
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Errorf("error %v; want one containing %q", err, c.err)
			case c.err == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case !slices.Equal(got, c.want):
				t.Errorf("versions %v; want %v", got, c.want)
			}
		})
	}
	lines := []string{"quotas.cpu_millicores: 1 -> 2", SchemaLine(3), SchemaLine(12), `settings.a: "1" -> "2"`}
	if got := SchemaLineVersions(lines); !slices.Equal(got, []int64{3, 12}) {
		t.Errorf("SchemaLineVersions = %v", got)
	}
}
