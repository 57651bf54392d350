package store

import (
	"io/fs"
	"path"
	"strconv"
	"strings"
	"testing"
)

// TestMigrationNumbersAreUnique guards against two branches each adding
// migration N: the database that applied one would silently skip the other.
// Both dialects must also have the same numbers, so that a feature never
// reaches one store only.
func TestMigrationNumbersAreUnique(t *testing.T) {
	numbers := map[string][]int64{}
	for _, dialect := range []string{"sqlite", "postgres"} {
		names, err := fs.Glob(migrationFiles, path.Join("migrations", dialect, "*.sql"))
		if err != nil || len(names) == 0 {
			t.Fatalf("%s migrations: %v (%d files)", dialect, err, len(names))
		}
		seen := map[int64]string{}
		for _, name := range names {
			base := path.Base(name)
			prefix, _, _ := strings.Cut(base, "_")
			n, err := strconv.ParseInt(prefix, 10, 64)
			if err != nil {
				t.Errorf("%s/%s: name must start with a number", dialect, base)
				continue
			}
			if other, ok := seen[n]; ok {
				t.Errorf("%s: %s and %s share number %d; renumber the newer one", dialect, other, base, n)
			}
			seen[n] = base
			numbers[dialect] = append(numbers[dialect], n)
		}
	}
	if a, b := numbers["sqlite"], numbers["postgres"]; len(a) != len(b) {
		t.Errorf("sqlite has migrations %v, postgres %v; every migration needs both", a, b)
	} else {
		for i := range a {
			if a[i] != b[i] {
				t.Errorf("sqlite has migrations %v, postgres %v; every migration needs both", a, b)
				break
			}
		}
	}
}
