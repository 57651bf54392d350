package quota

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

func n(v int64) *int64 { return &v }

func TestFit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		tenant *api.QuotaSpec
		envs   map[string]api.QuotaSpec
		want   []string // messages, in order
	}{
		{
			name: "no tenant quota fits anything",
			envs: map[string]api.QuotaSpec{"production": {CPUMillicores: n(math.MaxInt64)}},
		},
		{
			name:   "no environments",
			tenant: &api.QuotaSpec{CPUMillicores: n(0)},
		},
		{
			name:   "exactly at the limit",
			tenant: &api.QuotaSpec{CPUMillicores: n(6000)},
			envs:   map[string]api.QuotaSpec{"production": {CPUMillicores: n(4000)}, "staging": {CPUMillicores: n(2000)}},
		},
		{
			name:   "over the limit names every share, largest first",
			tenant: &api.QuotaSpec{CPUMillicores: n(5000)},
			envs:   map[string]api.QuotaSpec{"staging": {CPUMillicores: n(2000)}, "production": {CPUMillicores: n(4000)}},
			want:   []string{"cpu_millicores: environment quotas add up to 6000 (production 4000, staging 2000), above the tenant quota of 5000"},
		},
		{
			name:   "equal shares are listed by name",
			tenant: &api.QuotaSpec{MemoryMB: n(1)},
			envs:   map[string]api.QuotaSpec{"b": {MemoryMB: n(1)}, "a": {MemoryMB: n(1)}},
			want:   []string{"memory_mb: environment quotas add up to 2 (a 1, b 1), above the tenant quota of 1"},
		},
		{
			name:   "an unlimited tenant dimension bounds nothing",
			tenant: &api.QuotaSpec{CPUMillicores: n(1000)},
			envs:   map[string]api.QuotaSpec{"production": {CPUMillicores: n(1000), MemoryMB: n(1 << 40)}},
		},
		{
			name:   "an unlimited environment dimension takes no share",
			tenant: &api.QuotaSpec{StorageGB: n(10)},
			envs:   map[string]api.QuotaSpec{"production": {StorageGB: n(10)}, "staging": {}},
		},
		{
			name:   "every dimension over, in order",
			tenant: &api.QuotaSpec{CPUMillicores: n(1), MemoryMB: n(1), StorageGB: n(1), MaxUsers: n(1), APIRequestsPerMinute: n(1)},
			envs: map[string]api.QuotaSpec{"x": {
				CPUMillicores: n(2), MemoryMB: n(2), StorageGB: n(2), MaxUsers: n(2), APIRequestsPerMinute: n(2),
			}},
			want: []string{
				"cpu_millicores: environment quotas add up to 2 (x 2), above the tenant quota of 1",
				"memory_mb: environment quotas add up to 2 (x 2), above the tenant quota of 1",
				"storage_gb: environment quotas add up to 2 (x 2), above the tenant quota of 1",
				"max_users: environment quotas add up to 2 (x 2), above the tenant quota of 1",
				"api_requests_per_minute: environment quotas add up to 2 (x 2), above the tenant quota of 1",
			},
		},
		{
			name:   "a zero tenant limit refuses any positive share",
			tenant: &api.QuotaSpec{MaxUsers: n(0)},
			envs:   map[string]api.QuotaSpec{"dev": {MaxUsers: n(0)}, "prod": {MaxUsers: n(1)}},
			want:   []string{"max_users: environment quotas add up to 1 (prod 1, dev 0), above the tenant quota of 0"},
		},
		{
			name:   "huge sums saturate instead of wrapping around",
			tenant: &api.QuotaSpec{CPUMillicores: n(math.MaxInt64 - 1)},
			envs:   map[string]api.QuotaSpec{"a": {CPUMillicores: n(math.MaxInt64)}, "b": {CPUMillicores: n(math.MaxInt64)}},
			want:   []string{"cpu_millicores: environment quotas add up to 9223372036854775807"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Fit(tc.tenant, tc.envs)
			if len(got) != len(tc.want) {
				t.Fatalf("Fit = %v; want %d violations %q", got, len(tc.want), tc.want)
			}
			for i, v := range got {
				if !strings.HasPrefix(v.Message, tc.want[i]) {
					t.Errorf("violation %d: %q; want %q", i, v.Message, tc.want[i])
				}
				if !strings.HasPrefix(v.Message, v.Dimension+": ") || v.Used <= v.Limit {
					t.Errorf("violation %d: %+v does not start with its dimension or is not over", i, v)
				}
			}
		})
	}
}

func TestFitReportsNumbers(t *testing.T) {
	t.Parallel()
	got := Fit(&api.QuotaSpec{CPUMillicores: n(5000)},
		map[string]api.QuotaSpec{"staging": {CPUMillicores: n(2000)}, "production": {CPUMillicores: n(4000)}})
	want := []Share{{"production", 4000}, {"staging", 2000}}
	if len(got) != 1 || got[0].Used != 6000 || got[0].Limit != 5000 || !slices.Equal(got[0].Shares, want) {
		t.Errorf("Fit = %+v; want used 6000, limit 5000, shares %v", got, want)
	}
}

func TestBelowUse(t *testing.T) {
	t.Parallel()
	users := map[string]string{MaxUsers: "users"}
	for _, tc := range []struct {
		name string
		q    api.QuotaSpec
		use  Use
		want []string
	}{
		{name: "unlimited", q: api.QuotaSpec{}, use: Use{MaxUsers: 100}},
		{name: "at the use", q: api.QuotaSpec{MaxUsers: n(3)}, use: Use{MaxUsers: 3}},
		{name: "above the use", q: api.QuotaSpec{MaxUsers: n(10)}, use: Use{MaxUsers: 3}},
		{name: "no use known", q: api.QuotaSpec{CPUMillicores: n(0)}, use: Use{MaxUsers: 3}},
		{
			name: "below the use", q: api.QuotaSpec{MaxUsers: n(10)}, use: Use{MaxUsers: 12},
			want: []string{"max_users: the tenant has 12 users, above the new limit of 10; remove 2 first or raise the limit"},
		},
		{
			name: "a dimension without a noun uses its name", q: api.QuotaSpec{StorageGB: n(0)}, use: Use{StorageGB: 1},
			want: []string{"storage_gb: the tenant has 1 storage_gb, above the new limit of 0"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := BelowUse(tc.q, tc.use, users)
			if len(got) != len(tc.want) {
				t.Fatalf("BelowUse = %v; want %q", got, tc.want)
			}
			for i, v := range got {
				if !strings.HasPrefix(v.Message, tc.want[i]) {
					t.Errorf("violation %d: %q; want %q", i, v.Message, tc.want[i])
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		q       api.QuotaSpec
		wantDim string
	}{
		{"empty", api.QuotaSpec{}, ""},
		{"zeros", api.QuotaSpec{CPUMillicores: n(0), MaxUsers: n(0)}, ""},
		{"at the maximum", api.QuotaSpec{MemoryMB: n(MaxLimit)}, ""},
		{"negative", api.QuotaSpec{CPUMillicores: n(1), StorageGB: n(-1)}, StorageGB},
		{"above the maximum", api.QuotaSpec{APIRequestsPerMinute: n(MaxLimit + 1)}, APIRequestsPerMinute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dim, err := Validate(tc.q)
			if dim != tc.wantDim || (err != nil) != (tc.wantDim != "") {
				t.Fatalf("Validate = %q, %v; want dimension %q", dim, err, tc.wantDim)
			}
			if err != nil && !strings.Contains(err.Error(), "use a whole number from 0 to") {
				t.Errorf("error %q does not say what is allowed", err)
			}
		})
	}
}

func TestChangedAndLimit(t *testing.T) {
	t.Parallel()
	a := api.QuotaSpec{CPUMillicores: n(1), MemoryMB: n(2), MaxUsers: n(5)}
	b := api.QuotaSpec{CPUMillicores: n(1), MemoryMB: n(3), StorageGB: n(4), MaxUsers: n(5)}
	if got := Changed(a, b); !slices.Equal(got, []string{MemoryMB, StorageGB}) {
		t.Errorf("Changed = %v", got)
	}
	if got := Changed(a, a); got != nil {
		t.Errorf("Changed(a, a) = %v; want none", got)
	}
	for _, d := range Dimensions {
		if Limit(api.QuotaSpec{}, d) != nil {
			t.Errorf("Limit of an empty quota in %s is set", d)
		}
	}
	if Limit(a, "nonsense") != nil {
		t.Error("Limit of an unknown dimension is set")
	}
}
