package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	ops, _ := srv.ClientAs(t, api.TokenRequest{Name: "night-shift-ops", Tenant: slug, Role: api.RoleTenantAdmin})
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

// TestExplainDrift_promotions leaves out what a linked promotion (a
// tenancy_environment_promotion's) changed, and only that.
func TestExplainDrift_promotions(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t, acctest.WithProvisioningDelay(0))
	ctx := t.Context()
	slug := acctest.RandomSlug("drift")
	if _, err := srv.Client.CreateTenant(ctx, api.TenantSpec{Slug: slug, DisplayName: "Promotions", Region: "us-east"}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []api.EnvironmentSpec{
		{Name: "staging", Type: api.EnvStaging, Settings: map[string]string{"log_level": "info"}},
		{Name: "qa", Type: api.EnvDevelopment, Settings: map[string]string{"log_level": "debug"}},
		{Name: "production", Type: api.EnvProduction},
	} {
		if _, err := srv.Client.CreateEnvironment(ctx, slug, e); err != nil {
			t.Fatal(err)
		}
	}
	production := func() int64 {
		t.Helper()
		e, err := srv.Client.GetEnvironment(ctx, slug, "production")
		if err != nil {
			t.Fatal(err)
		}
		return e.Revision
	}
	explain := func(since, now int64) diag.Diagnostics {
		var diags diag.Diagnostics
		seen := fakePrivate{privateRevision: []byte(strconv.FormatInt(since, 10))}
		explainDrift(ctx, srv.Client, seen, &diags, "Environment production", slug, api.KindEnvironment, "production", now)
		return diags
	}
	promote := func(source string, link, linked bool) {
		t.Helper()
		if _, err := srv.Client.Promote(ctx, slug, api.PromotionRequest{
			SourceEnvironment: source, TargetEnvironment: "production", Include: []string{api.ScopeSettings}, Link: link, Linked: linked,
		}); err != nil {
			t.Fatal(err)
		}
	}

	start := production()
	promote("staging", true, false)
	if _, err := srv.Client.UpdateEnvironment(ctx, slug, "staging", json.RawMessage(`{"settings":{"log_level":"warn"}}`), 0); err != nil {
		t.Fatal(err)
	}
	promote("staging", false, true)
	afterLinked := production()
	if afterLinked == start {
		t.Fatal("the promotions did not change production")
	}
	if diags := explain(start, afterLinked); len(diags) != 0 {
		t.Errorf("linked promotions only: want no warning, got %v", diags)
	}

	if _, err := srv.Client.UpdateEnvironment(ctx, slug, "production", json.RawMessage(`{"settings":{"log_level":"trace"}}`), 0); err != nil {
		t.Fatal(err)
	}
	promote("qa", false, false)
	diags := explain(start, production())
	if diags.WarningsCount() != 1 {
		t.Fatalf("a hand change and a promotion by hand: want one warning, got %v", diags)
	}
	detail := diags.Warnings()[0].Detail()
	if n := strings.Count(detail, "  - "); n != 2 || !strings.Contains(detail, "changed: settings.log_level\n") || !strings.Contains(detail, `from "qa")`) ||
		strings.Contains(detail, `from "staging"`) {
		t.Errorf("want the hand change and the promotion from qa, not the linked ones:\n%s", detail)
	}
}

// TestObjectDrift_ownChanges tells the changes of linked promotions and of
// their rollbacks, which a refresh leaves out of the state, from any other
// change, which it records and explains; and writeAtOwnRevision writes past
// the former only.
func TestObjectDrift_ownChanges(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t, acctest.WithProvisioningDelay(0))
	ctx := t.Context()
	slug := acctest.RandomSlug("drift")
	if _, err := srv.Client.CreateTenant(ctx, api.TenantSpec{Slug: slug, DisplayName: "Own changes", Region: "us-east"}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []api.EnvironmentSpec{
		{Name: "staging", Type: api.EnvStaging, Settings: map[string]string{"step": "0"}},
		{Name: "production", Type: api.EnvProduction},
	} {
		if _, err := srv.Client.CreateEnvironment(ctx, slug, e); err != nil {
			t.Fatal(err)
		}
	}
	production := func() int64 {
		t.Helper()
		e, err := srv.Client.GetEnvironment(ctx, slug, "production")
		if err != nil {
			t.Fatal(err)
		}
		return e.Revision
	}
	promote := func(link, linked bool) *api.Promotion {
		t.Helper()
		p, err := srv.Client.Promote(ctx, slug, api.PromotionRequest{
			SourceEnvironment: "staging", TargetEnvironment: "production", Include: []string{api.ScopeSettings}, Link: link, Linked: linked,
		})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	moveStaging := func(step int) {
		t.Helper()
		body := fmt.Sprintf(`{"settings":{"step":"%d"}}`, step)
		if _, err := srv.Client.UpdateEnvironment(ctx, slug, "staging", json.RawMessage(body), 0); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, since int64, own bool, warnings int) {
		t.Helper()
		d := driftSince(ctx, srv.Client, slug, api.KindEnvironment, "production", since, production())
		var diags diag.Diagnostics
		d.warn(ctx, &diags, "Environment production")
		if d.ownChangesOnly() != own || diags.WarningsCount() != warnings {
			t.Errorf("%s: own changes only %t, %d warnings %v; want %t, %d", what, d.ownChangesOnly(), diags.WarningsCount(), diags, own, warnings)
		}
	}
	updateAt := func(rev int64) (*api.Environment, error) {
		return writeAtOwnRevision(ctx, srv.Client, slug, api.KindEnvironment, "production", rev,
			func(ctx context.Context) (int64, error) {
				e, err := srv.Client.GetEnvironment(ctx, slug, "production")
				if err != nil {
					return 0, err
				}
				return e.Revision, nil
			},
			func(rev int64) (*api.Environment, error) {
				return srv.Client.UpdateEnvironment(ctx, slug, "production", json.RawMessage(`{"type":"production"}`), rev)
			})
	}

	start := production()
	check("nothing changed", start, false, 0)
	last := promote(true, false)
	// More promotions than an explanation reads one by one.
	for step := 1; step <= manyPromotions+2; step++ {
		moveStaging(step)
		last = promote(false, true)
	}
	check("linked promotions", start, true, 0)
	if _, err := srv.Client.RollbackPromotion(ctx, slug, last.ID); err != nil {
		t.Fatal(err)
	}
	check("linked promotions and the rollback of one", start, true, 0)
	if _, err := updateAt(start); err != nil {
		t.Errorf("a write at the revision before linked promotions and a rollback: %v", err)
	}

	before := production()
	moveStaging(99)
	byHand := promote(false, false)
	if _, err := srv.Client.RollbackPromotion(ctx, slug, byHand.ID); err != nil {
		t.Fatal(err)
	}
	check("a promotion by hand and its rollback", before, false, 1)
	if _, err := updateAt(before); !errors.Is(err, client.ErrPreconditionFailed) {
		t.Errorf("a write at the revision before a promotion by hand: %v; want 412", err)
	}

	before = production()
	promote(false, true)
	if _, err := srv.Client.UpdateEnvironment(ctx, slug, "production", json.RawMessage(`{"settings":{"step":"by hand"}}`), 0); err != nil {
		t.Fatal(err)
	}
	check("a linked promotion and a hand change", before, false, 1)
	if _, err := updateAt(before); !errors.Is(err, client.ErrPreconditionFailed) {
		t.Errorf("a write at the revision before a hand change: %v; want 412", err)
	}
}
