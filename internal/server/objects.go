package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

// document is an API type stored as one store.Object: a pointer to a
// struct that embeds api.Meta.
type document[T any] interface {
	*T
	GetMeta() *api.Meta
}

// fromObject decodes a stored object into its API type; the revision and
// timestamps come from the store, not from the JSON.
func fromObject[T any, P document[T]](o store.Object) (T, error) {
	var v T
	if err := json.Unmarshal(o.Data, &v); err != nil {
		return v, fmt.Errorf("%s %s/%s: stored data is corrupt: %w", o.Kind, o.Tenant, o.Key, err)
	}
	*P(&v).GetMeta() = api.Meta{Revision: o.Revision, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
	return v, nil
}

// toObject encodes an API object for the store, leaving out what the store owns.
func toObject[T any, P document[T]](tenant, kind, key string, v T) (store.Object, error) {
	*P(&v).GetMeta() = api.Meta{}
	data, err := json.Marshal(v)
	return store.Object{Tenant: tenant, Kind: kind, Key: key, Data: data}, err
}

// getObject reads one object, answering 404 with what names it when missing.
func getObject[T any, P document[T]](ctx context.Context, tx store.Tx, tenant, kind, key, what string) (T, error) {
	o, err := tx.Get(ctx, tenant, kind, key)
	if errors.Is(err, store.ErrNotFound) {
		var zero T
		return zero, errNotFound("%s not found in tenant %q", what, tenant)
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return fromObject[T, P](o)
}

// getChild reads one object of a tenant: a 404 names the tenant when the
// tenant is missing, and the object otherwise. Deleting a tenant deletes its
// objects in the same transaction, so an object found proves its tenant
// exists, and the tenant is read only to word a miss: a GET costs one query.
func getChild[T any, P document[T]](ctx context.Context, tx store.Tx, tenant, kind, key, what string) (T, error) {
	var zero T
	o, err := tx.Get(ctx, tenant, kind, key)
	switch {
	case err == nil:
		return fromObject[T, P](o)
	case !errors.Is(err, store.ErrNotFound):
		return zero, err
	}
	if _, err := loadTenant(ctx, tx, tenant); err != nil {
		return zero, err
	}
	return zero, errNotFound("%s not found in tenant %q", what, tenant)
}

// allObjects reads every object of a kind in a tenant, in key order.
func allObjects[T any, P document[T]](ctx context.Context, tx store.Tx, tenant, kind string) ([]T, error) {
	objs, err := tx.List(ctx, store.ListQuery{Tenant: tenant, Kind: kind})
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(objs))
	for _, o := range objs {
		v, err := fromObject[T, P](o)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// createObject stores a new object and returns it as stored.
func createObject[T any, P document[T]](ctx context.Context, tx store.Tx, tenant, kind, key string, v T) (T, error) {
	o, err := toObject[T, P](tenant, kind, key, v)
	if err != nil {
		return v, err
	}
	if o, err = tx.Create(ctx, o); err != nil {
		return v, err
	}
	return fromObject[T, P](o)
}

// putObject replaces an object at the revision it was read at.
func putObject[T any, P document[T]](ctx context.Context, tx store.Tx, tenant, kind, key string, v T) (T, error) {
	rev := P(&v).GetMeta().Revision
	o, err := toObject[T, P](tenant, kind, key, v)
	if err != nil {
		return v, err
	}
	if o, err = tx.Put(ctx, o, rev); err != nil {
		return v, err
	}
	return fromObject[T, P](o)
}

// view runs a read-only handler body in one snapshot and answers with what
// it returns; a returned pointer to an object with api.Meta also sets the ETag.
func (s *Server) view(w http.ResponseWriter, r *http.Request, fn func(ctx context.Context, tx store.Tx) (any, error)) error {
	return s.answer(w, r, s.store.View, fn)
}

// viewOne is view for a GET of one object, which reads it with one
// statement outside a transaction when it is there (see store.Read).
func (s *Server) viewOne(w http.ResponseWriter, r *http.Request, fn func(ctx context.Context, tx store.Tx) (any, error)) error {
	return s.answer(w, r, s.store.Read, fn)
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, read func(context.Context, func(context.Context, store.Tx) error) error,
	fn func(ctx context.Context, tx store.Tx) (any, error),
) error {
	var out any
	err := read(r.Context(), func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = fn(ctx, tx)
		return err
	})
	if err != nil {
		return err
	}
	if m, ok := out.(interface{ GetMeta() *api.Meta }); ok {
		writeObject(w, m.GetMeta().Revision, out)
		return nil
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
