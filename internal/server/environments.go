package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/validate"
)

// environmentRoutes serves environments: any role reads them, tenant_user may
// change their settings, and tenant_admin creates, deletes and retypes them.
func (s *Server) environmentRoutes() []route {
	return []route{
		{"GET /v1/tenants/{tenant}/environments", tenantViewer, s.listEnvironments},
		{"POST /v1/tenants/{tenant}/environments", tenantAdmin, s.createEnvironment},
		{"GET /v1/tenants/{tenant}/environments/{env}", tenantViewer, s.getEnvironment},
		{"PATCH /v1/tenants/{tenant}/environments/{env}", tenantUser, s.patchEnvironment},
		{"DELETE /v1/tenants/{tenant}/environments/{env}", tenantAdmin, s.deleteEnvironment},
	}
}

// environmentName reads the {env} path segment, refusing what can never be
// an environment's name before it reaches the store.
func environmentName(r *http.Request) (string, error) {
	name := r.PathValue("env")
	if err := validate.Name(name); err != nil {
		return "", errBadRequest("name", "environment name in the path: %v", err)
	}
	return name, nil
}

// loadEnvironment reads an environment of a tenant that exists; a missing
// tenant and a missing environment are both 404s that say which is missing.
func loadEnvironment(ctx context.Context, tx store.Tx, tenant, name string) (api.Environment, error) {
	return getChild[api.Environment](ctx, tx, tenant, api.KindEnvironment, name, fmt.Sprintf("environment %q", name))
}

// checkEnvironmentSpec validates what a caller may write, naming the field at fault.
func checkEnvironmentSpec(e api.EnvironmentSpec) error {
	if err := validate.Name(e.Name); err != nil {
		return invalidField("name", err)
	}
	if err := validate.OneOf(e.Type, api.EnvironmentTypes); err != nil {
		return invalidField("type", err)
	}
	if n := len(e.Settings); n > api.MaxSettings {
		return errInvalid("settings", "settings has %d entries; at most %d are allowed", n, api.MaxSettings)
	}
	for _, k := range slices.Sorted(maps.Keys(e.Settings)) {
		if err := validate.LabelKey(k); err != nil {
			return errInvalid("settings", "settings: key %s", err.Error())
		}
		v := e.Settings[k]
		switch {
		case !utf8.ValidString(v):
			return errInvalid("settings."+k, "settings.%s: the value is not valid UTF-8", k)
		case len(v) > api.MaxSettingValueBytes:
			return errInvalid("settings."+k, "settings.%s: the value is %d bytes long; at most %d are allowed", k, len(v), api.MaxSettingValueBytes)
		}
	}
	return nil
}

// newEnvironment decodes and checks an environment to create; the dry run
// and the create share it, so a dry run runs every check the create does.
func newEnvironment(ctx context.Context, tx store.Tx, tenant string, body []byte) (api.Environment, error) {
	var spec api.EnvironmentSpec
	if err := decodeStrict(body, &spec); err != nil {
		return api.Environment{}, err
	}
	if err := checkEnvironmentSpec(spec); err != nil {
		return api.Environment{}, err
	}
	if b := spec.RestoreFromBackup; b != nil && !backupIDPattern.MatchString(*b) {
		return api.Environment{}, errInvalid("restore_from_backup", "restore_from_backup: %s is not a backup id; backup ids look like bkp_0123456789abcdef0123", shortQuote(*b))
	}
	t, err := loadTenant(ctx, tx, tenant)
	if err != nil {
		return api.Environment{}, err
	}
	if _, err := tx.Get(ctx, tenant, api.KindEnvironment, spec.Name); err == nil {
		return api.Environment{}, errConflict("name",
			"environment %q already exists in tenant %q; import it (terraform import tenancy_environment.NAME %s/%s) or choose another name",
			spec.Name, tenant, tenant, spec.Name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return api.Environment{}, err
	}
	e := api.Environment{EnvironmentSpec: spec, TenantID: tenant, ID: tenant + "/" + spec.Name, Status: api.StatusProvisioning}
	e.Database = &api.Database{Isolation: tenantdata.PlacementFor(t.Isolation, e.Type)}
	return e, nil
}

// createEnvironment creates an environment with its data store, seeded
// from restore_from_backup when it is set. The store is made before the
// environment is recorded; if that fails, the environment is recorded
// failed, with the reason, and tenancyd retries until it is active. A seed
// that cannot be restored creates nothing. ?dry_run=true answers the
// environment as it would be, with its database.
func (s *Server) createEnvironment(w http.ResponseWriter, r *http.Request, p *principal) error {
	tenant := r.PathValue("tenant")
	dry, err := dryRunParam(r)
	if err != nil {
		return err
	}
	if dry {
		return s.checkOnly(w, r, func(ctx context.Context, tx store.Tx, body []byte) (any, error) {
			e, err := newEnvironment(ctx, tx, tenant, body)
			if err != nil {
				return nil, err
			}
			if e.RestoreFromBackup != nil {
				if _, err := s.restoreSeed(ctx, tx, p, *e.RestoreFromBackup, tenant, e.Name); err != nil {
					return nil, err
				}
			}
			e.Database = s.location(tenantdata.Ref{Tenant: tenant, Environment: e.Name, Placement: e.Database.Isolation})
			return e, nil
		})
	}
	var ref tenantdata.Ref
	var seed *restoreSource
	var provErr error
	return s.writeData(w, r, p, dataWrite{
		locks: []string{lockTenant(tenant)},
		prepare: func(ctx context.Context, tx store.Tx, body []byte) (func(context.Context) error, error) {
			e, err := newEnvironment(ctx, tx, tenant, body)
			if err != nil {
				return nil, err
			}
			ref = tenantdata.Ref{Tenant: tenant, Environment: e.Name, Placement: e.Database.Isolation}
			if e.RestoreFromBackup != nil {
				if seed, err = s.restoreSeed(ctx, tx, p, *e.RestoreFromBackup, tenant, e.Name); err != nil {
					return nil, err
				}
			}
			return func(ctx context.Context) error {
				if provErr = s.provisionStore(ctx, ref); provErr != nil {
					if seed != nil {
						// A seeded environment is made whole or not at all.
						return provErr
					}
					return nil // Recorded as failed, and retried.
				}
				if seed == nil || seed.dump == nil {
					return nil
				}
				if err := s.data.Load(ctx, ref, seed.dump, false); err != nil {
					_ = s.data.Drop(ctx, ref)
					return fmt.Errorf("restoring backup %s into environment %q: %w", *e.RestoreFromBackup, e.Name, err)
				}
				return nil
			}, nil
		},
		commit: func(ctx context.Context, tx store.Tx, body []byte, workErr error) (int, any, error) {
			if workErr != nil {
				return 0, nil, dataError(tenant, ref.Environment, workErr)
			}
			e, err := newEnvironment(ctx, tx, tenant, body)
			if err != nil {
				return 0, nil, err
			}
			detail := "type " + e.Type
			if provErr != nil {
				e.Status, e.StatusReason, e.Database = api.StatusFailed, statusReason(provErr), nil
				detail += "; provisioning its data store failed, and is retried: " + e.StatusReason
				s.log.WarnContext(ctx, "provisioning a data store", "store", ref.String(), "error", provErr)
			} else {
				e.Status, e.Database = api.StatusActive, s.location(ref)
				detail += "; data store " + ref.Placement
			}
			if seed != nil && provErr == nil {
				tables := "no data"
				if seed.dump != nil {
					tables = tablesLine(seed.dump.Summary())
				}
				detail += fmt.Sprintf("; restored from backup %s, environment %q of tenant %q (%s)", seed.backup.ID, seed.env, seed.backup.Tenant, tables)
				if err := s.putRestoredSchema(ctx, tx, p, tenant, e.Name, seed); err != nil {
					return 0, nil, err
				}
			}
			created, err := createObject[api.Environment](ctx, tx, tenant, api.KindEnvironment, e.Name, e)
			if err != nil {
				return 0, nil, err
			}
			if err := s.audit(ctx, tx, p, auditEntry{tenant: tenant, action: "environment.create", kind: api.KindEnvironment,
				key: e.Name, after: created.Revision, detail: detail}); err != nil {
				return 0, nil, err
			}
			return http.StatusCreated, created, nil
		},
	})
}

func (s *Server) getEnvironment(w http.ResponseWriter, r *http.Request, _ *principal) error {
	name, err := environmentName(r)
	if err != nil {
		return err
	}
	return s.viewOne(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		return answerRead[api.Environment](childObject(ctx, tx, r.PathValue("tenant"), api.KindEnvironment, name, fmt.Sprintf("environment %q", name)))
	})
}

// listEnvironments lists a tenant's environments in name order, optionally
// only those of one type (type=).
func (s *Server) listEnvironments(w http.ResponseWriter, r *http.Request, _ *principal) error {
	after, size, err := page(r)
	if err != nil {
		return err
	}
	slug := r.PathValue("tenant")
	var keep func(api.Environment) bool
	if typ := r.URL.Query().Get("type"); typ != "" {
		if err := validate.OneOf(typ, api.EnvironmentTypes); err != nil {
			return errBadRequest("type", "type: %v", err)
		}
		keep = func(e api.Environment) bool { return e.Type == typ }
	}
	return s.view(w, r, func(ctx context.Context, tx store.Tx) (any, error) {
		if _, err := loadTenant(ctx, tx, slug); err != nil {
			return nil, err
		}
		return listPageOf[api.Environment](ctx, tx, slug, api.KindEnvironment, after, size, keep)
	})
}

// patchEnvironment applies a JSON merge patch (RFC 7396) to an environment;
// a patch of settings changes only the keys it names (null removes one). The
// name is fixed. Changing the type needs tenant_admin: the type decides who
// may promote into the environment, so a tenant_user must not lower it. A
// type that puts the environment elsewhere (hybrid isolation: production
// dedicated, the others shared) moves its data store first.
func (s *Server) patchEnvironment(w http.ResponseWriter, r *http.Request, p *principal) error {
	slug := r.PathValue("tenant")
	name, err := environmentName(r)
	if err != nil {
		return err
	}
	ifMatch, err := parseIfMatch(r)
	if err != nil {
		return err
	}
	u := update[api.Environment]{
		tenant: slug, kind: api.KindEnvironment, key: name, what: fmt.Sprintf("environment %q", name),
		load: func(ctx context.Context, tx store.Tx) (api.Environment, error) {
			return loadEnvironment(ctx, tx, slug, name)
		},
		apply: func(ctx context.Context, tx store.Tx, cur api.Environment, body []byte) (api.Environment, error) {
			return applyEnvironmentPatch(ctx, tx, p, slug, cur, body)
		},
		detail: func(_, _ api.Environment, body []byte) string { return environmentChanges(body) },
	}
	var mv *storeMove
	return s.writeData(w, r, p, dataWrite{
		locks: []string{lockTenant(slug)},
		prepare: func(ctx context.Context, tx store.Tx, body []byte) (func(context.Context) error, error) {
			cur, next, err := prepareUpdate(ctx, tx, u, ifMatch, body)
			if err != nil {
				return nil, err
			}
			if same, err := unchanged(u, cur, next); err != nil || same {
				return nil, err
			}
			t, err := loadTenant(ctx, tx, slug)
			if err != nil {
				return nil, err
			}
			if mv = s.moveFor(t, cur, next.Type); mv == nil {
				return nil, nil
			}
			return mv.run, nil
		},
		commit: func(ctx context.Context, tx store.Tx, body []byte, workErr error) (int, any, error) {
			cur, next, err := prepareUpdate(ctx, tx, u, ifMatch, body)
			if err != nil {
				return 0, nil, err
			}
			if same, err := unchanged(u, cur, next); mv != nil && err == nil && !same {
				if err := s.recordMove(ctx, tx, p, mv, workErr, cur.Revision, &next); err != nil {
					return errorAnswer(ctx, err)
				}
			}
			return writeUpdate(ctx, tx, s, p, u, cur, next, body)
		},
		after: func(ctx context.Context) { s.afterMove(ctx, mv) },
	})
}

// applyEnvironmentPatch checks a patch of an environment and returns the
// environment as it would be: as it is when nothing changes.
func applyEnvironmentPatch(ctx context.Context, tx store.Tx, p *principal, slug string, cur api.Environment, body []byte) (api.Environment, error) {
	name := cur.Name
	next, err := applyMergePatch(cur.EnvironmentSpec, body)
	if err != nil {
		return cur, err
	}
	switch {
	case next.Name != cur.Name:
		return cur, errInvalid("name", "name is immutable: environment %q cannot become %q; create a new environment instead",
			cur.Name, next.Name)
	case !reflect.DeepEqual(next.RestoreFromBackup, cur.RestoreFromBackup):
		return cur, errInvalid("restore_from_backup", "restore_from_backup is used only when an environment is created; to restore a backup into environment %q, use POST /v1/backups/{id}/restore with target_environment %q",
			name, name)
	case next.Type != cur.Type && !p.atLeast(api.RoleTenantAdmin):
		return cur, errForbidden("type", "changing the type of environment %q from %s to %s needs role tenant_admin; the token %q has role %s",
			name, cur.Type, next.Type, p.Name, p.Role)
	}
	if err := checkEnvironmentSpec(next); err != nil {
		return cur, err
	}
	if reflect.DeepEqual(next, cur.EnvironmentSpec) {
		return cur, nil // Nothing changes, so no write to a production environment either.
	}
	if err := checkNotProduction(ctx, tx, p, slug, name, "settings"); err != nil {
		return cur, err
	}
	e := cur
	e.EnvironmentSpec = next
	return e, nil
}

// environmentChanges says for the audit log which fields and settings keys
// a merge patch touches, such as "changed: settings.log_level, type".
func environmentChanges(patch []byte) string {
	var m struct {
		Settings map[string]any `json:"settings"`
	}
	detail := changedFields(patch)
	if json.Unmarshal(patch, &m) != nil || len(m.Settings) == 0 {
		return detail
	}
	keys := make([]string, 0, len(m.Settings))
	for _, k := range slices.Sorted(maps.Keys(m.Settings)) {
		keys = append(keys, "settings."+k)
	}
	return strings.Replace(detail, "settings", strings.Join(keys, ", "), 1)
}

// deleteEnvironment decommissions an environment: a final backup of its
// records and of every table and row of its data store, kept for the
// tenant's data_retention_days, then, in the same transaction, the
// environment and what belongs to it (its quota and schema, the role
// bindings scoped to it and its entry in every feature flag), each with an
// audit event of its own. The store is dropped once that is committed.
func (s *Server) deleteEnvironment(w http.ResponseWriter, r *http.Request, p *principal) error {
	slug := r.PathValue("tenant")
	name, err := environmentName(r)
	if err != nil {
		return err
	}
	ifMatch, err := parseIfMatch(r)
	if err != nil {
		return err
	}
	d := deletion[api.Environment]{
		tenant: slug, kind: api.KindEnvironment, key: name, what: fmt.Sprintf("environment %q", name),
		load: func(ctx context.Context, tx store.Tx) (api.Environment, error) {
			return loadEnvironment(ctx, tx, slug, name)
		},
	}
	var dumps map[string]*tenantdata.Dump
	var ref tenantdata.Ref
	var rev int64
	return s.writeData(w, r, p, dataWrite{
		locks: []string{lockTenant(slug)},
		prepare: func(ctx context.Context, tx store.Tx, _ []byte) (func(context.Context) error, error) {
			t, err := loadTenant(ctx, tx, slug)
			if err != nil {
				return nil, err
			}
			e, err := d.load(ctx, tx)
			if err != nil {
				return nil, err
			}
			if err := checkRevision(ifMatch, e.Revision, d.what); err != nil {
				return nil, err
			}
			ref, rev = storeRef(t, e), e.Revision
			return func(ctx context.Context) error {
				dumps, err = s.dumpStores(ctx, t, []api.Environment{e})
				return err
			}, nil
		},
		commit: func(ctx context.Context, tx store.Tx, _ []byte, workErr error) (int, any, error) {
			if workErr != nil {
				return 0, nil, fmt.Errorf("the final backup of environment %q could not be taken, so it is not deleted: %w", name, workErr)
			}
			d.cascade = func(ctx context.Context, tx store.Tx, e api.Environment) (string, error) {
				if e.Revision != rev {
					return "", changedDuringBackup("environment", name, rev, e.Revision)
				}
				b, err := s.finalEnvironmentBackup(ctx, tx, slug, name, dumps)
				if err != nil {
					return "", err
				}
				if err := s.removeFromEnvironment(ctx, tx, p, slug, name); err != nil {
					return "", err
				}
				if err := s.scheduleDrop(ctx, tx, ref, fmt.Sprintf("environment %q deleted", name)); err != nil {
					return "", err
				}
				return fmt.Sprintf("type %s; final backup %s (%s) kept until %s", e.Type, b.ID,
					storesLine(backupView(b).Stores), b.RetainUntil.Format(time.RFC3339)), nil
			}
			return runDeletion(ctx, tx, s, p, d, ifMatch)
		},
		after: func(ctx context.Context) {
			if err := s.runDrops(ctx, ref); err != nil {
				s.log.WarnContext(ctx, "dropping a data store; retried later", "store", ref.String(), "error", err)
			}
		},
	})
}

// finalEnvironmentBackup stores the final backup of an environment being
// deleted: its records, and the dump of its store taken before.
func (s *Server) finalEnvironmentBackup(ctx context.Context, tx store.Tx, slug, name string, dumps map[string]*tenantdata.Dump) (store.BackupRecord, error) {
	t, err := loadTenant(ctx, tx, slug)
	if err != nil {
		return store.BackupRecord{}, err
	}
	records, err := environmentRecords(ctx, tx, slug, name)
	if err != nil {
		return store.BackupRecord{}, err
	}
	b, err := s.newBackup(api.BackupFinal, t, name, *t.DataRetentionDays, records, dumps)
	if err != nil {
		return store.BackupRecord{}, err
	}
	return b, tx.PutBackup(ctx, b)
}

// removeFromEnvironment deletes what belongs to an environment being
// deleted, each with an audit event of its own: its quota and schema, the
// role bindings scoped to it and its entry in every feature flag.
func (s *Server) removeFromEnvironment(ctx context.Context, tx store.Tx, p *principal, slug, name string) error {
	why := fmt.Sprintf("environment %q deleted", name)
	if err := s.removeQuota(ctx, tx, p, slug, name, why); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := tx.Delete(ctx, slug, api.KindSchema, name, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	bindings, err := allObjects[api.RoleBinding](ctx, tx, slug, api.KindRoleBinding)
	if err != nil {
		return err
	}
	for _, b := range bindings {
		if b.Environment != nil && *b.Environment == name {
			if err := s.removeBinding(ctx, tx, p, b, why); err != nil {
				return err
			}
		}
	}
	return s.removeEnvironmentFromFlags(ctx, tx, p, slug, name)
}

// changedDuringBackup refuses a decommission whose object changed while its
// final backup was taken: the backup would miss the change.
func changedDuringBackup(what, name string, was, is int64) error {
	return newError(http.StatusPreconditionFailed, api.CodePreconditionFailed, "",
		"%s %q changed (revision %d, now %d) while its final backup was taken, and is not deleted; retry the deletion", what, name, was, is)
}
