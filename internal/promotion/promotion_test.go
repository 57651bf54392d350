package promotion

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

func n(v int64) *int64 { return &v }

func flag(enabled bool, rollout int64) api.FlagEnvironment {
	return api.FlagEnvironment{Enabled: enabled, RolloutPercentage: rollout}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	staging := Env{
		Settings: map[string]string{"log_level": "info", "new_key": "x", "db.pool_size": "20"},
		Flags:    map[string]api.FlagEnvironment{"new-billing": flag(true, 50), "beta": flag(true, 100), "same": flag(true, 5)},
		Quota:    &api.QuotaSpec{CPUMillicores: n(4000), MemoryMB: n(2048)},
	}
	production := Env{
		Settings: map[string]string{"log_level": "debug", "old_key": "y", "db.pool_size": "20"},
		Flags:    map[string]api.FlagEnvironment{"new-billing": flag(false, 10), "legacy": flag(false, 0), "same": flag(true, 5)},
		Quota:    &api.QuotaSpec{CPUMillicores: n(2000), MemoryMB: n(2048), StorageGB: n(10)},
	}
	all := []string{
		"feature_flags.beta.enabled: (absent) -> true",
		"feature_flags.beta.rollout_percentage: (absent) -> 100",
		"feature_flags.legacy.enabled: false -> (absent)",
		"feature_flags.legacy.rollout_percentage: 0 -> (absent)",
		"feature_flags.new-billing.enabled: false -> true",
		"feature_flags.new-billing.rollout_percentage: 10 -> 50",
		"quotas.cpu_millicores: 2000 -> 4000",
		"quotas.storage_gb: 10 -> (absent)",
		`settings.log_level: "debug" -> "info"`,
		`settings.new_key: (absent) -> "x"`,
		`settings.old_key: "y" -> (absent)`,
	}
	for _, tc := range []struct {
		name           string
		source, target Env
		scopes         []string
		want           []string
	}{
		{"every scope", staging, production, api.PromotionScopes, all},
		{"settings only", staging, production, []string{api.ScopeSettings}, all[8:]},
		{"flags only", staging, production, []string{api.ScopeFeatureFlags}, all[:6]},
		{"quotas only", staging, production, []string{api.ScopeQuotas}, all[6:8]},
		{"no scope", staging, production, nil, []string{}},
		{"equal", staging, staging, api.PromotionScopes, []string{}},
		{"nil and empty settings are equal", Env{Settings: map[string]string{}}, Env{}, api.PromotionScopes, []string{}},
		{"no quota and a quota without limits are equal", Env{}, Env{Quota: &api.QuotaSpec{}}, api.PromotionScopes, []string{}},
		{"source without quota removes the target's limits", Env{}, Env{Quota: &api.QuotaSpec{MaxUsers: n(5)}}, api.PromotionScopes,
			[]string{"quotas.max_users: 5 -> (absent)"}},
		{"target without quota gets the source's", Env{Quota: &api.QuotaSpec{APIRequestsPerMinute: n(600)}}, Env{}, api.PromotionScopes,
			[]string{"quotas.api_requests_per_minute: (absent) -> 600"}},
		{"values are quoted with escapes", Env{Settings: map[string]string{"motd": "say \"hi\"\n"}}, Env{Settings: map[string]string{"motd": ""}},
			api.PromotionScopes, []string{`settings.motd: "" -> "say \"hi\"\n"`}},
		{"only the changed field of a flag", Env{Flags: map[string]api.FlagEnvironment{"f": flag(true, 10)}},
			Env{Flags: map[string]api.FlagEnvironment{"f": flag(false, 10)}}, api.PromotionScopes,
			[]string{"feature_flags.f.enabled: false -> true"}},
		{"sorted byte by byte", Env{Flags: map[string]api.FlagEnvironment{"a": flag(true, 1), "a-b": flag(true, 1)}}, Env{}, api.PromotionScopes,
			[]string{
				"feature_flags.a-b.enabled: (absent) -> true", "feature_flags.a-b.rollout_percentage: (absent) -> 1",
				"feature_flags.a.enabled: (absent) -> true", "feature_flags.a.rollout_percentage: (absent) -> 1",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := Diff(tc.source, tc.target, tc.scopes)
			if !slices.Equal(r.Changes, tc.want) {
				t.Errorf("changes\n%s\nwant\n%s", strings.Join(r.Changes, "\n"), strings.Join(tc.want, "\n"))
			}
			if r.Changes == nil {
				t.Error("changes is nil; want an empty list, so the API answers [] and not null")
			}
			if (len(tc.want) == 0) != r.Forward.Empty() || (len(tc.want) == 0) != r.Backward.Empty() {
				t.Errorf("forward empty %v, backward empty %v with %d changes", r.Forward.Empty(), r.Backward.Empty(), len(tc.want))
			}
			// Promoting makes the target match the source in those scopes:
			// a second diff finds nothing, and the before-image restores the
			// target exactly.
			next := Apply(tc.target, r.Forward)
			if again := Diff(tc.source, next, tc.scopes).Changes; len(again) != 0 {
				t.Errorf("after the promotion, still differs: %q", again)
			}
			if got := Changes(tc.target, r.Forward); !slices.Equal(got, tc.want) {
				t.Errorf("Changes(forward) = %q; want the diff's lines", got)
			}
			back := Apply(next, roundTrip(t, r.Backward))
			if d := Diff(tc.target, back, api.PromotionScopes).Changes; len(d) != 0 {
				t.Errorf("the before-image does not restore the target: %q", d)
			}
		})
	}
}

// roundTrip stores and loads a patch as the server does, so the JSON form
// keeps removals (null entries) and empty maps.
func roundTrip(t *testing.T, p Patch) Patch {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var out Patch
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestApplyKeepsWhatThePatchDoesNotName(t *testing.T) {
	t.Parallel()
	env := Env{
		Settings: map[string]string{"a": "1"},
		Flags:    map[string]api.FlagEnvironment{"keep": flag(true, 1), "drop": flag(true, 2)},
		Quota:    &api.QuotaSpec{CPUMillicores: n(1)},
	}
	e := flag(false, 7)
	got := Apply(env, Patch{Flags: map[string]*api.FlagEnvironment{"drop": nil, "new": &e}})
	want := Env{
		Settings: map[string]string{"a": "1"},
		Flags:    map[string]api.FlagEnvironment{"keep": flag(true, 1), "new": flag(false, 7)},
		Quota:    &api.QuotaSpec{CPUMillicores: n(1)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Apply = %+v; want %+v", got, want)
	}
	if _, ok := env.Flags["new"]; ok || len(env.Flags) != 2 {
		t.Errorf("Apply modified its input: %+v", env.Flags)
	}
	if q := Apply(env, Patch{Quota: &QuotaPatch{}}); q.Quota != nil {
		t.Errorf("a quota patch without limits left %+v; want the quota removed", q.Quota)
	}
	if s := Apply(env, Patch{Settings: &SettingsPatch{Values: map[string]string{}}}); s.Settings == nil || len(s.Settings) != 0 {
		t.Errorf("settings = %#v; want an empty map", s.Settings)
	}
}

func TestPromotedTargetKeepsAnEmptySettingsMap(t *testing.T) {
	t.Parallel()
	r := Diff(Env{}, Env{Settings: map[string]string{"a": "1"}}, api.PromotionScopes)
	if s := Apply(Env{}, r.Forward).Settings; s == nil || len(s) != 0 {
		t.Errorf("settings = %#v; want an empty map, not none", s)
	}
}

func TestScopes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      []string
		want    []string
		wantErr string
	}{
		{nil, api.PromotionScopes, ""},
		{[]string{}, api.PromotionScopes, ""},
		{[]string{"quotas", "settings", "quotas"}, []string{"settings", "quotas"}, ""},
		{[]string{"feature_flags"}, []string{"feature_flags"}, ""},
		{[]string{"settings", "users"}, nil, `"users" is not a promotion scope; use "settings", "feature_flags", "quotas", "schema"`},
		{[]string{"schema", "settings"}, []string{"settings", "schema"}, ""},
	} {
		got, err := Scopes(tc.in)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("Scopes(%q) error = %v; want %s", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Scopes(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestDescribe checks that an environment described for a preview, read
// back, compares as the environment itself in the described scopes.
func TestDescribe(t *testing.T) {
	t.Parallel()
	staging := Env{
		Settings: map[string]string{"log_level": "info"},
		Flags:    map[string]api.FlagEnvironment{"new-billing": flag(true, 50)},
		Quota:    &api.QuotaSpec{CPUMillicores: n(4000)},
	}
	production := Env{Settings: map[string]string{"log_level": "debug"}, Quota: &api.QuotaSpec{CPUMillicores: n(2000)}}
	for _, scopes := range [][]string{api.PromotionScopes, {api.ScopeSettings}, {api.ScopeFeatureFlags, api.ScopeQuotas}} {
		src, dst := Describe(staging, scopes), Describe(production, scopes)
		b, err := json.Marshal(src)
		if err != nil {
			t.Fatal(err)
		}
		var back api.PromotionEnvironment
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		want := Diff(staging, production, scopes).Changes
		if got := Diff(FromAPI(&back), FromAPI(dst), scopes).Changes; !slices.Equal(got, want) {
			t.Errorf("scopes %v: %q; want %q", scopes, got, want)
		}
		if (src.Settings != nil) != slices.Contains(scopes, api.ScopeSettings) || (src.Quota != nil) != slices.Contains(scopes, api.ScopeQuotas) {
			t.Errorf("scopes %v: described %+v; want only those scopes", scopes, src)
		}
		// Describing copies: changing the description leaves env alone.
		if src.Settings != nil {
			src.Settings["log_level"] = "changed"
			if staging.Settings["log_level"] != "info" {
				t.Fatal("Describe shares the settings map")
			}
		}
	}
	if got := FromAPI(nil); got.Settings != nil || got.Flags != nil || got.Quota != nil {
		t.Errorf("FromAPI(nil) = %+v; want an empty environment", got)
	}
}
