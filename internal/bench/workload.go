package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// Workloads of the tenancy provider.
const (
	// WorkloadFlags is N feature flags spread over the tenants.
	WorkloadFlags = "flags"
	// WorkloadMix is N objects of every kind a fleet has: environments,
	// quotas, users, role bindings and feature flags.
	WorkloadMix = "mix"
)

// Subjects, as Options.Subjects names them.
const (
	// SubjectTerraformData is N terraform_data: Terraform core alone.
	SubjectTerraformData = "terraform_data"
	// SubjectFloor is N benchfloor_item: a framework provider that does no I/O.
	SubjectFloor = "benchfloor_item"
)

// AllSubjects are the subjects in the order each phase goes round them:
// the two floors and the workloads of the tenancy provider.
var AllSubjects = []string{SubjectTerraformData, SubjectFloor, WorkloadFlags, WorkloadMix}

// Subject names, as the report shows them.
const (
	subjectTerraformData = "terraform_data"
	subjectFloor         = "benchfloor_item"
	subjectFlags         = "tenancy (flags)"
	subjectMix           = "tenancy (mix)"
)

// subject is one configuration the benchmark applies, plans and destroys.
type subject struct {
	// key is the subject's name in Options.Subjects.
	key  string
	name string
	dir  string
	// tenancy says whether the subject uses tenancyd, whose requests are counted.
	tenancy bool
	// kinds counts the configuration's resources by type.
	kinds map[string]int
}

func (s subject) resources() int {
	n := 0
	for _, v := range s.kinds {
		n += v
	}
	return n
}

// spread gives each of tenants a share of n, the first ones one more when
// n does not divide evenly.
func spread(n, tenants int) []int {
	out := make([]int, tenants)
	for i := range out {
		out[i] = n / tenants
		if i < n%tenants {
			out[i]++
		}
	}
	return out
}

func tenantSlug(prefix string, i int) string { return fmt.Sprintf("%s-%02d", prefix, i) }

// floorItems is the for_each map of the floor subjects: N items shaped like
// the flags workload's flags.
func floorItems(n, tenants int) map[string]any {
	items := map[string]any{}
	for t, m := range spread(n, tenants) {
		for i := range m {
			tenant, key := tenantSlug("bf", t), fmt.Sprintf("flag-%05d", i)
			items[tenant+"/"+key] = map[string]any{"tenant": tenant, "key": key}
		}
	}
	return items
}

func forEachFlag(extra map[string]any) map[string]any {
	out := map[string]any{
		"tenant_id":    "${each.value.tenant}",
		"key":          "${each.value.key}",
		"description":  "Benchmark flag ${each.value.key}",
		"environments": map[string]any{"staging": map[string]any{"enabled": true, "rollout_percentage": 50}},
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func terraformDataConfig(n, tenants int) map[string]any {
	return map[string]any{
		"locals": map[string]any{"items": floorItems(n, tenants)},
		"resource": map[string]any{"terraform_data": map[string]any{"item": map[string]any{
			"for_each": "${local.items}",
			"input": map[string]any{
				"tenant_id":    "${each.value.tenant}",
				"key":          "${each.value.key}",
				"description":  "Benchmark flag ${each.value.key}",
				"environments": map[string]any{"staging": map[string]any{"enabled": true, "rollout_percentage": 50}},
			},
		}}},
	}
}

func floorConfig(n, tenants int) map[string]any {
	return map[string]any{
		"terraform": map[string]any{"required_providers": map[string]any{"benchfloor": map[string]any{"source": "tenancyhq/benchfloor"}}},
		"locals":    map[string]any{"items": floorItems(n, tenants)},
		"resource": map[string]any{"benchfloor_item": map[string]any{"item": forEachFlag(map[string]any{
			"for_each": "${local.items}",
		})}},
	}
}

var tenancyProvider = map[string]any{"required_providers": map[string]any{"tenancy": map[string]any{"source": "tenancyhq/tenancy"}}}

// flagsConfig is N tenancy_feature_flag over tenants bf-NN, each of which
// the setup gives a staging environment.
func flagsConfig(n, tenants int) map[string]any {
	return map[string]any{
		"terraform": tenancyProvider,
		"locals":    map[string]any{"flags": floorItems(n, tenants)},
		"resource": map[string]any{"tenancy_feature_flag": map[string]any{"flag": forEachFlag(map[string]any{
			"for_each": "${local.flags}",
		})}},
	}
}

// mixShape is how one tenant's share of the mix workload divides into kinds:
// one environment per 20 objects, a quota for the tenant and for each
// environment, and the rest a third users, a third role bindings (one per
// user) and a third flags.
type mixShape struct{ envs, envQuotas, tenantQuota, users, bindings, flags int }

func shapeOf(m int) mixShape {
	var s mixShape
	if m <= 0 {
		return s
	}
	s.envs = max(1, m/20)
	left := m - s.envs
	if left > 0 {
		s.tenantQuota = 1
		left--
	}
	s.envQuotas = min(s.envs, left)
	left -= s.envQuotas
	s.users = left / 3
	s.bindings = s.users
	s.flags = left - s.users - s.bindings
	return s
}

// envType gives the environments of a tenant a production, then staging,
// development and sandbox, in turn.
func envType(i int) string {
	return []string{api.EnvProduction, api.EnvStaging, api.EnvDevelopment, api.EnvSandbox}[i%4]
}

func envName(i int) string { return fmt.Sprintf("env-%02d", i+1) }

// mixConfig is N objects over tenants bm-NN: environments, a tenant-wide
// quota and one per environment, users, their role bindings (half in every
// environment, half in one) and flags.
func mixConfig(n, tenants int) (map[string]any, map[string]int) {
	envs, tenantQuotas, envQuotas, users := map[string]any{}, map[string]any{}, map[string]any{}, map[string]any{}
	bindingsAll, bindingsEnv, flags := map[string]any{}, map[string]any{}, map[string]any{}
	for t, m := range spread(n, tenants) {
		tenant := tenantSlug("bm", t)
		s := shapeOf(m)
		for i := range s.envs {
			envs[tenant+"/"+envName(i)] = map[string]any{"tenant": tenant, "name": envName(i), "type": envType(i)}
		}
		if s.tenantQuota > 0 {
			tenantQuotas[tenant] = map[string]any{"tenant": tenant}
		}
		for i := range s.envQuotas {
			envQuotas[tenant+"/"+envName(i)] = map[string]any{"tenant": tenant}
		}
		for i := range s.users {
			key := fmt.Sprintf("%s/user-%04d", tenant, i)
			users[key] = map[string]any{"tenant": tenant, "email": fmt.Sprintf("user-%04d@%s.example.com", i, tenant)}
			role := []string{api.RoleTenantViewer, api.RoleTenantUser}[i%2]
			if i < s.bindings {
				if i%2 == 0 {
					bindingsAll[key] = map[string]any{"tenant": tenant, "role": role}
				} else {
					bindingsEnv[key] = map[string]any{"tenant": tenant, "role": role, "env": tenant + "/" + envName(i%s.envs)}
				}
			}
		}
		for i := range s.flags {
			key := fmt.Sprintf("flag-%05d", i)
			flags[tenant+"/"+key] = map[string]any{"tenant": tenant, "key": key}
		}
	}
	limits := func(scale int) map[string]any {
		return map[string]any{"cpu_millicores": 1000 * scale, "memory_mb": 1024 * scale, "storage_gb": 10 * scale}
	}
	tenantQuota := limits(1000)
	tenantQuota["for_each"] = "${local.tenant_quotas}"
	tenantQuota["tenant_id"] = "${each.value.tenant}"
	tenantQuota["max_users"] = 100000
	envQuota := limits(1)
	envQuota["for_each"] = "${local.env_quotas}"
	envQuota["tenant_id"] = "${each.value.tenant}"
	envQuota["environment"] = "${tenancy_environment.env[each.key].name}"
	envQuota["depends_on"] = []string{"tenancy_quota.tenant"}

	resources := map[string]any{
		"tenancy_environment": map[string]any{"env": map[string]any{
			"for_each": "${local.envs}", "tenant_id": "${each.value.tenant}", "name": "${each.value.name}", "type": "${each.value.type}",
		}},
		"tenancy_quota": map[string]any{"tenant": tenantQuota, "env": envQuota},
		"tenancy_user": map[string]any{"user": map[string]any{
			"for_each": "${local.users}", "tenant_id": "${each.value.tenant}", "email": "${each.value.email}",
			"display_name": "Benchmark user ${each.key}",
		}},
		"tenancy_role_binding": map[string]any{
			"all": map[string]any{
				"for_each": "${local.bindings_all}", "tenant_id": "${each.value.tenant}",
				"user_id": "${tenancy_user.user[each.key].user_id}", "role": "${each.value.role}",
			},
			"env": map[string]any{
				"for_each": "${local.bindings_env}", "tenant_id": "${each.value.tenant}",
				"user_id": "${tenancy_user.user[each.key].user_id}", "role": "${each.value.role}",
				"environment": "${tenancy_environment.env[each.value.env].name}",
			},
		},
		"tenancy_feature_flag": map[string]any{"flag": map[string]any{
			"for_each": "${local.flags}", "tenant_id": "${each.value.tenant}", "key": "${each.value.key}",
			"description":  "Benchmark flag ${each.value.key}",
			"environments": map[string]any{envName(0): map[string]any{"enabled": true, "rollout_percentage": 50}},
			"depends_on":   []string{"tenancy_environment.env"},
		}},
	}
	config := map[string]any{
		"terraform": tenancyProvider,
		"locals": map[string]any{
			"envs": envs, "tenant_quotas": tenantQuotas, "env_quotas": envQuotas, "users": users,
			"bindings_all": bindingsAll, "bindings_env": bindingsEnv, "flags": flags,
		},
		"resource": resources,
	}
	kinds := map[string]int{
		"tenancy_environment": len(envs), "tenancy_quota": len(tenantQuotas) + len(envQuotas), "tenancy_user": len(users),
		"tenancy_role_binding": len(bindingsAll) + len(bindingsEnv), "tenancy_feature_flag": len(flags),
	}
	return config, kinds
}

// writeConfig writes a configuration as dir/main.tf.json.
func writeConfig(dir string, config map[string]any) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	b, err := json.MarshalIndent(config, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "main.tf.json"), b, 0o600)
}

// setupTenants creates, through the API, the tenants the tenancy workloads
// put their objects in (the objects are what is measured, not the tenants):
// bf-NN with a staging environment for the flags workload, bm-NN for the mix.
func setupTenants(ctx context.Context, t *tenancyd, tenants int, workloads []string) error {
	off := false
	for _, w := range workloads {
		prefix := map[string]string{WorkloadFlags: "bf", WorkloadMix: "bm"}[w]
		for i := range tenants {
			slug := tenantSlug(prefix, i)
			_, err := t.Client.CreateTenant(ctx, api.TenantSpec{
				Slug: slug, DisplayName: "Benchmark " + slug, Region: api.DefaultRegions[0], DeletionProtection: &off,
			})
			if err != nil {
				return fmt.Errorf("setup: tenant %s: %w", slug, err)
			}
			if w == WorkloadFlags {
				if _, err := t.Client.CreateEnvironment(ctx, slug, api.EnvironmentSpec{Name: "staging", Type: api.EnvStaging}); err != nil {
					return fmt.Errorf("setup: environment %s/staging: %w", slug, err)
				}
			}
		}
	}
	return nil
}
