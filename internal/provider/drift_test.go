package provider

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

type fakePrivate map[string][]byte

func (p fakePrivate) GetKey(_ context.Context, key string) ([]byte, diag.Diagnostics) {
	return p[key], nil
}

func TestExplainDrift(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t, acctest.WithProvisioningDelay(0))
	ctx := t.Context()
	slug := acctest.RandomSlug("drift")
	created, err := srv.Client.CreateTenant(ctx, api.TenantSpec{Slug: slug, DisplayName: "Before", Region: "us-east"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := srv.Client.CreateToken(ctx, api.TokenRequest{Name: "night-shift-ops", Tenant: slug, Role: api.RoleTenantAdmin})
	if err != nil {
		t.Fatal(err)
	}
	ops, err := client.New(client.Config{Endpoint: srv.URL, Token: tok.Token})
	if err != nil {
		t.Fatal(err)
	}
	changed, err := ops.UpdateTenant(ctx, slug, json.RawMessage(`{"display_name":"After"}`), 0)
	if err != nil {
		t.Fatal(err)
	}

	seen := fakePrivate{privateRevision: []byte(strconv.FormatInt(created.Revision, 10))}
	var diags diag.Diagnostics
	explainDrift(ctx, srv.Client, seen, &diags, "Tenant "+strconv.Quote(slug), slug, api.KindTenant, slug, changed.Revision)
	if diags.WarningsCount() != 1 {
		t.Fatalf("want one warning, got %v", diags)
	}
	w := diags.Warnings()[0]
	for _, want := range []string{
		`"night-shift-ops"`, "tenant.update", "changed: display_name",
		"Terraform last saw revision " + strconv.FormatInt(created.Revision, 10),
		changed.UpdatedAt.UTC().Format(time.RFC3339)[:10],
	} {
		if !strings.Contains(w.Detail(), want) {
			t.Errorf("warning detail lacks %q:\n%s", want, w.Detail())
		}
	}
	if !strings.Contains(w.Summary(), "was changed outside Terraform") {
		t.Errorf("summary %q", w.Summary())
	}

	// No warning when nothing changed since Terraform last looked, or when it never looked.
	for _, p := range []fakePrivate{{privateRevision: []byte(strconv.FormatInt(changed.Revision, 10))}, {}} {
		var quiet diag.Diagnostics
		explainDrift(ctx, srv.Client, p, &quiet, "Tenant", slug, api.KindTenant, slug, changed.Revision)
		if len(quiet) != 0 {
			t.Errorf("unexpected diagnostics %v", quiet)
		}
	}
}
