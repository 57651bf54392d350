package server

import (
	"context"
	"net/http"
	"strconv"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

// Audit actions that start a tenant's history.
const (
	actionTenantCreate  = "tenant.create"
	actionTenantRestore = "tenant.restore"
)

// auditEntry is what a handler says about its mutation; audit adds who,
// when and which request.
type auditEntry struct {
	tenant, action, kind, key string
	before, after             int64
	detail                    string
	// promotion is the id of the promotion that makes this change, or
	// whose rollback does.
	promotion string
}

// audit records a mutation: who (the token's name, and its id and its
// minter's id, which no name can fake; tenancyd itself when p is nil),
// what, when and in which request.
func (s *Server) audit(ctx context.Context, tx store.Tx, p *principal, e auditEntry) error {
	ev := api.AuditEvent{Actor: systemActor}
	if p != nil {
		ev = api.AuditEvent{Actor: p.Name, ActorTokenID: p.TokenID, ActorTokenCreatedByID: p.CreatedByID}
	}
	_, err := tx.AppendAudit(ctx, api.AuditEvent{
		Actor: ev.Actor, ActorTokenID: ev.ActorTokenID, ActorTokenCreatedByID: ev.ActorTokenCreatedByID,
		Tenant: e.tenant, Action: e.action, ObjectKind: e.kind, ObjectKey: e.key,
		RevisionBefore: e.before, RevisionAfter: e.after, RequestID: requestID(ctx),
		Detail: e.detail, Time: s.now().UTC(), PromotionID: e.promotion,
	})
	return err
}

// incarnationStart is the ID of the event that created (or restored) the
// tenant that now has this slug: a slug can be reused after a tenant is
// deleted, and the new tenant must not read the history of the old one.
func incarnationStart(ctx context.Context, tx store.Tx, slug string) (int64, error) {
	events, err := tx.ListAudit(ctx, store.AuditQuery{
		Tenant: slug, ObjectKind: api.KindTenant, ObjectKey: slug,
		Actions: []string{actionTenantCreate, actionTenantRestore}, Desc: true, Limit: 1,
	})
	if err != nil || len(events) == 0 {
		return 0, err
	}
	return events[0].ID, nil
}

// listAuditEvents lists a tenant's audit events, oldest first unless
// order=desc, optionally only those of one object (object_kind, object_key).
func (s *Server) listAuditEvents(w http.ResponseWriter, r *http.Request, _ *principal) error {
	return s.answerAudit(w, r, r.PathValue("tenant"))
}

// listPlatformAuditEvents lists the platform-level audit events, those of no
// tenant: platform tokens minted and revoked, expired backups deleted. A
// platform admin reads them; tenants' events are under their own route.
func (s *Server) listPlatformAuditEvents(w http.ResponseWriter, r *http.Request, _ *principal) error {
	return s.answerAudit(w, r, "")
}

// answerAudit answers one page of the audit events of a tenant, or of the
// platform when tenant is "".
func (s *Server) answerAudit(w http.ResponseWriter, r *http.Request, tenant string) error {
	q := r.URL.Query()
	_, size, err := page(r)
	if err != nil {
		return err
	}
	aq := store.AuditQuery{
		Tenant: tenant, ObjectKind: q.Get("object_kind"), ObjectKey: q.Get("object_key"),
		Limit: size + 1,
	}
	switch q.Get("order") {
	case "", "asc":
	case "desc":
		aq.Desc = true
	default:
		return errBadRequest("order", "order must be \"asc\" or \"desc\"; got %q", q.Get("order"))
	}
	if v := q.Get("page_token"); v != "" {
		if aq.After, err = strconv.ParseInt(v, 10, 64); err != nil || aq.After <= 0 {
			return errBadRequest("page_token", "page_token is not one this server returned; start again without it")
		}
	}
	list := api.List[api.AuditEvent]{Items: []api.AuditEvent{}}
	err = s.store.View(r.Context(), func(ctx context.Context, tx store.Tx) error {
		if tenant != "" {
			if _, err := loadTenant(ctx, tx, tenant); err != nil {
				return err
			}
			if aq.FromID, err = incarnationStart(ctx, tx, tenant); err != nil {
				return err
			}
		}
		events, err := tx.ListAudit(ctx, aq)
		if err != nil {
			return err
		}
		if len(events) > size {
			events = events[:size]
			list.NextPageToken = strconv.FormatInt(events[size-1].ID, 10)
		}
		list.Items = append(list.Items, events...)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}
