package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validate"
)

// backupRoutes are the platform admin's view of decommissioned tenants: the
// final backups that deleting a tenant takes, and restoring one.
func (s *Server) backupRoutes() []route {
	return []route{
		{"GET /v1/backups", platformAdmin, s.listBackups},
		{"POST /v1/backups/{id}/restore", platformAdmin, s.restoreBackup},
	}
}

func backupView(b store.BackupRecord) api.Backup {
	return api.Backup{ID: b.ID, Tenant: b.Tenant, TakenAt: b.TakenAt, RetainUntil: b.RetainUntil}
}

// listBackups lists every backup, oldest first, or only those of one
// tenant (?tenant=slug). Backups outlive their tenant, so the filter is a
// slug that need not exist any more.
func (s *Server) listBackups(w http.ResponseWriter, r *http.Request, _ *principal) error {
	after, size, err := page(r)
	if err != nil {
		return err
	}
	tenant := r.URL.Query().Get("tenant")
	if tenant != "" {
		if err := validate.Slug(tenant); err != nil {
			return errBadRequest("tenant", "tenant: %v", err)
		}
	}
	var all []store.BackupRecord
	err = s.store.View(r.Context(), func(ctx context.Context, tx store.Tx) error {
		all, err = tx.ListBackups(ctx, tenant)
		return err
	})
	if err != nil {
		return err
	}
	// The page token is the id of the last backup of the previous page; the
	// order (taken_at, id) never changes, since backups are never updated.
	start := 0
	if after != "" {
		start = -1
		for i, b := range all {
			if b.ID == after {
				start = i + 1
				break
			}
		}
		if start < 0 {
			return errBadRequest("page_token", "page_token is not one this server returned; start again without it")
		}
	}
	list := api.List[api.Backup]{Items: []api.Backup{}}
	end := min(start+size, len(all))
	for _, b := range all[start:end] {
		list.Items = append(list.Items, backupView(b))
	}
	if end < len(all) {
		list.NextPageToken = pageToken(all[end-1].ID)
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// restoreBackup recreates a deleted tenant, and everything it owned, from
// its final backup. Objects come back at revision 1: a revision counts the
// writes of one life of an object, and a client's If-Match from before the
// deletion must not match the restored object by accident. Tokens are not
// restored; deletion revoked them for good. ?dry_run=true runs every check
// and answers the tenant as it would be restored, writing nothing.
func (s *Server) restoreBackup(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := r.PathValue("id")
	dryRun, err := restoreDryRun(r)
	if err != nil {
		return err
	}
	if dryRun {
		var t api.Tenant
		err := s.store.View(r.Context(), func(ctx context.Context, tx store.Tx) error {
			_, objs, err := s.prepareRestore(ctx, tx, id)
			if err != nil {
				return err
			}
			if t, err = restoredTenant(objs); err != nil {
				return err
			}
			now := s.now().UTC()
			t.Meta = api.Meta{Revision: 1, CreatedAt: now, UpdatedAt: now}
			return nil
		})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, t)
		return nil
	}
	return s.mutate(w, r, p, []string{lockPlatform}, func(ctx context.Context, tx store.Tx, _ []byte) (int, any, error) {
		b, objs, err := s.prepareRestore(ctx, tx, id)
		if err != nil {
			return 0, nil, err
		}
		var tenantRev int64
		for _, o := range objs {
			created, err := tx.Create(ctx, store.Object{Tenant: o.Tenant, Kind: o.Kind, Key: o.Key, Data: o.Data})
			if err != nil {
				return 0, nil, err
			}
			if o.Kind == store.KindTenant {
				tenantRev = created.Revision
			}
		}
		if err := s.audit(ctx, tx, p, auditEntry{tenant: b.Tenant, action: actionTenantRestore, kind: store.KindTenant, key: b.Tenant,
			after: tenantRev, detail: fmt.Sprintf("restored %d objects from backup %s taken at %s",
				len(objs), b.ID, b.TakenAt.UTC().Format(time.RFC3339))}); err != nil {
			return 0, nil, err
		}
		o, err := tx.Get(ctx, b.Tenant, store.KindTenant, b.Tenant)
		if err != nil {
			return 0, nil, err
		}
		t, err := tenantFromObject(o)
		return http.StatusCreated, t, err
	})
}

// prepareRestore runs every check of a restore and returns the backup and
// the objects to recreate. The caller holds the platform lock when it
// writes, so no tenant can take the slug or the domain in between.
func (s *Server) prepareRestore(ctx context.Context, tx store.Tx, id string) (store.BackupRecord, []store.Object, error) {
	// What cannot be a backup id is not looked up: PostgreSQL refuses some
	// strings (a NUL byte, invalid UTF-8) outright.
	if !backupIDPattern.MatchString(id) {
		return store.BackupRecord{}, nil, errNotFound("backup %s not found: backup ids look like bkp_0123456789abcdef0123", shortQuote(id))
	}
	b, err := tx.Backup(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return b, nil, errNotFound("backup %q not found", id)
	}
	if err != nil {
		return b, nil, err
	}
	if now := s.now(); now.After(b.RetainUntil) {
		return b, nil, errConflict("retain_until", "backup %s of tenant %q was retained until %s and has expired (it is %s now); it can no longer be restored",
			b.ID, b.Tenant, b.RetainUntil.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if err := tx.Lock(ctx, lockTenant(b.Tenant)); err != nil {
		return b, nil, err
	}
	if _, err := tx.Get(ctx, b.Tenant, store.KindTenant, b.Tenant); err == nil {
		return b, nil, errConflict("tenant", "tenant %q exists; a backup is restored only while no tenant has its slug: if the backup is what you need, delete the tenant first", b.Tenant)
	} else if !errors.Is(err, store.ErrNotFound) {
		return b, nil, err
	}
	var objs []store.Object
	if err := json.Unmarshal(b.Data, &objs); err != nil {
		return b, nil, fmt.Errorf("backup %s: stored data is corrupt: %w", b.ID, err)
	}
	for _, o := range objs {
		if o.Tenant != b.Tenant {
			return b, nil, fmt.Errorf("backup %s of tenant %q holds an object of tenant %q", b.ID, b.Tenant, o.Tenant)
		}
	}
	t, err := restoredTenant(objs)
	if err != nil {
		return b, nil, fmt.Errorf("backup %s: %w", b.ID, err)
	}
	if err := checkDomainFree(ctx, tx, t.Domain, t.Slug); err != nil {
		return b, nil, err
	}
	return b, objs, nil
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
				if err := s.audit(ctx, tx, nil, auditEntry{action: "backup.expire", kind: api.KindBackup, key: b.ID,
					detail: fmt.Sprintf("final backup of tenant %q taken at %s, retained until %s, deleted",
						b.Tenant, b.TakenAt.UTC().Format(time.RFC3339), b.RetainUntil.UTC().Format(time.RFC3339))}); err != nil {
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
var backupIDPattern = regexp.MustCompile(`^bkp_[0-9a-f]{1,64}$`)

// shortQuote quotes a value for a message, cut so that it cannot flood it.
func shortQuote(v string) string {
	const limit = 80
	if r := []rune(v); len(r) > limit {
		return strconv.Quote(string(r[:limit])) + "…"
	}
	return strconv.Quote(v)
}

// restoredTenant finds the tenant itself among a backup's objects.
func restoredTenant(objs []store.Object) (api.Tenant, error) {
	for _, o := range objs {
		if o.Kind == store.KindTenant {
			return tenantFromObject(o)
		}
	}
	return api.Tenant{}, errors.New("the backup holds no tenant object")
}

// restoreDryRun reads ?dry_run, which must be true or false when present.
func restoreDryRun(r *http.Request) (bool, error) {
	switch v := r.URL.Query().Get("dry_run"); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, errBadRequest("dry_run", "dry_run must be true or false; got %q", v)
	}
}
