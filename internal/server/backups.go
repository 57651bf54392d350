package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validate"
)

// backupRoutes serve backups: a tenant's, taken on demand or at the
// decommission of the tenant or of an environment, each holding the
// platform's records and every table and row of the data stores; the
// platform admin's view of every backup, those of deleted tenants
// included; and restore, which decides who may restore what itself.
func (s *Server) backupRoutes() []route {
	return []route{
		{"GET /v1/backups", platformAdmin, s.listBackups},
		{"POST /v1/backups/{id}/restore", authenticated, s.restoreBackup},
		{"GET /v1/tenants/{tenant}/backups", tenantViewer, s.listTenantBackups},
		{"POST /v1/tenants/{tenant}/backups", tenantAdmin, s.createBackup},
		{"GET /v1/tenants/{tenant}/backups/{id}", tenantViewer, s.getBackup},
		{"DELETE /v1/tenants/{tenant}/backups/{id}", tenantAdmin, s.deleteBackup},
	}
}

// backupExpiryInterval is how often expired backups are looked for; a
// backup outlives its retain_until by at most this much.
const backupExpiryInterval = 10 * time.Minute

// expiryBatch bounds the backups one transaction deletes.
const expiryBatch = 100

// backupExpiryLoop deletes backups past their retain_until, at once and
// then every backupExpiryInterval, until ctx ends. Run starts it.
func (s *Server) backupExpiryLoop(ctx context.Context) {
	t := time.NewTicker(backupExpiryInterval)
	defer t.Stop()
	for {
		if _, err := s.expireBackups(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "deleting expired backups", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// expireBackups deletes every backup retained until before now (the
// server's clock), each with a platform-level audit event, and says how
// many it deleted. Replicas may run it at once: the platform lock makes
// each backup's deletion, and its event, happen once.
func (s *Server) expireBackups(ctx context.Context) (int, error) {
	deleted := 0
	for {
		n := 0
		err := s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := tx.Lock(ctx, lockPlatform); err != nil {
				return err
			}
			now := s.now().UTC()
			expired, err := tx.ExpiredBackups(ctx, now, expiryBatch)
			if err != nil {
				return err
			}
			for _, b := range expired {
				if err := tx.DeleteBackup(ctx, b.ID); err != nil {
					return err
				}
				what := "tenant " + strconv.Quote(b.Tenant)
				if b.Environment != "" {
					what = fmt.Sprintf("environment %q of tenant %q", b.Environment, b.Tenant)
				}
				if err := s.audit(ctx, tx, nil, auditEntry{action: "backup.expire", kind: api.KindBackup, key: b.ID,
					detail: fmt.Sprintf("%s backup of %s taken at %s, retained until %s, deleted", orDefault(b.Kind, api.BackupFinal),
						what, b.TakenAt.UTC().Format(time.RFC3339), b.RetainUntil.UTC().Format(time.RFC3339))}); err != nil {
					return err
				}
			}
			n = len(expired)
			return nil
		})
		if err != nil {
			return deleted, err
		}
		deleted += n
		if n > 0 {
			s.log.InfoContext(ctx, "deleted expired backups", "count", n)
		}
		if n < expiryBatch {
			return deleted, nil
		}
	}
}

// backupIDPattern matches the ids newID("bkp") makes.
var backupIDPattern = validate.BackupIDRegexp

// shortQuote quotes a value for a message, cut so that it cannot flood it.
func shortQuote(v string) string {
	const limit = 80
	if r := []rune(v); len(r) > limit {
		return strconv.Quote(string(r[:limit])) + "…"
	}
	return strconv.Quote(v)
}

// pageOfBackups answers one page of backups, in their (taken_at, id) order,
// which never changes, since backups are never updated. The page token is
// the id of the last backup of the previous page.
func pageOfBackups(r *http.Request, all []store.BackupRecord) (api.List[api.Backup], error) {
	list := api.List[api.Backup]{Items: []api.Backup{}}
	after, size, err := page(r)
	if err != nil {
		return list, err
	}
	start := 0
	if after != "" {
		start = slices.IndexFunc(all, func(b store.BackupRecord) bool { return b.ID == after }) + 1
		if start == 0 {
			return list, errBadRequest("page_token", "page_token is not one this server returned; start again without it")
		}
	}
	end := min(start+size, len(all))
	for _, b := range all[start:end] {
		list.Items = append(list.Items, backupView(b))
	}
	if end < len(all) {
		list.NextPageToken = pageToken(all[end-1].ID)
	}
	return list, nil
}

// listBackups lists every backup, oldest first, or only those of one
// tenant (?tenant=slug). Backups outlive their tenant, so the filter is a
// slug that need not exist any more.
func (s *Server) listBackups(w http.ResponseWriter, r *http.Request, _ *principal) error {
	tenant := r.URL.Query().Get("tenant")
	if tenant != "" {
		if err := validate.Slug(tenant); err != nil {
			return errBadRequest("tenant", "tenant: %v", err)
		}
	}
	return s.view(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		all, err := tx.ListBackups(ctx, tenant)
		if err != nil {
			return nil, err
		}
		return pageOfBackups(r, all)
	})
}

// tenantBackups lists the backups of a tenant that exists, in this life of
// its slug: a tenant made under the slug of a deleted one does not see the
// backups of the deleted one (a platform admin does, at GET /v1/backups).
func tenantBackups(ctx context.Context, tx store.Tx, slug string) ([]store.BackupRecord, error) {
	t, err := loadTenant(ctx, tx, slug)
	if err != nil {
		return nil, err
	}
	all, err := tx.ListBackups(ctx, slug)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(b store.BackupRecord) bool { return !ofTenant(b, t) }), nil
}

func (s *Server) listTenantBackups(w http.ResponseWriter, r *http.Request, _ *principal) error {
	return s.view(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		all, err := tenantBackups(ctx, tx, r.PathValue("tenant"))
		if err != nil {
			return nil, err
		}
		return pageOfBackups(r, all)
	})
}

// loadTenantBackup reads a backup of a tenant that the tenant's routes
// may see; any other is a 404, as a missing one is.
func loadTenantBackup(ctx context.Context, tx store.Tx, slug, id string) (store.BackupRecord, error) {
	if !backupIDPattern.MatchString(id) {
		return store.BackupRecord{}, errNotFound("backup %s not found in tenant %q: backup ids look like bkp_0123456789abcdef0123", shortQuote(id), slug)
	}
	visible, err := tenantBackups(ctx, tx, slug)
	if err != nil {
		return store.BackupRecord{}, err
	}
	if !slices.ContainsFunc(visible, func(b store.BackupRecord) bool { return b.ID == id }) {
		return store.BackupRecord{}, errNotFound("backup %q not found in tenant %q (it may have expired)", id, slug)
	}
	return tx.Backup(ctx, id)
}

func (s *Server) getBackup(w http.ResponseWriter, r *http.Request, _ *principal) error {
	return s.view(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		b, err := loadTenantBackup(ctx, tx, r.PathValue("tenant"), r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		return backupView(b), nil
	})
}

// deleteBackup deletes a backup before its retain_until. It is no deletion
// (see deleteIn): a backup is a record of its own table, not an object with
// revisions, and never changes.
func (s *Server) deleteBackup(w http.ResponseWriter, r *http.Request, p *principal) error {
	slug, id := r.PathValue("tenant"), r.PathValue("id")
	ifMatch, err := parseIfMatch(r)
	if err != nil {
		return err
	}
	return s.mutate(w, r, p, []string{lockTenant(slug)}, func(ctx context.Context, tx store.Tx, _ []byte) (int, any, error) {
		b, err := loadTenantBackup(ctx, tx, slug, id)
		if err != nil {
			return 0, nil, err
		}
		// A backup never changes: it is at revision 1 for good.
		if err := checkRevision(ifMatch, 1, "backup "+id); err != nil {
			return 0, nil, err
		}
		if err := tx.DeleteBackup(ctx, id); err != nil {
			return 0, nil, err
		}
		return http.StatusNoContent, nil, s.audit(ctx, tx, p, auditEntry{tenant: slug, action: "backup.delete", kind: api.KindBackup, key: id,
			detail: fmt.Sprintf("%s backup taken at %s (%s), which was to be kept until %s", b.Kind, b.TakenAt.UTC().Format(time.RFC3339),
				storesLine(backupView(b).Stores), b.RetainUntil.UTC().Format(time.RFC3339))})
	})
}

// backupTarget is what a backup request asks for, checked.
type backupTarget struct {
	tenant     api.Tenant
	env        string // "": the whole tenant
	envs       []api.Environment
	retainDays int64
}

func checkBackupRequest(ctx context.Context, tx store.Tx, slug string, body []byte) (backupTarget, error) {
	var req api.BackupRequest
	if err := decodeStrict(body, &req); err != nil {
		return backupTarget{}, err
	}
	t, err := loadTenant(ctx, tx, slug)
	if err != nil {
		return backupTarget{}, err
	}
	bt := backupTarget{tenant: t, retainDays: *t.DataRetentionDays}
	if req.RetainDays != nil {
		if err := validate.IntRange(*req.RetainDays, api.MinDataRetentionDays, api.MaxDataRetentionDays); err != nil {
			return bt, invalidField("retain_days", err)
		}
		bt.retainDays = *req.RetainDays
	}
	if req.Environment != nil {
		if err := validate.Name(*req.Environment); err != nil {
			return bt, invalidField("environment", err)
		}
		e, err := getObject[api.Environment](ctx, tx, slug, api.KindEnvironment, *req.Environment, fmt.Sprintf("environment %q", *req.Environment))
		if err != nil {
			return bt, err
		}
		bt.env, bt.envs = e.Name, []api.Environment{e}
		return bt, nil
	}
	bt.envs, err = allObjects[api.Environment](ctx, tx, slug, api.KindEnvironment)
	return bt, err
}

// createBackup takes a backup of a tenant or of one environment: its
// records and a dump of every data store, kept for retain_days (by
// default the tenant's data_retention_days). ?dry_run=true answers the
// backup as it would be, with the tables and rows it would hold.
func (s *Server) createBackup(w http.ResponseWriter, r *http.Request, p *principal) error {
	slug := r.PathValue("tenant")
	dry, err := dryRunParam(r)
	if err != nil {
		return err
	}
	if dry {
		return s.checkOnly(w, r, func(ctx context.Context, tx store.Tx, body []byte) (any, error) {
			bt, err := checkBackupRequest(ctx, tx, slug, body)
			if err != nil {
				return nil, err
			}
			now := s.now().UTC()
			v := api.Backup{Tenant: slug, Kind: api.BackupOnDemand, TakenAt: now, RetainUntil: now.AddDate(0, 0, int(bt.retainDays)),
				Encrypted: s.secrets.aead != nil, Stores: []api.StoreSummary{}}
			if bt.env != "" {
				v.Environment = &bt.env
			}
			for _, e := range bt.envs {
				if e.Database == nil {
					continue
				}
				stats, err := s.data.Tables(ctx, storeRef(bt.tenant, e))
				if err != nil {
					return nil, dataError(slug, e.Name, err)
				}
				st := api.StoreSummary{Environment: e.Name, Engine: s.data.Engine(), Tables: []api.TableSummary{}}
				for _, t := range stats {
					st.Tables = append(st.Tables, api.TableSummary{Name: t.Name, Rows: t.Rows})
				}
				v.Stores = append(v.Stores, st)
			}
			return v, nil
		})
	}
	var dumps map[string]*tenantdata.Dump
	revs := map[string]int64{}
	return s.writeData(w, r, p, dataWrite{
		locks: []string{lockTenant(slug)},
		prepare: func(ctx context.Context, tx store.Tx, body []byte) (func(context.Context) error, error) {
			bt, err := checkBackupRequest(ctx, tx, slug, body)
			if err != nil {
				return nil, err
			}
			for _, e := range bt.envs {
				revs[e.Name] = e.Revision
			}
			return func(ctx context.Context) error {
				dumps, err = s.dumpStores(ctx, bt.tenant, bt.envs)
				return err
			}, nil
		},
		commit: func(ctx context.Context, tx store.Tx, body []byte, workErr error) (int, any, error) {
			if workErr != nil {
				return 0, nil, workErr
			}
			bt, err := checkBackupRequest(ctx, tx, slug, body)
			if err != nil {
				return 0, nil, err
			}
			for _, e := range bt.envs {
				if revs[e.Name] != e.Revision {
					return 0, nil, newError(http.StatusPreconditionFailed, api.CodePreconditionFailed, "",
						"environment %q changed while the backup was taken; retry", e.Name)
				}
			}
			var records []store.Object
			if bt.env != "" {
				records, err = environmentRecords(ctx, tx, slug, bt.env)
			} else {
				records, err = exportTenant(ctx, tx, slug)
			}
			if err != nil {
				return 0, nil, err
			}
			b, err := s.newBackup(api.BackupOnDemand, bt.tenant, bt.env, bt.retainDays, records, dumps)
			if err != nil {
				return 0, nil, err
			}
			if err := tx.PutBackup(ctx, b); err != nil {
				return 0, nil, err
			}
			v := backupView(b)
			what := "tenant"
			if bt.env != "" {
				what = "environment " + bt.env
			}
			return http.StatusCreated, v, s.audit(ctx, tx, p, auditEntry{tenant: slug, action: "backup.create", kind: api.KindBackup, key: b.ID,
				detail: fmt.Sprintf("backup of %s: %d records, %s, %d bytes, kept until %s", what, v.Records, storesLine(v.Stores),
					b.SizeBytes, b.RetainUntil.Format(time.RFC3339))})
		},
	})
}

// exportTenant is every record of a tenant that a backup keeps: usage
// counters are not the tenant's data.
func exportTenant(ctx context.Context, tx store.Tx, slug string) ([]store.Object, error) {
	objs, err := tx.Export(ctx, slug)
	return slices.DeleteFunc(objs, func(o store.Object) bool { return o.Kind == kindUsage }), err
}

// restoredTenant finds the tenant itself among a backup's objects.
func restoredTenant(objs []store.Object) (api.Tenant, error) {
	for _, o := range objs {
		if o.Kind == api.KindTenant {
			return tenantFromObject(o)
		}
	}
	return api.Tenant{}, errors.New("the backup holds no tenant object")
}

// restoreSource is one environment of a backup, ready to restore.
type restoreSource struct {
	backup store.BackupRecord
	env    string
	dump   *tenantdata.Dump // nil: the backup holds no data for it
	schema *store.Object    // the environment's schema record, if it had one
}

// loadRestorable reads a backup that p may restore: one of a tenant p can
// see (a platform admin: any), not expired, whose payload checks out.
// field names the input that named the backup, for errors.
func (s *Server) loadRestorable(ctx context.Context, tx store.Tx, p *principal, id, field string) (store.BackupRecord, *backupPayload, error) {
	notFound := func() error {
		e := errNotFound("backup %s not found", shortQuote(id))
		e.field = field
		return e
	}
	if !backupIDPattern.MatchString(id) {
		return store.BackupRecord{}, nil, notFound()
	}
	b, err := tx.Backup(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return b, nil, notFound()
	}
	if err != nil {
		return b, nil, err
	}
	if p.Role != api.RolePlatformAdmin {
		// A tenant's token sees its tenant's backups of this life of the slug.
		visible, err := tenantBackups(ctx, tx, p.Tenant)
		if err != nil || b.Tenant != p.Tenant || !slices.ContainsFunc(visible, func(v store.BackupRecord) bool { return v.ID == id }) {
			return b, nil, notFound()
		}
		if !p.atLeast(api.RoleTenantAdmin) {
			return b, nil, errForbidden(field, "restoring a backup needs role tenant_admin in tenant %q; the token %q has role %s", b.Tenant, p.Name, p.Role)
		}
	}
	if now := s.now(); now.After(b.RetainUntil) {
		return b, nil, errConflict("retain_until", "backup %s of tenant %q was retained until %s and has expired (it is %s now); it can no longer be restored",
			b.ID, b.Tenant, b.RetainUntil.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	payload, err := s.openBackup(b)
	return b, payload, err
}

// sourceEnv picks the environment of a backup that goes into target: an
// environment backup's own; in a tenant backup, the one named target, or
// its only one.
func sourceEnv(b store.BackupRecord, payload *backupPayload, target string) (string, error) {
	if b.Environment != "" {
		return b.Environment, nil
	}
	if _, ok := payload.Stores[target]; ok {
		return target, nil
	}
	var names []string
	for _, o := range payload.Records {
		if o.Kind == api.KindEnvironment {
			names = append(names, o.Key)
		}
	}
	if len(names) == 1 {
		return names[0], nil
	}
	if slices.Contains(names, target) {
		return target, nil
	}
	return "", errInvalid("target_environment", "backup %s of tenant %q holds environments %s and none is called %q; restore an environment backup, or name one of them",
		b.ID, b.Tenant, strings.Join(names, ", "), target)
}

// source is the restoreSource of environment env of a backup.
func (payload *backupPayload) source(b store.BackupRecord, env string) *restoreSource {
	src := &restoreSource{backup: b, env: env, dump: payload.Stores[env]}
	for i, o := range payload.Records {
		if o.Kind == api.KindSchema && o.Key == env {
			src.schema = &payload.Records[i]
		}
	}
	return src
}

// restoreSeed checks restore_from_backup for a new environment and
// returns what it restores.
func (s *Server) restoreSeed(ctx context.Context, tx store.Tx, p *principal, id, tenant, env string) (*restoreSource, error) {
	b, payload, err := s.loadRestorable(ctx, tx, p, id, "restore_from_backup")
	if err != nil {
		return nil, err
	}
	src, err := sourceEnv(b, payload, env)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			ae.field = "restore_from_backup"
		}
		return nil, err
	}
	return payload.source(b, src), nil
}

// putRestoredSchema makes an environment's schema record what the restored
// backup held for its source, as its data now is.
func (s *Server) putRestoredSchema(ctx context.Context, tx store.Tx, p *principal, tenant, env string, src *restoreSource) error {
	cur, err := tx.Get(ctx, tenant, api.KindSchema, env)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	detail := fmt.Sprintf("from backup %s of %s/%s", src.backup.ID, src.backup.Tenant, src.env)
	if src.schema == nil {
		if !exists {
			return nil
		}
		if err := tx.Delete(ctx, tenant, api.KindSchema, env, 0); err != nil {
			return err
		}
		return s.audit(ctx, tx, p, auditEntry{tenant: tenant, action: "schema.delete", kind: api.KindSchema, key: env,
			before: cur.Revision, detail: "the restored data has no schema, " + detail})
	}
	sc, err := fromObject[api.Schema](*src.schema)
	if err != nil {
		return err
	}
	next := api.Schema{SchemaSpec: sc.SchemaSpec, TenantID: tenant, Environment: env, ID: tenant + "/" + env}
	var saved api.Schema
	if exists {
		next.Revision = cur.Revision
		saved, err = putObject[api.Schema](ctx, tx, tenant, api.KindSchema, env, next)
	} else {
		saved, err = createObject[api.Schema](ctx, tx, tenant, api.KindSchema, env, next)
	}
	if err != nil {
		return err
	}
	return s.audit(ctx, tx, p, auditEntry{tenant: tenant, action: "schema.restore", kind: api.KindSchema, key: env,
		before: cur.Revision, after: saved.Revision, detail: fmt.Sprintf("%d migrations %s", len(next.Migrations), detail)})
}

// restorePair is one environment of a restore: from the backup into a
// target store.
type restorePair struct {
	src    *restoreSource
	dst    string
	ref    tenantdata.Ref
	filled bool   // the target holds data, which the restore replaces
	held   string // what it holds, for messages
	undo   *tenantdata.Dump
	// For a move: the source environment's live store, and the revision
	// its environment had when the restore was checked.
	live    tenantdata.Ref
	liveRev int64
}

// restorePlan is a restore, checked.
type restorePlan struct {
	backup   store.BackupRecord
	payload  *backupPayload
	target   string
	recreate bool
	move     bool
	pairs    []*restorePair
	// tenant is the tenant a recreating restore brings back.
	tenant *api.Tenant
}

// planRestore runs every check of a restore and says what it would do.
func (s *Server) planRestore(ctx context.Context, tx store.Tx, p *principal, id string, req api.RestoreRequest) (*restorePlan, error) {
	if req.TargetTenant != "" {
		if err := validate.Slug(req.TargetTenant); err != nil {
			return nil, invalidField("target_tenant", err)
		}
	}
	if req.TargetTenant != "" && p.Role != api.RolePlatformAdmin && req.TargetTenant != p.Tenant {
		// Another tenant does not exist for a tenant's token.
		return nil, errTenantNotFound(req.TargetTenant)
	}
	b, payload, err := s.loadRestorable(ctx, tx, p, id, "")
	if err != nil {
		return nil, err
	}
	plan := &restorePlan{backup: b, payload: payload, target: req.TargetTenant, move: req.Move}
	if plan.target == "" {
		plan.target = b.Tenant
	}
	if req.TargetEnvironment != "" {
		if err := validate.Name(req.TargetEnvironment); err != nil {
			return nil, invalidField("target_environment", err)
		}
	}
	_, err = tx.Get(ctx, plan.target, api.KindTenant, plan.target)
	switch {
	case errors.Is(err, store.ErrNotFound) && plan.target == b.Tenant && req.TargetEnvironment == "":
		return plan, s.planRecreate(ctx, tx, p, plan)
	case errors.Is(err, store.ErrNotFound):
		return nil, errTenantNotFound(plan.target)
	case err != nil:
		return nil, err
	}
	if req.Move && req.TargetEnvironment == "" && plan.target == b.Tenant {
		return nil, errInvalid("move", "a move into the tenant the backup is of needs a target_environment other than the source")
	}
	if len(payload.Stores) == 0 && b.Payload == nil {
		return nil, errConflict("tenant", "tenant %q exists; backup %s holds its records only, from before tenancyd kept tenant data, and restores only a deleted tenant", b.Tenant, b.ID)
	}
	var pairs [][2]string
	if req.TargetEnvironment == "" {
		for _, o := range payload.Records {
			if o.Kind == api.KindEnvironment && (b.Environment == "" || o.Key == b.Environment) {
				pairs = append(pairs, [2]string{o.Key, o.Key})
			}
		}
	} else {
		src, err := sourceEnv(b, payload, req.TargetEnvironment)
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, [2]string{src, req.TargetEnvironment})
	}
	for _, pr := range pairs {
		pair := &restorePair{src: payload.source(b, pr[0]), dst: pr[1]}
		_, _, ref, err := activeStore(ctx, tx, plan.target, pair.dst)
		if err != nil {
			var ae *apiError
			if errors.As(err, &ae) && ae.status == http.StatusNotFound {
				return nil, errConflict("target_environment", "tenant %q has no environment %q to restore environment %q of backup %s into; create it, or name another target_environment",
					plan.target, pair.dst, pair.src.env, b.ID)
			}
			return nil, err
		}
		pair.ref = ref
		empty, err := s.data.IsEmpty(ctx, ref)
		if err != nil {
			return nil, dataError(plan.target, pair.dst, err)
		}
		if !empty {
			stats, err := s.data.Tables(ctx, ref)
			if err != nil {
				return nil, dataError(plan.target, pair.dst, err)
			}
			pair.filled, pair.held = true, nonEmptyTables(stats)
			if !req.Replace {
				return nil, errConflict("replace", "environment %q of tenant %q holds data (%s); a restore replaces all of it only with replace = true",
					pair.dst, plan.target, pair.held)
			}
		}
		if req.Move {
			if plan.target == b.Tenant && pair.dst == pair.src.env {
				return nil, errInvalid("move", "environment %q is both the source and the target of the move", pair.dst)
			}
			_, le, lref, err := activeStore(ctx, tx, b.Tenant, pair.src.env)
			if err != nil {
				return nil, err
			}
			pair.live, pair.liveRev = lref, le.Revision
		}
		plan.pairs = append(plan.pairs, pair)
	}
	return plan, nil
}

// planRecreate checks a restore that brings a deleted tenant back: its
// records as they were, and every environment's data in a new store.
func (s *Server) planRecreate(ctx context.Context, tx store.Tx, p *principal, plan *restorePlan) error {
	b := plan.backup
	if p.Role != api.RolePlatformAdmin {
		return errForbidden("", "bringing back deleted tenant %q needs a platform_admin token", b.Tenant)
	}
	if plan.move {
		return errInvalid("move", "tenant %q is deleted: there is no source to move from; restore without move", b.Tenant)
	}
	if b.Environment != "" {
		return errConflict("tenant", "tenant %q does not exist, and backup %s holds only its environment %q; create the tenant and that environment, then restore into it",
			b.Tenant, b.ID, b.Environment)
	}
	for _, o := range plan.payload.Records {
		if o.Tenant != b.Tenant {
			return fmt.Errorf("backup %s of tenant %q holds an object of tenant %q", b.ID, b.Tenant, o.Tenant)
		}
	}
	t, err := restoredTenant(plan.payload.Records)
	if err != nil {
		return fmt.Errorf("backup %s: %w", b.ID, err)
	}
	if err := checkDomainFree(ctx, tx, t.Domain, t.Slug); err != nil {
		return err
	}
	plan.recreate, plan.tenant = true, &t
	for _, o := range plan.payload.Records {
		if o.Kind != api.KindEnvironment {
			continue
		}
		e, err := fromObject[api.Environment](o)
		if err != nil {
			return err
		}
		ref := tenantdata.Ref{Tenant: t.Slug, Environment: e.Name, Placement: wantedPlacement(t, e)}
		plan.pairs = append(plan.pairs, &restorePair{src: plan.payload.source(b, e.Name), dst: e.Name, ref: ref})
	}
	return nil
}

// result is what a restore plan answers.
func (plan *restorePlan) result(dryRun bool) api.RestoreResult {
	out := api.RestoreResult{BackupID: plan.backup.ID, SourceTenant: plan.backup.Tenant, TargetTenant: plan.target, DryRun: dryRun,
		Records: int64(len(plan.payload.Records)), Stores: []api.RestoredStore{}, Tenant: plan.tenant}
	if !plan.recreate {
		out.Records = 0
	}
	for _, pair := range plan.pairs {
		rs := api.RestoredStore{SourceEnvironment: pair.src.env, TargetEnvironment: pair.dst, Tables: []api.TableSummary{},
			Replaced: pair.filled, Emptied: plan.move}
		if pair.src.dump != nil {
			rs.Tables = pair.src.dump.Summary()
		}
		out.Stores = append(out.Stores, rs)
	}
	return out
}

// work loads the backup's data into the targets, all or nothing: a target
// that already held data gets it back if a later one fails. A move then
// empties the sources, once it is sure that they still hold exactly what
// the backup does.
func (plan *restorePlan) work(ctx context.Context, s *Server) error {
	if plan.move {
		for _, pair := range plan.pairs {
			now, err := s.data.Dump(ctx, pair.live)
			if err != nil {
				return dataError(pair.live.Tenant, pair.live.Environment, err)
			}
			want := ""
			if pair.src.dump != nil {
				want = pair.src.dump.Checksum
			}
			if now.Checksum != want {
				return errConflict("move", "environment %q of tenant %q changed since backup %s was taken; take a new backup and move that, so that nothing written since is lost",
					pair.live.Environment, pair.live.Tenant, plan.backup.ID)
			}
		}
	}
	for _, pair := range plan.pairs {
		if plan.recreate {
			if err := s.provisionStore(ctx, pair.ref); err != nil {
				return err
			}
		} else if pair.filled {
			undo, err := s.data.Dump(ctx, pair.ref)
			if err != nil {
				return dataError(plan.target, pair.dst, err)
			}
			pair.undo = undo
		}
	}
	var done []*restorePair
	var err error
	for _, pair := range plan.pairs {
		if pair.src.dump != nil {
			err = s.data.Load(ctx, pair.ref, pair.src.dump, true)
		} else {
			err = s.data.Empty(ctx, pair.ref)
		}
		if err != nil {
			err = fmt.Errorf("restoring environment %q into %q: %w", pair.src.env, pair.dst, dataError(plan.target, pair.dst, err))
			break
		}
		done = append(done, pair)
	}
	if err == nil && plan.move {
		for _, pair := range plan.pairs {
			if err = s.data.Empty(ctx, pair.live); err != nil {
				err = fmt.Errorf("emptying the source environment %q: %w", pair.live.Environment, err)
				break
			}
		}
	}
	if err != nil {
		plan.undo(ctx, s, done)
	}
	return err
}

// undo puts the targets a failed restore loaded back as they were.
func (plan *restorePlan) undo(ctx context.Context, s *Server, done []*restorePair) {
	for _, pair := range done {
		var err error
		switch {
		case plan.recreate:
			continue // A store of a tenant that is not recreated is dropped with the failure.
		case pair.undo != nil:
			err = s.data.Load(ctx, pair.ref, pair.undo, true)
		default:
			err = s.data.Empty(ctx, pair.ref)
		}
		if err != nil {
			s.log.ErrorContext(ctx, "putting a store back after a failed restore", "store", pair.ref.String(), "error", err)
		}
	}
}

// restoreBackup restores a backup (see api.RestoreRequest): it brings a
// deleted tenant back, or puts a backup's data into environments of an
// existing tenant, its own or, for a platform admin, another; with move,
// it then empties the source. The body may be empty. ?dry_run=true (or
// "dry_run": true) runs every check and lists what would be restored.
// Recreated objects start at revision 1: a revision counts the writes of
// one life of an object, and an If-Match from before the deletion must not
// match by accident; their times are kept, so the tenant keeps seeing its
// own backups. Tokens are not restored; deletion revoked them.
func (s *Server) restoreBackup(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := r.PathValue("id")
	dry, err := dryRunParam(r)
	if err != nil {
		return err
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var req api.RestoreRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decodeStrict(body, &req); err != nil {
			return err
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if dry || req.DryRun {
		return s.checkOnly(w, r, func(ctx context.Context, tx store.Tx, _ []byte) (any, error) {
			plan, err := s.planRestore(ctx, tx, p, id, api.RestoreRequest{TargetTenant: req.TargetTenant,
				TargetEnvironment: req.TargetEnvironment, Replace: req.Replace, Move: req.Move})
			if err != nil {
				return nil, err
			}
			if plan.tenant != nil {
				plan.tenant.Revision = 1
			}
			return plan.result(true), nil
		})
	}
	var plan *restorePlan
	return s.writeData(w, r, p, dataWrite{
		locks: []string{lockPlatform},
		prepare: func(ctx context.Context, tx store.Tx, _ []byte) (func(context.Context) error, error) {
			plan, err = s.planRestore(ctx, tx, p, id, req)
			if err != nil {
				return nil, err
			}
			return func(ctx context.Context) error { return plan.work(ctx, s) }, nil
		},
		commit: func(ctx context.Context, tx store.Tx, _ []byte, workErr error) (int, any, error) {
			if workErr != nil {
				if plan.recreate {
					for _, pair := range plan.pairs {
						if err := s.scheduleDrop(ctx, tx, pair.ref, "an unfinished restore"); err != nil {
							return 0, nil, err
						}
					}
					st, out, _ := errorAnswer(ctx, workErr)
					if st != 0 {
						return st, out, nil
					}
				}
				return 0, nil, workErr
			}
			if plan.recreate {
				return s.commitRecreate(ctx, tx, p, plan)
			}
			return s.commitRestore(ctx, tx, p, plan)
		},
		after: func(ctx context.Context) {
			if plan != nil && plan.recreate {
				var refs []tenantdata.Ref
				for _, pair := range plan.pairs {
					refs = append(refs, pair.ref)
				}
				_ = s.runDrops(ctx, refs...)
			}
		},
	})
}

// commitRecreate records a deleted tenant brought back: its objects,
// environments pointing at their new stores.
func (s *Server) commitRecreate(ctx context.Context, tx store.Tx, p *principal, plan *restorePlan) (int, any, error) {
	b := plan.backup
	if _, err := tx.Get(ctx, b.Tenant, api.KindTenant, b.Tenant); err == nil {
		return 0, nil, errConflict("tenant", "tenant %q exists; a backup is restored only while no tenant has its slug: if the backup is what you need, delete the tenant first", b.Tenant)
	} else if !errors.Is(err, store.ErrNotFound) {
		return 0, nil, err
	}
	if err := checkDomainFree(ctx, tx, plan.tenant.Domain, plan.tenant.Slug); err != nil {
		return 0, nil, err
	}
	refs := map[string]tenantdata.Ref{}
	for _, pair := range plan.pairs {
		refs[pair.dst] = pair.ref
	}
	var tenantRev int64
	for _, o := range plan.payload.Records {
		data := o.Data
		if o.Kind == api.KindEnvironment {
			e, err := fromObject[api.Environment](o)
			if err != nil {
				return 0, nil, err
			}
			e.Status, e.StatusReason, e.Database = api.StatusActive, "", s.location(refs[e.Name])
			obj, err := toObject[api.Environment](o.Tenant, o.Kind, o.Key, e)
			if err != nil {
				return 0, nil, err
			}
			data = obj.Data
		}
		created, err := tx.Create(ctx, store.Object{Tenant: o.Tenant, Kind: o.Kind, Key: o.Key, Data: data,
			CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt})
		if err != nil {
			return 0, nil, err
		}
		if o.Kind == api.KindTenant {
			tenantRev = created.Revision
		}
	}
	res := plan.result(false)
	if err := s.audit(ctx, tx, p, auditEntry{tenant: b.Tenant, action: actionTenantRestore, kind: api.KindTenant, key: b.Tenant,
		after: tenantRev, detail: fmt.Sprintf("restored %d objects and %s from backup %s taken at %s",
			len(plan.payload.Records), restoredLine(res.Stores), b.ID, b.TakenAt.UTC().Format(time.RFC3339))}); err != nil {
		return 0, nil, err
	}
	o, err := tx.Get(ctx, b.Tenant, api.KindTenant, b.Tenant)
	if err != nil {
		return 0, nil, err
	}
	t, err := tenantFromObject(o)
	res.Tenant = &t
	return http.StatusCreated, res, err
}

func restoredLine(stores []api.RestoredStore) string {
	var all []api.TableSummary
	for _, st := range stores {
		all = append(all, st.Tables...)
	}
	return tablesLine(all)
}

// commitRestore records a restore of data into existing environments: their
// schema records follow the data, and a move's source loses its schema;
// both tenants' audit logs tell.
func (s *Server) commitRestore(ctx context.Context, tx store.Tx, p *principal, plan *restorePlan) (int, any, error) {
	b := plan.backup
	for _, pair := range plan.pairs {
		if err := s.putRestoredSchema(ctx, tx, p, plan.target, pair.dst, pair.src); err != nil {
			return 0, nil, err
		}
		tables := "no data"
		if pair.src.dump != nil {
			tables = tablesLine(pair.src.dump.Summary())
		}
		detail := fmt.Sprintf("restored environment %q of tenant %q from backup %s taken at %s: %s", pair.src.env, b.Tenant, b.ID,
			b.TakenAt.UTC().Format(time.RFC3339), tables)
		if pair.filled {
			detail += "; replaced " + pair.held
		}
		if plan.move {
			detail = "moved in: " + detail
		}
		if err := s.audit(ctx, tx, p, auditEntry{tenant: plan.target, action: "backup.restore", kind: api.KindEnvironment, key: pair.dst,
			detail: detail}); err != nil {
			return 0, nil, err
		}
		if !plan.move {
			continue
		}
		if err := tx.Delete(ctx, b.Tenant, api.KindSchema, pair.src.env, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
			return 0, nil, err
		}
		if err := s.audit(ctx, tx, p, auditEntry{tenant: b.Tenant, action: "backup.move_out", kind: api.KindEnvironment, key: pair.src.env,
			detail: fmt.Sprintf("moved out to environment %q of tenant %q (backup %s: %s); the environment's store is empty now",
				pair.dst, plan.target, b.ID, tables)}); err != nil {
			return 0, nil, err
		}
	}
	return http.StatusCreated, plan.result(false), nil
}
