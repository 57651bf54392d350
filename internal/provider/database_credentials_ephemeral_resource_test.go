package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/provider"
)

// Ephemeral resources need Terraform 1.10 or newer.
var ephemeralVersions = []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_10_0)}

// credentialsType is tenancy_database_credentials' result, to decode it.
var credentialsType = tftypes.Object{AttributeTypes: map[string]tftypes.Type{
	"tenant_id": tftypes.String, "environment": tftypes.String, "ttl": tftypes.String,
	"username": tftypes.String, "password": tftypes.String, "dsn": tftypes.String, "expires_at": tftypes.String,
}}

// credentialsProbe is the provider with a probe on its ephemeral
// credentials: it remembers what each open gave, and around each close runs
// the test's checks, so that the test sees the credentials work right up
// to the close and stop working right after it.
type credentialsProbe struct {
	tfprotov6.ProviderServer
	mu     sync.Mutex
	open   map[string]map[string]string // the logins open now, by environment
	before func(creds map[string]string) error
	after  func(creds map[string]string) error
	// opened, connected and refused count the logins and the checks passed.
	opened, checkedBefore, checkedAfter int
	errs                                []error
	// secrets are every password and DSN the opens gave.
	secrets []string
}

func (p *credentialsProbe) OpenEphemeralResource(ctx context.Context, req *tfprotov6.OpenEphemeralResourceRequest) (*tfprotov6.OpenEphemeralResourceResponse, error) {
	resp, err := p.ProviderServer.OpenEphemeralResource(ctx, req)
	if err != nil || resp == nil || resp.Result == nil || req.TypeName != "tenancy_database_credentials" {
		return resp, err
	}
	v, err := resp.Result.Unmarshal(credentialsType)
	if err != nil {
		return resp, err
	}
	var attrs map[string]tftypes.Value
	if err := v.As(&attrs); err != nil {
		return resp, err
	}
	creds := map[string]string{}
	for k, a := range attrs {
		var s string
		if a.IsKnown() && !a.IsNull() {
			_ = a.As(&s)
		}
		creds[k] = s
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if creds["username"] != "" {
		if p.open == nil {
			p.open = map[string]map[string]string{}
		}
		p.open[creds["environment"]] = creds
		p.opened++
		p.secrets = append(p.secrets, creds["dsn"])
		if creds["password"] != "" {
			p.secrets = append(p.secrets, creds["password"])
		}
	}
	return resp, nil
}

func (p *credentialsProbe) CloseEphemeralResource(ctx context.Context, req *tfprotov6.CloseEphemeralResourceRequest) (*tfprotov6.CloseEphemeralResourceResponse, error) {
	// Close carries only the private data Open left, the login as JSON.
	var login struct {
		Environment string `json:"environment"`
	}
	var private map[string][]byte
	if json.Unmarshal(req.Private, &private) == nil {
		for _, v := range private {
			_ = json.Unmarshal(v, &login)
		}
	}
	p.mu.Lock()
	creds := p.open[login.Environment]
	delete(p.open, login.Environment)
	p.mu.Unlock()
	if creds != nil {
		p.record(p.before(creds), &p.checkedBefore)
	}
	resp, err := p.ProviderServer.CloseEphemeralResource(ctx, req)
	if creds != nil && err == nil {
		p.record(p.after(creds), &p.checkedAfter)
	}
	return resp, err
}

func (p *credentialsProbe) record(err error, passed *int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.errs = append(p.errs, err)
		return
	}
	*passed++
}

// TestAccDatabaseCredentials mints credentials for an environment with rows
// in it, during a plan and an apply, and for an environment the apply
// creates (empty in the plan, minted in the apply). Right before Terraform
// closes them, the DSN connects (and reads the rows); right after, on
// PostgreSQL, the login is refused (on SQLite, which has no logins, the
// platform's audit log records the revocation). Neither the password nor
// the DSN reaches the state.
func TestAccDatabaseCredentials(t *testing.T) {
	forEachEngine(t, func(t *testing.T, srv *acctest.Server) {
		tenant := dataTenant(t, srv, "creds", "staging")
		seedSchema(t, srv, tenant, "staging")
		start := time.Now()
		probe := &credentialsProbe{ProviderServer: provider.NewProtocol6("test")()}
		probe.before = func(c map[string]string) error {
			db := openDSN(t, c["dsn"])
			defer db.Close()
			if c["environment"] == "qa" {
				// Made in this apply: its store holds the bookkeeping table only.
				_, err := rowCount(db, api.SchemaTable)
				return err
			}
			n, err := rowCount(db, "items")
			if err != nil {
				return fmt.Errorf("before close, login %s cannot read items: %w", c["username"], err)
			}
			if n != 3 {
				return fmt.Errorf("before close, login %s: items holds %d rows; want 3", c["username"], n)
			}
			exp, err := time.Parse(time.RFC3339, c["expires_at"])
			if err != nil {
				return fmt.Errorf("expires_at: %w", err)
			}
			if exp.Before(start.Add(9*time.Minute)) || exp.After(time.Now().Add(10*time.Minute+time.Second)) {
				return fmt.Errorf("expires_at %q is not ten minutes from the mint", c["expires_at"])
			}
			return nil
		}
		probe.after = func(c map[string]string) error {
			if strings.HasPrefix(c["dsn"], "file:") {
				return revokedInAudit(srv, tenant, c["environment"], c["username"])
			}
			db := openDSN(t, c["dsn"])
			defer db.Close()
			n, err := rowCount(db, "items")
			if err == nil {
				return fmt.Errorf("after close, login %s still reads items (%d rows)", c["username"], n)
			}
			t.Logf("after close, login %s is refused: %v", c["username"], err)
			return nil
		}
		cfg := srv.Config(fmt.Sprintf(`
ephemeral "tenancy_database_credentials" "staging" {
  tenant_id   = %q
  environment = "staging"
  ttl         = "10m"
}

# Something to create, so that the apply opens the credentials too; its
# own credentials are empty in the plan (it does not exist yet) and minted
# in the apply, once it does.
resource "tenancy_environment" "qa" {
  tenant_id = %[1]q
  name      = "qa"
  type      = "development"
}

ephemeral "tenancy_database_credentials" "qa" {
  tenant_id   = %[1]q
  environment = tenancy_environment.qa.name
}
`, tenant))
		resource.Test(t, resource.TestCase{
			TerraformVersionChecks: ephemeralVersions,
			ProtoV6ProviderFactories: map[string]func() (tfprotov6.ProviderServer, error){
				"tenancy": func() (tfprotov6.ProviderServer, error) { return probe, nil },
			},
			Steps: []resource.TestStep{{
				Config:            cfg,
				ConfigStateChecks: []statecheck.StateCheck{noSecretsInState{probe}},
			}},
		})
		if len(probe.errs) > 0 {
			t.Fatal(probe.errs)
		}
		if probe.opened < 3 || probe.checkedBefore != probe.opened || probe.checkedAfter != probe.opened {
			t.Fatalf("logins opened %d, connected before close %d, refused after close %d; want every one both (at least 3: staging's in plan and apply, qa's in apply)",
				probe.opened, probe.checkedBefore, probe.checkedAfter)
		}
		t.Logf("%s: %d logins minted over the test's plans and apply (qa's only once it existed); each connected before close (staging's read its 3 rows), and was refused (or recorded revoked) after",
			srv.Data.Engine(), probe.opened)
	})
}

// revokedInAudit checks the tenant's audit log for the revocation of a login.
func revokedInAudit(srv *acctest.Server, tenant, env, username string) error {
	events, err := srv.Client.ObjectHistory(context.Background(), tenant, api.KindCredentials, env+"/"+username, 10)
	if err != nil {
		return err
	}
	for _, e := range events {
		if e.Action == "credentials.revoke" {
			return nil
		}
	}
	return fmt.Errorf("no credentials.revoke event for %s in %+v", username, events)
}

// noSecretsInState fails when a password or DSN that the credentials gave
// is anywhere in the state.
type noSecretsInState struct{ probe *credentialsProbe }

func (c noSecretsInState) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	b, err := json.Marshal(req.State)
	if err != nil {
		resp.Error = err
		return
	}
	c.probe.mu.Lock()
	defer c.probe.mu.Unlock()
	if len(c.probe.secrets) == 0 {
		resp.Error = fmt.Errorf("no credentials were opened")
	}
	for _, secret := range c.probe.secrets {
		if strings.Contains(string(b), secret) {
			resp.Error = fmt.Errorf("the state holds a password or DSN of the ephemeral credentials")
		}
	}
}

// TestAccDatabaseCredentials_needsTenantAdmin opens credentials with a
// tenant_user token: the plan fails, naming the role it needs, and with a
// ttl out of range it fails before any call.
func TestAccDatabaseCredentials_needsTenantAdmin(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := dataTenant(t, srv, "credrole", "staging")
	tok, err := srv.Client.CreateToken(t.Context(), api.TokenRequest{Name: "ci-user", Tenant: tenant, Role: api.RoleTenantUser, TTLSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	creds := func(token, ttl string) string {
		return fmt.Sprintf(`
provider "tenancy" {
  endpoint    = %q
  token       = %q
  max_retries = 0
}

ephemeral "tenancy_database_credentials" "staging" {
  tenant_id   = %q
  environment = "staging"
  ttl         = %q
}
`, srv.URL, token, tenant, ttl)
	}
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   ephemeralVersions,
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      creds(tok.Token, "10m"),
				ExpectError: wrapped(`has role tenant_user, and minting credentials for environment "staging"`, `needs role tenant_admin`),
			},
			{
				Config:      creds(srv.Token, "30s"),
				ExpectError: wrapped(`ttl is "30s"; it must be a duration in whole seconds from 1m to 24h`),
			},
		},
	})
}
