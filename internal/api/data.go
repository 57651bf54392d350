package api

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// StatusFailed is the state of a tenant or environment whose provisioning
// failed; its status_reason says why. tenancyd keeps retrying, and the
// object becomes active once a retry succeeds.
const StatusFailed = "failed"

// Statuses lists every state a tenant or an environment can be in.
var Statuses = []string{StatusProvisioning, StatusActive, StatusFailed}

// Data store engines.
const (
	EnginePostgres = "postgres"
	EngineSQLite   = "sqlite"
)

// Engines lists every engine a data store can run on.
var Engines = []string{EnginePostgres, EngineSQLite}

// Placements of one environment's data store: the environment's own schema
// in a shared tenant-data database, or a database of its own. A tenant's
// isolation decides each environment's placement (hybrid: production
// dedicated, the others shared).
const (
	PlacementShared    = IsolationShared
	PlacementDedicated = IsolationDedicated
)

// Placements lists both placements.
var Placements = []string{PlacementShared, PlacementDedicated}

// PlacementFor is where a tenant's isolation puts an environment of a
// type: hybrid puts production in a database of its own and the others in
// the shared one. The server places stores by it, and the provider plans
// by it where an environment's database will be.
func PlacementFor(isolation, envType string) string {
	switch isolation {
	case IsolationDedicated:
		return PlacementDedicated
	case IsolationHybrid:
		if envType == EnvProduction {
			return PlacementDedicated
		}
	}
	return PlacementShared
}

// Database says where an environment's data store lives and how to reach
// it, without any secret: credentials come from POST .../credentials.
// Isolation is the store's placement, "shared" or "dedicated". On SQLite,
// Name is the path of the environment's database file on tenancyd's host,
// Host, Port and Schema are empty, and both placements are one file.
type Database struct {
	Engine    string `json:"engine"`
	Host      string `json:"host"`
	Port      int64  `json:"port"`
	Name      string `json:"name"`
	Schema    string `json:"schema"`
	Isolation string `json:"isolation"`
}

// MigrationChecksum is the SHA-256 (hex) of a migration's SQL, as a data
// store's SchemaTable records it; the provider computes it at plan time to
// tell a changed migration from an applied one.
func MigrationChecksum(sql string) string {
	sum := sha256.Sum256([]byte(sql))
	return hex.EncodeToString(sum[:])
}

// SchemaTable is the table, inside every data store, that records the
// migrations applied to it. Whoever holds credentials can write to it;
// what they change there shows as drift.
const SchemaTable = "tenancy_schema_migrations"

// Limits of a schema. Versions are positive whole numbers written without
// leading zeros ("1", "2", "10"), applied in ascending numeric order.
const (
	MaxMigrations         = 1000
	MaxMigrationBytes     = 256 << 10
	MaxMigrationVersion   = 999999999999999999 // 18 digits: fits an int64
	DefaultMigrationTime  = 5 * time.Minute
	MaxMigrationTime      = time.Hour
	MigrationTimeoutParam = "timeout" // query parameter of PUT .../schema, a Go duration such as "90s"
)

// SchemaSpec is what PUT /v1/tenants/{tenant}/environments/{env}/schema
// takes: every migration of the environment, by version. The server
// applies, in version order, those not yet applied, each in a transaction
// of its own; an applied migration can be neither changed nor removed.
type SchemaSpec struct {
	Migrations map[string]string `json:"migrations"`
}

// AppliedMigration is one row of the store's SchemaTable: a migration with
// the SHA-256 (hex) of its SQL and when it was applied.
type AppliedMigration struct {
	Version   string    `json:"version"`
	Checksum  string    `json:"checksum"`
	AppliedAt time.Time `json:"applied_at"`
}

// Kinds of schema drift.
const (
	// DriftChecksum: a version is applied with another checksum than the SQL
	// the platform holds for it.
	DriftChecksum = "checksum_mismatch"
	// DriftUnknown: a version is applied that the platform never applied: it
	// was applied outside the API.
	DriftUnknown = "applied_outside_api"
)

// DriftKinds lists every kind of schema drift.
var DriftKinds = []string{DriftChecksum, DriftUnknown}

// SchemaDrift is one difference between the migrations the platform holds
// and those the data store records.
type SchemaDrift struct {
	Version string `json:"version"`
	Kind    string `json:"kind"`
	// Checksum is what the store records; ExpectedChecksum, the checksum of
	// the platform's SQL for the version ("" when it has none).
	Checksum         string    `json:"checksum"`
	ExpectedChecksum string    `json:"expected_checksum,omitempty"`
	AppliedAt        time.Time `json:"applied_at"`
	Message          string    `json:"message"`
}

// Schema is an environment's schema as the server returns it: the
// migrations last PUT (those applied, when a PUT failed part way), the
// migrations the store records as applied, in version order, the versions
// still to apply and any drift. ID is "tenant/environment".
type Schema struct {
	SchemaSpec
	TenantID    string             `json:"tenant_id"`
	Environment string             `json:"environment"`
	ID          string             `json:"id"`
	Applied     []AppliedMigration `json:"applied"`
	Pending     []string           `json:"pending"`
	Drift       []SchemaDrift      `json:"drift"`
	Meta
}

// KindSchema is the object kind of a Schema.
const KindSchema = "schema"

// Limits of minted database credentials.
const (
	DefaultCredentialsTTLSeconds = 900
	MinCredentialsTTLSeconds     = 60
	MaxCredentialsTTLSeconds     = 24 * 60 * 60
)

// CredentialsRequest mints a login for one environment's data store
// (POST /v1/tenants/{tenant}/environments/{env}/credentials); TTLSeconds 0
// means DefaultCredentialsTTLSeconds.
type CredentialsRequest struct {
	TTLSeconds int64 `json:"ttl_seconds,omitempty"`
}

// Credentials are a login for one environment's data store. The password
// is in the answer to the mint only: tenancyd neither logs nor stores it.
// DSN is ready for psql or a driver. On SQLite there are no logins: the DSN
// is the environment's file and Password is empty.
type Credentials struct {
	TenantID    string    `json:"tenant_id"`
	Environment string    `json:"environment"`
	Username    string    `json:"username"`
	Password    string    `json:"password,omitempty"`
	DSN         string    `json:"dsn"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// KindCredentials is the object kind audit events give minted credentials.
const KindCredentials = "credentials"

// Backup kinds.
const (
	// BackupFinal is taken when a tenant or an environment is decommissioned.
	BackupFinal = "final"
	// BackupOnDemand is taken by POST /v1/tenants/{tenant}/backups.
	BackupOnDemand = "on_demand"
)

// BackupKinds lists every kind of backup.
var BackupKinds = []string{BackupFinal, BackupOnDemand}

// BackupRequest takes a backup (POST /v1/tenants/{tenant}/backups): of the
// whole tenant when Environment is null, else of that environment.
// RetainDays defaults to the tenant's data_retention_days.
type BackupRequest struct {
	Environment *string `json:"environment"`
	RetainDays  *int64  `json:"retain_days,omitempty"`
}

// TableSummary is one table of a data store as a backup holds it: its
// rows and the SHA-256 of those rows in a canonical order.
type TableSummary struct {
	Name     string `json:"name"`
	Rows     int64  `json:"rows"`
	Checksum string `json:"checksum"`
}

// StoreSummary is what a backup holds of one environment's data store.
type StoreSummary struct {
	Environment string         `json:"environment"`
	Engine      string         `json:"engine"`
	Tables      []TableSummary `json:"tables"`
	// Checksum covers the store's whole dump: definitions and rows.
	Checksum string `json:"checksum"`
}

// Backup is a backup of a tenant (Environment null) or of one environment:
// the platform's records and every table and row of the data stores.
// SizeBytes and Checksum (SHA-256, hex) are those of the payload as stored,
// encrypted when Encrypted. Backups taken before tenancyd kept tenant data
// hold the platform's records only: no Stores, no Checksum.
type Backup struct {
	ID          string         `json:"id"`
	Tenant      string         `json:"tenant"`
	Environment *string        `json:"environment"`
	Kind        string         `json:"kind"`
	TakenAt     time.Time      `json:"taken_at"`
	RetainUntil time.Time      `json:"retain_until"`
	SizeBytes   int64          `json:"size_bytes"`
	Checksum    string         `json:"checksum"`
	Encrypted   bool           `json:"encrypted"`
	Records     int64          `json:"records"`
	Stores      []StoreSummary `json:"stores"`
}

// RestoreRequest restores a backup (POST /v1/backups/{id}/restore).
//
//   - No target, and no tenant with the backup's slug: the tenant comes back
//     as it was, records and data (platform_admin).
//   - No target environment, and the tenant exists: the data of every
//     environment in the backup goes into the environment of the same name.
//   - A target environment: the backup's environment (an environment
//     backup's, or the one of that name in a tenant backup) goes into it,
//     in the backup's tenant or in TargetTenant (another tenant:
//     platform_admin).
//
// A non-empty target store is refused unless Replace. Move then empties
// the source environment, which must not have changed since the backup.
// DryRun (or ?dry_run=true) checks everything and lists what would be
// restored, writing nothing.
type RestoreRequest struct {
	TargetTenant      string `json:"target_tenant,omitempty"`
	TargetEnvironment string `json:"target_environment,omitempty"`
	Replace           bool   `json:"replace,omitempty"`
	Move              bool   `json:"move,omitempty"`
	DryRun            bool   `json:"dry_run,omitempty"`
}

// RestoredStore is one environment's data as a restore wrote it (or, in a
// dry run, would write it).
type RestoredStore struct {
	SourceEnvironment string         `json:"source_environment"`
	TargetEnvironment string         `json:"target_environment"`
	Tables            []TableSummary `json:"tables"`
	// Replaced says the target held data that the restore replaced.
	Replaced bool `json:"replaced"`
	// Emptied says the source was emptied (a move).
	Emptied bool `json:"emptied"`
}

// RestoreResult answers a restore: what was (or, for a dry run, would be)
// restored where. Tenant is the tenant restored when the backup recreated
// it.
type RestoreResult struct {
	BackupID     string          `json:"backup_id"`
	SourceTenant string          `json:"source_tenant"`
	TargetTenant string          `json:"target_tenant"`
	DryRun       bool            `json:"dry_run"`
	Records      int64           `json:"records"`
	Stores       []RestoredStore `json:"stores"`
	Tenant       *Tenant         `json:"tenant,omitempty"`
}
