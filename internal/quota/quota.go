// Package quota is the arithmetic of tenant and environment quotas: whether
// a tenant's environment quotas fit inside its tenant-wide quota, and whether
// a limit is below what the tenant already uses. It is plain Go, so tenancyd
// enforces it and tests it without HTTP or a database.
//
// A quota is a set of limits, one per dimension; a nil limit is unlimited.
// Environment quotas are shares of the tenant-wide quota: in each dimension
// where the tenant-wide quota sets a limit, the limits that the environment
// quotas set must add up to no more than it. An environment quota that leaves
// a dimension unlimited takes no share of it (the environment is still bound
// by the tenant-wide limit as a whole).
package quota

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

// Dimensions, named as the JSON fields and the Terraform attributes are.
const (
	CPUMillicores        = "cpu_millicores"
	MemoryMB             = "memory_mb"
	StorageGB            = "storage_gb"
	MaxUsers             = "max_users"
	APIRequestsPerMinute = "api_requests_per_minute"
)

// Dimensions lists every dimension in the order messages and docs use.
var Dimensions = []string{CPUMillicores, MemoryMB, StorageGB, MaxUsers, APIRequestsPerMinute}

// MaxLimit is the largest limit a quota may set in any dimension, so that
// sums of limits stay far from overflowing (and a typo of many zeros is
// caught).
const MaxLimit int64 = 1_000_000_000_000

// Limit returns a quota's limit in a dimension; nil when unlimited or when
// dimension is not one of Dimensions.
func Limit(q api.QuotaSpec, dimension string) *int64 {
	switch dimension {
	case CPUMillicores:
		return q.CPUMillicores
	case MemoryMB:
		return q.MemoryMB
	case StorageGB:
		return q.StorageGB
	case MaxUsers:
		return q.MaxUsers
	case APIRequestsPerMinute:
		return q.APIRequestsPerMinute
	}
	return nil
}

// Validate checks that every limit a quota sets is from 0 to MaxLimit; on
// failure it returns the first dimension out of range and why.
func Validate(q api.QuotaSpec) (dimension string, err error) {
	for _, d := range Dimensions {
		if v := Limit(q, d); v != nil && (*v < 0 || *v > MaxLimit) {
			return d, fmt.Errorf("%d is out of range; use a whole number from 0 to %d, or leave it unset for no limit", *v, MaxLimit)
		}
	}
	return "", nil
}

// Share is one environment's limit in one dimension.
type Share struct {
	Environment string
	Limit       int64
}

// Violation is one dimension in which quotas do not fit; Message says the
// use and the limit, starting with the dimension.
type Violation struct {
	Dimension string
	// Used is the sum of the environment quotas or the current use.
	Used int64
	// Limit is the limit that Used exceeds.
	Limit int64
	// Shares are the environment limits that make up Used, largest first.
	Shares  []Share
	Message string
}

func (v *Violation) Error() string { return v.Message }

// Fit checks that the environment quotas, by environment name, fit inside
// the tenant-wide quota and returns a violation for each dimension where
// they do not, in the order of Dimensions. A nil tenant quota fits anything.
func Fit(tenant *api.QuotaSpec, environments map[string]api.QuotaSpec) []Violation {
	if tenant == nil {
		return nil
	}
	var out []Violation
	for _, d := range Dimensions {
		limit := Limit(*tenant, d)
		if limit == nil {
			continue
		}
		var shares []Share
		var sum int64
		for env, q := range environments {
			if v := Limit(q, d); v != nil {
				shares = append(shares, Share{Environment: env, Limit: *v})
				sum = addSaturating(sum, *v)
			}
		}
		if sum <= *limit {
			continue
		}
		slices.SortFunc(shares, func(a, b Share) int {
			return cmp.Or(cmp.Compare(b.Limit, a.Limit), strings.Compare(a.Environment, b.Environment))
		})
		parts := make([]string, len(shares))
		for i, s := range shares {
			parts[i] = fmt.Sprintf("%s %d", s.Environment, s.Limit)
		}
		out = append(out, Violation{
			Dimension: d, Used: sum, Limit: *limit, Shares: shares,
			Message: fmt.Sprintf("%s: environment quotas add up to %d (%s), above the tenant quota of %d",
				d, sum, strings.Join(parts, ", "), *limit),
		})
	}
	return out
}

// Use is what a tenant holds now, per dimension; dimensions it does not
// name are not checked against use.
type Use map[string]int64

// BelowUse returns a violation for each dimension in which the quota sets a
// limit below the current use, in the order of Dimensions. what names the
// used things in messages, per dimension (such as "users" for max_users);
// the dimension's name is used when it has none.
func BelowUse(q api.QuotaSpec, use Use, what map[string]string) []Violation {
	var out []Violation
	for _, d := range Dimensions {
		limit := Limit(q, d)
		used, ok := use[d]
		if limit == nil || !ok || used <= *limit {
			continue
		}
		noun := what[d]
		if noun == "" {
			noun = d
		}
		out = append(out, Violation{
			Dimension: d, Used: used, Limit: *limit,
			Message: fmt.Sprintf("%s: the tenant has %d %s, above the new limit of %d; remove %d first or raise the limit",
				d, used, noun, *limit, used-*limit),
		})
	}
	return out
}

// Changed lists the dimensions whose limits differ between two quotas, in
// the order of Dimensions.
func Changed(a, b api.QuotaSpec) []string {
	var out []string
	for _, d := range Dimensions {
		x, y := Limit(a, d), Limit(b, d)
		if (x == nil) != (y == nil) || (x != nil && *x != *y) {
			out = append(out, d)
		}
	}
	return out
}

func addSaturating(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
