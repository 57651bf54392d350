package promotion

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// FuzzDiff diffs arbitrary environments (decoded from JSON) in every set of
// scopes: applying the forward patch makes the next diff empty, applying
// the backward patch to the promoted target gives the original target
// back in the promoted scopes, the change lines are sorted and one per
// leaf, and Changes of the forward patch lists the same lines.
func FuzzDiff(f *testing.F) {
	f.Add([]byte(`{"Settings":{"log_level":"debug"},"Flags":{"new-billing":{"enabled":true,"rollout_percentage":100}},"Quota":{"cpu_millicores":2000}}`),
		[]byte(`{"Settings":{"log_level":"info"},"Flags":{"new-billing":{"enabled":false,"rollout_percentage":0}},"Quota":{"cpu_millicores":4000,"memory_mb":8192}}`), uint8(0))
	f.Add([]byte(`{"Settings":{"a":"1","b":"\"quoted\""}}`), []byte(`{"Settings":{}}`), uint8(1))
	f.Add([]byte(`{"Flags":{"x":{"enabled":true,"rollout_percentage":10}}}`), []byte(`{"Flags":{"y":{"enabled":true,"rollout_percentage":10}}}`), uint8(2))
	f.Add([]byte(`{}`), []byte(`{"Quota":{"storage_gb":5}}`), uint8(4))
	f.Add([]byte(`{"Settings":{"":"\u0000"}}`), []byte(`{"Settings":{"é":"x"}}`), uint8(7))
	f.Fuzz(func(t *testing.T, src, dst []byte, scopeBits uint8) {
		var source, target Env
		if json.Unmarshal(src, &source) != nil || json.Unmarshal(dst, &target) != nil {
			return
		}
		var scopes []string
		for i, s := range api.PromotionScopes {
			if scopeBits&(1<<i) != 0 {
				scopes = append(scopes, s)
			}
		}
		scopes, err := Scopes(scopes)
		if err != nil {
			t.Fatal(err)
		}
		r := Diff(source, target, scopes)
		if !slices.IsSorted(r.Changes) {
			t.Fatalf("changes not sorted: %q", r.Changes)
		}
		if len(r.Changes) == 0 != r.Forward.Empty() {
			t.Fatalf("changes %q but forward patch %+v", r.Changes, r.Forward)
		}
		if got := Changes(target, r.Forward); !slices.Equal(got, r.Changes) {
			t.Fatalf("Changes of the forward patch %q; Diff said %q", got, r.Changes)
		}
		promoted := Apply(target, r.Forward)
		if again := Diff(source, promoted, scopes); len(again.Changes) != 0 {
			t.Fatalf("after promoting, the diff is still %q", again.Changes)
		}
		back := Apply(promoted, r.Backward)
		if d := Diff(target, back, scopes); len(d.Changes) != 0 {
			t.Fatalf("rolling back leaves %q different from the original target", d.Changes)
		}
		// Outside the scopes, the target is untouched.
		if !slices.Contains(scopes, api.ScopeSettings) && !reflect.DeepEqual(len(promoted.Settings), len(target.Settings)) {
			t.Fatalf("settings changed outside the scopes: %v -> %v", target.Settings, promoted.Settings)
		}
	})
}
