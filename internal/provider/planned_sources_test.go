package provider

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/promotion"
)

// The trigger values below are what Terraform's jsonencode writes for the
// planned values recorded with them.
func TestPlannedSources(t *testing.T) {
	t.Parallel()
	c, err := client.New(client.Config{Endpoint: "http://127.0.0.1:1", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	ps := plannedSourcesOf(c)
	if plannedSourcesOf(c) != ps {
		t.Fatal("one client, two plannedSources")
	}
	other, err := client.New(client.Config{Endpoint: "http://127.0.0.1:1", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if plannedSourcesOf(other) == ps {
		t.Fatal("two clients (two runs) share plannedSources")
	}

	ps.planSettings("acme", "staging", map[string]string{"log_level": "info", "replicas": "3"})
	ps.planSettings("acme", "development", map[string]string{"log_level": "debug"})
	ps.planSettings("globex", "staging", map[string]string{"log_level": "warn"})
	ps.planFlag("acme", "new-billing", map[string]api.FlagEnvironment{
		"staging": {Enabled: true, RolloutPercentage: 50}, "development": {Enabled: true, RolloutPercentage: 100},
	})
	ps.planFlag("acme", "beta", map[string]api.FlagEnvironment{"staging": {Enabled: false, RolloutPercentage: 0}})
	ps.planFlag("acme", "dev-only", map[string]api.FlagEnvironment{"development": {Enabled: true, RolloutPercentage: 100}})

	const (
		stagingSettings = `{"log_level":"info","replicas":"3"}`
		billing         = `{"development":{"enabled":true,"rollout_percentage":100},"staging":{"enabled":true,"rollout_percentage":50}}`
	)
	for _, tc := range []struct {
		name     string
		triggers []string
		settings map[string]string // nil: not planned
		flags    map[string]api.FlagEnvironment
	}{
		{"no triggers", nil, nil, map[string]api.FlagEnvironment{}},
		{"settings and one flag", []string{stagingSettings, billing}, map[string]string{"log_level": "info", "replicas": "3"},
			map[string]api.FlagEnvironment{"new-billing": {Enabled: true, RolloutPercentage: 50}}},
		{"keys in another order, spaces", []string{`{ "replicas": "3", "log_level": "info" }`}, map[string]string{"log_level": "info", "replicas": "3"},
			map[string]api.FlagEnvironment{}},
		{"another environment's settings", []string{`{"log_level":"debug"}`}, nil, map[string]api.FlagEnvironment{}},
		{"every flag in one object", []string{`{"a":` + billing + `,"b":{"staging":{"enabled":false,"rollout_percentage":0}}}`}, nil,
			map[string]api.FlagEnvironment{"new-billing": {Enabled: true, RolloutPercentage: 50}, "beta": {Enabled: false, RolloutPercentage: 0}}},
		{"in a list", []string{`[` + stagingSettings + `, "v2"]`}, map[string]string{"log_level": "info", "replicas": "3"},
			map[string]api.FlagEnvironment{}},
		{"a value that differs", []string{`{"log_level":"info","replicas":"4"}`, "v2", ""}, nil, map[string]api.FlagEnvironment{}},
	} {
		sp := ps.forSource("acme", "staging", provenBy(tc.triggers))
		if (sp.settings == nil) != (tc.settings == nil) || (sp.settings != nil && !maps.Equal(*sp.settings, tc.settings)) || !maps.Equal(sp.flags, tc.flags) {
			t.Errorf("%s: planned %+v; want settings %v and flags %v", tc.name, sp, tc.settings, tc.flags)
		}
	}
	all := ps.forSource("acme", "staging", anyValue)
	if all.settings == nil || len(all.flags) != 2 {
		t.Errorf("every planned value: %+v; want the settings and new-billing and beta", all)
	}

	for _, tc := range []struct {
		values []string
		want   bool
	}{
		{nil, true},
		{[]string{stagingSettings, billing}, true},
		{[]string{`{"log_level":"debug"}`}, true},
		{[]string{`{"log_level":"warn"}`}, false}, // Another tenant's.
		{[]string{stagingSettings, "release-2"}, false},
		{[]string{`null`}, false},
		{[]string{`{"a":` + billing + `,"b":{"staging":{"enabled":false,"rollout_percentage":0}}}`}, true},
		{[]string{`[` + stagingSettings + `,` + billing + `]`}, true},
		{[]string{`[` + stagingSettings + `,"v2"]`}, false},
		{[]string{`{}`}, false},
	} {
		if got := ps.explains("acme", tc.values); got != tc.want {
			t.Errorf("explains(%q) = %t; want %t", tc.values, got, tc.want)
		}
	}
	ps.planSettings("acme", "sandbox", nil)
	if !ps.explains("acme", []string{"null"}) {
		t.Error("jsonencode(null) does not explain an environment planned without settings")
	}
	// An empty value proves only as a whole trigger: inside another, it
	// could be anything's.
	ps.planSettings("acme", "staging", map[string]string{})
	if sp := ps.forSource("acme", "staging", provenBy([]string{`{"x":{}}`})); sp.settings != nil {
		t.Error("an empty object inside a trigger proves empty settings")
	}
	if sp := ps.forSource("acme", "staging", provenBy([]string{`{}`})); sp.settings == nil {
		t.Error("jsonencode({}) does not prove empty settings")
	}
	ps.planSettings("acme", "staging", map[string]string{"log_level": "info", "replicas": "3"})

	// The planned values replace the current ones; the rest stays.
	current := promotion.Env{
		Settings: map[string]string{"log_level": "trace"},
		Flags:    map[string]api.FlagEnvironment{"new-billing": {Enabled: true, RolloutPercentage: 25}, "legacy": {Enabled: true}},
		Quota:    &api.QuotaSpec{},
	}
	got := ps.forSource("acme", "staging", provenBy([]string{stagingSettings, billing})).apply(current)
	if got.Settings["log_level"] != "info" || got.Flags["new-billing"].RolloutPercentage != 50 || !got.Flags["legacy"].Enabled || got.Quota == nil {
		t.Errorf("apply = %+v", got)
	}
	if current.Flags["new-billing"].RolloutPercentage != 25 {
		t.Error("apply changed the current environment")
	}
	if keys := slices.Sorted(maps.Keys(got.Flags)); !slices.Equal(keys, []string{"legacy", "new-billing"}) {
		t.Errorf("flags %v", keys)
	}
}

// TestPlannedSchemas previews a promotion from a source whose schema plans
// migrations that it has not applied yet: the lines are those the target
// lacks, whatever the server's preview (made before them) said; without a
// planned schema, or without the schema scope, the server's lines stand.
func TestPlannedSchemas(t *testing.T) {
	t.Parallel()
	c, err := client.New(client.Config{Endpoint: "http://127.0.0.1:1", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	ps := plannedSourcesOf(c)
	migrations := map[string]string{"1": "CREATE TABLE a (id int)", "2": "CREATE TABLE b (id int)", "10": "CREATE TABLE c (id int)"}
	ps.planSchema("acme", "staging", migrations)
	const trigger = `{"1":"CREATE TABLE a (id int)","10":"CREATE TABLE c (id int)","2":"CREATE TABLE b (id int)"}`
	if !ps.explains("acme", []string{trigger}) || ps.explains("globex", []string{trigger}) {
		t.Error("jsonencode of the migrations explains only its own tenant's schema")
	}
	if sp := ps.forSource("acme", "staging", provenBy([]string{"v2"})); sp.migrations != nil {
		t.Errorf("migrations not referenced by the triggers count: %v", sp.migrations)
	}
	planned := ps.forSource("acme", "staging", provenBy([]string{trigger}))
	if !maps.Equal(planned.migrations, migrations) {
		t.Fatalf("planned migrations %v", planned.migrations)
	}
	sum := api.MigrationChecksum
	preview := promotionPreview{
		Include: []string{api.ScopeSchema, api.ScopeSettings},
		Source: &api.PromotionEnvironment{Settings: map[string]string{"a": "1"},
			Schema: &api.PromotionSchema{Applied: map[string]string{"1": sum(migrations["1"])}}},
		Target: &api.PromotionEnvironment{Settings: map[string]string{"a": "1"},
			Schema: &api.PromotionSchema{Applied: map[string]string{}}},
		Changes: []string{promotion.SchemaLine(1)},
	}
	want := []string{promotion.SchemaLine(1), promotion.SchemaLine(2), promotion.SchemaLine(10)}
	if got, err := preview.lines(planned, "staging", "production"); err != nil || !slices.Equal(got, want) {
		t.Errorf("lines = %q, %v; want %q", got, err, want)
	}
	if got, err := preview.lines(sourcePlan{}, "staging", "production"); err != nil || !slices.Equal(got, []string{promotion.SchemaLine(1)}) {
		t.Errorf("without a planned schema: lines = %q, %v; want the server's", got, err)
	}
	settingsOnly := preview
	settingsOnly.Include, settingsOnly.Changes = []string{api.ScopeSettings}, nil
	if got, err := settingsOnly.lines(planned, "staging", "production"); err != nil || len(got) != 0 {
		t.Errorf("without the schema scope: lines = %q, %v; want none", got, err)
	}
	preview.Target.Schema.Applied = map[string]string{"1": sum(migrations["1"]), "2": sum("CREATE TABLE other (id int)")}
	if _, err := preview.lines(planned, "staging", "production"); err == nil ||
		!strings.Contains(err.Error(), `promoting the schema of "staging" to "production": migration 2 is applied in both with different SQL`) {
		t.Errorf("a version applied in the target with other SQL: %v", err)
	}
}
