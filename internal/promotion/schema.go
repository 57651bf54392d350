package promotion

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// The schema scope carries migrations: those the source has applied and
// the target has not are applied to the target, in version order, one
// change line each:
//
//	schema.3: pending -> applied
//
// Migrations are never unapplied, so a rollback leaves them be.

// schemaPrefix starts every change line of the schema scope.
const schemaPrefix = api.ScopeSchema + "."

// SchemaLine is the change line of a migration that a promotion applies.
func SchemaLine(version int64) string {
	return line(schemaPrefix+strconv.FormatInt(version, 10), "pending", "applied")
}

// SortLines sorts change lines as strings, byte by byte, except that the
// schema scope's lines go in version order (schema.2 before schema.10),
// the order their migrations apply in.
func SortLines(lines []string) {
	slices.SortFunc(lines, compareLines)
}

func compareLines(a, b string) int {
	va, okA := schemaVersion(a)
	vb, okB := schemaVersion(b)
	if okA && okB {
		return cmp.Or(cmp.Compare(va, vb), strings.Compare(a, b))
	}
	return strings.Compare(a, b)
}

// schemaVersion reads the version of a schema change line.
func schemaVersion(l string) (int64, bool) {
	rest, ok := strings.CutPrefix(l, schemaPrefix)
	if !ok {
		return 0, false
	}
	v, _, _ := strings.Cut(rest, ":")
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// SchemaLines lists, in version order, the change lines of the versions a
// promotion applies.
func SchemaLines(versions []int64) []string {
	out := make([]string, 0, len(versions))
	for _, v := range slices.Sorted(slices.Values(versions)) {
		out = append(out, SchemaLine(v))
	}
	return out
}

// WithSchemaLines adds to lines computed here (by Diff, which knows no
// schema) the schema lines of a server's preview, in their place: the
// schema scope's state lives in the data plane, which only the server reads.
func WithSchemaLines(lines, preview []string) []string {
	out := slices.Clone(lines)
	if out == nil {
		out = []string{}
	}
	for _, l := range preview {
		if strings.HasPrefix(l, schemaPrefix) {
			out = append(out, l)
		}
	}
	SortLines(out)
	return out
}

// SchemaLineVersions lists the versions of the schema scope's lines among
// lines, in the order they come.
func SchemaLineVersions(lines []string) []int64 {
	var out []int64
	for _, l := range lines {
		if v, ok := schemaVersion(l); ok {
			out = append(out, v)
		}
	}
	return out
}

// SchemaVersions lists, in version order, the migrations that promoting
// the schema scope applies to the target: those of the source (version to
// the SHA-256 of its SQL) that the target has not applied. It refuses a
// migration applied on both sides with different SQL, then one that the
// target lacks below the highest it has applied, which could no longer run
// in version order; the error names the version, and the environments by
// sourceName and targetName.
func SchemaVersions(source, target map[int64]string, sourceName, targetName string) ([]int64, error) {
	versions := slices.Sorted(maps.Keys(source))
	var highest int64
	for v := range target {
		highest = max(highest, v)
	}
	for _, v := range versions {
		if sum, ok := target[v]; ok && sum != source[v] {
			return nil, fmt.Errorf("migration %d is applied in both with different SQL (checksums %s and %s); "+
				"applied migrations are immutable: reconcile them with new versions", v, source[v], sum)
		}
	}
	var out []int64
	for _, v := range versions {
		if _, ok := target[v]; ok {
			continue
		}
		if v < highest {
			return nil, fmt.Errorf("migration %d of %q comes before migration %d, which %q has applied already; "+
				"migrations apply in version order", v, sourceName, highest, targetName)
		}
		out = append(out, v)
	}
	return out, nil
}
