package store

import (
	"context"
	"fmt"
	"strings"
)

// Open opens the database a URL names: sqlite://PATH (a file, created if
// missing) or postgres://... / postgresql://..., and applies its migrations.
func Open(ctx context.Context, url string) (Store, error) {
	switch {
	case strings.HasPrefix(url, "sqlite://"):
		return OpenSQLite(ctx, strings.TrimPrefix(url, "sqlite://"))
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return OpenPostgres(ctx, url)
	default:
		return nil, fmt.Errorf("database %q: want sqlite://PATH or postgres://USER@HOST/DB", redact(url))
	}
}
