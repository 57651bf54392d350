package server

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

// Paging: lists are read in key order, a page at a time; a page token is
// the last key of the page before, encoded.

// page reads the paging parameters of a list request.
func page(r *http.Request) (after string, size int, err error) {
	size = api.DefaultPageSize
	if v := r.URL.Query().Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > api.MaxPageSize {
			return "", 0, errBadRequest("page_size", "page_size must be a whole number from 1 to %d; got %q", api.MaxPageSize, v)
		}
		size = n
	}
	if v := r.URL.Query().Get("page_token"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		// Keys are printable text; a token decoding to anything else is
		// forged, and must not reach the database as a bound.
		if err != nil || len(b) == 0 || !printable(string(b)) {
			return "", 0, errBadRequest("page_token", "page_token is not one this server returned; start again without it")
		}
		after = string(b)
	}
	return after, size, nil
}

func pageToken(lastKey string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(lastKey))
}

// listPage reads one page of objects that keep passes, in key order,
// scanning past those it drops.
func listPage(ctx context.Context, tx store.Tx, q store.ListQuery, size int, keep func(store.Object) (bool, error)) ([]store.Object, string, error) {
	var out []store.Object
	for {
		q.Limit = size + 1
		objs, err := tx.List(ctx, q)
		if err != nil {
			return nil, "", err
		}
		for i, o := range objs {
			if i == size {
				break
			}
			q.After = o.Key
			ok, err := keep(o)
			if err != nil {
				return nil, "", err
			}
			if !ok {
				continue
			}
			out = append(out, o)
			if len(out) == size {
				more := i+1 < len(objs)
				if !more {
					return out, "", nil
				}
				return out, pageToken(o.Key), nil
			}
		}
		if len(objs) <= size {
			return out, "", nil
		}
	}
}

// listPageOf answers a list request with one page of a tenant's objects of a
// kind that keep passes (nil keeps all).
func listPageOf[T any, P document[T]](ctx context.Context, tx store.Tx, tenant, kind, after string, size int, keep func(T) bool) (api.List[T], error) {
	list := api.List[T]{Items: []T{}}
	objs, next, err := listPage(ctx, tx, store.ListQuery{Tenant: tenant, Kind: kind, After: after}, size, func(o store.Object) (bool, error) {
		if keep == nil {
			return true, nil
		}
		v, err := fromObject[T, P](o)
		return err == nil && keep(v), err
	})
	if err != nil {
		return list, err
	}
	list.NextPageToken = next
	for _, o := range objs {
		v, err := fromObject[T, P](o)
		if err != nil {
			return list, err
		}
		list.Items = append(list.Items, v)
	}
	return list, nil
}
