package client_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

func TestPreviewAndPromote(t *testing.T) {
	var bodies []map[string]any
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/tenants/acme/promotions" {
			t.Errorf("request %s %s; want POST /v1/tenants/acme/promotions", r.Method, r.URL.Path)
		}
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("body %s: %v", b, err)
		}
		bodies = append(bodies, body)
		if body["dry_run"] == true {
			writeJSON(w, http.StatusOK, api.Promotion{TenantID: "acme", SourceEnvironment: "staging", TargetEnvironment: "production",
				Changes: []string{"settings.a: (absent) -> \"1\""}, DryRun: true})
			return
		}
		writeJSON(w, http.StatusCreated, api.Promotion{ID: "prm_1", TenantID: "acme", SourceEnvironment: "staging", TargetEnvironment: "production", Changes: []string{}})
	}))

	req := api.PromotionRequest{SourceEnvironment: "staging", TargetEnvironment: "production", Include: []string{"settings"}}
	p, err := c.PreviewPromotion(t.Context(), "acme", req)
	if err != nil || !p.DryRun || len(p.Changes) != 1 {
		t.Fatalf("PreviewPromotion = %+v, %v", p, err)
	}
	none := []string{}
	req.ExpectChanges, req.Link = &none, true
	if p, err = c.Promote(t.Context(), "acme", req); err != nil || p.ID != "prm_1" {
		t.Fatalf("Promote = %+v, %v", p, err)
	}
	if _, ok := bodies[1]["dry_run"]; ok {
		t.Errorf("Promote sent dry_run: %v", bodies[1])
	}
	if got, ok := bodies[1]["expect_changes"].([]any); !ok || len(got) != 0 || bodies[1]["link"] != true {
		t.Errorf("Promote sent %v; want expect_changes [] and link true", bodies[1])
	}
	if _, ok := bodies[0]["expect_changes"]; ok {
		t.Errorf("the preview sent expect_changes: %v", bodies[0])
	}
}

func TestPromotionHistoryAndRollback(t *testing.T) {
	var paths []string
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.Method+" "+r.URL.EscapedPath()+"?"+r.URL.RawQuery)
		switch r.URL.Path {
		case "/v1/tenants/acme/promotions":
			writeJSON(w, http.StatusOK, api.List[api.Promotion]{Items: []api.Promotion{{ID: "prm_2", TenantID: "acme"}, {ID: "prm_1", TenantID: "acme"}}})
		case "/v1/tenants/acme/promotions/prm_2/rollback":
			writeJSON(w, http.StatusOK, api.Promotion{ID: "prm_2", TenantID: "acme", RolledBackBy: "ci"})
		case "/v1/tenants/acme/promotion-links/production":
			if r.Method == http.MethodDelete {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			writeError(w, http.StatusNotFound, api.CodeNotFound, "no link", "")
		default:
			writeJSON(w, http.StatusOK, api.Promotion{ID: strings.TrimPrefix(r.URL.Path, "/v1/tenants/acme/promotions/"), TenantID: "acme"})
		}
	}))

	list, err := c.ListPromotions(t.Context(), "acme", "production")
	if err != nil || len(list) != 2 || list[0].ID != "prm_2" {
		t.Fatalf("ListPromotions = %+v, %v", list, err)
	}
	if p, err := c.RollbackPromotion(t.Context(), "acme", "prm_2"); err != nil || p.RolledBackBy != "ci" {
		t.Fatalf("RollbackPromotion = %+v, %v", p, err)
	}
	if p, err := c.GetPromotion(t.Context(), "acme", "prm/1"); err != nil || p.ID != "prm/1" {
		t.Fatalf("GetPromotion = %+v, %v", p, err)
	}
	if _, err := c.GetPromotionLink(t.Context(), "acme", "production"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("GetPromotionLink error %v; want ErrNotFound", err)
	}
	if err := c.DeletePromotionLink(t.Context(), "acme", "production"); err != nil {
		t.Errorf("DeletePromotionLink: %v", err)
	}
	want := []string{
		"GET /v1/tenants/acme/promotions?page_size=500&target_environment=production",
		"POST /v1/tenants/acme/promotions/prm_2/rollback?",
		"GET /v1/tenants/acme/promotions/prm%2F1?",
		"GET /v1/tenants/acme/promotion-links/production?",
		"DELETE /v1/tenants/acme/promotion-links/production?",
	}
	if !slices.Equal(paths, want) {
		t.Errorf("requests %q; want %q", paths, want)
	}
}
