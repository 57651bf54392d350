package promotion

import (
	"slices"
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
