package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-log/tflogtest"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

func TestIntegrationCalls(t *testing.T) {
	const secret = "whsec_client-test-secret"
	var calls []recordedCall
	hook := api.Integration{Name: "deploys", Kind: api.IntegrationWebhook, SecretSet: true, TenantID: "acme", ID: "acme/deploys", Meta: api.Meta{Revision: 1}}
	c := newClient(t, recorder(&calls, func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case http.MethodPost:
			writeJSON(w, http.StatusCreated, hook)
		case http.MethodGet:
			if r.URL.Path == "/v1/tenants/acme/integrations" {
				writeJSON(w, http.StatusOK, api.List[api.Integration]{Items: []api.Integration{hook}})
				return
			}
			writeJSON(w, http.StatusOK, hook)
		default:
			writeError(w, http.StatusPreconditionFailed, api.CodePreconditionFailed, "stale", "")
		}
	}))
	var logs strings.Builder
	ctx := tflogtest.RootLogger(context.Background(), &logs)
	created, err := c.CreateIntegration(ctx, "acme", api.IntegrationSpec{
		Name: "deploys", Kind: api.IntegrationWebhook, Config: map[string]string{"url": "https://hooks.example.com"}, Secret: new(secret),
	})
	if err != nil || !created.SecretSet {
		t.Errorf("CreateIntegration = %+v, %v", created, err)
	}
	if got, err := c.GetIntegration(ctx, "acme", "deploys"); err != nil || got.ID != "acme/deploys" {
		t.Errorf("GetIntegration = %+v, %v", got, err)
	}
	// The provider lists no integrations; the generic ListAll reaches them.
	if got, err := client.ListAll[api.Integration](ctx, c, "/v1/tenants/acme/integrations", nil); err != nil || len(got) != 1 {
		t.Errorf("ListAll of integrations = %+v, %v", got, err)
	}
	_, err = c.UpdateIntegration(ctx, "acme", "deploys", json.RawMessage(`{"secret":"`+secret+`"}`), 1)
	if !errors.Is(err, client.ErrPreconditionFailed) || strings.Contains(err.Error(), secret) {
		t.Errorf("UpdateIntegration error %v; want a 412 that does not quote the secret", err)
	}
	if err := c.DeleteIntegration(ctx, "acme", "deploys", 0); err != nil {
		t.Errorf("DeleteIntegration: %v", err)
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the client logged the secret:\n%s", logs.String())
	}
	checkCalls(t, calls, []recordedCall{
		{"POST", "/v1/tenants/acme/integrations", "application/json", "", `{"name":"deploys","kind":"webhook","config":{"url":"https://hooks.example.com"},"secret":"` + secret + `"}`},
		{"GET", "/v1/tenants/acme/integrations/deploys", "", "", ""},
		{"GET", "/v1/tenants/acme/integrations", "", "", ""},
		{"PATCH", "/v1/tenants/acme/integrations/deploys", "application/merge-patch+json", `"1"`, `{"secret":"` + secret + `"}`},
		{"DELETE", "/v1/tenants/acme/integrations/deploys", "", "", ""},
	})
}
