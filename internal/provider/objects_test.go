package provider_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/acctest"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
)

// Calls the provider never makes, for tests that look behind its back.

// listBackups lists a tenant's backups, oldest first.
func listBackups(ctx context.Context, c *client.Client, tenant string) ([]api.Backup, error) {
	return client.ListAll[api.Backup](ctx, c, client.PathEscape("v1", "tenants", tenant, "backups"), nil)
}

// listAllBackups lists every backup of a tenant slug, those of deleted
// tenants included (a platform_admin token).
func listAllBackups(ctx context.Context, c *client.Client, tenant string) ([]api.Backup, error) {
	return client.ListAll[api.Backup](ctx, c, "/v1/backups", url.Values{"tenant": {tenant}})
}

// restoreBackup restores a backup as req says.
func restoreBackup(ctx context.Context, c *client.Client, id string, req api.RestoreRequest) (*api.RestoreResult, error) {
	return client.Create[api.RestoreResult](ctx, c, client.PathEscape("v1", "backups", id, "restore"), req)
}

// tenantObjects counts, through the API, what the platform holds for a
// tenant, by kind: the tenant itself, its environments, users, role
// bindings, quotas (tenant-wide and per environment), feature flags,
// integrations, promotion links, schemas (but those of promotion targets,
// which their promotion makes) and backups taken on demand. A tenant that
// does not exist counts nothing.
func tenantObjects(ctx context.Context, srv *acctest.Server, tenant string) (map[string]int, error) {
	c := srv.Client
	counts := map[string]int{}
	if _, err := c.GetTenant(ctx, tenant); errors.Is(err, client.ErrNotFound) {
		return counts, nil
	} else if err != nil {
		return nil, err
	}
	counts["tenant"] = 1
	envs, err := c.ListEnvironments(ctx, tenant, nil)
	if err != nil {
		return nil, err
	}
	counts["environment"] = len(envs)
	for _, scope := range append([]string{""}, envNames(envs)...) {
		if _, err := c.GetQuota(ctx, tenant, scope); err == nil {
			counts["quota"]++
		} else if !errors.Is(err, client.ErrNotFound) {
			return nil, err
		}
		if scope == "" {
			continue
		}
		_, err := c.GetPromotionLink(ctx, tenant, scope)
		switch {
		case err == nil:
			// A promotion target's schema is the promotion's doing.
			counts["environment_promotion"]++
			continue
		case !errors.Is(err, client.ErrNotFound):
			return nil, err
		}
		if _, err := c.GetSchema(ctx, tenant, scope); err == nil {
			counts["schema"]++
		} else if !errors.Is(err, client.ErrNotFound) {
			return nil, err
		}
	}
	backups, err := listBackups(ctx, c, tenant)
	if err != nil {
		return nil, err
	}
	for _, b := range backups {
		if b.Kind == api.BackupOnDemand {
			counts["backup"]++
		}
	}
	users, err := c.ListUsers(ctx, tenant, nil)
	if err != nil {
		return nil, err
	}
	counts["user"] = len(users)
	bindings, err := c.ListRoleBindings(ctx, tenant, nil)
	if err != nil {
		return nil, err
	}
	counts["role_binding"] = len(bindings)
	flags, err := c.ListFeatureFlags(ctx, tenant)
	if err != nil {
		return nil, err
	}
	counts["feature_flag"] = len(flags)
	integrations, err := client.ListAll[api.Integration](ctx, c, client.PathEscape("v1", "tenants", tenant, "integrations"), nil)
	if err != nil {
		return nil, err
	}
	counts["integration"] = len(integrations)
	for k, n := range counts {
		if n == 0 {
			delete(counts, k)
		}
	}
	return counts, nil
}

func envNames(envs []api.Environment) []string {
	names := make([]string, len(envs))
	for i, e := range envs {
		names[i] = e.Name
	}
	return names
}

// total adds up counts by kind.
func total(counts map[string]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

// describeCounts renders counts by kind in a stable order, for messages.
func describeCounts(counts map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}

// mustTenantObjects is tenantObjects for a test's own assertions.
func mustTenantObjects(t *testing.T, srv *acctest.Server, tenant string) map[string]int {
	t.Helper()
	counts, err := tenantObjects(context.Background(), srv, tenant)
	if err != nil {
		t.Fatalf("counting the objects of tenant %q: %v", tenant, err)
	}
	return counts
}

// expectStateSize is a state check that counts the managed resource
// instances in the state, modules included.
func expectStateSize(want int) statecheck.StateCheck { return stateSize{want} }

type stateSize struct{ want int }

func (c stateSize) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	if got := stateResourceCount(req.State); got != c.want {
		resp.Error = fmt.Errorf("the state holds %d managed resources, want %d", got, c.want)
	}
}

func stateResourceCount(s *tfjson.State) int {
	if s == nil || s.Values == nil {
		return 0
	}
	return moduleResourceCount(s.Values.RootModule)
}

func moduleResourceCount(m *tfjson.StateModule) int {
	if m == nil {
		return 0
	}
	n := 0
	for _, r := range m.Resources {
		if r.Mode == tfjson.ManagedResourceMode {
			n++
		}
	}
	for _, child := range m.ChildModules {
		n += moduleResourceCount(child)
	}
	return n
}
