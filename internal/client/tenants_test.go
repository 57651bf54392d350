package client_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

func TestUpdateTenantSendsIfMatchAndMergePatch(t *testing.T) {
	var ifMatch, contentType, body string
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPatch || r.URL.Path != "/v1/tenants/acme" {
			t.Errorf("request %s %s; want PATCH /v1/tenants/acme", r.Method, r.URL.Path)
		}
		b, _ := io.ReadAll(r.Body)
		ifMatch, contentType, body = r.Header.Get("If-Match"), r.Header.Get("Content-Type"), string(b)
		w.Header().Set("ETag", `"4"`)
		writeJSON(w, http.StatusOK, api.Tenant{TenantSpec: api.TenantSpec{Slug: "acme", DisplayName: "Acme Corp"}, Meta: api.Meta{Revision: 4}})
	}))

	got, err := c.UpdateTenant(t.Context(), "acme", json.RawMessage(`{"display_name":"Acme Corp"}`), 3)
	if err != nil {
		t.Fatalf("UpdateTenant: %v", err)
	}
	if got.Revision != 4 || got.DisplayName != "Acme Corp" {
		t.Errorf("got %+v; want revision 4", got)
	}
	if ifMatch != `"3"` || contentType != "application/merge-patch+json" || body != `{"display_name":"Acme Corp"}` {
		t.Errorf("If-Match %s, Content-Type %s, body %s; want \"3\", application/merge-patch+json and the patch", ifMatch, contentType, body)
	}
}

func TestDeleteTenant(t *testing.T) {
	var ifMatch []string
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ifMatch = r.Header.Values("If-Match")
		if r.URL.Path == "/v1/tenants/gone" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeJSON(w, http.StatusOK, api.TenantDeletion{Slug: "acme", Backup: api.Backup{ID: "bk_1"}})
	}))

	got, err := c.DeleteTenant(t.Context(), "acme", 0)
	if err != nil || got.Backup.ID != "bk_1" {
		t.Errorf("DeleteTenant = %+v, %v; want backup bk_1", got, err)
	}
	if len(ifMatch) != 0 {
		t.Errorf("If-Match %q; want none for revision 0", ifMatch)
	}
	if got, err := c.DeleteTenant(t.Context(), "gone", 7); got != nil || err != nil {
		t.Errorf("DeleteTenant on a 204 = %+v, %v; want nil, nil", got, err)
	}
}

func TestListTenantsFollowsPages(t *testing.T) {
	pages := map[string]api.List[api.Tenant]{
		"":   {Items: []api.Tenant{{ID: "a"}, {ID: "b"}}, NextPageToken: "p2"},
		"p2": {Items: []api.Tenant{{ID: "c"}}, NextPageToken: "p3"},
		"p3": {Items: []api.Tenant{{ID: "d"}}},
	}
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("label") != "env=prod" {
			t.Errorf("query %q lost the filter", r.URL.RawQuery)
		}
		page, ok := pages[q.Get("page_token")]
		if !ok {
			writeError(w, http.StatusBadRequest, api.CodeBadRequest, "bad page token", "page_token")
			return
		}
		delete(pages, q.Get("page_token"))
		writeJSON(w, http.StatusOK, page)
	}))

	query := url.Values{"label": {"env=prod"}}
	got, err := c.ListTenants(t.Context(), query)
	if err != nil {
		t.Fatalf("ListTenants: %v", err)
	}
	var ids []string
	for _, tn := range got {
		ids = append(ids, tn.ID)
	}
	if strings.Join(ids, ",") != "a,b,c,d" || len(pages) != 0 {
		t.Errorf("ids %q with pages %v left; want a,b,c,d from three pages", ids, pages)
	}
	if query.Has("page_token") {
		t.Errorf("ListTenants changed the caller's query: %v", query)
	}
}

func TestListStopsOnRepeatedPageToken(t *testing.T) {
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, api.List[api.Tenant]{Items: []api.Tenant{{ID: "a"}}, NextPageToken: "same"})
	}))

	if _, err := c.ListTenants(t.Context(), nil); err == nil || !strings.Contains(err.Error(), `page token "same" twice`) {
		t.Errorf("err = %v; want a repeated page token error", err)
	}
}

func TestCreateTenantRequiresTheObject(t *testing.T) {
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}))

	if _, err := c.CreateTenant(t.Context(), api.TenantSpec{Slug: "acme"}); err == nil {
		t.Error("CreateTenant with an empty answer succeeded; want an error")
	}
}

func TestRevokeToken(t *testing.T) {
	var path string
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.EscapedPath()
		w.WriteHeader(http.StatusNoContent)
	}), func(cfg *client.Config) { cfg.RequestTimeout = time.Second })

	// The provider revokes no tokens; the generic Delete reaches the route.
	if _, err := client.Delete[json.RawMessage](t.Context(), c, client.PathEscape("v1", "tokens", "tok/1"), 0); err != nil {
		t.Fatalf("Delete of a token: %v", err)
	}
	if path != "/v1/tokens/tok%2F1" {
		t.Errorf("path %q; want the id escaped", path)
	}
}
