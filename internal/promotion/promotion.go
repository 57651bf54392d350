// Package promotion computes what promoting one environment's configuration
// to another changes, and applies it. It is plain Go: tenancyd uses it for
// the dry run, the promotion itself and the rollback, without HTTP or a
// database in the way of its tests.
//
// # What a promotion does
//
// For every included scope, the target ends up matching the source:
//
//   - settings: the target's settings map equals the source's;
//   - feature_flags: for every flag of the tenant, the target's entry
//     (enabled, rollout_percentage) equals the source's entry, and a flag
//     without a source entry loses its target entry;
//   - quotas: the target's environment quota limits equal the source's (a
//     source without a quota removes the target's);
//   - schema: the migrations the source has applied and the target has not
//     are applied to the target, in version order (see SchemaLine); the
//     server does this part, as it runs in the data plane.
//
// # The change lines
//
// Every difference is one line, one line per leaf value:
//
//	<scope>.<name>[.<field>]: <before> -> <after>
//
// such as
//
//	feature_flags.new-billing.enabled: false -> true
//	feature_flags.new-billing.rollout_percentage: 10 -> 50
//	quotas.cpu_millicores: 2000 -> 4000
//	settings.log_level: "debug" -> "info"
//	settings.new_key: (absent) -> "x"
//
// Settings values are double-quoted with backslash escapes (Go's
// strconv.Quote), booleans are true or false, numbers are decimal, and
// (absent) stands for a value that does not exist on that side: a setting
// not set, a flag with no entry for the environment (a new entry gives two
// lines, enabled and rollout_percentage), or a quota limit not set
// (unlimited). Lines are sorted as strings, byte by byte, so the same
// difference always gives the same list, but for the schema scope's lines,
// which go in version order (see SortLines).
package promotion

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/quota"
)

// Absent is written in a change line for a value that does not exist.
const Absent = "(absent)"

// Env is what a promotion reads and writes of one environment.
type Env struct {
	// Settings is the environment's settings; nil and empty are the same.
	Settings map[string]string
	// Flags maps a feature flag's key to its entry for this environment;
	// a flag of the tenant without an entry for it is not in the map.
	Flags map[string]api.FlagEnvironment
	// Quota is the environment's quota; nil when it has none, which is the
	// same as a quota with no limits.
	Quota *api.QuotaSpec
}

// Describe is env as the API shows it in a preview: only the scopes given.
func Describe(env Env, scopes []string) *api.PromotionEnvironment {
	out := &api.PromotionEnvironment{}
	if slices.Contains(scopes, api.ScopeSettings) {
		out.Settings = maps.Clone(env.Settings)
	}
	if slices.Contains(scopes, api.ScopeFeatureFlags) {
		out.FeatureFlags = maps.Clone(env.Flags)
	}
	if slices.Contains(scopes, api.ScopeQuotas) {
		out.Quota = cloneQuota(env.Quota)
	}
	return out
}

// FromAPI is the Env that an environment described by Describe stands for,
// in the scopes it was described in; nil is an empty environment.
func FromAPI(e *api.PromotionEnvironment) Env {
	if e == nil {
		return Env{}
	}
	return Env{Settings: maps.Clone(e.Settings), Flags: maps.Clone(e.FeatureFlags), Quota: cloneQuota(e.Quota)}
}

// Patch is what a promotion or a rollback writes to an environment: only
// what differs. Stored as a promotion's before-image, it is JSON.
type Patch struct {
	// Settings, when not nil, replaces the settings map as a whole.
	Settings *SettingsPatch `json:"settings,omitempty"`
	// Flags sets the environment's entry of each flag it names; a nil entry
	// removes it.
	Flags map[string]*api.FlagEnvironment `json:"feature_flags,omitempty"`
	// Quota, when not nil, replaces the environment's quota.
	Quota *QuotaPatch `json:"quotas,omitempty"`
}

// SettingsPatch is the settings map a patch writes.
type SettingsPatch struct {
	Values map[string]string `json:"values"`
}

// QuotaPatch is the quota a patch writes; nil Limits removes the quota.
type QuotaPatch struct {
	Limits *api.QuotaSpec `json:"limits"`
}

// Empty reports whether the patch writes nothing.
func (p Patch) Empty() bool {
	return p.Settings == nil && len(p.Flags) == 0 && p.Quota == nil
}

// FlagKeys lists the flags the patch writes, sorted.
func (p Patch) FlagKeys() []string { return slices.Sorted(maps.Keys(p.Flags)) }

// Result is what promoting a source to a target does.
type Result struct {
	// Changes are the sorted change lines; empty when the target already
	// matches the source.
	Changes []string
	// Forward turns the target into its promoted state.
	Forward Patch
	// Backward is the before-image: it puts back what Forward changes.
	Backward Patch
}

// Scopes normalizes a list of scopes: nil or empty means every scope, the
// order is that of api.PromotionScopes and duplicates go. It returns the
// first value that is not a scope as an error.
func Scopes(include []string) ([]string, error) {
	if len(include) == 0 {
		return slices.Clone(api.PromotionScopes), nil
	}
	for _, s := range include {
		if !slices.Contains(api.PromotionScopes, s) {
			return nil, fmt.Errorf("%q is not a promotion scope; use %s", s, strings.Join(quoteAll(api.PromotionScopes), ", "))
		}
	}
	var out []string
	for _, s := range api.PromotionScopes {
		if slices.Contains(include, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// Diff compares a source and a target in the given scopes (normalized by
// Scopes; an unknown scope is ignored) and says what promoting the source
// to the target changes.
func Diff(source, target Env, scopes []string) Result {
	r := Result{Changes: []string{}}
	if slices.Contains(scopes, api.ScopeSettings) {
		if lines := settingLines(target.Settings, source.Settings); len(lines) > 0 {
			r.Changes = append(r.Changes, lines...)
			r.Forward.Settings = &SettingsPatch{Values: cloneSettings(source.Settings)}
			r.Backward.Settings = &SettingsPatch{Values: maps.Clone(target.Settings)}
		}
	}
	if slices.Contains(scopes, api.ScopeFeatureFlags) {
		keys := slices.Sorted(maps.Keys(union(source.Flags, target.Flags)))
		for _, k := range keys {
			from, hadFrom := target.Flags[k]
			to, hasTo := source.Flags[k]
			lines := flagLines(k, entry(from, hadFrom), entry(to, hasTo))
			if len(lines) == 0 {
				continue
			}
			r.Changes = append(r.Changes, lines...)
			if r.Forward.Flags == nil {
				r.Forward.Flags = map[string]*api.FlagEnvironment{}
				r.Backward.Flags = map[string]*api.FlagEnvironment{}
			}
			r.Forward.Flags[k] = entry(to, hasTo)
			r.Backward.Flags[k] = entry(from, hadFrom)
		}
	}
	if slices.Contains(scopes, api.ScopeQuotas) {
		if lines := quotaLines(target.Quota, source.Quota); len(lines) > 0 {
			r.Changes = append(r.Changes, lines...)
			r.Forward.Quota = &QuotaPatch{Limits: cloneQuota(source.Quota)}
			r.Backward.Quota = &QuotaPatch{Limits: cloneQuota(target.Quota)}
		}
	}
	SortLines(r.Changes)
	return r
}

// Apply returns env with the patch written to it; env is not modified.
// Entries of flags that env does not have are written too: the caller
// decides whether a flag still exists.
func Apply(env Env, p Patch) Env {
	out := Env{Settings: maps.Clone(env.Settings), Flags: maps.Clone(env.Flags), Quota: cloneQuota(env.Quota)}
	if p.Settings != nil {
		out.Settings = maps.Clone(p.Settings.Values)
	}
	for k, e := range p.Flags {
		if e == nil {
			delete(out.Flags, k)
			continue
		}
		if out.Flags == nil {
			out.Flags = map[string]api.FlagEnvironment{}
		}
		out.Flags[k] = *e
	}
	if p.Quota != nil {
		out.Quota = cloneQuota(p.Quota.Limits)
	}
	return out
}

// Changes lists, as sorted change lines, what writing the patch to env
// changes; a rollback reports its effect with it.
func Changes(env Env, p Patch) []string {
	next := Apply(env, p)
	lines := []string{}
	if p.Settings != nil {
		lines = append(lines, settingLines(env.Settings, next.Settings)...)
	}
	for _, k := range p.FlagKeys() {
		from, hadFrom := env.Flags[k]
		to, hasTo := next.Flags[k]
		lines = append(lines, flagLines(k, entry(from, hadFrom), entry(to, hasTo))...)
	}
	if p.Quota != nil {
		lines = append(lines, quotaLines(env.Quota, next.Quota)...)
	}
	SortLines(lines)
	return lines
}

// settingLines compares two settings maps.
func settingLines(from, to map[string]string) []string {
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(union(from, to))) {
		a, okA := from[k]
		b, okB := to[k]
		if okA == okB && a == b {
			continue
		}
		lines = append(lines, line(api.ScopeSettings+"."+k, quoted(a, okA), quoted(b, okB)))
	}
	return lines
}

// flagLines compares one flag's entries, field by field.
func flagLines(key string, from, to *api.FlagEnvironment) []string {
	prefix := api.ScopeFeatureFlags + "." + key + "."
	var lines []string
	fe, te := Absent, Absent
	fr, tr := Absent, Absent
	if from != nil {
		fe, fr = strconv.FormatBool(from.Enabled), strconv.FormatInt(from.RolloutPercentage, 10)
	}
	if to != nil {
		te, tr = strconv.FormatBool(to.Enabled), strconv.FormatInt(to.RolloutPercentage, 10)
	}
	if fe != te {
		lines = append(lines, line(prefix+"enabled", fe, te))
	}
	if fr != tr {
		lines = append(lines, line(prefix+"rollout_percentage", fr, tr))
	}
	return lines
}

// quotaLines compares two quotas limit by limit; a missing quota has no
// limits.
func quotaLines(from, to *api.QuotaSpec) []string {
	var lines []string
	for _, d := range quota.Dimensions {
		a, b := limit(from, d), limit(to, d)
		if (a == nil) == (b == nil) && (a == nil || *a == *b) {
			continue
		}
		lines = append(lines, line(api.ScopeQuotas+"."+d, number(a), number(b)))
	}
	return lines
}

// limit is a quota's limit in a dimension; a missing quota has none.
func limit(q *api.QuotaSpec, dimension string) *int64 {
	if q == nil {
		return nil
	}
	return quota.Limit(*q, dimension)
}

func line(path, before, after string) string { return path + ": " + before + " -> " + after }

func quoted(v string, ok bool) string {
	if !ok {
		return Absent
	}
	return strconv.Quote(v)
}

func number(v *int64) string {
	if v == nil {
		return Absent
	}
	return strconv.FormatInt(*v, 10)
}

func entry(e api.FlagEnvironment, ok bool) *api.FlagEnvironment {
	if !ok {
		return nil
	}
	return &e
}

func union[V any](a, b map[string]V) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// cloneSettings copies a settings map; the promoted target gets an empty map
// rather than none, so that it still has settings after losing them all.
func cloneSettings(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return maps.Clone(m)
}

func cloneQuota(q *api.QuotaSpec) *api.QuotaSpec {
	if q == nil {
		return nil
	}
	c := api.QuotaSpec{
		CPUMillicores: clonePtr(q.CPUMillicores), MemoryMB: clonePtr(q.MemoryMB), StorageGB: clonePtr(q.StorageGB),
		MaxUsers: clonePtr(q.MaxUsers), APIRequestsPerMinute: clonePtr(q.APIRequestsPerMinute),
	}
	return &c
}

func clonePtr(v *int64) *int64 {
	if v == nil {
		return nil
	}
	n := *v
	return &n
}

func quoteAll(values []string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = strconv.Quote(v)
	}
	return out
}
