package provider

import (
	"context"
	"encoding/json"
	"maps"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"weak"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/client"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/promotion"
)

// plannedSources holds what the environment, feature flag and schema
// resources of one configuration plan for the platform's objects: the
// settings of each environment, the managed entries of each flag and the
// migrations of each environment's schema. A promotion planned after them
// (its triggers reference them) previews from it what its source will be
// once they are applied, rather than what it is now.
//
// Terraform configures the provider once for a plan and once for an apply,
// and plans (during apply, plans again and applies) a resource only after
// the resources it references; the resources of that run share the API
// client that Configure made, and so one plannedSources.
type plannedSources struct {
	mu sync.Mutex
	// settings holds each environment's settings; a nil map is none.
	settings map[plannedKey]map[string]string
	// flags holds the entries of each flag that its resource manages.
	flags map[plannedKey]map[string]api.FlagEnvironment
	// held holds the settings that the platform holds for the environments
	// whose state Read kept as it was, leaving out what promotions into
	// them wrote (see objectDrift).
	held map[plannedKey]map[string]string
	// schemas holds the migrations of each environment's schema, from
	// version to SQL: once its resource is applied, the environment's data
	// store has applied every one of them.
	schemas map[plannedKey]map[string]string
}

// plannedKey names an environment or a flag of a tenant.
type plannedKey struct{ tenant, name string }

// plannedSourcesByClient maps a weak pointer to an API client to its
// *plannedSources; an entry goes when its client does.
var plannedSourcesByClient sync.Map

// plannedSourcesOf is the plannedSources of the run that made c.
func plannedSourcesOf(c *client.Client) *plannedSources {
	key := weak.Make(c)
	fresh := &plannedSources{
		settings: map[plannedKey]map[string]string{}, flags: map[plannedKey]map[string]api.FlagEnvironment{},
		held: map[plannedKey]map[string]string{}, schemas: map[plannedKey]map[string]string{},
	}
	v, loaded := plannedSourcesByClient.LoadOrStore(key, fresh)
	if !loaded {
		runtime.AddCleanup(c, func(k weak.Pointer[client.Client]) { plannedSourcesByClient.Delete(k) }, key)
	}
	ps, _ := v.(*plannedSources) // Only this function stores, and only *plannedSources.
	return ps
}

// planSettings records an environment's planned settings.
func (ps *plannedSources) planSettings(tenant, env string, settings map[string]string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.settings[plannedKey{tenant, env}] = maps.Clone(settings)
}

// holdSettings records the settings the platform holds for an environment
// whose state Read kept without what a promotion into it wrote.
func (ps *plannedSources) holdSettings(tenant, env string, settings map[string]string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.held[plannedKey{tenant, env}] = maps.Clone(settings)
}

// heldSettings is what holdSettings recorded for an environment, if anything.
func (ps *plannedSources) heldSettings(tenant, env string) (map[string]string, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	s, ok := ps.held[plannedKey{tenant, env}]
	return s, ok
}

// planFlag records the planned entries of a flag that its resource manages.
func (ps *plannedSources) planFlag(tenant, key string, entries map[string]api.FlagEnvironment) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.flags[plannedKey{tenant, key}] = maps.Clone(entries)
}

// planSchema records the planned migrations of an environment's schema.
func (ps *plannedSources) planSchema(tenant, env string, migrations map[string]string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.schemas[plannedKey{tenant, env}] = maps.Clone(migrations)
}

// sourcePlan is what a configuration plans for a promotion's source.
type sourcePlan struct {
	settings *map[string]string
	flags    map[string]api.FlagEnvironment
	// migrations are the source's planned migrations; nil when none are
	// planned (the source's schema is not managed, or not referenced).
	migrations map[string]string
}

// forSource is what is planned for environment env of tenant, from the
// objects whose planned value proven accepts (see provenBy).
func (ps *plannedSources) forSource(tenant, env string, proven func(v any) bool) sourcePlan {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	sp := sourcePlan{flags: map[string]api.FlagEnvironment{}}
	if s, ok := ps.settings[plannedKey{tenant, env}]; ok && proven(s) {
		sp.settings = &s
	}
	for k, entries := range ps.flags {
		if e, ok := entries[env]; ok && k.tenant == tenant && proven(entries) {
			sp.flags[k.name] = e
		}
	}
	if m, ok := ps.schemas[plannedKey{tenant, env}]; ok && proven(m) {
		sp.migrations = m
	}
	return sp
}

// explains reports whether every value is the JSON encoding of what is
// planned in tenant, as triggers written with jsonencode give it: the
// settings of an environment, the entries of a flag or the migrations of a
// schema (`jsonencode(tenancy_environment.x.settings)`,
// `jsonencode(tenancy_schema.x.migrations)`), or an object or a list made
// only of such values
// (`jsonencode({ for k, f in tenancy_feature_flag.all : k => f.environments })`).
func (ps *plannedSources) explains(tenant string, values []string) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var planned []any
	for k, s := range ps.settings {
		if k.tenant == tenant {
			planned = append(planned, asJSON(s))
		}
	}
	for k, f := range ps.flags {
		if k.tenant == tenant {
			planned = append(planned, asJSON(f))
		}
	}
	for k, m := range ps.schemas {
		if k.tenant == tenant {
			planned = append(planned, asJSON(m))
		}
	}
	for _, v := range values {
		var d any
		if json.Unmarshal([]byte(v), &d) != nil || !madeOf(d, planned) {
			return false
		}
	}
	return true
}

// madeOf reports whether a decoded JSON value is one of planned, or a
// non-empty object or list whose every element is made of them.
func madeOf(d any, planned []any) bool {
	if slices.ContainsFunc(planned, func(p any) bool { return reflect.DeepEqual(p, d) }) {
		return true
	}
	var elems []any
	switch d := d.(type) {
	case map[string]any:
		elems = slices.Collect(maps.Values(d))
	case []any:
		elems = d
	}
	return len(elems) > 0 && !slices.ContainsFunc(elems, func(e any) bool { return !madeOf(e, planned) })
}

// apply is env with the planned values in place of the current ones.
func (sp sourcePlan) apply(env promotion.Env) promotion.Env {
	out := promotion.Env{Settings: env.Settings, Flags: maps.Clone(env.Flags), Quota: env.Quota}
	if sp.settings != nil {
		out.Settings = *sp.settings
	}
	for key, e := range sp.flags {
		if out.Flags == nil {
			out.Flags = map[string]api.FlagEnvironment{}
		}
		out.Flags[key] = e
	}
	return out
}

// provenBy accepts a planned value that one of the trigger values encodes
// as JSON, the two compared as decoded JSON: the whole trigger value, or,
// for a value that is not empty, any object or list inside it. Triggers that
// reference an object make Terraform plan and apply it before the promotion,
// so the promotion may count on that object's planned value; the planned
// value of an object it does not reference may be applied after it, or not
// yet be planned at all.
func provenBy(values []string) func(v any) bool {
	decoded := make([]any, 0, len(values))
	for _, s := range values {
		var d any
		if json.Unmarshal([]byte(s), &d) == nil {
			decoded = append(decoded, d)
		}
	}
	return func(v any) bool {
		want := asJSON(v)
		for _, t := range decoded {
			if reflect.DeepEqual(t, want) || (!emptyJSON(want) && containsJSON(t, want)) {
				return true
			}
		}
		return false
	}
}

// containsJSON reports whether want is inside the decoded JSON value d.
func containsJSON(d, want any) bool {
	if reflect.DeepEqual(d, want) {
		return true
	}
	switch d := d.(type) {
	case map[string]any:
		for _, e := range d {
			if containsJSON(e, want) {
				return true
			}
		}
	case []any:
		for _, e := range d {
			if containsJSON(e, want) {
				return true
			}
		}
	}
	return false
}

// asJSON is v encoded as JSON and decoded again, as comparable as a
// decoded trigger value; nil when v cannot be encoded.
func asJSON(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var d any
	if json.Unmarshal(b, &d) != nil {
		return nil
	}
	return d
}

// emptyJSON reports whether a decoded JSON value is null or an empty
// object: too common inside other values to tell which object it is.
func emptyJSON(d any) bool {
	m, ok := d.(map[string]any)
	return d == nil || (ok && len(m) == 0)
}

// anyValue accepts every planned value: for a guess, where an object that
// is not referenced may count.
func anyValue(any) bool { return true }

// fullyKnown reports whether a value and everything in it are known.
func fullyKnown(ctx context.Context, v attr.Value) bool {
	tv, err := v.ToTerraformValue(ctx)
	return err == nil && tv.IsFullyKnown()
}

// stringsOf is the known strings of a map of strings.
func stringsOf(m types.Map) map[string]string {
	out := map[string]string{}
	for k, v := range m.Elements() {
		if s, ok := v.(types.String); ok && !s.IsNull() && !s.IsUnknown() {
			out[k] = s.ValueString()
		}
	}
	return out
}
