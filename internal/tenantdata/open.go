package tenantdata

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Open opens the data plane that tenancyd's flags describe: PostgreSQL at
// dataDatabase (a postgres:// URL) or SQLite files under dataDir; when both
// are empty, the server of database when that is PostgreSQL, else a
// directory beside its SQLite file (DirBeside).
func Open(ctx context.Context, database, dataDatabase, dataDir string) (Plane, error) {
	isPostgres := func(u string) bool {
		return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
	}
	switch {
	case dataDatabase != "" && dataDir != "":
		return nil, errors.New("--data-database and --data-dir do not go together: tenant data is on PostgreSQL or in SQLite files, not both")
	case dataDatabase != "" && !isPostgres(dataDatabase):
		return nil, errors.New("--data-database takes a postgres:// URL; for SQLite files use --data-dir")
	case dataDatabase != "":
		return OpenPostgres(ctx, dataDatabase, "")
	case dataDir != "":
		return OpenSQLite(dataDir)
	case isPostgres(database):
		return OpenPostgres(ctx, database, "")
	case strings.HasPrefix(database, "sqlite://"):
		return OpenSQLite(DirBeside(strings.TrimPrefix(database, "sqlite://")))
	}
	return nil, fmt.Errorf("no tenant data plane for database %q: pass --data-dir or --data-database", database)
}

// DirBeside is the default directory of tenant data for the SQLite
// database at path: tenancy.db keeps its tenants' data in tenancy-data.
func DirBeside(path string) string {
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return filepath.Join(filepath.Dir(path), base+"-data")
}
