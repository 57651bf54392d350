package api

import "time"

// Environment types.
const (
	EnvProduction  = "production"
	EnvStaging     = "staging"
	EnvDevelopment = "development"
	EnvSandbox     = "sandbox"
)

// EnvironmentTypes lists every environment type.
var EnvironmentTypes = []string{EnvProduction, EnvStaging, EnvDevelopment, EnvSandbox}

// EnvironmentSpec is the part of an environment a caller writes.
// Settings is the configuration that promotion carries between environments.
type EnvironmentSpec struct {
	Name     string            `json:"name"`
	Type     string            `json:"type"`
	Settings map[string]string `json:"settings"`
}

// Environment is an environment as the server returns it; ID is "tenant/name".
type Environment struct {
	EnvironmentSpec
	TenantID string `json:"tenant_id"`
	ID       string `json:"id"`
	Status   string `json:"status"`
	Meta
}

// UserSpec is the part of a user a caller writes.
type UserSpec struct {
	Email       string `json:"email"`
	DisplayName string `json:"display_name"`
}

// User is a user of one tenant; UserID is server-generated, ID is "tenant/user_id".
type User struct {
	UserSpec
	TenantID string `json:"tenant_id"`
	UserID   string `json:"user_id"`
	ID       string `json:"id"`
	Status   string `json:"status"`
	Meta
}

// RoleBindingSpec grants a user a role in a tenant, in one environment or,
// when Environment is nil, in every environment.
type RoleBindingSpec struct {
	UserID      string  `json:"user_id"`
	Role        string  `json:"role"`
	Environment *string `json:"environment,omitempty"`
}

// RoleBinding is a role binding; BindingID is server-generated, ID is "tenant/binding_id".
type RoleBinding struct {
	RoleBindingSpec
	TenantID  string `json:"tenant_id"`
	BindingID string `json:"binding_id"`
	ID        string `json:"id"`
	Meta
}

// QuotaSpec is a set of limits; a nil limit is unlimited. The tenant-wide
// quota bounds the sum of its environments' quotas.
type QuotaSpec struct {
	CPUMillicores        *int64 `json:"cpu_millicores,omitempty"`
	MemoryMB             *int64 `json:"memory_mb,omitempty"`
	StorageGB            *int64 `json:"storage_gb,omitempty"`
	MaxUsers             *int64 `json:"max_users,omitempty"`
	APIRequestsPerMinute *int64 `json:"api_requests_per_minute,omitempty"`
}

// Quota is a tenant's (Environment nil) or an environment's quota; ID is
// "tenant" or "tenant/environment".
type Quota struct {
	QuotaSpec
	TenantID    string  `json:"tenant_id"`
	Environment *string `json:"environment,omitempty"`
	ID          string  `json:"id"`
	Meta
}

// FlagEnvironment is a feature flag's state in one environment.
type FlagEnvironment struct {
	Enabled           bool  `json:"enabled"`
	RolloutPercentage int64 `json:"rollout_percentage"`
}

// FeatureFlagSpec is the part of a feature flag a caller writes. A PATCH
// (merge patch) of Environments changes only the environments it names.
type FeatureFlagSpec struct {
	Key          string                     `json:"key"`
	Description  string                     `json:"description"`
	Environments map[string]FlagEnvironment `json:"environments"`
}

// FeatureFlag is a feature flag; ID is "tenant/key".
type FeatureFlag struct {
	FeatureFlagSpec
	TenantID string `json:"tenant_id"`
	ID       string `json:"id"`
	Meta
}

// Integration kinds.
const (
	IntegrationWebhook = "webhook"
	IntegrationOIDC    = "oidc"
	IntegrationSlack   = "slack"
)

// IntegrationKinds lists every integration kind.
var IntegrationKinds = []string{IntegrationWebhook, IntegrationOIDC, IntegrationSlack}

// IntegrationSpec is the part of an integration a caller writes. Secret is
// write-only: the server keeps it and never returns it.
type IntegrationSpec struct {
	Name   string            `json:"name"`
	Kind   string            `json:"kind"`
	Config map[string]string `json:"config"`
	Secret *string           `json:"secret,omitempty"`
}

// Integration is an integration as the server returns it, without its secret;
// SecretSet says whether one is stored. ID is "tenant/name".
type Integration struct {
	Name      string            `json:"name"`
	Kind      string            `json:"kind"`
	Config    map[string]string `json:"config"`
	SecretSet bool              `json:"secret_set"`
	TenantID  string            `json:"tenant_id"`
	ID        string            `json:"id"`
	Meta
}

// Promotion scopes.
const (
	ScopeSettings     = "settings"
	ScopeFeatureFlags = "feature_flags"
	ScopeQuotas       = "quotas"
)

// PromotionScopes lists every scope a promotion can carry, in the order its
// changes are listed.
var PromotionScopes = []string{ScopeSettings, ScopeFeatureFlags, ScopeQuotas}

// PromotionRequest asks to promote (or, with DryRun, to preview promoting)
// the source environment's configuration to the target. An empty Include
// means every scope.
type PromotionRequest struct {
	SourceEnvironment string   `json:"source_environment"`
	TargetEnvironment string   `json:"target_environment"`
	Include           []string `json:"include,omitempty"`
	DryRun            bool     `json:"dry_run,omitempty"`
}

// Promotion is one promotion in a tenant's history, or a dry run's preview
// (no ID). Changes are the lines of what changed in the target, sorted, such
// as `feature_flags.new-billing.enabled: false -> true`.
type Promotion struct {
	ID                string     `json:"id,omitempty"`
	TenantID          string     `json:"tenant_id"`
	SourceEnvironment string     `json:"source_environment"`
	TargetEnvironment string     `json:"target_environment"`
	Include           []string   `json:"include"`
	Changes           []string   `json:"changes"`
	DryRun            bool       `json:"dry_run,omitempty"`
	PromotedBy        string     `json:"promoted_by,omitempty"`
	PromotedAt        *time.Time `json:"promoted_at,omitempty"`
	RolledBackAt      *time.Time `json:"rolled_back_at,omitempty"`
	RolledBackBy      string     `json:"rolled_back_by,omitempty"`
	Meta
}

// Usage is a tenant's use of the platform: API calls and errors counted by
// tenancyd since WindowStartedAt, and what the tenant holds now.
type Usage struct {
	TenantID        string    `json:"tenant_id"`
	APICalls        int64     `json:"api_calls"`
	APIErrors       int64     `json:"api_errors"`
	ErrorRate       float64   `json:"error_rate"`
	Users           int64     `json:"users"`
	Environments    int64     `json:"environments"`
	StorageBytes    int64     `json:"storage_bytes"`
	WindowStartedAt time.Time `json:"window_started_at"`
}
