// Package api holds the wire types that tenancyd and the Go client both speak,
// so that the two sides of the HTTP API cannot drift apart.
package api

import "time"

// Tenant isolation levels.
const (
	IsolationShared    = "shared"
	IsolationDedicated = "dedicated"
	IsolationHybrid    = "hybrid"
)

// Isolations lists every isolation level a tenant may have.
var Isolations = []string{IsolationShared, IsolationDedicated, IsolationHybrid}

// Tenant lifecycle states.
const (
	StatusProvisioning = "provisioning"
	StatusActive       = "active"
)

// Roles, from the most to the least privileged.
const (
	RolePlatformAdmin = "platform_admin"
	RoleTenantAdmin   = "tenant_admin"
	RoleTenantUser    = "tenant_user"
	RoleTenantViewer  = "tenant_viewer"
)

// TenantRoles lists the roles that can be held within one tenant.
var TenantRoles = []string{RoleTenantAdmin, RoleTenantUser, RoleTenantViewer}

// roleRanks orders the roles: a role may do whatever a lower one may.
var roleRanks = map[string]int{
	RoleTenantViewer:  1,
	RoleTenantUser:    2,
	RoleTenantAdmin:   3,
	RolePlatformAdmin: 4,
}

// RoleRank is a role's place in the order of roles, from 1 for
// tenant_viewer up; 0 for no role or one this version does not know.
func RoleRank(role string) int { return roleRanks[role] }

// RoleAtLeast reports whether role is need or a higher one: what the
// platform asks of a token before it grants, mints or changes anything.
func RoleAtLeast(role, need string) bool { return RoleRank(role) >= RoleRank(need) }

// Region is one region tenancyd offers (GET /v1/regions).
type Region struct {
	Name string `json:"name"`
}

// DefaultRegions are the regions tenancyd offers unless told otherwise.
var DefaultRegions = []string{"us-east", "us-west", "eu-west", "eu-central", "ap-southeast"}

// Defaults a tenant gets for attributes the caller leaves out. The provider's
// schema uses the same values so that a plan matches what the server stores.
const (
	DefaultIsolation             = IsolationShared
	DefaultTimezone              = "UTC"
	DefaultLanguage              = "en"
	DefaultDataRetentionDays     = 30
	DefaultSessionTimeoutMinutes = 60

	MinDataRetentionDays     = 1
	MaxDataRetentionDays     = 3650
	MinSessionTimeoutMinutes = 5
	MaxSessionTimeoutMinutes = 1440
)

// Header names the API uses beyond the standard ones.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderRequestID      = "X-Request-Id"
)

// Branding is how a tenant's UI looks.
type Branding struct {
	LogoURL      *string `json:"logo_url,omitempty"`
	PrimaryColor *string `json:"primary_color,omitempty"`
}

// SecurityPolicy holds a tenant's security rules.
type SecurityPolicy struct {
	MFARequired           *bool    `json:"mfa_required,omitempty"`
	SessionTimeoutMinutes *int64   `json:"session_timeout_minutes,omitempty"`
	AllowedCIDRs          []string `json:"allowed_cidrs"`
}

// TenantSpec is the part of a tenant that a caller writes. A nil pointer or
// nil map is "not set"; the server fills in the defaults above.
type TenantSpec struct {
	Slug               string            `json:"slug"`
	DisplayName        string            `json:"display_name"`
	Isolation          string            `json:"isolation,omitempty"`
	Region             string            `json:"region"`
	Domain             *string           `json:"domain,omitempty"`
	Timezone           string            `json:"timezone,omitempty"`
	Language           string            `json:"language,omitempty"`
	Branding           *Branding         `json:"branding,omitempty"`
	Labels             map[string]string `json:"labels"`
	SecurityPolicy     *SecurityPolicy   `json:"security_policy,omitempty"`
	DataRetentionDays  *int64            `json:"data_retention_days,omitempty"`
	DeletionProtection *bool             `json:"deletion_protection,omitempty"`
}

// ProvisioningSteps are the steps a new tenant goes through, in order; the
// last one makes it active.
var ProvisioningSteps = []string{"request", "resource_allocation", "environment_setup", "configuration", "activation"}

// Meta is what the server keeps on every object: its revision (also its
// ETag) and when it was created and last changed.
type Meta struct {
	Revision  int64     `json:"revision"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// GetMeta gives the server generic access to an object's Meta.
func (m *Meta) GetMeta() *Meta { return m }

// Tenant is a tenant as the server returns it.
type Tenant struct {
	TenantSpec
	ID     string `json:"id"`
	Status string `json:"status"`
	// ProvisioningStep is the last provisioning step done.
	ProvisioningStep string `json:"provisioning_step,omitempty"`
	// StatusReason says why the status is failed.
	StatusReason string `json:"status_reason,omitempty"`
	Meta
}

// TenantDeletion answers a tenant's DELETE: where its final backup is kept.
type TenantDeletion struct {
	Slug   string `json:"slug"`
	Backup Backup `json:"backup"`
}

// List is one page of a paginated list.
type List[T any] struct {
	Items         []T    `json:"items"`
	NextPageToken string `json:"next_page_token,omitempty"`
}

// Paging limits for every list.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// Error codes of ErrorBody.
const (
	CodeBadRequest       = "bad_request"
	CodeUnauthenticated  = "unauthenticated"
	CodePermissionDenied = "permission_denied"
	CodeNotFound         = "not_found"
	// CodeNoRoute is a 404 for a path the API does not have, such as an
	// endpoint configured with a path: unlike not_found, it says nothing
	// about any object.
	CodeNoRoute            = "no_route"
	CodeConflict           = "conflict"
	CodePreconditionFailed = "precondition_failed"
	CodeTooLarge           = "request_too_large"
	CodeInvalid            = "invalid_argument"
	CodeRateLimited        = "rate_limited"
	CodeInternal           = "internal"
)

// ErrorBody is the JSON every error response carries.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong and, where one input caused it, which
// field (a dotted path such as "security_policy.allowed_cidrs").
type ErrorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// TokenRequest mints a token.
type TokenRequest struct {
	Name       string `json:"name"`
	Tenant     string `json:"tenant,omitempty"`
	Role       string `json:"role"`
	TTLSeconds int64  `json:"ttl_seconds,omitempty"`
}

// Token is a minted token; Token, its secret, is filled only in the answer
// to its creation. CreatedBy and CreatedByID name the token that minted it.
type Token struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Tenant      string     `json:"tenant,omitempty"`
	Role        string     `json:"role"`
	Token       string     `json:"token,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
	CreatedBy   string     `json:"created_by,omitempty"`
	CreatedByID string     `json:"created_by_id,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

// TokenInfo describes the token a request presents (GET /v1/tokens/self),
// never its secret: what it may reach (its tenant, "" for a platform token)
// and with which role.
type TokenInfo struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Tenant    string     `json:"tenant,omitempty"`
	Role      string     `json:"role"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

// Object kinds, as audit events name them (object_kind).
const (
	KindTenant      = "tenant"
	KindEnvironment = "environment"
	KindUser        = "user"
	KindRoleBinding = "role_binding"
	KindQuota       = "quota"
	KindFeatureFlag = "feature_flag"
	KindIntegration = "integration"
	KindPromotion   = "promotion"
	KindToken       = "token"
	KindBackup      = "backup"
)

// AuditEvent records one mutation. Actor is the acting token's name, free
// text chosen by whoever minted it; ActorTokenID identifies the token, and
// ActorTokenCreatedByID the token that minted it (both empty when tenancyd
// itself acted, such as when it provisions a tenant).
type AuditEvent struct {
	ID                    int64     `json:"id"`
	Tenant                string    `json:"tenant"`
	Actor                 string    `json:"actor"`
	ActorTokenID          string    `json:"actor_token_id,omitempty"`
	ActorTokenCreatedByID string    `json:"actor_token_created_by_id,omitempty"`
	Action                string    `json:"action"`
	ObjectKind            string    `json:"object_kind"`
	ObjectKey             string    `json:"object_key"`
	RevisionBefore        int64     `json:"revision_before"`
	RevisionAfter         int64     `json:"revision_after"`
	RequestID             string    `json:"request_id,omitempty"`
	Detail                string    `json:"detail,omitempty"`
	Time                  time.Time `json:"time"`
	// PromotionID names the promotion that made this change to its target,
	// or whose rollback made it (the detail says "rollback of promotion"),
	// so that a drift explanation can tell what a promotion resource
	// changed, or rolled back, from what someone changed by hand.
	PromotionID string `json:"promotion_id,omitempty"`
}
