package provider_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	_ "github.com/jackc/pgx/v5/stdlib" // The "pgx" driver, to connect with minted credentials.
	_ "modernc.org/sqlite"             // The "sqlite" driver, to open a store's file as its credentials say.

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/provider"
)

const schemaAddr = "tenancy_schema.test"

// Migrations of the tests: a table and its rows, in steps.
const (
	createItems = "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"
	fillItems   = "INSERT INTO items (id, name) VALUES (1, 'anvil'), (2, 'rocket'), (3, 'magnet')"
	createTags  = "CREATE TABLE tags (item_id INTEGER NOT NULL, tag TEXT NOT NULL)"
	fillTags    = "INSERT INTO tags (item_id, tag) VALUES (1, 'heavy'), (2, 'fast')"
)

// schemaConfig is a tenancy_schema of environment env of tenant with the
// migrations given as version, SQL, version, SQL...; extra goes inside the
// resource block.
func schemaConfig(tenant, env, extra string, migrations ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(migrations); i += 2 {
		fmt.Fprintf(&b, "    %q = %q\n", migrations[i], migrations[i+1])
	}
	return fmt.Sprintf(`
resource "tenancy_schema" "test" {
  tenant_id   = %q
  environment = %q
  migrations = {
%s  }
%s}
`, tenant, env, b.String(), extra)
}

// dataTenant creates, through the API, an unprotected tenant with the
// given environments (each of the type of its name, or sandbox).
func dataTenant(t *testing.T, srv *acctest.Server, prefix string, envs ...string) string {
	t.Helper()
	tenant := platformTenant(t, srv, prefix)
	for _, env := range envs {
		typ := env
		if !slices.Contains(api.EnvironmentTypes, env) {
			typ = api.EnvSandbox
		}
		if _, err := srv.Client.CreateEnvironment(t.Context(), tenant, api.EnvironmentSpec{Name: env, Type: typ}); err != nil {
			t.Fatalf("create environment %s: %v", env, err)
		}
	}
	return tenant
}

// appliedVersions checks the versions the platform reports applied in an
// environment's store.
func appliedVersions(srv *acctest.Server, tenant, env string, want ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		sc, err := srv.Client.GetSchema(context.Background(), tenant, env)
		if err != nil {
			return err
		}
		var got []string
		for _, a := range sc.Applied {
			got = append(got, a.Version)
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("%s/%s has applied %v; want %v", tenant, env, got, want)
		}
		return nil
	}
}

// appliedExact checks applied in state or plan: the versions, in order,
// with the checksums of their SQL (migrations is version, SQL, ...). Those
// listed in pending have no applied_at yet (see expectPending); the
// others' is known.
func appliedExact(pending []string, migrations ...string) knownvalue.Check {
	var checks []knownvalue.Check
	for i := 0; i+1 < len(migrations); i += 2 {
		want := map[string]knownvalue.Check{
			"version":  knownvalue.StringExact(migrations[i]),
			"checksum": knownvalue.StringExact(api.MigrationChecksum(migrations[i+1])),
		}
		if slices.Contains(pending, migrations[i]) {
			checks = append(checks, knownvalue.ObjectPartial(want))
			continue
		}
		want["applied_at"] = knownvalue.NotNull()
		checks = append(checks, knownvalue.ObjectExact(want))
	}
	return knownvalue.ListExact(checks)
}

// expectPending checks that a plan runs the pending migrations, in this
// order after the applied ones (migrations is version, SQL, ...): applied
// lists them all, the pending ones with an applied_at known only after
// apply.
func expectPending(addr string, pending []string, migrations ...string) []plancheck.PlanCheck {
	checks := []plancheck.PlanCheck{plancheck.ExpectKnownValue(addr, tfjsonpath.New("applied"), appliedExact(pending, migrations...))}
	for i := 0; i+1 < len(migrations); i += 2 {
		if slices.Contains(pending, migrations[i]) {
			checks = append(checks, plancheck.ExpectUnknownValue(addr, tfjsonpath.New("applied").AtSliceIndex(i/2).AtMapKey("applied_at")))
		}
	}
	return checks
}

// storeDB opens an environment's data store with freshly minted
// credentials, as a user of tenancy_database_credentials would; the login
// is revoked when the test ends.
func storeDB(t *testing.T, srv *acctest.Server, tenant, env string) *sql.DB {
	t.Helper()
	c, err := srv.Client.CreateCredentials(context.Background(), tenant, env, 10*time.Minute)
	if err != nil {
		t.Fatalf("mint credentials for %s/%s: %v", tenant, env, err)
	}
	db := openDSN(t, c.DSN)
	t.Cleanup(func() {
		_ = db.Close()
		if err := srv.Client.RevokeCredentials(context.Background(), tenant, env, c.Username); err != nil && !errors.Is(err, client.ErrNotFound) {
			t.Errorf("revoke %s: %v", c.Username, err)
		}
	})
	return db
}

// openDSN opens a store's DSN, as credentials give it: a PostgreSQL URL, or
// a SQLite file.
func openDSN(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	driver := "sqlite"
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		driver = "pgx"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("open %s store: %v", driver, err)
	}
	db.SetMaxOpenConns(1)
	return db
}

// rowCount counts a table's rows over db.
func rowCount(db *sql.DB, table string) (int64, error) {
	var n int64
	err := db.QueryRowContext(context.Background(), "SELECT count(*) FROM "+table).Scan(&n)
	return n, err
}

// expectRows checks, over credentials, how many rows tables hold (by name).
func expectRows(t *testing.T, srv *acctest.Server, tenant, env string, want map[string]int64) resource.TestCheckFunc {
	return func(*terraform.State) error {
		db := storeDB(t, srv, tenant, env)
		for table, n := range want {
			got, err := rowCount(db, table)
			if err != nil {
				return fmt.Errorf("%s/%s: counting %s: %w", tenant, env, table, err)
			}
			if got != n {
				return fmt.Errorf("%s/%s: table %s holds %d rows; want %d", tenant, env, table, got, n)
			}
		}
		return nil
	}
}

// TestAccSchema_lifecycle applies two migrations, then plans a third (the
// plan lists it with its checksum, to run after the two applied ones),
// applies it, imports the schema and plans clean; a timeouts change alone
// applies nothing. On SQLite and on PostgreSQL.
func TestAccSchema_lifecycle(t *testing.T) {
	forEachEngine(t, func(t *testing.T, srv *acctest.Server) { testSchemaLifecycle(t, srv) })
}

func testSchemaLifecycle(t *testing.T, srv *acctest.Server) {
	tenant := dataTenant(t, srv, "schema", "staging")
	two := []string{"1", createItems, "2", fillItems}
	three := append(slices.Clone(two), "10", createTags)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: srv.Config(schemaConfig(tenant, "staging", "", two...)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: append([]plancheck.PlanCheck{
					plancheck.ExpectResourceAction(schemaAddr, plancheck.ResourceActionCreate),
					plancheck.ExpectKnownValue(schemaAddr, tfjsonpath.New("id"), knownvalue.StringExact(tenant+"/staging")),
				}, expectPending(schemaAddr, []string{"1", "2"}, two...)...)},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(schemaAddr, tfjsonpath.New("applied"), appliedExact(nil, two...)),
				},
				Check: resource.ComposeTestCheckFunc(appliedVersions(srv, tenant, "staging", "1", "2"),
					expectRows(t, srv, tenant, "staging", map[string]int64{"items": 3})),
			},
			{
				Config: srv.Config(schemaConfig(tenant, "staging", "", three...)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: append([]plancheck.PlanCheck{
					plancheck.ExpectResourceAction(schemaAddr, plancheck.ResourceActionUpdate),
					// The plan says what runs: version 10, after the applied 1 and 2.
				}, expectPending(schemaAddr, []string{"10"}, three...)...)},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(schemaAddr, tfjsonpath.New("applied"), appliedExact(nil, three...)),
				},
				Check: appliedVersions(srv, tenant, "staging", "1", "2", "10"),
			},
			{
				ResourceName:            schemaAddr,
				ImportState:             true,
				ImportStateId:           tenant + "/staging",
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"timeouts"},
			},
			{
				Config: srv.Config(schemaConfig(tenant, "staging", `  timeouts = { update = "90s" }`+"\n", three...)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(schemaAddr, tfjsonpath.New("applied"), appliedExact(nil, three...)),
				}},
				Check: appliedVersions(srv, tenant, "staging", "1", "2", "10"),
			},
			{
				Config:           srv.Config(schemaConfig(tenant, "staging", `  timeouts = { update = "90s" }`+"\n", three...)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// TestAccSchema_immutableFailsAtPlan changes an applied migration, removes
// one and adds one below an applied one: each plan fails, naming the
// version and what to do, and the store keeps what it had.
func TestAccSchema_immutableFailsAtPlan(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := dataTenant(t, srv, "immut", "staging")
	cfg := func(m ...string) string { return srv.Config(schemaConfig(tenant, "staging", "", m...)) }
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: cfg("1", createItems, "3", fillItems)},
			{
				Config:   cfg("1", createItems+" -- renamed", "3", fillItems),
				PlanOnly: true,
				ExpectError: wrapped(`Migration 1 is applied and cannot be changed`,
					`Applied migrations are immutable: put migrations["1"] back as it was, and add a new version (above 3) with the change`),
			},
			{
				Config:      cfg("1", createItems),
				PlanOnly:    true,
				ExpectError: wrapped(`Migration 3 is applied and cannot be removed`, `removing it from migrations does not un-apply it`, `add a new version`),
			},
			{
				Config:      cfg("1", createItems, "2", createTags, "3", fillItems),
				PlanOnly:    true,
				ExpectError: wrapped(`Migration 2 comes before an applied one`, `Give it a version above 3`),
			},
			{
				Config:      cfg("1", createItems, "03", createTags, "3", fillItems),
				PlanOnly:    true,
				ExpectError: wrapped(`must be a migration version: a positive whole number without leading zeros`),
			},
			{
				Config:      cfg("1", createItems, "3", fillItems, "4", "   "),
				PlanOnly:    true,
				ExpectError: wrapped(`must hold SQL`),
			},
			{
				Config: cfg("1", createItems, "3", fillItems),
				Check: resource.ComposeTestCheckFunc(appliedVersions(srv, tenant, "staging", "1", "3"),
					expectRows(t, srv, tenant, "staging", map[string]int64{"items": 3})),
			},
		},
	})
}

// TestAccSchema_badSQLAppliesNothingOfIt adds a migration whose SQL fails
// and one after it: the apply fails naming the version and the database's
// error, the store keeps the versions before it and nothing of it or
// after, the state keeps those versions (the next plan is an update that
// runs the rest), and the fixed SQL then applies. A new schema whose second
// migration fails goes into no state at all, and its next plan shows the
// first as applied.
func TestAccSchema_badSQLAppliesNothingOfIt(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := dataTenant(t, srv, "badsql", "staging", "qa")
	const badFill = "INSERT INTO missing_table (id) VALUES (1)"
	good := []string{"1", createItems, "2", fillItems}
	bad := append(slices.Clone(good), "3", badFill, "4", createTags)
	fixed := append(slices.Clone(good), "3", createTags, "4", fillTags)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: srv.Config(schemaConfig(tenant, "staging", "", good...))},
			{
				Config:      srv.Config(schemaConfig(tenant, "staging", "", bad...)),
				ExpectError: wrapped(`Cannot apply the migrations of environment "staging"`, `migration 3`, `migration 3 failed and was rolled back`, `no such table: missing_table`),
			},
			{
				PreConfig: func() {
					if err := appliedVersions(srv, tenant, "staging", "1", "2")(nil); err != nil {
						t.Fatalf("after the failed apply: %v", err)
					}
				},
				// The state holds 1 and 2: the plan is an update that runs 3 and 4.
				Config: srv.Config(schemaConfig(tenant, "staging", "", bad...)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: append([]plancheck.PlanCheck{
					plancheck.ExpectResourceAction(schemaAddr, plancheck.ResourceActionUpdate),
				}, expectPending(schemaAddr, []string{"3", "4"}, bad...)...)},
				// Applied again, it fails again the same way.
				ExpectError: wrapped(`migration 3 failed and was rolled back`, `no such table: missing_table`),
			},
			{
				Config: srv.Config(schemaConfig(tenant, "staging", "", fixed...)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(schemaAddr, tfjsonpath.New("applied"), appliedExact(nil, fixed...)),
				},
				Check: resource.ComposeTestCheckFunc(appliedVersions(srv, tenant, "staging", "1", "2", "3", "4"),
					expectRows(t, srv, tenant, "staging", map[string]int64{"items": 3, "tags": 2})),
			},
			{
				Config:      srv.Config(schemaConfig(tenant, "qa", "", "1", createItems, "2", badFill)),
				ExpectError: wrapped(`migration 2 failed and was rolled back`, `no such table: missing_table`),
			},
			{
				PreConfig: func() {
					if err := appliedVersions(srv, tenant, "qa", "1")(nil); err != nil {
						t.Fatalf("after the failed create: %v", err)
					}
				},
				Config: srv.Config(schemaConfig(tenant, "qa", "", "1", createItems, "2", fillItems)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: append([]plancheck.PlanCheck{
					plancheck.ExpectResourceAction(schemaAddr, plancheck.ResourceActionCreate),
				}, expectPending(schemaAddr, []string{"2"}, "1", createItems, "2", fillItems)...)},
				Check: expectRows(t, srv, tenant, "qa", map[string]int64{"items": 3}),
			},
		},
	})
}

// TestAccSchema_timeoutCancels runs a migration that never ends under
// timeouts.create = "2s": the platform cancels it, the apply fails naming
// the version and the timeout, and nothing of it is applied.
func TestAccSchema_timeoutCancels(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := dataTenant(t, srv, "slow", "staging")
	const forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
	start := time.Now()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      srv.Config(schemaConfig(tenant, "staging", `  timeouts = { create = "0.5s" }`+"\n", "1", createItems)),
				PlanOnly:    true,
				ExpectError: wrapped(`timeouts.create is "0.5s"; it must be a duration from 1s to 1h`),
			},
			{
				Config:      srv.Config(schemaConfig(tenant, "staging", `  timeouts = { create = "2s" }`+"\n", "1", createItems, "2", forever)),
				ExpectError: wrapped(`migration 2`, `migration 2 did not finish within 2s and was cancelled; nothing of it was applied`),
			},
			{
				PreConfig: func() {
					if took := time.Since(start); took > 2*time.Minute {
						t.Errorf("the cancelled migration held the apply for %s", took)
					}
				},
				Config: srv.Config(schemaConfig(tenant, "staging", "", "1", createItems)),
				Check:  appliedVersions(srv, tenant, "staging", "1"),
			},
		},
	})
}

// TestAccSchema_driftInTheStore changes the store's record of migrations
// behind Terraform's back, through credentials: a migration run by hand,
// then a checksum rewritten. Each shows in a refresh-only plan as a change
// of applied; an unchanged configuration still plans empty; a plan that
// adds a migration fails, saying what differs and how to resolve it; and
// adopting the hand-run migration in the configuration applies.
func TestAccSchema_driftInTheStore(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := dataTenant(t, srv, "sdrift", "staging")
	const byHand = "CREATE TABLE audit_log (id INTEGER)"
	two := []string{"1", createItems, "2", fillItems}
	exec := func(stmts ...string) {
		t.Helper()
		db := storeDB(t, srv, tenant, "staging")
		for _, s := range stmts {
			if _, err := db.ExecContext(context.Background(), s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	}
	at := time.Now().UTC().Format(time.RFC3339Nano)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: srv.Config(schemaConfig(tenant, "staging", "", two...))},
			{
				PreConfig: func() {
					exec(byHand, fmt.Sprintf("INSERT INTO %s (version, checksum, applied_at) VALUES (3, '%s', '%s')",
						api.SchemaTable, api.MigrationChecksum(byHand), at))
				},
				RefreshState: true,
				RefreshPlanChecks: resource.RefreshPlanChecks{PostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(schemaAddr, tfjsonpath.New("applied"), appliedExact(nil, append(slices.Clone(two), "3", byHand)...)),
				}},
			},
			{
				Config:           srv.Config(schemaConfig(tenant, "staging", "", two...)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				Config:   srv.Config(schemaConfig(tenant, "staging", "", append(slices.Clone(two), "4", createTags)...)),
				PlanOnly: true,
				ExpectError: wrapped(`Migration 3 was applied outside Terraform`, `checksum `+api.MigrationChecksum(byHand),
					`add migrations["3"] with the SQL that was run`),
			},
			{
				// Adopted: the same SQL under the same version.
				Config:           srv.Config(schemaConfig(tenant, "staging", "", append(slices.Clone(two), "3", byHand, "4", createTags)...)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: expectPending(schemaAddr, []string{"4"}, append(slices.Clone(two), "3", byHand, "4", createTags)...)},
				Check:            appliedVersions(srv, tenant, "staging", "1", "2", "3", "4"),
			},
			{
				PreConfig: func() {
					exec(fmt.Sprintf("UPDATE %s SET checksum = '%s' WHERE version = 1", api.SchemaTable, api.MigrationChecksum("something else")))
				},
				RefreshState: true,
				RefreshPlanChecks: resource.RefreshPlanChecks{PostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(schemaAddr, tfjsonpath.New("applied").AtSliceIndex(0).AtMapKey("checksum"),
						knownvalue.StringExact(api.MigrationChecksum("something else"))),
				}},
			},
			{
				Config:   srv.Config(schemaConfig(tenant, "staging", "", append(slices.Clone(two), "3", byHand, "4", createTags, "5", fillTags)...)),
				PlanOnly: true,
				ExpectError: wrapped(`Migration 1 differs in the data store`, `checksum `+api.MigrationChecksum("something else"),
					`changed, or the migration was run with other SQL, outside Terraform`),
			},
			{
				PreConfig: func() {
					exec(fmt.Sprintf("UPDATE %s SET checksum = '%s' WHERE version = 1", api.SchemaTable, api.MigrationChecksum(createItems)))
				},
				Config: srv.Config(schemaConfig(tenant, "staging", "", append(slices.Clone(two), "3", byHand, "4", createTags, "5", fillTags)...)),
				Check: resource.ComposeTestCheckFunc(appliedVersions(srv, tenant, "staging", "1", "2", "3", "4", "5"),
					expectRows(t, srv, tenant, "staging", map[string]int64{"items": 3, "tags": 2, "audit_log": 0})),
			},
		},
	})
}

// TestAccSchema_destroyKeepsData removes the schema from the configuration:
// the apply forgets it, the tables and rows stay, and an import block
// adopts it back with a plan that changes nothing.
func TestAccSchema_destroyKeepsData(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := dataTenant(t, srv, "sgone", "staging")
	two := []string{"1", createItems, "2", fillItems}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: srv.Config(schemaConfig(tenant, "staging", "", two...))},
			{
				Config: srv.Config(`# nothing`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(schemaAddr, plancheck.ResourceActionDestroy),
				}},
				Check: resource.ComposeTestCheckFunc(appliedVersions(srv, tenant, "staging", "1", "2"),
					expectRows(t, srv, tenant, "staging", map[string]int64{"items": 3})),
			},
			{
				Config: srv.Config(fmt.Sprintf(`
import {
  to = tenancy_schema.test
  id = "%s/staging"
}
`, tenant) + schemaConfig(tenant, "staging", "", two...)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(schemaAddr, plancheck.ResourceActionNoop),
					plancheck.ExpectKnownValue(schemaAddr, tfjsonpath.New("applied"), appliedExact(nil, two...)),
				}},
			},
			{
				Config:        srv.Config(schemaConfig(tenant, "staging", "", two...)),
				ResourceName:  schemaAddr,
				ImportState:   true,
				ImportStateId: tenant,
				ExpectError:   regexp.MustCompile(`(?s)A schema is imported by its tenant and environment:.*"<tenant>/<environment>"`),
			},
		},
	})
}

// TestAccSchema_tokenThatSeesLess plans schema changes with narrower
// tokens: a tenant_viewer of the tenant reads the schema (an unchanged
// configuration plans empty) but a new migration fails at plan, naming the
// role it needs; a token of another tenant fails the plan and the state
// keeps the schema; the store is unchanged throughout.
func TestAccSchema_tokenThatSeesLess(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := dataTenant(t, srv, "snarrow", "staging")
	other := platformTenant(t, srv, "other")
	mint := func(tenant, role string) string {
		tok, err := srv.Client.CreateToken(t.Context(), api.TokenRequest{Name: "ci-" + role, Tenant: tenant, Role: role, TTLSeconds: 3600})
		if err != nil {
			t.Fatal(err)
		}
		return tok.Token
	}
	with := func(token string, m ...string) string {
		return fmt.Sprintf(`
provider "tenancy" {
  endpoint    = %q
  token       = %q
  max_retries = 0
}
`, srv.URL, token) + schemaConfig(tenant, "staging", "", m...)
	}
	viewer, stranger := mint(tenant, api.RoleTenantViewer), mint(other, api.RoleTenantAdmin)
	two := []string{"1", createItems, "2", fillItems}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: srv.Config(schemaConfig(tenant, "staging", "", two...))},
			{
				Config:           with(viewer, two...),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				Config:      with(viewer, append(slices.Clone(two), "3", createTags)...),
				PlanOnly:    true,
				ExpectError: wrapped(`has role tenant_viewer, and applying migrations to environment "staging"`, `needs role tenant_admin`),
			},
			{
				Config:      with(stranger, two...),
				PlanOnly:    true,
				ExpectError: wrapped(`Cannot read the schema of environment "staging" of tenant "`+tenant+`" with this token`, `It stays in the state, unchanged`),
			},
			{
				Config:           srv.Config(schemaConfig(tenant, "staging", "", two...)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            appliedVersions(srv, tenant, "staging", "1", "2"),
			},
		},
	})
}

// TestAccSchema_storeDriftWarning runs a migration in the data store by
// hand, through credentials, and expects the next plan to warn, saying which
// version was applied outside Terraform and with what checksum, to change
// nothing, and to fail nothing; once the configuration adopts the
// migration, the apply records it and the warning is gone.
func TestAccSchema_storeDriftWarning(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test; set TF_ACC=1 (make test does)")
	}
	srv := acctest.Start(t, acctest.WithProvisioningDelay(0))
	t.Setenv("TENANCY_ENDPOINT", srv.URL)
	t.Setenv("TENANCY_TOKEN", srv.Token)
	dir := t.TempDir()
	const byHand = "CREATE TABLE audit_log (id INTEGER)"
	write := func(extra string) {
		t.Helper()
		cfg := `
terraform {
  required_providers {
    tenancy = { source = "tenancyhq/tenancy" }
  }
}

provider "tenancy" {}

resource "tenancy_tenant" "acme" {
  slug                = "acme"
  display_name        = "Acme"
  region              = "eu-west"
  deletion_protection = false
}

resource "tenancy_environment" "staging" {
  tenant_id = tenancy_tenant.acme.id
  name      = "staging"
  type      = "staging"
}
` + fmt.Sprintf(schemaDriftConfig, extra)
		if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("")
	tf := srv.Terraform(t, dir, provider.NewProtocol6("test"))
	ctx := t.Context()
	if err := tf.Init(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tf.Destroy(context.Background()); err != nil {
			t.Errorf("destroy: %v", err)
		}
	})
	if err := tf.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	db := storeDB(t, srv, "acme", "staging")
	for _, stmt := range []string{byHand, fmt.Sprintf("INSERT INTO %s (version, checksum, applied_at) VALUES (7, '%s', '%s')",
		api.SchemaTable, api.MigrationChecksum(byHand), time.Now().UTC().Format(time.RFC3339Nano))} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	diags, err := tf.PlanDiagnostics(ctx)
	if err != nil {
		t.Fatalf("the plan failed: %v", err)
	}
	var found bool
	for _, d := range diags {
		if d.Severity == "error" {
			t.Errorf("the plan says error %q: %s", d.Summary, d.Detail)
		}
		if d.Severity == "warning" && d.Summary == "The data store of schema acme/staging was changed outside Terraform" {
			found = true
			for _, want := range []string{"migration 7 was applied at", "outside the API (checksum " + api.MigrationChecksum(byHand) + ")", "a plan that changes nothing else stays empty"} {
				if !strings.Contains(d.Detail, want) {
					t.Errorf("the warning lacks %q:\n%s", want, d.Detail)
				}
			}
		}
	}
	if !found {
		t.Fatalf("no warning about the store in %+v", diags)
	}
	if changes, err := tf.Plan(ctx); err != nil || changes {
		t.Fatalf("plan with the hand-run migration: changes %v, error %v; want none", changes, err)
	}
	write(fmt.Sprintf("    \"7\" = %q\n", byHand))
	if err := tf.Apply(ctx); err != nil {
		t.Fatalf("apply adopting migration 7: %v", err)
	}
	if diags, err := tf.PlanDiagnostics(ctx); err != nil || len(diags) != 0 {
		t.Fatalf("after adopting it: diagnostics %+v, error %v", diags, err)
	}
}

// TestAccSchema_dropFromForEach manages the schema and a backup of each
// environment with for_each and drops one environment from the map: its
// schema leaves the state while its tables and rows stay, its backup is
// deleted, and the other environment's schema and backup are untouched. The
// testing framework cannot address for_each instances, so this drives the
// CLI.
func TestAccSchema_dropFromForEach(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test; set TF_ACC=1 (make test does)")
	}
	t.Parallel()
	srv := acctest.Start(t)
	tenant := dataTenant(t, srv, "foreach", "staging", "qa")
	dir := t.TempDir()
	write := func(envs ...string) {
		t.Helper()
		cfg := srv.Config(fmt.Sprintf(`
terraform {
  required_providers {
    tenancy = { source = "tenancyhq/tenancy" }
  }
}

resource "tenancy_schema" "env" {
  for_each    = toset(["%s"])
  tenant_id   = %q
  environment = each.key
  migrations = {
    "1" = %q
    "2" = %q
  }
}

resource "tenancy_backup" "env" {
  for_each    = tenancy_schema.env
  tenant_id   = each.value.tenant_id
  environment = each.key
}
`, strings.Join(envs, `", "`), tenant, createItems, fillItems))
		if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("staging", "qa")
	tf := srv.Terraform(t, dir, provider.NewProtocol6("test"))
	ctx := t.Context()
	if err := tf.Init(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tf.Destroy(context.Background()); err != nil {
			t.Errorf("destroy: %v", err)
		}
	})
	if err := tf.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	backups, err := listBackups(ctx, srv.Client, tenant)
	if err != nil || len(backups) != 2 {
		t.Fatalf("backups after the apply: %+v (%v); want 2", backups, err)
	}
	write("staging")
	if err := tf.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	addrs, err := tf.StateAddresses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(addrs)
	if want := []string{`tenancy_backup.env["staging"]`, `tenancy_schema.env["staging"]`}; !slices.Equal(addrs, want) {
		t.Fatalf("the state holds %v; want %v", addrs, want)
	}
	if err := appliedVersions(srv, tenant, "qa", "1", "2")(nil); err != nil {
		t.Fatal(err)
	}
	if err := expectRows(t, srv, tenant, "qa", map[string]int64{"items": 3})(nil); err != nil {
		t.Fatal(err)
	}
	left, err := listBackups(ctx, srv.Client, tenant)
	if err != nil || len(left) != 1 || left[0].Environment == nil || *left[0].Environment != "staging" {
		t.Fatalf("backups after dropping qa: %+v (%v); want staging's only", left, err)
	}
	if changes, err := tf.Plan(ctx); err != nil || changes {
		t.Fatalf("plan after dropping qa: changes %v, error %v; want none", changes, err)
	}
}
