package store

import "testing"

func TestRedact(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"postgres://alice:s3cret@db:5432/tenancy?sslmode=disable", "postgres://alice:xxxxx@db:5432/tenancy?sslmode=disable"},
		{"postgres://alice@db/tenancy", "postgres://alice@db/tenancy"},
		{"postgres://db/tenancy?user=alice&password=s3cret", "postgres://db/tenancy?password=xxxxx&user=alice"},
		{"sqlite://tenancy.db", "sqlite://tenancy.db"},
		{"mysql://bob:pw%zz@host/db", "mysql://xxxxx@host/db"},
		{"nonsense", "nonsense"},
	} {
		if got := redact(tc.in); got != tc.want {
			t.Errorf("redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
