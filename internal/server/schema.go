package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validate"
)

// schemaRoutes serve an environment's schema: the migrations of its data
// store. Any role reads them; applying them needs tenant_admin, as they
// change the data.
func (s *Server) schemaRoutes() []route {
	return []route{
		{"GET /v1/tenants/{tenant}/environments/{env}/schema", tenantViewer, s.getSchema},
		{"PUT /v1/tenants/{tenant}/environments/{env}/schema", tenantAdmin, s.putSchema},
	}
}

// versionPattern is a migration version, as the provider checks it too.
var versionPattern = validate.MigrationVersionRegexp

// parseVersion reads a migration version.
func parseVersion(v string) (int64, error) {
	if !versionPattern.MatchString(v) {
		return 0, fmt.Errorf("version %s is not a positive whole number without leading zeros (such as 1, 2, 10) of at most 18 digits", shortQuote(v))
	}
	return strconv.ParseInt(v, 10, 64)
}

func formatVersion(v int64) string { return strconv.FormatInt(v, 10) }

// sortedVersions lists a schema's versions in the order they apply.
func sortedVersions(ms map[string]string) []int64 {
	out := make([]int64, 0, len(ms))
	for k := range ms {
		if v, err := parseVersion(k); err == nil {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// checkSchemaSpec checks every migration of a PUT, naming the one at fault.
func checkSchemaSpec(spec *api.SchemaSpec) error {
	if spec.Migrations == nil {
		spec.Migrations = map[string]string{}
	}
	if n := len(spec.Migrations); n > api.MaxMigrations {
		return errInvalid("migrations", "migrations has %d entries; at most %d are allowed", n, api.MaxMigrations)
	}
	for _, k := range slices.Sorted(maps.Keys(spec.Migrations)) {
		if _, err := parseVersion(k); err != nil {
			return errInvalid("migrations", "migrations: %v", err)
		}
		sql := spec.Migrations[k]
		field := "migrations." + k
		switch {
		case strings.TrimSpace(sql) == "":
			return errInvalid(field, "%s: the SQL is empty; a migration must change something", field)
		case len(sql) > api.MaxMigrationBytes:
			return errInvalid(field, "%s: the SQL is %d bytes long; at most %d are allowed (split it into several versions)", field, len(sql), api.MaxMigrationBytes)
		case !utf8.ValidString(sql):
			return errInvalid(field, "%s: the SQL is not valid UTF-8", field)
		}
	}
	return nil
}

// pendingMigrations checks a schema against what the store has applied and
// returns the migrations still to apply, in version order. Applied
// migrations are immutable: one changed or left out is refused, as is a new
// version below one applied already, since migrations apply in order.
func pendingMigrations(spec api.SchemaSpec, applied []tenantdata.Applied) ([]tenantdata.Migration, error) {
	done := map[int64]bool{}
	var highest int64
	for _, a := range applied {
		done[a.Version] = true
		highest = max(highest, a.Version)
		v := formatVersion(a.Version)
		sql, ok := spec.Migrations[v]
		at := a.AppliedAt.UTC().Format(time.RFC3339)
		switch {
		case !ok:
			return nil, errInvalid("migrations."+v,
				"migration %s was applied at %s (checksum %s) and cannot be removed: applied migrations are immutable; keep it, and add a new version to change the schema",
				v, at, a.Checksum)
		case tenantdata.Checksum(sql) != a.Checksum:
			return nil, errInvalid("migrations."+v,
				"migration %s was applied at %s with checksum %s, and this SQL has checksum %s: applied migrations are immutable; put its SQL back, and add a new version with the change",
				v, at, a.Checksum, tenantdata.Checksum(sql))
		}
	}
	var pending []tenantdata.Migration
	for _, v := range sortedVersions(spec.Migrations) {
		if done[v] {
			continue
		}
		if v < highest {
			return nil, errInvalid("migrations."+formatVersion(v),
				"migration %d comes before migration %d, which is applied already: migrations apply in version order; give it a version above %d",
				v, highest, highest)
		}
		pending = append(pending, tenantdata.Migration{Version: v, SQL: spec.Migrations[formatVersion(v)]})
	}
	return pending, nil
}

// schemaView is a schema as the API shows it: the migrations the platform
// holds, those the store records as applied, those pending, and the drift
// between the two.
func schemaView(tenant, env string, spec api.SchemaSpec, meta api.Meta, applied []tenantdata.Applied) api.Schema {
	sc := api.Schema{SchemaSpec: spec, TenantID: tenant, Environment: env, ID: tenant + "/" + env, Meta: meta,
		Applied: []api.AppliedMigration{}, Pending: []string{}, Drift: []api.SchemaDrift{}}
	if sc.Migrations == nil {
		sc.Migrations = map[string]string{}
	}
	done := map[int64]bool{}
	for _, a := range applied {
		v := formatVersion(a.Version)
		done[a.Version] = true
		sc.Applied = append(sc.Applied, api.AppliedMigration{Version: v, Checksum: a.Checksum, AppliedAt: a.AppliedAt.UTC()})
		sql, known := sc.Migrations[v]
		switch {
		case !known:
			sc.Drift = append(sc.Drift, api.SchemaDrift{Version: v, Kind: api.DriftUnknown, Checksum: a.Checksum, AppliedAt: a.AppliedAt.UTC(),
				Message: fmt.Sprintf("migration %s was applied at %s outside the API (checksum %s): the platform has no SQL for it",
					v, a.AppliedAt.UTC().Format(time.RFC3339), a.Checksum)})
		case tenantdata.Checksum(sql) != a.Checksum:
			sc.Drift = append(sc.Drift, api.SchemaDrift{Version: v, Kind: api.DriftChecksum, Checksum: a.Checksum,
				ExpectedChecksum: tenantdata.Checksum(sql), AppliedAt: a.AppliedAt.UTC(),
				Message: fmt.Sprintf("migration %s is recorded with checksum %s, but its SQL has checksum %s: the store's %s was changed outside the API",
					v, a.Checksum, tenantdata.Checksum(sql), api.SchemaTable)})
		}
	}
	for _, v := range sortedVersions(sc.Migrations) {
		if !done[v] {
			sc.Pending = append(sc.Pending, formatVersion(v))
		}
	}
	return sc
}

// loadSchema reads an environment's schema record; ok is false when none
// was ever set.
func loadSchema(ctx context.Context, tx store.Tx, tenant, env string) (api.Schema, bool, error) {
	o, err := tx.Get(ctx, tenant, api.KindSchema, env)
	if errors.Is(err, store.ErrNotFound) {
		return api.Schema{}, false, nil
	}
	if err != nil {
		return api.Schema{}, false, err
	}
	sc, err := fromObject[api.Schema](o)
	return sc, true, err
}

func (s *Server) getSchema(w http.ResponseWriter, r *http.Request, _ *principal) error {
	slug := r.PathValue("tenant")
	env, err := environmentName(r)
	if err != nil {
		return err
	}
	return s.view(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		if _, err := loadEnvironment(ctx, tx, slug, env); err != nil {
			return nil, err
		}
		sc, ok, err := loadSchema(ctx, tx, slug, env)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errNotFound("environment %q of tenant %q has no schema: none was ever set (PUT its migrations)", env, slug)
		}
		_, _, ref, err := activeStore(ctx, tx, slug, env)
		if err != nil {
			return nil, err
		}
		applied, err := s.data.Applied(ctx, ref)
		if err != nil {
			return nil, dataError(slug, env, err)
		}
		v := schemaView(slug, env, sc.SchemaSpec, sc.Meta, applied)
		return &v, nil
	})
}

// migrationTimeout reads ?timeout=, how long each migration may run.
func migrationTimeout(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get(api.MigrationTimeoutParam)
	if v == "" {
		return api.DefaultMigrationTime, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Second || d > api.MaxMigrationTime {
		return 0, errBadRequest(api.MigrationTimeoutParam, "%s must be a duration from 1s to %s, such as 90s or 10m; got %s",
			api.MigrationTimeoutParam, api.MaxMigrationTime, shortQuote(v))
	}
	return d, nil
}

// schemaChange is a PUT of a schema, checked.
type schemaChange struct {
	spec    api.SchemaSpec
	cur     api.Schema
	exists  bool
	ref     tenantdata.Ref
	applied []tenantdata.Applied
	pending []tenantdata.Migration
}

func (s *Server) checkSchemaChange(ctx context.Context, tx store.Tx, slug, env string, ifMatch precondition, body []byte) (schemaChange, error) {
	var c schemaChange
	if err := decodeStrict(body, &c.spec); err != nil {
		return c, err
	}
	if err := checkSchemaSpec(&c.spec); err != nil {
		return c, err
	}
	_, _, ref, err := activeStore(ctx, tx, slug, env)
	if err != nil {
		return c, err
	}
	c.ref = ref
	if c.cur, c.exists, err = loadSchema(ctx, tx, slug, env); err != nil {
		return c, err
	}
	if err := checkRevision(ifMatch, c.cur.Revision, fmt.Sprintf("the schema of environment %q", env)); err != nil {
		return c, err
	}
	if c.applied, err = s.data.Applied(ctx, ref); err != nil {
		return c, dataError(slug, env, err)
	}
	c.pending, err = pendingMigrations(c.spec, c.applied)
	return c, err
}

// putSchema sets an environment's migrations and applies those not applied
// yet, in version order, each in a transaction of its own and cancelled
// after ?timeout= (five minutes unless told). SQL that fails is rolled back,
// and the answer, a 422, names the version and the database's error; the
// schema then holds the migrations applied before it. ?dry_run=true
// answers the schema as it would be, its pending versions those the PUT
// would apply, applying nothing. It honours If-Match.
func (s *Server) putSchema(w http.ResponseWriter, r *http.Request, p *principal) error {
	slug := r.PathValue("tenant")
	env, err := environmentName(r)
	if err != nil {
		return err
	}
	ifMatch, err := parseIfMatch(r)
	if err != nil {
		return err
	}
	dry, err := dryRunParam(r)
	if err != nil {
		return err
	}
	timeout, err := migrationTimeout(r)
	if err != nil {
		return err
	}
	if dry {
		return s.checkOnly(w, r, func(ctx context.Context, tx store.Tx, body []byte) (any, error) {
			c, err := s.checkSchemaChange(ctx, tx, slug, env, ifMatch, body)
			if err != nil {
				return nil, err
			}
			return schemaView(slug, env, c.spec, c.cur.Meta, c.applied), nil
		})
	}
	var c schemaChange
	var done []tenantdata.Applied
	return s.writeData(w, r, p, dataWrite{
		locks: []string{lockTenant(slug)},
		prepare: func(ctx context.Context, tx store.Tx, body []byte) (func(context.Context) error, error) {
			if c, err = s.checkSchemaChange(ctx, tx, slug, env, ifMatch, body); err != nil || len(c.pending) == 0 {
				return nil, err
			}
			return func(ctx context.Context) error {
				done, err = s.data.Migrate(ctx, c.ref, c.pending, timeout)
				return err
			}, nil
		},
		commit: func(ctx context.Context, tx store.Tx, body []byte, workErr error) (int, any, error) {
			var me *tenantdata.MigrationError
			if workErr != nil && !errors.As(workErr, &me) {
				return 0, nil, dataError(slug, env, workErr)
			}
			applied := slices.Concat(c.applied, done)
			st, out, err := runUpdate(ctx, tx, s, p, update[api.Schema]{
				tenant: slug, kind: api.KindSchema, key: env, what: fmt.Sprintf("the schema of environment %q", env),
				load: func(ctx context.Context, tx store.Tx) (api.Schema, error) {
					cur, _, err := loadSchema(ctx, tx, slug, env)
					return cur, err
				},
				apply: func(_ context.Context, _ store.Tx, cur api.Schema, _ []byte) (api.Schema, error) {
					spec := c.spec
					if workErr != nil {
						// Only what is applied is the schema now; the rest is for a retry.
						spec = api.SchemaSpec{Migrations: map[string]string{}}
						for _, a := range applied {
							v := formatVersion(a.Version)
							spec.Migrations[v] = c.spec.Migrations[v]
						}
					}
					return api.Schema{SchemaSpec: spec, TenantID: slug, Environment: env, ID: slug + "/" + env, Meta: cur.Meta}, nil
				},
				// A failed migration is recorded even when the schema stays as it was.
				same: func(cur, next api.Schema) bool {
					return len(done) == 0 && workErr == nil && maps.Equal(next.Migrations, cur.Migrations)
				},
				detail: func(_, next api.Schema, _ []byte) string {
					var versions []string
					for _, a := range done {
						versions = append(versions, formatVersion(a.Version))
					}
					detail := fmt.Sprintf("%d migrations; applied: %s", len(next.Migrations), orDefault(strings.Join(versions, ", "), "none"))
					if me != nil {
						detail += fmt.Sprintf("; migration %d failed and was rolled back", me.Version)
					}
					return detail
				},
				answer: func(sc api.Schema) any { return schemaView(slug, env, sc.SchemaSpec, sc.Meta, applied) },
			}, ifMatch, body)
			if err == nil && workErr != nil {
				return errorAnswer(ctx, dataError(slug, env, workErr))
			}
			return st, out, err
		},
	})
}
