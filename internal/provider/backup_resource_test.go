package provider_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store/pgtest"
)

const backupAddr = "tenancy_backup.test"

// forEachEngine runs a data test on tenancyd over SQLite, and over
// PostgreSQL where TENANCY_TEST_POSTGRES_URL names a server (skipped
// otherwise, failing when TENANCY_TEST_POSTGRES=require).
func forEachEngine(t *testing.T, test func(t *testing.T, srv *acctest.Server)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		test(t, acctest.Start(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		test(t, acctest.Start(t, acctest.WithDatabase(pgtest.URL(t))))
	})
}

// seedSchema applies, through the API, the test's two tables with their
// rows (items 3, tags 2) to an environment.
func seedSchema(t *testing.T, srv *acctest.Server, tenant, env string) {
	t.Helper()
	spec := api.SchemaSpec{Migrations: map[string]string{"1": createItems, "2": fillItems, "3": createTags, "4": fillTags}}
	if _, err := srv.Client.SetSchema(t.Context(), tenant, env, spec, 0, 0); err != nil {
		t.Fatalf("seed %s/%s: %v", tenant, env, err)
	}
}

// tableFigures are a backup's tables by environment and name, with their
// row counts and checksums, the figures a restore is checked by.
type tableFigures map[string]api.TableSummary

func figuresOf(b *api.Backup) tableFigures {
	out := tableFigures{}
	for _, st := range b.Stores {
		for _, tb := range st.Tables {
			out[st.Environment+"/"+tb.Name] = tb
		}
	}
	return out
}

func (f tableFigures) String() string {
	var parts []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range f {
			if !yield(k) {
				return
			}
		}
	}) {
		parts = append(parts, fmt.Sprintf("%s %d rows", k, f[k].Rows))
	}
	return strings.Join(parts, ", ")
}

// backupFigures takes a backup of an environment (or of the whole tenant,
// env "") through the API, deletes it again, and returns its figures.
func backupFigures(t *testing.T, srv *acctest.Server, tenant, env string) tableFigures {
	t.Helper()
	req := api.BackupRequest{}
	if env != "" {
		req.Environment = &env
	}
	b, err := srv.Client.CreateBackup(context.Background(), tenant, req)
	if err != nil {
		t.Fatalf("backup of %s: %v", tenant, err)
	}
	if err := srv.Client.DeleteBackup(context.Background(), tenant, b.ID); err != nil {
		t.Fatalf("delete backup %s: %v", b.ID, err)
	}
	return figuresOf(b)
}

// sameFigures reports how two sets of figures differ, ignoring the
// bookkeeping table; nil when every table has the same rows and checksum.
func sameFigures(want, got tableFigures) error {
	for k, w := range want {
		if strings.HasSuffix(k, "/"+api.SchemaTable) {
			continue
		}
		g, ok := got[k]
		if !ok || g.Rows != w.Rows || g.Checksum != w.Checksum {
			return fmt.Errorf("table %s: %d rows (checksum %s) before, %d rows (checksum %s, present %v) after", k, w.Rows, w.Checksum, g.Rows, g.Checksum, ok)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok && !strings.HasSuffix(k, "/"+api.SchemaTable) {
			return fmt.Errorf("table %s is new", k)
		}
	}
	return nil
}

func backupConfig(tenant, body string) string {
	return fmt.Sprintf(`
resource "tenancy_backup" "test" {
  tenant_id = %q
%s}
`, tenant, body)
}

// backupExists checks through the API whether a backup is (still) there.
func backupExists(srv *acctest.Server, tenant, id string) (bool, error) {
	_, err := srv.Client.GetBackup(context.Background(), tenant, id)
	if errors.Is(err, client.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// TestAccBackup_lifecycle takes a backup of one environment with the
// tenant's retention, imports it, replaces it with one kept 7 days (the
// old one is deleted), keeps it on destroy, takes the whole tenant with a
// trigger change (the kept one stays), takes one again after it was deleted
// behind Terraform's back, and finally deletes it on destroy.
func TestAccBackup_lifecycle(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := dataTenant(t, srv, "bkp", "production", "staging")
	seedSchema(t, srv, tenant, "production")
	var ids []string
	recordID := func(s *terraform.State) error {
		id, err := stateAttr(s, backupAddr, "backup_id")
		ids = append(ids, id)
		return err
	}
	exists := func(i int, want bool) resource.TestCheckFunc {
		return func(*terraform.State) error {
			ok, err := backupExists(srv, tenant, ids[i])
			if err == nil && ok != want {
				err = fmt.Errorf("backup %s exists: %v; want %v", ids[i], ok, want)
			}
			return err
		}
	}
	items := knownvalue.ObjectExact(map[string]knownvalue.Check{
		"environment": knownvalue.StringExact("production"), "name": knownvalue.StringExact("items"),
		"rows": knownvalue.Int64Exact(3), "checksum": knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f]{64}$`)),
	})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy: func(*terraform.State) error {
			if ok, err := backupExists(srv, tenant, ids[len(ids)-1]); err != nil {
				return err
			} else if ok {
				return fmt.Errorf("the last backup %s still exists after destroy", ids[len(ids)-1])
			}
			return exists(1, true)(nil) // Kept on destroy, until its retain_until.
		},
		Steps: []resource.TestStep{
			{
				Config: srv.Config(backupConfig(tenant, `  environment = "production"`+"\n")),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(backupAddr, tfjsonpath.New("backup_id"), knownvalue.StringRegexp(regexp.MustCompile(`^bkp_[0-9a-f]+$`))),
					statecheck.ExpectKnownValue(backupAddr, tfjsonpath.New("retain_days"), knownvalue.Int64Exact(api.DefaultDataRetentionDays)),
					statecheck.ExpectKnownValue(backupAddr, tfjsonpath.New("kind"), knownvalue.StringExact(api.BackupOnDemand)),
					statecheck.ExpectKnownValue(backupAddr, tfjsonpath.New("encrypted"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(backupAddr, tfjsonpath.New("keep_on_destroy"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(backupAddr, tfjsonpath.New("tables"), knownvalue.ListPartial(map[int]knownvalue.Check{0: items})),
					statecheck.ExpectKnownValue(backupAddr, tfjsonpath.New("checksum"), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f]{64}$`))),
				},
				Check: resource.ComposeTestCheckFunc(recordID, func(s *terraform.State) error {
					b, err := srv.Client.GetBackup(context.Background(), tenant, ids[0])
					if err != nil {
						return err
					}
					size, _ := stateAttr(s, backupAddr, "size_bytes")
					if fmt.Sprint(b.SizeBytes) != size || b.Environment == nil || *b.Environment != "production" {
						return fmt.Errorf("the platform holds %+v; the state says size %s", b, size)
					}
					if days := b.RetainUntil.Sub(b.TakenAt).Hours() / 24; days != api.DefaultDataRetentionDays {
						return fmt.Errorf("kept %v days, want the tenant's %d", days, api.DefaultDataRetentionDays)
					}
					return nil
				}),
			},
			{
				ResourceName:            backupAddr,
				ImportState:             true,
				ImportStateIdFunc:       stateID(backupAddr),
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"triggers"},
			},
			{
				Config: srv.Config(backupConfig(tenant, `  environment = "production"
  retain_days = 7
`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(backupAddr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(backupAddr, tfjsonpath.New("retain_days"), knownvalue.Int64Exact(7)),
				},
				Check: resource.ComposeTestCheckFunc(recordID, exists(0, false)),
			},
			{
				// retain_days out of the configuration: the backup stays as it is.
				Config: srv.Config(backupConfig(tenant, `  environment = "production"
  keep_on_destroy = true
`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(backupAddr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(backupAddr, tfjsonpath.New("retain_days"), knownvalue.Int64Exact(7)),
				},
				Check: exists(1, true),
			},
			{
				// The whole tenant, taken on a new day: the kept one stays.
				Config: srv.Config(backupConfig(tenant, `  triggers        = { day = "2025-01-02" }
  keep_on_destroy = true
`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(backupAddr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(backupAddr, tfjsonpath.New("environment"), knownvalue.Null()),
					statecheck.ExpectKnownValue(backupAddr, tfjsonpath.New("tables"), knownvalue.ListSizeExact(4)),
				},
				Check: resource.ComposeTestCheckFunc(recordID, exists(1, true)),
			},
			{
				// Deleted behind Terraform's back: gone, so the plan takes a new one.
				PreConfig: func() {
					if err := srv.Client.DeleteBackup(context.Background(), tenant, ids[2]); err != nil {
						t.Fatal(err)
					}
				},
				Config: srv.Config(backupConfig(tenant, `  triggers        = { day = "2025-01-02" }
  keep_on_destroy = true
`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(backupAddr, plancheck.ResourceActionCreate),
				}},
				Check: recordID,
			},
			{
				Config: srv.Config(backupConfig(tenant, `  triggers        = { day = "2025-01-02" }
  keep_on_destroy = false
`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(backupAddr, plancheck.ResourceActionUpdate),
				}},
			},
		},
	})
}

// TestAccBackup_invalidFailsAtPlan checks what the plan refuses before
// anything is taken: retain_days out of range, an environment the tenant
// does not have, and a token that may not take backups.
func TestAccBackup_invalidFailsAtPlan(t *testing.T) {
	t.Parallel()
	srv := acctest.Start(t)
	tenant := dataTenant(t, srv, "bkpbad", "production")
	tok, err := srv.Client.CreateToken(t.Context(), api.TokenRequest{Name: "viewer", Tenant: tenant, Role: api.RoleTenantViewer, TTLSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      srv.Config(backupConfig(tenant, "  retain_days = 0\n")),
				PlanOnly:    true,
				ExpectError: wrapped(`retain_days value must be between 1 and 3650, got: 0`),
			},
			{
				Config:      srv.Config(backupConfig(tenant, `  environment = "nowhere"`+"\n")),
				PlanOnly:    true,
				ExpectError: wrapped(`The platform would not take a backup of environment "nowhere"`, `environment "nowhere"`),
			},
			{
				Config: fmt.Sprintf(`
provider "tenancy" {
  endpoint    = %q
  token       = %q
  max_retries = 0
}
`, srv.URL, tok.Token) + backupConfig(tenant, ""),
				PlanOnly:    true,
				ExpectError: wrapped(`has role tenant_viewer, and taking a backup of tenant "` + tenant + `" needs role tenant_admin`),
			},
		},
	})
}

// TestAccBackup_restoreAfterTheTenantIsDestroyed takes a backup of a whole
// tenant with Terraform, keeping it on destroy, destroys the tenant with
// its data, and restores the backup as a platform admin would, through the
// API: the tenant comes back with the same tables, row counts and
// checksums, and an import block adopts its schema with a plan that changes
// nothing.
func TestAccBackup_restoreAfterTheTenantIsDestroyed(t *testing.T) {
	forEachEngine(t, func(t *testing.T, srv *acctest.Server) {
		slug := acctest.RandomSlug("gone")
		migrations := []string{"1", createItems, "2", fillItems, "3", createTags, "4", fillTags}
		cfg := srv.Config(tenantConfig(slug, "Gone", "") + `
resource "tenancy_environment" "production" {
  tenant_id = tenancy_tenant.test.id
  name      = "production"
  type      = "production"
}
` + strings.Replace(schemaConfig("X", "production", "", migrations...), `"X"`, "tenancy_tenant.test.id", 1) + `
resource "tenancy_backup" "test" {
  tenant_id       = tenancy_tenant.test.id
  keep_on_destroy = true
  triggers        = { schema = jsonencode(tenancy_schema.test.applied) }
}
`)
		cfg = strings.Replace(cfg, `environment = "production"`, `environment = tenancy_environment.production.name`, 1)
		var backupID string
		var before tableFigures
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testProviders,
			Steps: []resource.TestStep{
				{
					Config: cfg,
					Check: func(s *terraform.State) error {
						var err error
						if backupID, err = stateAttr(s, backupAddr, "backup_id"); err != nil {
							return err
						}
						b, err := srv.Client.GetBackup(context.Background(), slug, backupID)
						if err != nil {
							return err
						}
						before = figuresOf(b)
						return expectRows(t, srv, slug, "production", map[string]int64{"items": 3, "tags": 2})(s)
					},
				},
				{
					Config: srv.Config("# the customer is gone"),
					Check: func(*terraform.State) error {
						if _, err := srv.Client.GetTenant(context.Background(), slug); err == nil {
							return fmt.Errorf("tenant %s is still there after destroy", slug)
						} else if !errors.Is(err, client.ErrNotFound) {
							return err
						}
						all, err := listAllBackups(context.Background(), srv.Client, slug)
						if err != nil {
							return err
						}
						if !slices.ContainsFunc(all, func(b api.Backup) bool { return b.ID == backupID }) {
							return fmt.Errorf("backup %s is gone with its tenant; keep_on_destroy should have kept it", backupID)
						}
						return nil
					},
				},
				{
					PreConfig: func() {
						res, err := restoreBackup(context.Background(), srv.Client, backupID, api.RestoreRequest{})
						if err != nil {
							t.Fatalf("restore %s: %v", backupID, err)
						}
						if res.Tenant == nil || res.Tenant.Slug != slug {
							t.Fatalf("the restore brought back %+v; want tenant %s", res.Tenant, slug)
						}
						after := backupFigures(t, srv, slug, "")
						if err := sameFigures(before, after); err != nil {
							t.Fatalf("after the restore: %v", err)
						}
						t.Logf("%s: round trip through a destroyed tenant: before %s; after %s", srv.Data.Engine(), before, after)
					},
					Config: srv.Config(fmt.Sprintf(`
import {
  to = tenancy_schema.test
  id = "%s/production"
}
`, slug) + schemaConfig(slug, "production", "", migrations...)),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(schemaAddr, plancheck.ResourceActionNoop),
						plancheck.ExpectKnownValue(schemaAddr, tfjsonpath.New("applied"), appliedExact(nil, migrations...)),
					}},
					Check: expectRows(t, srv, slug, "production", map[string]int64{"items": 3, "tags": 2}),
				},
			},
		})
	})
}

// TestAccBackup_moveBetweenTenants moves staging's data from one tenant to
// another as a platform admin, with a backup Terraform took: a dry run
// lists the tables and rows, the move carries them (same row counts and
// checksums) and empties the source, and Terraform's next refresh agrees:
// the source's schema is gone from the state, and the target's imports with
// every migration applied.
func TestAccBackup_moveBetweenTenants(t *testing.T) {
	forEachEngine(t, testMoveBetweenTenants)
}

func testMoveBetweenTenants(t *testing.T, srv *acctest.Server) {
	from := dataTenant(t, srv, "from", "staging")
	to := dataTenant(t, srv, "to", "staging")
	migrations := []string{"1", createItems, "2", fillItems, "3", createTags, "4", fillTags}
	cfg := srv.Config(schemaConfig(from, "staging", "", migrations...) + backupConfig(from, `  environment = "staging"
  depends_on  = [tenancy_schema.test]
`))
	var backupID string
	var before tableFigures
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: cfg,
				Check: func(s *terraform.State) error {
					var err error
					backupID, err = stateAttr(s, backupAddr, "backup_id")
					before = backupFigures(t, srv, from, "staging")
					return err
				},
			},
			{
				PreConfig: func() {
					ctx := context.Background()
					req := api.RestoreRequest{TargetTenant: to, TargetEnvironment: "staging", Move: true}
					dry := req
					dry.DryRun = true
					plan, err := restoreBackup(ctx, srv.Client, backupID, dry)
					if err != nil {
						t.Fatalf("dry run: %v", err)
					}
					if len(plan.Stores) != 1 || len(plan.Stores[0].Tables) == 0 {
						t.Fatalf("the dry run lists %+v", plan.Stores)
					}
					if _, err := restoreBackup(ctx, srv.Client, backupID, req); err != nil {
						t.Fatalf("move: %v", err)
					}
					after := backupFigures(t, srv, to, "staging")
					if err := sameFigures(before, rekey(after, "staging")); err != nil {
						t.Fatalf("after the move: %v", err)
					}
					left := backupFigures(t, srv, from, "staging")
					t.Logf("%s: move between tenants: %s before; %s after; left in the source: %s", srv.Data.Engine(), before, after, left)
					for k, tb := range left {
						if tb.Rows != 0 || !strings.HasSuffix(k, api.SchemaTable) {
							t.Fatalf("the source still holds %s with %d rows", k, tb.Rows)
						}
					}
				},
				RefreshState:       true,
				ExpectNonEmptyPlan: true,
				Check: func(s *terraform.State) error {
					if _, ok := s.RootModule().Resources[schemaAddr]; ok {
						return errors.New("the source's schema is still in the state after the move emptied it")
					}
					return nil
				},
			},
			{
				Config: srv.Config(fmt.Sprintf(`
import {
  to = tenancy_schema.test
  id = "%s/staging"
}
`, to) + schemaConfig(to, "staging", "", migrations...) + backupConfig(from, `  environment = "staging"
`)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(schemaAddr, plancheck.ResourceActionNoop),
					plancheck.ExpectKnownValue(schemaAddr, tfjsonpath.New("applied"), appliedExact(nil, migrations...)),
				}},
				Check: expectRows(t, srv, to, "staging", map[string]int64{"items": 3, "tags": 2}),
			},
		},
	})
}

// rekey is figures with every table in environment env, to compare
// figures taken in another tenant or environment.
func rekey(f tableFigures, env string) tableFigures {
	out := tableFigures{}
	for k, v := range f {
		_, name, _ := strings.Cut(k, "/")
		out[env+"/"+name] = v
	}
	return out
}
