package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

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
// tenant is missing, and the object otherwise.
func getChild[T any, P document[T]](ctx context.Context, tx store.Tx, tenant, kind, key, what string) (T, error) {
	o, err := childObject(ctx, tx, tenant, kind, key, what)
	if err != nil {
		var zero T
		return zero, err
	}
	return fromObject[T, P](o)
}

// answerRead is the answer of a GET from what read its object: the error,
// or answerOf the object.
func answerRead[T any, P document[T]](o store.Object, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return answerOf[T, P](o)
}

// childObject reads one stored object of a tenant. Deleting a tenant
// deletes its objects in the same transaction, so an object found proves
// its tenant exists, and the tenant is read only to word a miss: a GET
// costs one query.
func childObject(ctx context.Context, tx store.Tx, tenant, kind, key, what string) (store.Object, error) {
	o, err := tx.Get(ctx, tenant, kind, key)
	switch {
	case err == nil:
		return o, nil
	case !errors.Is(err, store.ErrNotFound):
		return o, err
	}
	if _, err := loadTenant(ctx, tx, tenant); err != nil {
		return o, err
	}
	return o, errNotFound("%s not found in tenant %q", what, tenant)
}

// zeroMeta is how the JSON that toObject stores ends: api.Meta is the last
// field of every document answerOf serves, and toObject zeroes it.
var zeroMeta = func() []byte {
	b, err := json.Marshal(struct{ api.Meta }{})
	if err != nil {
		panic(err)
	}
	return b[1:]
}()

// encoded is an answer already encoded as JSON, with the revision its ETag
// names.
type encoded struct {
	body []byte
	rev  int64
}

// answerOf is what a GET of one stored object answers with: the bytes
// toObject stored, with the store's revision and timestamps in place of the
// zeroed api.Meta, which is what decoding and encoding them again would give
// at a fraction of the cost. Data the store did not keep as written (rows
// PostgreSQL kept as JSONB, which respaces and reorders keys, until their
// next write) is decoded and encoded again. Only kinds whose answer is what
// they store may use it: an integration leaves its secret out, so it is
// decoded. A field added to one of these types must reach the rows already
// stored (or be omitempty), since this answer would not show its zero value.
func answerOf[T any, P document[T]](o store.Object) (any, error) {
	n := len(o.Data) - len(zeroMeta)
	if n < 2 || o.Data[n-1] != ',' || !bytes.Equal(o.Data[n:], zeroMeta) {
		v, err := fromObject[T, P](o)
		return P(&v), err
	}
	// Room for the revision, two timestamps and the newline writeRaw adds.
	b := make([]byte, 0, len(o.Data)+80)
	b = append(b, o.Data[:n]...)
	b = append(b, `"revision":`...)
	b = strconv.AppendInt(b, o.Revision, 10)
	b = append(b, `,"created_at":"`...)
	b, err := o.CreatedAt.AppendText(b)
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: created_at %v cannot be encoded: %w", o.Kind, o.Tenant, o.Key, o.CreatedAt, err)
	}
	b = append(b, `","updated_at":"`...)
	if b, err = o.UpdatedAt.AppendText(b); err != nil {
		return nil, fmt.Errorf("%s %s/%s: updated_at %v cannot be encoded: %w", o.Kind, o.Tenant, o.Key, o.UpdatedAt, err)
	}
	return &encoded{body: append(b, `"}`...), rev: o.Revision}, nil
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
	if e, ok := out.(*encoded); ok {
		w.Header().Set("ETag", etag(e.rev))
		writeRaw(w, http.StatusOK, e.body)
		return nil
	}
	if m, ok := out.(interface{ GetMeta() *api.Meta }); ok {
		writeObject(w, m.GetMeta().Revision, out)
		return nil
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
