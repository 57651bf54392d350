// Package storetest is the conformance suite every store.Store
// implementation passes.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
)

// Run runs the suite. open returns a new, empty store for one test and
// closes it when the test ends; the subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		test func(t *testing.T, s store.Store)
	}{
		{"Ping", testPing},
		{"CreateGetPutDelete", testCreateGetPutDelete},
		{"DeleteAnyRevision", testDeleteAnyRevision},
		{"InvalidJSON", testInvalidJSON},
		{"DataJSONPreserved", testDataJSONPreserved},
		{"Times", testTimes},
		{"Clock", testClock},
		{"ListPagination", testListPagination},
		{"ListAcrossTenants", testListAcrossTenants},
		{"Count", testCount},
		{"DeleteTenantAndExport", testDeleteTenantAndExport},
		{"UpdateRollsBack", testUpdateRollsBack},
		{"ViewIsReadOnly", testViewIsReadOnly},
		{"ViewSeesOneSnapshot", testViewSeesOneSnapshot},
		{"Read", testRead},
		{"Tokens", testTokens},
		{"TokenLineage", testTokenLineage},
		{"Audit", testAudit},
		{"Idempotency", testIdempotency},
		{"Backups", testBackups},
		{"RateBuckets", testRateBuckets},
		{"LockSerializesUpdates", testLockSerializesUpdates},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, open(t))
		})
	}
}

// RunReplicas runs the tests that need two Store instances on one database,
// as two tenancyd replicas (or processes) have. open returns two stores
// opened separately on a new, empty database and closes them when the test
// ends.
func RunReplicas(t *testing.T, open func(t *testing.T) (store.Store, store.Store)) {
	t.Helper()
	for _, tc := range []struct {
		name string
		test func(t *testing.T, a, b store.Store)
	}{
		{"StalePutFails", testReplicasStalePutFails},
		{"ConditionalPutsNeverLoseUpdates", testReplicasConditionalPuts},
		{"LockSerializesUpdates", testReplicasLock},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := open(t)
			tc.test(t, a, b)
		})
	}
}

// Helpers.

func update(t *testing.T, s store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t *testing.T, s store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	if err := s.View(t.Context(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

func create(t *testing.T, s store.Store, tenant, kind, key, data string) store.Object {
	t.Helper()
	var o store.Object
	update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
		o, err = tx.Create(ctx, store.Object{Tenant: tenant, Kind: kind, Key: key, Data: json.RawMessage(data)})
		return err
	})
	return o
}

func get(t *testing.T, s store.Store, tenant, kind, key string) (store.Object, error) {
	t.Helper()
	var o store.Object
	var getErr error
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		o, getErr = tx.Get(ctx, tenant, kind, key)
		return nil
	})
	return o, getErr
}

// wantErr fails unless err is target, with a message of the store's own
// rather than a database driver's.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
	if msg := err.Error(); strings.Contains(msg, "sql:") || strings.Contains(msg, "SQLSTATE") || strings.Contains(msg, "constraint") {
		t.Errorf("%s: error %q leaks a database error", what, msg)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// sameJSON reports whether two JSON documents are equal as values.
func sameJSON(t *testing.T, got, want []byte) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("stored data %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("test data %q is not JSON: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

// sameObject compares everything but Data exactly, and Data as JSON values
// (PostgreSQL kept objects as JSONB, which does not keep key order or white
// space, until migration 9).
func sameObject(t *testing.T, what string, got, want store.Object) {
	t.Helper()
	if !sameJSON(t, got.Data, want.Data) {
		t.Errorf("%s: Data = %s, want %s", what, got.Data, want.Data)
	}
	got.Data, want.Data = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func keys(objects []store.Object) []string {
	out := make([]string, 0, len(objects))
	for _, o := range objects {
		out = append(out, o.Tenant+"/"+o.Kind+"/"+o.Key)
	}
	return out
}

func wantKeys(t *testing.T, what string, objects []store.Object, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if got := keys(objects); !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// isUTCMicro reports whether a time is in UTC at microsecond precision.
func isUTCMicro(v time.Time) bool {
	return v.Location() == time.UTC && v.Nanosecond()%1000 == 0
}

// Tests of one store.

func testPing(t *testing.T, s store.Store) {
	noErr(t, "Ping", s.Ping(t.Context()))
}

func testCreateGetPutDelete(t *testing.T, s store.Store) {
	const tenant, kind, key = "acme", api.KindEnvironment, "staging"

	created := create(t, s, tenant, kind, key, `{"name":"staging","type":"staging"}`)
	if created.Revision != 1 || created.Tenant != tenant || created.Kind != kind || created.Key != key {
		t.Fatalf("Create returned %+v, want revision 1 of %s/%s/%s", created, tenant, kind, key)
	}
	if !created.CreatedAt.Equal(created.UpdatedAt) {
		t.Errorf("Create: CreatedAt %v != UpdatedAt %v", created.CreatedAt, created.UpdatedAt)
	}
	got, err := get(t, s, tenant, kind, key)
	noErr(t, "Get", err)
	sameObject(t, "Get after Create", got, created)

	err = s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Create(ctx, store.Object{Tenant: tenant, Kind: kind, Key: key, Data: json.RawMessage(`{}`)})
		return err
	})
	wantErr(t, "Create on a taken key", err, store.ErrExists)

	// An object restored from a backup keeps its times.
	was := time.Date(2024, 2, 3, 4, 5, 6, 7000, time.UTC)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		o, err := tx.Create(ctx, store.Object{Tenant: "restored", Kind: kind, Key: key, Data: json.RawMessage(`{}`), CreatedAt: was, UpdatedAt: was.Add(time.Hour)})
		if err == nil && (o.Revision != 1 || !o.CreatedAt.Equal(was) || !o.UpdatedAt.Equal(was.Add(time.Hour))) {
			t.Errorf("Create with times: %+v; want revision 1 created at %v, updated an hour later", o, was)
		}
		return err
	})

	// The same key in another tenant or of another kind is another object.
	create(t, s, "globex", kind, key, `{}`)
	create(t, s, tenant, api.KindFeatureFlag, key, `{}`)

	var put store.Object
	update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
		put, err = tx.Put(ctx, store.Object{Tenant: tenant, Kind: kind, Key: key, Data: json.RawMessage(`{"name":"staging","type":"production"}`)}, 1)
		return err
	})
	if put.Revision != 2 || !put.CreatedAt.Equal(created.CreatedAt) || put.UpdatedAt.Before(created.UpdatedAt) {
		t.Errorf("Put returned %+v, want revision 2, CreatedAt %v and UpdatedAt not before %v", put, created.CreatedAt, created.UpdatedAt)
	}
	got, err = get(t, s, tenant, kind, key)
	noErr(t, "Get", err)
	sameObject(t, "Get after Put", got, put)

	err = s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Put(ctx, store.Object{Tenant: tenant, Kind: kind, Key: key, Data: json.RawMessage(`{}`)}, 1)
		return err
	})
	wantErr(t, "Put with a stale revision", err, store.ErrStaleRevision)
	err = s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Put(ctx, store.Object{Tenant: tenant, Kind: kind, Key: "missing", Data: json.RawMessage(`{}`)}, 1)
		return err
	})
	wantErr(t, "Put on a missing object", err, store.ErrNotFound)

	err = s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		return tx.Delete(ctx, tenant, kind, key, 1)
	})
	wantErr(t, "Delete with a stale revision", err, store.ErrStaleRevision)
	err = s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		return tx.Delete(ctx, tenant, kind, "missing", 1)
	})
	wantErr(t, "Delete of a missing object", err, store.ErrNotFound)
	err = s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		return tx.Delete(ctx, tenant, kind, "missing", 0)
	})
	wantErr(t, "Delete of a missing object at any revision", err, store.ErrNotFound)

	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.Delete(ctx, tenant, kind, key, 2)
	})
	_, err = get(t, s, tenant, kind, key)
	wantErr(t, "Get after Delete", err, store.ErrNotFound)
	if _, err := get(t, s, "globex", kind, key); err != nil {
		t.Errorf("Delete removed another tenant's object: %v", err)
	}

	// A deleted key can be created again, from revision 1.
	if again := create(t, s, tenant, kind, key, `{}`); again.Revision != 1 {
		t.Errorf("Create after Delete: revision %d, want 1", again.Revision)
	}
}

func testDeleteAnyRevision(t *testing.T, s store.Store) {
	create(t, s, "acme", api.KindUser, "u1", `{}`)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		o, err := tx.Get(ctx, "acme", api.KindUser, "u1")
		if err != nil {
			return err
		}
		if _, err := tx.Put(ctx, o, o.Revision); err != nil {
			return err
		}
		return tx.Delete(ctx, "acme", api.KindUser, "u1", 0)
	})
	_, err := get(t, s, "acme", api.KindUser, "u1")
	wantErr(t, "Get after Delete at any revision", err, store.ErrNotFound)
}

func testInvalidJSON(t *testing.T, s store.Store) {
	for _, data := range []string{"", "{", "nope"} {
		err := s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
			_, err := tx.Create(ctx, store.Object{Tenant: "acme", Kind: api.KindTenant, Key: "acme", Data: json.RawMessage(data)})
			return err
		})
		if err == nil {
			t.Errorf("Create with data %q: no error", data)
		}
	}
	create(t, s, "acme", api.KindTenant, "acme", `{}`)
	err := s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Put(ctx, store.Object{Tenant: "acme", Kind: api.KindTenant, Key: "acme", Data: json.RawMessage("{")}, 1)
		return err
	})
	if err == nil {
		t.Error("Put with data \"{\": no error")
	}
}

func testDataJSONPreserved(t *testing.T, s store.Store) {
	for i, data := range []string{
		`null`, `[]`, `{}`, `""`, `0`, `true`, `[null]`,
		`{"a":null,"b":[],"c":{},"d":"","e":[{}],"f":0}`,
		`{"labels":{"z":"1","a":"2"},"allowed_cidrs":["10.0.0.0/8"],"n":1.5,"big":9007199254740993}`,
		`{"text":"héllo \"quoted\" \\ \u00e9 \ud83d\ude00 <tag> &amp;"}`,
		"{\n  \"spaced\" : [ 1 , 2 ]\n}",
	} {
		key := fmt.Sprintf("o%02d", i)
		created := create(t, s, "acme", api.KindIntegration, key, data)
		got, err := get(t, s, "acme", api.KindIntegration, key)
		noErr(t, "Get", err)
		sameObject(t, "Get of "+data, got, created)
		if !sameJSON(t, got.Data, []byte(data)) {
			t.Errorf("Data %s came back as %s", data, got.Data)
		}
		// Top-level null, [] and {} are the distinctions callers rely on.
		switch data {
		case `null`, `[]`, `{}`:
			if string(bytes.TrimSpace(got.Data)) != data {
				t.Errorf("Data %s came back as %s", data, got.Data)
			}
		}
	}
}

func testTimes(t *testing.T, s store.Store) {
	before := time.Now().UTC().Truncate(time.Microsecond)
	created := create(t, s, "acme", api.KindQuota, "acme", `{}`)
	after := time.Now()
	for _, v := range []time.Time{created.CreatedAt, created.UpdatedAt} {
		if !isUTCMicro(v) || v.Before(before) || v.After(after) {
			t.Errorf("Create: time %v not in UTC at microseconds between %v and %v", v, before, after)
		}
	}
	got, err := get(t, s, "acme", api.KindQuota, "acme")
	noErr(t, "Get", err)
	// Equal by ==, location included: what Create returns is what Get returns.
	if got.CreatedAt != created.CreatedAt || got.UpdatedAt != created.UpdatedAt {
		t.Errorf("Get: times %v, %v; Create returned %v, %v", got.CreatedAt, got.UpdatedAt, created.CreatedAt, created.UpdatedAt)
	}
	var put store.Object
	update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
		put, err = tx.Put(ctx, got, got.Revision)
		return err
	})
	got, err = get(t, s, "acme", api.KindQuota, "acme")
	noErr(t, "Get", err)
	if got.CreatedAt != created.CreatedAt || got.UpdatedAt != put.UpdatedAt || !isUTCMicro(put.UpdatedAt) {
		t.Errorf("Get after Put: times %v, %v; want %v, %v", got.CreatedAt, got.UpdatedAt, created.CreatedAt, put.UpdatedAt)
	}
}

// testClock stamps with a clock of the caller's, far from the real time:
// the times of created and updated objects, and those a caller leaves zero.
func testClock(t *testing.T, s store.Store) {
	now := time.Date(2001, 2, 3, 4, 5, 6, 789123456, time.FixedZone("X", 3600))
	clocked := s.WithClock(func() time.Time { return now })
	want := now.UTC().Truncate(time.Microsecond)
	created := create(t, clocked, "acme", api.KindQuota, "acme", `{}`)
	if created.CreatedAt != want || created.UpdatedAt != want {
		t.Errorf("Create: times %v, %v; the clock says %v", created.CreatedAt, created.UpdatedAt, want)
	}
	now = now.Add(time.Hour)
	var put store.Object
	update(t, clocked, func(ctx context.Context, tx store.Tx) (err error) {
		put, err = tx.Put(ctx, created, created.Revision)
		return err
	})
	if put.CreatedAt != want || put.UpdatedAt != want.Add(time.Hour) {
		t.Errorf("Put: times %v, %v; want %v, %v", put.CreatedAt, put.UpdatedAt, want, want.Add(time.Hour))
	}
	update(t, clocked, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.AppendAudit(ctx, api.AuditEvent{Tenant: "acme", Actor: "a", Action: "quota.update", ObjectKind: api.KindQuota, ObjectKey: "acme"})
		return err
	})
	var events []api.AuditEvent
	view(t, s, func(ctx context.Context, tx store.Tx) (err error) {
		events, err = tx.ListAudit(ctx, store.AuditQuery{Tenant: "acme"})
		return err
	})
	if len(events) != 1 || !events[0].Time.Equal(want.Add(time.Hour)) {
		t.Errorf("an audit event without a time: %+v; want it at %v", events, want.Add(time.Hour))
	}
	// The store it came from keeps the real clock.
	if o := create(t, s, "acme", api.KindQuota, "other", `{}`); o.CreatedAt.Year() == 2001 {
		t.Errorf("the store WithClock was called on stamps with its clock too: %v", o.CreatedAt)
	}
}

func testListPagination(t *testing.T, s store.Store) {
	for _, k := range []string{"k05", "k01", "k10", "k03", "k02", "k08", "k04", "k09", "k07", "k06"} {
		create(t, s, "acme", api.KindFeatureFlag, k, `{}`)
	}
	create(t, s, "globex", api.KindFeatureFlag, "k00", `{}`)
	create(t, s, "acme", api.KindEnvironment, "k00", `{}`)

	list := func(q store.ListQuery) []store.Object {
		t.Helper()
		var out []store.Object
		view(t, s, func(ctx context.Context, tx store.Tx) (err error) {
			out, err = tx.List(ctx, q)
			return err
		})
		return out
	}
	q := store.ListQuery{Tenant: "acme", Kind: api.KindFeatureFlag, Limit: 4}
	wantKeys(t, "first page", list(q), "acme/feature_flag/k01", "acme/feature_flag/k02", "acme/feature_flag/k03", "acme/feature_flag/k04")
	q.After = "k04"
	wantKeys(t, "second page", list(q), "acme/feature_flag/k05", "acme/feature_flag/k06", "acme/feature_flag/k07", "acme/feature_flag/k08")
	q.After = "k08"
	wantKeys(t, "last page", list(q), "acme/feature_flag/k09", "acme/feature_flag/k10")
	q.After = "k10"
	wantKeys(t, "past the end", list(q))
	q.After = "k035" // a bound need not be a stored key
	q.Limit = 2
	wantKeys(t, "after k035", list(q), "acme/feature_flag/k04", "acme/feature_flag/k05")
	q.After, q.Limit = "", 0
	if got := list(q); len(got) != 10 {
		t.Errorf("List without limit: %d objects, want 10", len(got))
	}
	q.Limit = -1
	if got := list(q); len(got) != 10 {
		t.Errorf("List with limit -1: %d objects, want 10", len(got))
	}
	wantKeys(t, "empty tenant", list(store.ListQuery{Tenant: "initech", Kind: api.KindFeatureFlag}))
	wantKeys(t, "unknown kind", list(store.ListQuery{Tenant: "acme", Kind: "nothing"}))
}

func testListAcrossTenants(t *testing.T, s store.Store) {
	for _, slug := range []string{"globex", "acme", "initech"} {
		create(t, s, slug, api.KindTenant, slug, `{}`)
		create(t, s, slug, api.KindEnvironment, "prod", `{}`)
	}
	list := func(q store.ListQuery) []store.Object {
		t.Helper()
		var out []store.Object
		view(t, s, func(ctx context.Context, tx store.Tx) (err error) {
			out, err = tx.List(ctx, q)
			return err
		})
		return out
	}
	wantKeys(t, "tenants", list(store.ListQuery{Kind: api.KindTenant}),
		"acme/tenant/acme", "globex/tenant/globex", "initech/tenant/initech")
	wantKeys(t, "tenants after acme", list(store.ListQuery{Kind: api.KindTenant, After: "acme", Limit: 1}),
		"globex/tenant/globex")
	// Equal keys across tenants come in tenant order.
	wantKeys(t, "environments of every tenant", list(store.ListQuery{Kind: api.KindEnvironment}),
		"acme/environment/prod", "globex/environment/prod", "initech/environment/prod")
}

func testCount(t *testing.T, s store.Store) {
	for i := range 3 {
		create(t, s, "acme", api.KindUser, fmt.Sprint("u", i), `{}`)
	}
	create(t, s, "globex", api.KindUser, "u0", `{}`)
	create(t, s, "acme", api.KindRoleBinding, "b0", `{}`)
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, tc := range []struct {
			tenant, kind string
			want         int
		}{
			{"acme", api.KindUser, 3},
			{"globex", api.KindUser, 1},
			{"", api.KindUser, 4},
			{"acme", api.KindRoleBinding, 1},
			{"initech", api.KindUser, 0},
		} {
			n, err := tx.Count(ctx, tc.tenant, tc.kind)
			noErr(t, "Count", err)
			if n != tc.want {
				t.Errorf("Count(%q, %q) = %d, want %d", tc.tenant, tc.kind, n, tc.want)
			}
		}
		return nil
	})
}

func testDeleteTenantAndExport(t *testing.T, s store.Store) {
	for _, slug := range []string{"acme", "acme-2", "globex"} {
		create(t, s, slug, api.KindTenant, slug, `{"slug":"`+slug+`"}`)
		create(t, s, slug, api.KindUser, "u1", `{}`)
		create(t, s, slug, api.KindEnvironment, "staging", `{}`)
		create(t, s, slug, api.KindEnvironment, "production", `{}`)
	}
	var exported []store.Object
	view(t, s, func(ctx context.Context, tx store.Tx) (err error) {
		exported, err = tx.Export(ctx, "acme")
		return err
	})
	wantKeys(t, "Export", exported,
		"acme/environment/production", "acme/environment/staging", "acme/tenant/acme", "acme/user/u1")
	if !sameJSON(t, exported[2].Data, []byte(`{"slug":"acme"}`)) || exported[2].Revision != 1 {
		t.Errorf("Export: tenant object %+v", exported[2])
	}

	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteTenant(ctx, "acme") })
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		exported, err := tx.Export(ctx, "acme")
		noErr(t, "Export", err)
		wantKeys(t, "Export after DeleteTenant", exported)
		for _, other := range []string{"acme-2", "globex"} {
			exported, err := tx.Export(ctx, other)
			noErr(t, "Export", err)
			if len(exported) != 4 {
				t.Errorf("DeleteTenant(acme) left %d objects of %s, want 4", len(exported), other)
			}
		}
		tenants, err := tx.List(ctx, store.ListQuery{Kind: api.KindTenant})
		noErr(t, "List", err)
		wantKeys(t, "tenants after DeleteTenant", tenants, "acme-2/tenant/acme-2", "globex/tenant/globex")
		return nil
	})
	// Deleting a tenant that has nothing is not an error.
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteTenant(ctx, "nobody") })
}

func testUpdateRollsBack(t *testing.T, s store.Store) {
	create(t, s, "acme", api.KindTenant, "acme", `{"v":1}`)
	boom := errors.New("boom")
	err := s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.Create(ctx, store.Object{Tenant: "acme", Kind: api.KindUser, Key: "u1", Data: json.RawMessage(`{}`)}); err != nil {
			return err
		}
		if _, err := tx.Put(ctx, store.Object{Tenant: "acme", Kind: api.KindTenant, Key: "acme", Data: json.RawMessage(`{"v":2}`)}, 1); err != nil {
			return err
		}
		// Inside the transaction its own writes are visible.
		if _, err := tx.Get(ctx, "acme", api.KindUser, "u1"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want the function's error", err)
	}
	_, err = get(t, s, "acme", api.KindUser, "u1")
	wantErr(t, "Get of a rolled back Create", err, store.ErrNotFound)
	got, err := get(t, s, "acme", api.KindTenant, "acme")
	noErr(t, "Get", err)
	if got.Revision != 1 || !sameJSON(t, got.Data, []byte(`{"v":1}`)) {
		t.Errorf("rolled back Put left %+v", got)
	}

	// An error from the store itself rolls back too, and the store goes on working.
	err = s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.Create(ctx, store.Object{Tenant: "acme", Kind: api.KindUser, Key: "u2", Data: json.RawMessage(`{}`)}); err != nil {
			return err
		}
		_, err := tx.Create(ctx, store.Object{Tenant: "acme", Kind: api.KindTenant, Key: "acme", Data: json.RawMessage(`{}`)})
		return err
	})
	wantErr(t, "Create on a taken key", err, store.ErrExists)
	_, err = get(t, s, "acme", api.KindUser, "u2")
	wantErr(t, "Get of a rolled back Create", err, store.ErrNotFound)

	// A caller may handle ErrExists and go on in the same transaction.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Create(ctx, store.Object{Tenant: "acme", Kind: api.KindTenant, Key: "acme", Data: json.RawMessage(`{}`)})
		wantErr(t, "Create on a taken key", err, store.ErrExists)
		_, err = tx.Create(ctx, store.Object{Tenant: "acme", Kind: api.KindUser, Key: "u3", Data: json.RawMessage(`{}`)})
		return err
	})
	if _, err := get(t, s, "acme", api.KindUser, "u3"); err != nil {
		t.Errorf("Create after a handled ErrExists: %v", err)
	}
}

// testRead checks Read: one statement runs once; several run again, in one
// snapshot; writes and locks fail.
func testRead(t *testing.T, s store.Store) {
	create(t, s, "acme", api.KindFeatureFlag, "a", `{"n":1}`)
	create(t, s, "acme", api.KindFeatureFlag, "b", `{"n":2}`)
	ctx := t.Context()
	calls := 0
	var read, viewed store.Object
	err := s.Read(ctx, func(ctx context.Context, tx store.Tx) error {
		calls++
		var err error
		read, err = tx.Get(ctx, "acme", api.KindFeatureFlag, "a")
		if err == nil && read.Revision != 1 {
			t.Errorf("Read got revision %d, want 1", read.Revision)
		}
		return err
	})
	if err != nil || calls != 1 {
		t.Errorf("Read of one object: %v after %d calls; want no error after one", err, calls)
	}
	// Read may take another way to the database than View (pgx's own pool
	// on PostgreSQL): it must see the object exactly as View does.
	err = s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		viewed, err = tx.Get(ctx, "acme", api.KindFeatureFlag, "a")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(read, viewed) {
		t.Errorf("Read got\n%+v\nView got\n%+v", read, viewed)
	}
	// A request that is gone by the time it reads gets no answer, though a
	// lookup once begun may finish (see the SQLite dialect's detachedRead).
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	err = s.Read(canceled, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Get(ctx, "acme", api.KindFeatureFlag, "a")
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a canceled context: %v, want %v", err, context.Canceled)
	}
	err = s.Read(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Get(ctx, "acme", api.KindFeatureFlag, "missing")
		return err
	})
	wantErr(t, "Read of a missing object", err, store.ErrNotFound)

	calls = 0
	var secondErrs []error
	err = s.Read(ctx, func(ctx context.Context, tx store.Tx) error {
		calls++
		if _, err := tx.Get(ctx, "acme", api.KindFeatureFlag, "a"); err != nil {
			return err
		}
		_, err := tx.Get(ctx, "acme", api.KindFeatureFlag, "b")
		secondErrs = append(secondErrs, err)
		return err
	})
	if err != nil || calls != 2 {
		t.Errorf("Read of two objects: %v after %d calls; want no error after two (the second in a View)", err, calls)
	}
	// The second statement never runs outside the snapshot: it fails at
	// once, whatever fn then returns, and fn runs again in a View.
	if len(secondErrs) != 2 || secondErrs[0] == nil || errors.Is(secondErrs[0], store.ErrNotFound) || secondErrs[1] != nil {
		t.Errorf("the second Get of a Read answered %v; want an error outside the snapshot, then the object", secondErrs)
	}
	calls = 0
	err = s.Read(ctx, func(ctx context.Context, tx store.Tx) error {
		calls++
		_, _ = tx.Get(ctx, "acme", api.KindFeatureFlag, "a")
		_, _ = tx.Get(ctx, "acme", api.KindFeatureFlag, "b")
		return nil
	})
	if err != nil || calls != 2 {
		t.Errorf("Read of two objects that ignores errors: %v after %d calls; want a second call, in a View", err, calls)
	}

	for name, write := range map[string]func(ctx context.Context, tx store.Tx) error{
		"Create": func(ctx context.Context, tx store.Tx) error {
			_, err := tx.Create(ctx, store.Object{Tenant: "acme", Kind: api.KindFeatureFlag, Key: "c", Data: []byte(`{}`)})
			return err
		},
		"Lock": func(ctx context.Context, tx store.Tx) error { return tx.Lock(ctx, "tenant:acme") },
	} {
		if err := s.Read(ctx, write); err == nil {
			t.Errorf("%s inside Read succeeded; Read only reads", name)
		}
	}
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Get(ctx, "acme", api.KindFeatureFlag, "c")
		wantErr(t, "Get of an object Read tried to create", err, store.ErrNotFound)
		return nil
	})
}

func testViewIsReadOnly(t *testing.T, s store.Store) {
	err := s.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Create(ctx, store.Object{Tenant: "acme", Kind: api.KindTenant, Key: "acme", Data: json.RawMessage(`{}`)})
		return err
	})
	if err == nil {
		t.Fatal("Create in View: no error")
	}
	_, err = get(t, s, "acme", api.KindTenant, "acme")
	wantErr(t, "Get after Create in View", err, store.ErrNotFound)
}

func testViewSeesOneSnapshot(t *testing.T, s store.Store) {
	create(t, s, "acme", api.KindTenant, "acme", `{"v":1}`)
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		first, err := tx.Get(ctx, "acme", api.KindTenant, "acme")
		noErr(t, "Get", err)
		// Another transaction commits while this one is open.
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			if _, err := tx.Put(ctx, store.Object{Tenant: "acme", Kind: api.KindTenant, Key: "acme", Data: json.RawMessage(`{"v":2}`)}, 1); err != nil {
				return err
			}
			_, err := tx.Create(ctx, store.Object{Tenant: "acme", Kind: api.KindUser, Key: "u1", Data: json.RawMessage(`{}`)})
			return err
		})
		again, err := tx.Get(ctx, "acme", api.KindTenant, "acme")
		noErr(t, "Get", err)
		sameObject(t, "second Get in one View", again, first)
		n, err := tx.Count(ctx, "acme", api.KindUser)
		noErr(t, "Count", err)
		if n != 0 {
			t.Errorf("View sees a user created after it began")
		}
		return nil
	})
	got, err := get(t, s, "acme", api.KindTenant, "acme")
	noErr(t, "Get", err)
	if got.Revision != 2 {
		t.Errorf("a new View sees revision %d, want 2", got.Revision)
	}
}

func testTokens(t *testing.T, s store.Store) {
	created := time.Date(2025, 3, 1, 12, 30, 0, 123456789, time.FixedZone("CET", 3600))
	expires := created.Add(time.Hour)
	platform := store.TokenRecord{ID: "tok1", Name: "bootstrap", Role: "platform_admin", Hash: []byte{0, 1, 2, 0xff}, CreatedBy: "tenancyd", CreatedAt: created}
	ci := store.TokenRecord{ID: "tok2", Name: "ci", Tenant: "acme", Role: "tenant_viewer", Hash: bytes.Repeat([]byte{7}, 32), CreatedBy: "bootstrap", CreatedByID: "tok1", CreatedAt: created, ExpiresAt: &expires}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateToken(ctx, platform); err != nil {
			return err
		}
		return tx.CreateToken(ctx, ci)
	})

	utc := func(v time.Time) time.Time { return v.UTC().Truncate(time.Microsecond) }
	wantCI := ci
	wantCI.CreatedAt = utc(created)
	wantCIExpires := utc(expires)
	wantCI.ExpiresAt = &wantCIExpires
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.Token(ctx, "tok2")
		noErr(t, "Token", err)
		if !reflect.DeepEqual(got, wantCI) {
			t.Errorf("Token:\n got %+v\nwant %+v", got, wantCI)
		}
		got, err = tx.TokenByHash(ctx, bytes.Repeat([]byte{7}, 32))
		noErr(t, "TokenByHash", err)
		if !reflect.DeepEqual(got, wantCI) {
			t.Errorf("TokenByHash:\n got %+v\nwant %+v", got, wantCI)
		}
		got, err = tx.TokenByHash(ctx, []byte{0, 1, 2, 0xff})
		noErr(t, "TokenByHash", err)
		if got.ID != "tok1" || got.Tenant != "" || got.ExpiresAt != nil || got.RevokedAt != nil {
			t.Errorf("TokenByHash of the platform token: %+v", got)
		}
		_, err = tx.Token(ctx, "nope")
		wantErr(t, "Token of a missing id", err, store.ErrNotFound)
		_, err = tx.TokenByHash(ctx, []byte{0, 1, 2})
		wantErr(t, "TokenByHash of a missing hash", err, store.ErrNotFound)
		n, err := tx.CountTokens(ctx)
		noErr(t, "CountTokens", err)
		if n != 2 {
			t.Errorf("CountTokens = %d, want 2", n)
		}
		return nil
	})

	dupID := ci
	dupID.Hash = []byte("other")
	dupHash := ci
	dupHash.ID = "tok3"
	for what, tok := range map[string]store.TokenRecord{"duplicate id": dupID, "duplicate hash": dupHash} {
		err := s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.CreateToken(ctx, tok) })
		wantErr(t, "CreateToken with a "+what, err, store.ErrExists)
	}

	revoked := time.Date(2025, 3, 2, 0, 0, 0, 999, time.UTC)
	revoke := func(id string, at time.Time) []string {
		t.Helper()
		var ids []string
		update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
			ids, err = tx.RevokeToken(ctx, id, at)
			return err
		})
		return ids
	}
	if ids := revoke("tok2", revoked); !reflect.DeepEqual(ids, []string{"tok2"}) {
		t.Errorf("RevokeToken revoked %v, want [tok2]", ids)
	}
	// Revoking again keeps the first time, and revokes nothing new.
	if ids := revoke("tok2", revoked.Add(time.Hour)); len(ids) != 0 {
		t.Errorf("revoking again revoked %v", ids)
	}
	err := s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.RevokeToken(ctx, "nope", revoked)
		return err
	})
	wantErr(t, "RevokeToken of a missing id", err, store.ErrNotFound)
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.Token(ctx, "tok2")
		noErr(t, "Token", err)
		if got.RevokedAt == nil || *got.RevokedAt != utc(revoked) {
			t.Errorf("RevokedAt = %v, want %v", got.RevokedAt, utc(revoked))
		}
		n, err := tx.CountTokens(ctx)
		noErr(t, "CountTokens", err)
		if n != 2 {
			t.Errorf("CountTokens = %d, want 2 (revoked tokens count)", n)
		}
		return nil
	})

	// A zero CreatedAt means now.
	before := time.Now().UTC().Truncate(time.Microsecond)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CreateToken(ctx, store.TokenRecord{ID: "tok4", Name: "n", Tenant: "acme", Role: "tenant_admin", Hash: []byte("h4"), CreatedBy: "bootstrap", CreatedByID: "tok1"})
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.Token(ctx, "tok4")
		noErr(t, "Token", err)
		if got.CreatedAt.Before(before) || !isUTCMicro(got.CreatedAt) {
			t.Errorf("CreatedAt = %v, want now in UTC", got.CreatedAt)
		}
		return nil
	})
}

// testTokenLineage revokes a token in the middle of a tree of tokens minted
// from one another: it and every token below it are revoked, those above
// and beside it are not; and lists tokens by tenant and page.
func testTokenLineage(t *testing.T, s store.Store) {
	// root -> a -> a1 -> a11, a -> a2, root -> b; c is a platform token.
	tree := []store.TokenRecord{
		{ID: "root", Role: "platform_admin"},
		{ID: "a", Tenant: "acme", Role: "tenant_admin", CreatedByID: "root"},
		{ID: "a1", Tenant: "acme", Role: "tenant_admin", CreatedByID: "a"},
		{ID: "a11", Tenant: "acme", Role: "tenant_viewer", CreatedByID: "a1"},
		{ID: "a2", Tenant: "acme", Role: "tenant_user", CreatedByID: "a"},
		{ID: "b", Tenant: "globex", Role: "tenant_admin", CreatedByID: "root"},
		{ID: "c", Role: "platform_admin", CreatedByID: "root"},
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for i, tok := range tree {
			tok.Name, tok.Hash = "token "+tok.ID, []byte{byte(i), 'l'}
			if err := tx.CreateToken(ctx, tok); err != nil {
				return err
			}
		}
		return nil
	})
	var revoked []string
	update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
		// a1 first, then a: the walk goes past a revoked token to its children.
		if _, err = tx.RevokeToken(ctx, "a1", time.Time{}); err != nil {
			return err
		}
		revoked, err = tx.RevokeToken(ctx, "a", time.Time{})
		return err
	})
	if !reflect.DeepEqual(revoked, []string{"a", "a2"}) {
		t.Errorf("revoking a revoked %v, want [a a2] (a1 and a11 were revoked with a1)", revoked)
	}
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		all, err := tx.ListTokens(ctx, store.TokenQuery{All: true})
		noErr(t, "ListTokens", err)
		var gone, alive []string
		for _, tok := range all {
			if tok.RevokedAt != nil {
				gone = append(gone, tok.ID)
			} else {
				alive = append(alive, tok.ID)
			}
		}
		if !reflect.DeepEqual(gone, []string{"a", "a1", "a11", "a2"}) || !reflect.DeepEqual(alive, []string{"b", "c", "root"}) {
			t.Errorf("revoked %v, alive %v", gone, alive)
		}
		for _, tc := range []struct {
			q    store.TokenQuery
			want []string
		}{
			{store.TokenQuery{Tenant: "acme"}, []string{"a", "a1", "a11", "a2"}},
			{store.TokenQuery{Tenant: "acme", After: "a1", Limit: 1}, []string{"a11"}},
			{store.TokenQuery{Tenant: ""}, []string{"c", "root"}},
			{store.TokenQuery{All: true, After: "b", Limit: 2}, []string{"c", "root"}},
			{store.TokenQuery{Tenant: "nobody"}, nil},
		} {
			got, err := tx.ListTokens(ctx, tc.q)
			noErr(t, "ListTokens", err)
			var ids []string
			for _, tok := range got {
				ids = append(ids, tok.ID)
			}
			if !reflect.DeepEqual(ids, tc.want) {
				t.Errorf("ListTokens %+v = %v, want %v", tc.q, ids, tc.want)
			}
		}
		a11, err := tx.Token(ctx, "a11")
		noErr(t, "Token", err)
		if a11.CreatedByID != "a1" {
			t.Errorf("a11 was minted by %q, want a1", a11.CreatedByID)
		}
		return nil
	})
}

func testAudit(t *testing.T, s store.Store) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 6007008, time.UTC)
	events := []api.AuditEvent{
		{Tenant: "acme", Actor: "tok1", ActorTokenID: "tok_1", ActorTokenCreatedByID: "tok_0", Action: "create", ObjectKind: api.KindTenant, ObjectKey: "acme", RevisionAfter: 1, RequestID: "r1", Time: at},
		{Tenant: "globex", Actor: "tok1", Action: "create", ObjectKind: api.KindTenant, ObjectKey: "globex", RevisionAfter: 1},
		{Tenant: "acme", Actor: "tok2", Action: "create", ObjectKind: api.KindEnvironment, ObjectKey: "staging", RevisionAfter: 1},
		{Tenant: "", Actor: "tok1", Action: "create_token", ObjectKind: "token", ObjectKey: "tok2", Detail: "tenant_viewer"},
		{Tenant: "acme", Actor: "tok2", Action: "update", ObjectKind: api.KindEnvironment, ObjectKey: "staging", RevisionBefore: 1, RevisionAfter: 2, Detail: `{"settings":{}}`, PromotionID: "prm_0123456789abcdef0123"},
		{Tenant: "acme", Actor: "tok2", Action: "create", ObjectKind: api.KindEnvironment, ObjectKey: "production", RevisionAfter: 1},
		{Tenant: "acme", Actor: "tok2", Action: "delete", ObjectKind: api.KindEnvironment, ObjectKey: "staging", RevisionBefore: 2},
	}
	ids := make([]int64, len(events))
	before := time.Now().UTC().Truncate(time.Microsecond)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for i, e := range events {
			id, err := tx.AppendAudit(ctx, e)
			if err != nil {
				return err
			}
			ids[i] = id
		}
		return nil
	})
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("AppendAudit ids %v do not grow", ids)
		}
	}
	// A later transaction's ids keep growing.
	var later int64
	update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
		later, err = tx.AppendAudit(ctx, api.AuditEvent{Tenant: "initech", Actor: "tok1", Action: "create", ObjectKind: api.KindTenant, ObjectKey: "initech"})
		return err
	})
	if later <= ids[len(ids)-1] {
		t.Errorf("AppendAudit in a later transaction: id %d, not above %d", later, ids[len(ids)-1])
	}

	list := func(q store.AuditQuery) []api.AuditEvent {
		t.Helper()
		var out []api.AuditEvent
		view(t, s, func(ctx context.Context, tx store.Tx) (err error) {
			out, err = tx.ListAudit(ctx, q)
			return err
		})
		return out
	}
	idsOf := func(es []api.AuditEvent) []int64 {
		out := []int64{}
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	want := func(is ...int) []int64 {
		out := []int64{}
		for _, i := range is {
			out = append(out, ids[i])
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    store.AuditQuery
		want []int64
	}{
		{"tenant", store.AuditQuery{Tenant: "acme"}, want(0, 2, 4, 5, 6)},
		{"tenant newest first", store.AuditQuery{Tenant: "acme", Desc: true}, want(6, 5, 4, 2, 0)},
		{"tenant limit", store.AuditQuery{Tenant: "acme", Limit: 2}, want(0, 2)},
		{"tenant after", store.AuditQuery{Tenant: "acme", After: ids[2], Limit: 2}, want(4, 5)},
		{"tenant newest first after", store.AuditQuery{Tenant: "acme", Desc: true, After: ids[5], Limit: 2}, want(4, 2)},
		{"tenant newest first after the first", store.AuditQuery{Tenant: "acme", Desc: true, After: ids[0]}, want()},
		{"kind", store.AuditQuery{Tenant: "acme", ObjectKind: api.KindEnvironment}, want(2, 4, 5, 6)},
		{"object", store.AuditQuery{Tenant: "acme", ObjectKind: api.KindEnvironment, ObjectKey: "staging"}, want(2, 4, 6)},
		{"object newest first", store.AuditQuery{Tenant: "acme", ObjectKind: api.KindEnvironment, ObjectKey: "staging", Desc: true, Limit: 1}, want(6)},
		{"platform", store.AuditQuery{}, want(3)},
		{"other tenant", store.AuditQuery{Tenant: "globex"}, want(1)},
		{"no such tenant", store.AuditQuery{Tenant: "nobody"}, want()},
		{"all", store.AuditQuery{All: true, Limit: len(events)}, want(0, 1, 2, 3, 4, 5, 6)},
		{"all of a kind", store.AuditQuery{All: true, ObjectKind: api.KindTenant, Desc: true, Limit: 3}, append([]int64{later}, want(1, 0)...)},
	} {
		if got := idsOf(list(tc.q)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ListAudit %s = %v, want %v", tc.name, got, tc.want)
		}
	}

	got := list(store.AuditQuery{Tenant: "acme", Limit: 1})
	wantFirst := events[0]
	wantFirst.ID = ids[0]
	wantFirst.Time = at.Truncate(time.Microsecond)
	if len(got) != 1 || !reflect.DeepEqual(got[0], wantFirst) {
		t.Errorf("ListAudit first event:\n got %+v\nwant %+v", got, wantFirst)
	}
	got = list(store.AuditQuery{Tenant: "acme", ObjectKey: "staging", Desc: true, Limit: 2})
	if len(got) != 2 || got[1].Detail != `{"settings":{}}` || got[1].RevisionBefore != 1 || got[1].RevisionAfter != 2 ||
		got[1].PromotionID != "prm_0123456789abcdef0123" || got[0].PromotionID != "" {
		t.Errorf("ListAudit update event: %+v", got)
	}
	for _, e := range got {
		if !isUTCMicro(e.Time) || e.Time.Before(before) {
			t.Errorf("event %d: Time %v, want now in UTC (a zero Time means now)", e.ID, e.Time)
		}
	}
}

func testIdempotency(t *testing.T, s store.Store) {
	created := time.Date(2025, 5, 6, 7, 8, 9, 10111213, time.UTC)
	rec := store.IdempotencyRecord{Scope: "tok1", Key: "k1", RequestHash: "POST /v1/tenants abc", Status: 201, Body: []byte(`{"slug":"acme"}`), CreatedAt: created}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutIdempotency(ctx, rec) })

	dup := rec
	dup.RequestHash = "other"
	err := s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.PutIdempotency(ctx, dup) })
	wantErr(t, "PutIdempotency of a taken key", err, store.ErrExists)

	// The same key of another caller is another record.
	other := store.IdempotencyRecord{Scope: "tok2", Key: "k1", RequestHash: "h", Status: 204}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutIdempotency(ctx, other) })

	view(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.Idempotency(ctx, "tok1", "k1")
		noErr(t, "Idempotency", err)
		want := rec
		want.CreatedAt = created.Truncate(time.Microsecond)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Idempotency:\n got %+v\nwant %+v", got, want)
		}
		got, err = tx.Idempotency(ctx, "tok2", "k1")
		noErr(t, "Idempotency", err)
		if got.Status != 204 || len(got.Body) != 0 || got.RequestHash != "h" || !isUTCMicro(got.CreatedAt) || got.CreatedAt.IsZero() {
			t.Errorf("Idempotency of a record without body: %+v", got)
		}
		_, err = tx.Idempotency(ctx, "tok3", "k1")
		wantErr(t, "Idempotency of a missing key", err, store.ErrNotFound)
		return nil
	})

	// Records expire: pruning removes those created before the cut-off only.
	var pruned int64
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		pruned, err = tx.PruneIdempotency(ctx, created.Add(time.Second))
		return err
	})
	if pruned != 1 {
		t.Errorf("PruneIdempotency removed %d records, want 1", pruned)
	}
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Idempotency(ctx, "tok1", "k1")
		wantErr(t, "Idempotency of a pruned key", err, store.ErrNotFound)
		_, err = tx.Idempotency(ctx, "tok2", "k1")
		noErr(t, "Idempotency of a kept key", err)
		return nil
	})
}

func testBackups(t *testing.T, s store.Store) {
	t0 := time.Date(2025, 6, 1, 0, 0, 0, 1500, time.UTC)
	backups := []store.BackupRecord{
		{ID: "b2", Tenant: "acme", TakenAt: t0.Add(time.Hour), RetainUntil: t0.Add(30 * 24 * time.Hour), Data: json.RawMessage(`{"objects":[]}`)},
		{ID: "b1", Tenant: "acme", TakenAt: t0, RetainUntil: t0.Add(24 * time.Hour), Data: json.RawMessage(`{"objects":[{"kind":"tenant","data":null}]}`)},
		{ID: "b3", Tenant: "globex", TakenAt: t0, RetainUntil: t0, Data: json.RawMessage(`null`)},
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, b := range backups {
			if err := tx.PutBackup(ctx, b); err != nil {
				return err
			}
		}
		return nil
	})
	err := s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.PutBackup(ctx, backups[0]) })
	wantErr(t, "PutBackup of a taken id", err, store.ErrExists)
	err = s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		return tx.PutBackup(ctx, store.BackupRecord{ID: "b4", Tenant: "acme", Data: json.RawMessage(`{`)})
	})
	if err == nil {
		t.Error("PutBackup with invalid JSON: no error")
	}

	norm := func(b store.BackupRecord) store.BackupRecord {
		b.TakenAt = b.TakenAt.Truncate(time.Microsecond)
		b.RetainUntil = b.RetainUntil.Truncate(time.Microsecond)
		if b.Kind == "" {
			b.Kind = api.BackupFinal
		}
		return b
	}
	same := func(what string, got, want store.BackupRecord) {
		t.Helper()
		if !sameJSON(t, got.Data, want.Data) {
			t.Errorf("%s: Data = %s, want %s", what, got.Data, want.Data)
		}
		wantSummary := want.Summary
		if wantSummary == nil {
			wantSummary = json.RawMessage(`{}`)
		}
		if !sameJSON(t, got.Summary, wantSummary) {
			t.Errorf("%s: Summary = %s, want %s", what, got.Summary, wantSummary)
		}
		got.Data, want.Data, got.Summary, want.Summary = nil, nil, nil, nil
		if !reflect.DeepEqual(got, norm(want)) {
			t.Errorf("%s:\n got %+v\nwant %+v", what, got, norm(want))
		}
	}
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.Backup(ctx, "b1")
		noErr(t, "Backup", err)
		same("Backup", got, backups[1])
		_, err = tx.Backup(ctx, "nope")
		wantErr(t, "Backup of a missing id", err, store.ErrNotFound)

		list, err := tx.ListBackups(ctx, "acme")
		noErr(t, "ListBackups", err)
		if len(list) != 2 {
			t.Fatalf("ListBackups(acme): %d backups, want 2", len(list))
		}
		same("ListBackups(acme)[0]", list[0], backups[1])
		same("ListBackups(acme)[1]", list[1], backups[0])

		list, err = tx.ListBackups(ctx, "globex")
		noErr(t, "ListBackups", err)
		if len(list) != 1 || string(list[0].Data) != "null" {
			t.Errorf("ListBackups(globex) = %+v", list)
		}
		list, err = tx.ListBackups(ctx, "nobody")
		noErr(t, "ListBackups", err)
		if len(list) != 0 {
			t.Errorf("ListBackups(nobody) = %+v", list)
		}
		list, err = tx.ListBackups(ctx, "")
		noErr(t, "ListBackups", err)
		if len(list) != 3 {
			t.Errorf("ListBackups(\"\"): %d backups, want 3", len(list))
		}
		return nil
	})
	// Backups outlive their tenant.
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteTenant(ctx, "acme") })
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Backup(ctx, "b1")
		noErr(t, "Backup after DeleteTenant", err)
		return nil
	})

	// Expired backups are found, soonest expired first, then deleted.
	expired := func(at time.Time, limit int) []string {
		t.Helper()
		var ids []string
		view(t, s, func(ctx context.Context, tx store.Tx) error {
			list, err := tx.ExpiredBackups(ctx, at, limit)
			for _, b := range list {
				ids = append(ids, b.ID)
				if b.Tenant == "" || b.RetainUntil.IsZero() || b.TakenAt.IsZero() {
					t.Errorf("ExpiredBackups gave %+v", b)
				}
			}
			return err
		})
		return ids
	}
	for _, tc := range []struct {
		at    time.Time
		limit int
		want  []string
	}{
		{t0, 10, nil}, // retain_until is not before t0: kept
		{t0.Add(time.Microsecond), 10, []string{"b3"}},
		{t0.Add(31 * 24 * time.Hour), 10, []string{"b3", "b1", "b2"}},
		{t0.Add(31 * 24 * time.Hour), 2, []string{"b3", "b1"}},
	} {
		if got := expired(tc.at, tc.limit); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ExpiredBackups(%s, %d) = %v, want %v", tc.at, tc.limit, got, tc.want)
		}
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteBackup(ctx, "b3") })
	err = s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.DeleteBackup(ctx, "b3") })
	wantErr(t, "DeleteBackup of a deleted backup", err, store.ErrNotFound)
	if got := expired(t0.Add(time.Microsecond), 10); len(got) != 0 {
		t.Errorf("after DeleteBackup, expired %v", got)
	}
	// A backup of an environment, with a payload that only Backup reads.
	payload := append([]byte{0x1f, 0x8b, 0x00, 0xff}, bytes.Repeat([]byte("data"), 1000)...)
	env := store.BackupRecord{
		ID: "b5", Tenant: "globex", Environment: "staging", Kind: api.BackupOnDemand, TakenAt: t0, RetainUntil: t0.Add(time.Hour),
		SizeBytes: int64(len(payload)), Checksum: "abc123", Summary: json.RawMessage(`{"stores":[{"environment":"staging"}]}`),
		Data: json.RawMessage(`[]`), Payload: payload,
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutBackup(ctx, env) })
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.Backup(ctx, "b5")
		noErr(t, "Backup with a payload", err)
		same("Backup with a payload", got, env)
		list, err := tx.ListBackups(ctx, "globex")
		noErr(t, "ListBackups", err)
		if len(list) != 1 || list[0].ID != "b5" || list[0].Payload != nil || list[0].SizeBytes != int64(len(payload)) {
			t.Errorf("ListBackups(globex) = %+v; want b5 without its payload", list)
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteBackup(ctx, "b5") })
	err = s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.DeleteBackup(ctx, "b5") })
	wantErr(t, "DeleteBackup of a deleted backup", err, store.ErrNotFound)
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Backup(ctx, "b5")
		wantErr(t, "Backup after DeleteBackup", err, store.ErrNotFound)
		return nil
	})
}

// counter reads the counter object's value.
func counter(t *testing.T, o store.Object) int {
	t.Helper()
	var v struct{ N int }
	if err := json.Unmarshal(o.Data, &v); err != nil {
		t.Fatalf("counter data %s: %v", o.Data, err)
	}
	return v.N
}

func withCounter(o store.Object, n int) store.Object {
	o.Data = json.RawMessage(fmt.Sprintf(`{"n":%d}`, n))
	return o
}

// incrementLocked adds one to the counter under the tenant's lock, without
// ever retrying: the lock must make the conditional Put succeed.
func incrementLocked(ctx context.Context, s store.Store) error {
	return s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.Lock(ctx, "platform", "tenant:x"); err != nil {
			return err
		}
		o, err := tx.Get(ctx, "x", api.KindQuota, "counter")
		if err != nil {
			return err
		}
		var v struct{ N int }
		if err := json.Unmarshal(o.Data, &v); err != nil {
			return err
		}
		_, err = tx.Put(ctx, withCounter(o, v.N+1), o.Revision)
		return err
	})
}

func checkCounter(t *testing.T, s store.Store, want int) {
	t.Helper()
	o, err := get(t, s, "x", api.KindQuota, "counter")
	noErr(t, "Get counter", err)
	if n := counter(t, o); n != want || o.Revision != int64(want)+1 {
		t.Errorf("counter = %d at revision %d, want %d at revision %d", n, o.Revision, want, want+1)
	}
}

func testLockSerializesUpdates(t *testing.T, s store.Store) {
	create(t, s, "x", api.KindQuota, "counter", `{"n":0}`)
	const workers = 50
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			if err := incrementLocked(t.Context(), s); err != nil {
				t.Errorf("locked increment: %v", err)
			}
		})
	}
	wg.Wait()
	checkCounter(t, s, workers)
}

// Tests of two replicas.

func testReplicasStalePutFails(t *testing.T, a, b store.Store) {
	created := create(t, a, "x", api.KindQuota, "counter", `{"n":0}`)
	fromB, err := get(t, b, "x", api.KindQuota, "counter")
	noErr(t, "Get from b", err)
	sameObject(t, "b sees a's object", fromB, created)

	update(t, a, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Put(ctx, withCounter(created, 1), created.Revision)
		return err
	})
	err = b.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Put(ctx, withCounter(fromB, 100), fromB.Revision)
		return err
	})
	wantErr(t, "Put of a revision another replica replaced", err, store.ErrStaleRevision)
	err = b.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		return tx.Delete(ctx, "x", api.KindQuota, "counter", fromB.Revision)
	})
	wantErr(t, "Delete of a revision another replica replaced", err, store.ErrStaleRevision)
	err = b.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Create(ctx, created)
		return err
	})
	wantErr(t, "Create of a key another replica created", err, store.ErrExists)
	checkCounter(t, b, 1)
}

// testReplicasConditionalPuts has workers on both replicas read the counter
// in one transaction and write it back incremented in another, without
// locks: every stale write must fail, so that the counter ends equal to the
// number of writes that succeeded.
func testReplicasConditionalPuts(t *testing.T, a, b store.Store) {
	create(t, a, "x", api.KindQuota, "counter", `{"n":0}`)
	const workers, increments = 8, 10
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		stale int
	)
	for w := range workers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			ctx := t.Context()
			for done := 0; done < increments; {
				var o store.Object
				err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
					o, err = tx.Get(ctx, "x", api.KindQuota, "counter")
					return err
				})
				if err != nil {
					t.Errorf("Get: %v", err)
					return
				}
				var v struct{ N int }
				if err := json.Unmarshal(o.Data, &v); err != nil {
					t.Errorf("counter data %s: %v", o.Data, err)
					return
				}
				err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
					_, err := tx.Put(ctx, withCounter(o, v.N+1), o.Revision)
					return err
				})
				switch {
				case errors.Is(err, store.ErrStaleRevision):
					mu.Lock()
					stale++
					mu.Unlock()
				case err != nil:
					t.Errorf("Put: %v", err)
					return
				default:
					done++
				}
			}
		})
	}
	wg.Wait()
	checkCounter(t, a, workers*increments)
	checkCounter(t, b, workers*increments)
	t.Logf("%d stale writes refused", stale)
}

func testReplicasLock(t *testing.T, a, b store.Store) {
	create(t, a, "x", api.KindQuota, "counter", `{"n":0}`)
	const workers = 50
	var wg sync.WaitGroup
	for w := range workers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			if err := incrementLocked(t.Context(), s); err != nil {
				t.Errorf("locked increment: %v", err)
			}
		})
	}
	wg.Wait()
	checkCounter(t, b, workers)
}

func testRateBuckets(t *testing.T, s store.Store) {
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.RateBucket(ctx, "acme")
		wantErr(t, "RateBucket before its first use", err, store.ErrNotFound)
		return nil
	})
	at := time.Date(2025, 7, 1, 12, 0, 0, 123456789, time.UTC)
	for _, b := range []store.RateBucket{
		{Tenant: "acme", Tokens: 59.5, Limit: 60, UpdatedAt: at},
		{Tenant: "acme", Tokens: 0.25, Limit: 120, UpdatedAt: at.Add(time.Second)}, // replaces
		{Tenant: "globex", Tokens: 3, Limit: 3, UpdatedAt: at},
	} {
		update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutRateBucket(ctx, b) })
	}
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.RateBucket(ctx, "acme")
		noErr(t, "RateBucket", err)
		want := store.RateBucket{Tenant: "acme", Tokens: 0.25, Limit: 120, UpdatedAt: at.Add(time.Second).Truncate(time.Microsecond)}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("RateBucket:\n got %+v\nwant %+v", got, want)
		}
		got, err = tx.RateBucket(ctx, "globex")
		noErr(t, "RateBucket", err)
		if got.Tokens != 3 || got.Limit != 3 {
			t.Errorf("RateBucket of globex: %+v", got)
		}
		return nil
	})
}
