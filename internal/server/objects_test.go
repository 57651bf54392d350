package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store/pgtest"
)

// decodedAnswer is what a GET of o answered before answerOf: the object
// decoded into its API type and encoded again.
func decodedAnswer[T any, P document[T]](t testing.TB, o store.Object) []byte {
	t.Helper()
	v, err := fromObject[T, P](o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// storedGETs are the GETs of one object that answerOf serves, with the
// stored object each reads and its answer as decoded and encoded again.
var storedGETs = []struct {
	path, kind, key string
	decoded         func(testing.TB, store.Object) []byte
}{
	{"/v1/tenants/acme", api.KindTenant, "acme", decodedAnswer[api.Tenant]},
	{"/v1/tenants/acme/environments/staging", api.KindEnvironment, "staging", decodedAnswer[api.Environment]},
	{"/v1/tenants/acme/feature-flags/new-checkout", api.KindFeatureFlag, "new-checkout", decodedAnswer[api.FeatureFlag]},
	{"/v1/tenants/acme/quota", api.KindQuota, api.TenantQuotaKey, decodedAnswer[api.Quota]},
	{"/v1/tenants/acme/environments/staging/quota", api.KindQuota, "staging", decodedAnswer[api.Quota]},
	{"/v1/tenants/acme/users/{user}", api.KindUser, "{user}", decodedAnswer[api.User]},
	{"/v1/tenants/acme/role-bindings/{binding}", api.KindRoleBinding, "{binding}", decodedAnswer[api.RoleBinding]},
}

// TestStoredAnswers compares every GET that answerOf serves with the answer
// the object decoded and encoded again gives, byte for byte, with its ETag,
// from the stored bytes on both stores.
func TestStoredAnswers(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		checkStoredAnswers(t, newTestServer(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		checkStoredAnswers(t, rbReplica(t, pgtest.URL(t)))
	})
}

func checkStoredAnswers(t *testing.T, ts *testServer) {
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants", map[string]any{
		"slug": "acme", "display_name": "Acme <Ünïcode> & \u2028 \"quotes\"", "region": "us-east",
		"labels": map[string]string{"team": "a&b", "cost-center": "<42>"}, "deletion_protection": false,
	})
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/environments",
		map[string]any{"name": "staging", "type": "staging", "settings": map[string]string{"z": "1", "a": "é"}})
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/feature-flags", map[string]any{
		"key": "new-checkout", "description": "Checkout <v2> & \"more\" — ✓",
		"environments": map[string]any{"staging": map[string]any{"enabled": true, "rollout_percentage": 25}},
	})
	ts.mustCall(t, http.StatusOK, ts.admin, "PATCH", "/v1/tenants/acme/feature-flags/new-checkout",
		map[string]any{"description": "patched"}, "If-Match", `"1"`)
	ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", "/v1/tenants/acme/quota", map[string]any{"cpu_millicores": 8000, "max_users": 10})
	ts.mustCall(t, http.StatusCreated, ts.admin, "PUT", "/v1/tenants/acme/environments/staging/quota", map[string]any{"cpu_millicores": 2000})
	var u api.User
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/users",
		api.UserSpec{Email: "ada@example.com", DisplayName: "Ada <L>"}).json(t, &u)
	var b api.RoleBinding
	ts.mustCall(t, http.StatusCreated, ts.admin, "POST", "/v1/tenants/acme/role-bindings",
		map[string]any{"user_id": u.UserID, "role": api.RoleTenantUser, "environment": "staging"}).json(t, &b)

	for _, g := range storedGETs {
		path := strings.NewReplacer("{user}", u.UserID, "{binding}", b.BindingID).Replace(g.path)
		key := strings.NewReplacer("{user}", u.UserID, "{binding}", b.BindingID).Replace(g.key)
		var o store.Object
		err := ts.store.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
			var err error
			o, err = tx.Get(ctx, "acme", g.kind, key)
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if !bytes.HasSuffix(o.Data, zeroMeta) {
			t.Errorf("%s: stored data does not end with the zeroed meta, so its GET decodes it: %s", path, o.Data)
		}
		res := ts.mustCall(t, http.StatusOK, ts.admin, "GET", path, nil)
		if want := g.decoded(t, o); !bytes.Equal(res.body, want) {
			t.Errorf("GET %s answered\n%s\nwant, as decoded and encoded again,\n%s", path, res.body, want)
		}
		if got, want := res.header.Get("ETag"), etag(o.Revision); got != want {
			t.Errorf("GET %s: ETag %s, want %s", path, got, want)
		}
		if got := res.header.Get("Content-Type"); got != "application/json" {
			t.Errorf("GET %s: Content-Type %q, want application/json", path, got)
		}
	}
}

// TestAnswerOfFallsBack shows that data not kept as written, and data whose
// timestamps JSON cannot hold, are decoded, not spliced.
func TestAnswerOfFallsBack(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	o := store.Object{Tenant: "acme", Kind: api.KindFeatureFlag, Key: "f", Revision: 3, CreatedAt: at, UpdatedAt: at,
		Data: json.RawMessage(`{"id": "acme/f", "key": "f", "revision": 0, "tenant_id": "acme", "created_at": "0001-01-01T00:00:00Z", "updated_at": "0001-01-01T00:00:00Z", "description": "", "environments": {}}`)}
	got, err := answerOf[api.FeatureFlag](o)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := got.(*api.FeatureFlag)
	if !ok {
		t.Fatalf("answerOf answered %T for respaced data, want *api.FeatureFlag", got)
	}
	if f.Revision != 3 || !f.CreatedAt.Equal(at) || f.ID != "acme/f" {
		t.Errorf("answerOf decoded %+v, want revision 3, created_at %v, id acme/f", f, at)
	}

	o.Data = json.RawMessage(`{"key":"f","description":"","environments":{},"tenant_id":"acme","id":"acme/f",` + string(zeroMeta))
	got, err = answerOf[api.FeatureFlag](o)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := got.(*encoded)
	if !ok {
		t.Fatalf("answerOf answered %T for data kept as written, want *encoded", got)
	}
	if want := decodedAnswer[api.FeatureFlag](t, o); !bytes.Equal(append(e.body, '\n'), want) {
		t.Errorf("answerOf spliced\n%s\nwant\n%s", e.body, want)
	}

	o.UpdatedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := answerOf[api.FeatureFlag](o); err == nil || !strings.Contains(err.Error(), "updated_at") {
		t.Errorf("answerOf of a year-10000 timestamp: error %v, want one naming updated_at", err)
	}
}
