package provider_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// TestAccTenant_proxyCannotRedirectADelete plays a proxy between Terraform
// and tenancyd that answers reads of one tenant with another tenant's slug,
// which once put the other tenant in state and had the next apply delete
// it. The provider refuses the answer (the refresh fails, the state keeps
// its own tenant), and a delete carries the revision Terraform last read, so
// a tenant changed since then is not deleted until the change is accepted
// into the state. The other tenant, left unprotected, survives it all.
func TestAccTenant_proxyCannotRedirectADelete(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	proxy := srv.Proxy(t)
	slug, victim := acctest.RandomSlug("acme"), acctest.RandomSlug("victim")
	if _, err := srv.Client.CreateTenant(context.Background(), api.TenantSpec{
		Slug: victim, DisplayName: "Victim", Region: "eu-west", DeletionProtection: new(false),
	}); err != nil {
		t.Fatal(err)
	}
	victimExists := func() error {
		if _, err := srv.Client.GetTenant(context.Background(), victim); err != nil {
			return fmt.Errorf("tenant %s, which Terraform never managed, is gone: %w", victim, err)
		}
		return nil
	}
	var changeOnce sync.Once
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             func(*terraform.State) error { return victimExists() },
		Steps: []resource.TestStep{
			{Config: proxy.Config(tenantConfig(slug, "Acme", ""))},
			{
				// The proxy swaps the slug in every answer: the refresh is refused.
				PreConfig: func() {
					proxy.Rewrite(func(_ *http.Request, body []byte) []byte {
						return bytes.ReplaceAll(body, []byte(`"`+slug+`"`), []byte(`"`+victim+`"`))
					})
				},
				Config:      proxy.Config(tenantConfig(slug, "Acme", "")),
				ExpectError: regexp.MustCompile(`answer is about another object: its\s+slug\s+is\s+"` + victim + `",\s+not\s+"` + slug + `"`),
			},
			{
				// An honest proxy again, but the tenant changes between the
				// refresh and the delete: the delete is refused, not forced.
				PreConfig: func() {
					proxy.Rewrite(nil)
					proxy.Before(func(r *http.Request) {
						if r.Method == http.MethodDelete && r.URL.Path == "/v1/tenants/"+slug {
							changeOnce.Do(func() {
								if _, err := srv.Client.UpdateTenant(context.Background(), slug, json.RawMessage(`{"display_name":"Changed meanwhile"}`), 0); err != nil {
									t.Errorf("change behind Terraform's back: %v", err)
								}
							})
						}
					})
				},
				Config:      proxy.ProviderConfig(),
				ExpectError: regexp.MustCompile(`Cannot delete tenant "` + slug + `": it changed since Terraform last\s+read\s+it`),
			},
			{
				// Accepting the change into the state (a refresh-only apply)...
				PreConfig: func() {
					proxy.Before(nil)
					if _, err := srv.Client.GetTenant(context.Background(), slug); err != nil {
						t.Errorf("the tenant changed meanwhile was deleted anyway: %v", err)
					}
				},
				RefreshState:       true,
				ExpectNonEmptyPlan: true, // The tenant is still to be destroyed.
			},
			{
				// ...lets it be deleted; the victim never was.
				Config: proxy.ProviderConfig(),
				Check: resource.ComposeTestCheckFunc(
					func(*terraform.State) error { return victimExists() },
					checkTenantsDestroyed(srv),
					func(*terraform.State) error {
						if _, err := srv.Client.GetTenant(context.Background(), slug); err == nil {
							return fmt.Errorf("tenant %s still exists", slug)
						}
						return nil
					},
				),
			},
		},
	})
}

// TestAccTenant_destroyAfterHandChange changes a tenant behind Terraform's
// back and destroys it: terraform destroy refreshes first, so the delete
// carries the revision it just read and goes through; only a change made
// after that refresh stops it.
func TestAccTenant_destroyAfterHandChange(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	slug := acctest.RandomSlug("acme")
	cfg := srv.Config(tenantConfig(slug, "Acme", ""))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkTenantsDestroyed(srv),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				PreConfig: func() {
					if _, err := srv.Client.UpdateTenant(context.Background(), slug, json.RawMessage(`{"display_name":"By hand"}`), 0); err != nil {
						t.Fatalf("change behind Terraform's back: %v", err)
					}
				},
				Config:  cfg,
				Destroy: true,
				Check:   checkTenantsDestroyed(srv),
			},
		},
	})
}
