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

// Limits of an environment's settings: keys follow the label key rule
// (validate.LabelKeyPattern, such as "log_level" or "db.pool_size"); values
// are UTF-8 text of at most MaxSettingValueBytes bytes.
const (
	MaxSettings          = 256
	MaxSettingValueBytes = 4096
)

// EnvironmentSpec is the part of an environment a caller writes.
// Settings is the configuration that promotion carries between environments.
// RestoreFromBackup, set only when the environment is created, seeds its
// data store from a backup: an environment backup, or a tenant backup that
// holds an environment of the same name.
type EnvironmentSpec struct {
	Name              string            `json:"name"`
	Type              string            `json:"type"`
	Settings          map[string]string `json:"settings"`
	RestoreFromBackup *string           `json:"restore_from_backup,omitempty"`
}

// Environment is an environment as the server returns it; ID is "tenant/name".
// Status is provisioning while its data store is made, then active, or
// failed (StatusReason says why) until a retry succeeds. Database is where
// its data store lives; nil until it is provisioned.
type Environment struct {
	EnvironmentSpec
	TenantID     string    `json:"tenant_id"`
	ID           string    `json:"id"`
	Status       string    `json:"status"`
	StatusReason string    `json:"status_reason,omitempty"`
	Database     *Database `json:"database,omitempty"`
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

// TenantQuotaKey is the object key of a tenant's tenant-wide quota, as
// audit events name it (object_key); an environment's quota is keyed by the
// environment's name, which can never start with "@".
const TenantQuotaKey = "@tenant"

// Quota is a tenant's (Environment nil) or an environment's quota; ID is
// "tenant" or "tenant/environment".
type Quota struct {
	QuotaSpec
	TenantID    string  `json:"tenant_id"`
	Environment *string `json:"environment,omitempty"`
	ID          string  `json:"id"`
	Meta
}

// Limits of a feature flag.
const (
	MaxFlagDescriptionLength = 1000
	MinRolloutPercentage     = 0
	MaxRolloutPercentage     = 100
)

// DefaultRolloutPercentage is the rollout of a flag's environment entry
// written without one: everyone, once the flag is enabled there. The
// provider's schema has the same default.
const DefaultRolloutPercentage = 100

// FlagEnvironment is a feature flag's state in one environment.
type FlagEnvironment struct {
	Enabled           bool  `json:"enabled"`
	RolloutPercentage int64 `json:"rollout_percentage"`
}

// FlagEnvironmentInput is a flag's environment entry as a caller writes it:
// without rollout_percentage, it is DefaultRolloutPercentage.
type FlagEnvironmentInput struct {
	Enabled           bool   `json:"enabled"`
	RolloutPercentage *int64 `json:"rollout_percentage,omitempty"`
}

// FeatureFlagInput is a feature flag as a caller writes it: the body of a
// POST, and the document a PATCH (merge patch) applies to.
type FeatureFlagInput struct {
	Key          string                          `json:"key"`
	Description  string                          `json:"description"`
	Environments map[string]FlagEnvironmentInput `json:"environments"`
}

// Spec is the flag the input describes, with the defaults filled in.
func (in FeatureFlagInput) Spec() FeatureFlagSpec {
	s := FeatureFlagSpec{Key: in.Key, Description: in.Description}
	if in.Environments != nil {
		s.Environments = make(map[string]FlagEnvironment, len(in.Environments))
		for env, e := range in.Environments {
			rollout := int64(DefaultRolloutPercentage)
			if e.RolloutPercentage != nil {
				rollout = *e.RolloutPercentage
			}
			s.Environments[env] = FlagEnvironment{Enabled: e.Enabled, RolloutPercentage: rollout}
		}
	}
	return s
}

// Input is the flag as a caller would write it, every field set.
func (s FeatureFlagSpec) Input() FeatureFlagInput {
	in := FeatureFlagInput{Key: s.Key, Description: s.Description}
	if s.Environments != nil {
		in.Environments = make(map[string]FlagEnvironmentInput, len(s.Environments))
		for env, e := range s.Environments {
			in.Environments[env] = FlagEnvironmentInput{Enabled: e.Enabled, RolloutPercentage: &e.RolloutPercentage}
		}
	}
	return in
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

// IntegrationRequiredConfig names the config keys each kind requires. A
// config key named "url" or ending in "_url" must hold an https:// URL.
var IntegrationRequiredConfig = map[string][]string{
	IntegrationWebhook: {"url"},
	IntegrationOIDC:    {"issuer_url", "client_id"},
	IntegrationSlack:   {"channel"},
}

// Limits of an integration.
const (
	MaxIntegrationConfigKeys        = 64
	MaxIntegrationConfigValueLength = 4096 // bytes
	MaxIntegrationSecretLength      = 4096 // bytes
)

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
	ScopeSchema       = "schema"
)

// PromotionScopes lists every scope a promotion can carry; whatever the
// scopes, a promotion's change lines are sorted as strings, but for those
// of the schema scope, which go in version order (schema.2 before
// schema.10).
var PromotionScopes = []string{ScopeSettings, ScopeFeatureFlags, ScopeQuotas, ScopeSchema}

// PromotionRequest asks to promote (or, with DryRun, to preview promoting)
// the source environment's configuration to the target. An empty Include
// means every scope.
type PromotionRequest struct {
	SourceEnvironment string   `json:"source_environment"`
	TargetEnvironment string   `json:"target_environment"`
	Include           []string `json:"include,omitempty"`
	DryRun            bool     `json:"dry_run,omitempty"`
	// ExpectChanges, when set (even to an empty list), makes the promotion
	// refuse with 412 unless it would make exactly these changes: Terraform
	// applies the changes its plan showed, or none.
	ExpectChanges *[]string `json:"expect_changes,omitempty"`
	// Link also creates the promotion link of the target (see
	// PromotionLink) in the same transaction: a tenancy_environment_promotion
	// sends it with its first promotion.
	Link bool `json:"link,omitempty"`
	// Linked says that the holder of the target's promotion link makes this
	// promotion: a tenancy_environment_promotion sends it with every later
	// promotion. It fails with 409 unless the target's link is from
	// SourceEnvironment.
	Linked bool `json:"linked,omitempty"`
}

// KindPromotionLink is the object kind of a PromotionLink.
const KindPromotionLink = "promotion_link"

// PromotionLink records that a tenancy_environment_promotion promotes its
// source into its target; a target has at most one, so two resources cannot
// fight over one environment. ID is "tenant/source/target".
type PromotionLink struct {
	TenantID          string `json:"tenant_id"`
	SourceEnvironment string `json:"source_environment"`
	TargetEnvironment string `json:"target_environment"`
	ID                string `json:"id"`
	CreatedBy         string `json:"created_by"`
	Meta
}

// Promotion is one promotion in a tenant's history, or a dry run's preview
// (no ID). Changes are the lines of what changed in the target, sorted, such
// as `feature_flags.new-billing.enabled: false -> true` (the format is
// described in package promotion); RollbackChanges, those its rollback
// changed.
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
	RollbackChanges   []string   `json:"rollback_changes,omitempty"`
	// Linked marks a promotion made with Link or Linked, by the
	// tenancy_environment_promotion that holds the target's promotion link.
	Linked bool `json:"linked,omitempty"`
	// Source and Target are, in a dry run's answer only, the two
	// environments as the preview compared them, in the included scopes.
	Source *PromotionEnvironment `json:"source,omitempty"`
	Target *PromotionEnvironment `json:"target,omitempty"`
	Meta
}

// PromotionEnvironment is what a promotion reads of one environment, in the
// scopes it includes; a scope left out is absent.
type PromotionEnvironment struct {
	Settings map[string]string `json:"settings,omitempty"`
	// FeatureFlags maps a flag's key to its entry for the environment; a
	// flag without an entry is not listed.
	FeatureFlags map[string]FlagEnvironment `json:"feature_flags,omitempty"`
	// Quota is the environment's quota; absent when it has none.
	Quota *QuotaSpec `json:"quota,omitempty"`
	// Schema is what the environment's data store has applied, in a
	// preview that includes the schema scope; absent when the store
	// cannot be read (it is not provisioned).
	Schema *PromotionSchema `json:"schema,omitempty"`
}

// PromotionSchema is the migrations an environment's data store has
// applied, from version to the SHA-256 (hex) of their SQL, as a preview
// compared them.
type PromotionSchema struct {
	Applied map[string]string `json:"applied"`
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
