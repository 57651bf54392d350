package server

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/promotion"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
)

// schemaPromotion is what promoting the schema scope does: apply to the
// target, in version order, the migrations the source has applied and the
// target has not. Migrations run in the data plane, outside the
// promotion's transaction: createPromotion applies them first, and the
// promotion then records the lines of what it applied.
type schemaPromotion struct {
	target     tenantdata.Ref
	migrations []tenantdata.Migration
	lines      []string
	// sourceApplied and targetApplied are what the two stores have
	// applied, as a preview describes them; nil when not read.
	sourceApplied, targetApplied *api.PromotionSchema
}

// promotedSchemaKey keys, in a request's context, the versions a promotion
// applied before its transaction, by target environment.
type promotedSchemaKey struct{}

// planSchemaPromotion compares the source's applied migrations with the
// target's (promotion.SchemaVersions). A version applied on both sides
// with different SQL, or one the target lacks below the highest it has,
// cannot be promoted: the error says which and why. Promoting a schema
// needs tenant_admin, as PUT does.
func (s *Server) planSchemaPromotion(ctx context.Context, tx store.Tx, p *principal, tenant string, source, target api.Environment) (*schemaPromotion, error) {
	sp := &schemaPromotion{lines: []string{}}
	done, _ := ctx.Value(promotedSchemaKey{}).(map[string][]int64)
	src, ok, err := loadSchema(ctx, tx, tenant, source.Name)
	if err != nil || !ok {
		return sp, err // No schema in the source: nothing to promote.
	}
	_, _, srcRef, err := activeStore(ctx, tx, tenant, source.Name)
	if err != nil {
		return nil, err
	}
	_, _, dstRef, err := activeStore(ctx, tx, tenant, target.Name)
	if err != nil {
		return nil, err
	}
	sp.target = dstRef
	srcApplied, err := s.data.Applied(ctx, srcRef)
	if err != nil {
		return nil, dataError(tenant, source.Name, err)
	}
	dstApplied, err := s.data.Applied(ctx, dstRef)
	if err != nil {
		return nil, dataError(tenant, target.Name, err)
	}
	sp.sourceApplied, sp.targetApplied = describeApplied(srcApplied), describeApplied(dstApplied)
	what := fmt.Sprintf("promoting the schema of %q to %q", source.Name, target.Name)
	have, want := map[int64]string{}, map[int64]string{}
	for _, a := range dstApplied {
		have[a.Version] = a.Checksum
	}
	for _, a := range srcApplied {
		v := formatVersion(a.Version)
		sql, known := src.Migrations[v]
		if !known || tenantdata.Checksum(sql) != a.Checksum {
			// Drift in the source: the platform cannot carry what it has no SQL for.
			return nil, errConflict("include", "%s: migration %s of %q was applied outside the API or changed there (see its schema's drift); fix the source before promoting its schema",
				what, v, source.Name)
		}
		want[a.Version] = a.Checksum
	}
	todo, err := promotion.SchemaVersions(want, have, source.Name, target.Name)
	if err != nil {
		return nil, errConflict("include", "%s: %v", what, err)
	}
	for _, v := range todo {
		sp.migrations = append(sp.migrations, tenantdata.Migration{Version: v, SQL: src.Migrations[formatVersion(v)]})
	}
	versions := slices.Concat(done[target.Name], todo)
	sp.lines = promotion.SchemaLines(versions)
	if len(sp.lines) > 0 && !p.atLeast(api.RoleTenantAdmin) {
		return nil, errForbidden("include", "%s applies migrations to %q, which needs role %s; the token %q has role %s: leave %s out of include, or use a %s token",
			what, target.Name, api.RoleTenantAdmin, p.Name, p.Role, api.ScopeSchema, api.RoleTenantAdmin)
	}
	return sp, nil
}

// describeApplied is what a store has applied, as a preview shows it.
func describeApplied(applied []tenantdata.Applied) *api.PromotionSchema {
	out := &api.PromotionSchema{Applied: make(map[string]string, len(applied))}
	for _, a := range applied {
		out.Applied[formatVersion(a.Version)] = a.Checksum
	}
	return out
}

// describeSchemas is what the stores of a preview's two environments have
// applied: what planSchemaPromotion read, or, when the source has no
// schema to promote, what each store that can be read has applied (nil for
// one that cannot, such as a store still being provisioned).
func (s *Server) describeSchemas(ctx context.Context, tx store.Tx, tenant string, pp *preparedPromotion) (source, target *api.PromotionSchema) {
	if sp := pp.schema; sp != nil && sp.sourceApplied != nil {
		return sp.sourceApplied, sp.targetApplied
	}
	read := func(env string) *api.PromotionSchema {
		_, _, ref, err := activeStore(ctx, tx, tenant, env)
		if err != nil {
			return nil
		}
		applied, err := s.data.Applied(ctx, ref)
		if err != nil {
			s.log.WarnContext(ctx, "reading what a store has applied, for a preview", "store", ref.String(), "error", err)
			return nil
		}
		return describeApplied(applied)
	}
	return read(pp.scene.source.Name), read(pp.scene.target.Name)
}

// promoteSchemaFirst applies, before a promotion's transaction, the
// migrations its schema scope carries, and records them in the target's
// schema; it returns the request with what it applied in its context, for
// the promotion to record. A migration that fails is the promotion's
// error, naming the version; those applied before it stay applied and
// recorded, as a PUT of the schema leaves them.
func (s *Server) promoteSchemaFirst(r *http.Request, p *principal, tenant string, prepare func(ctx context.Context, tx store.Tx) (*schemaPromotion, string, error)) (*http.Request, error) {
	var sp *schemaPromotion
	var source string
	err := s.store.View(r.Context(), func(ctx context.Context, tx store.Tx) error {
		var refused error
		if sp, source, refused = prepare(ctx, tx); refused != nil {
			// The write reports it, after its idempotency check: the retry of
			// a promotion that went through gets its first answer, not the
			// error (such as its own link's 409) that its success now causes.
			sp = nil
		}
		return nil
	})
	if err != nil || sp == nil || len(sp.migrations) == 0 {
		return r, err
	}
	done, workErr := s.data.Migrate(context.WithoutCancel(r.Context()), sp.target, sp.migrations, api.DefaultMigrationTime)
	var versions []int64
	err = s.store.Update(r.Context(), func(ctx context.Context, tx store.Tx) error {
		if err := tx.Lock(ctx, lockTenant(tenant)); err != nil {
			return err
		}
		src, _, err := loadSchema(ctx, tx, tenant, source)
		if err != nil {
			return err
		}
		cur, exists, err := loadSchema(ctx, tx, tenant, sp.target.Environment)
		if err != nil {
			return err
		}
		next := api.Schema{SchemaSpec: api.SchemaSpec{Migrations: maps.Clone(cur.Migrations)}, TenantID: tenant,
			Environment: sp.target.Environment, ID: tenant + "/" + sp.target.Environment, Meta: cur.Meta}
		if next.Migrations == nil {
			next.Migrations = map[string]string{}
		}
		for _, a := range done {
			v := formatVersion(a.Version)
			next.Migrations[v] = src.Migrations[v]
			versions = append(versions, a.Version)
		}
		if len(done) == 0 {
			return nil
		}
		var saved api.Schema
		if exists {
			saved, err = putObject[api.Schema](ctx, tx, tenant, api.KindSchema, sp.target.Environment, next)
		} else {
			saved, err = createObject[api.Schema](ctx, tx, tenant, api.KindSchema, sp.target.Environment, next)
		}
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, p, auditEntry{tenant: tenant, action: "schema.update", kind: api.KindSchema, key: sp.target.Environment,
			before: cur.Revision, after: saved.Revision, detail: fmt.Sprintf("promoted from %q: applied %s", source, versionList(versions))})
	})
	if err != nil {
		return r, err
	}
	if workErr != nil {
		return r, dataError(tenant, sp.target.Environment, workErr)
	}
	ctx := context.WithValue(r.Context(), promotedSchemaKey{}, map[string][]int64{sp.target.Environment: versions})
	return r.WithContext(ctx), nil
}

func versionList(vs []int64) string {
	out := ""
	for i, v := range vs {
		if i > 0 {
			out += ", "
		}
		out += formatVersion(v)
	}
	return out
}
