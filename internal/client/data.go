package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
)

func schemaPath(tenant, environment string) string {
	return PathEscape("v1", "tenants", tenant, "environments", environment, "schema")
}

func credentialsPath(tenant, environment string, username ...string) string {
	return PathEscape(append([]string{"v1", "tenants", tenant, "environments", environment, "credentials"}, username...)...)
}

func backupsPath(tenant string, id ...string) string {
	return PathEscape(append([]string{"v1", "tenants", tenant, "backups"}, id...)...)
}

// GetSchema reads an environment's schema: its migrations, those the data
// store records as applied, those pending and any drift; ErrNotFound when no
// schema was ever set for the environment.
func (c *Client) GetSchema(ctx context.Context, tenant, environment string) (*api.Schema, error) {
	return Get[api.Schema](ctx, c, schemaPath(tenant, environment))
}

// SetSchema sets an environment's migrations and applies, in version order,
// those not applied yet, each in a transaction of its own and cancelled
// after timeout (0: the server's default, five minutes). ifMatch, unless 0,
// is the revision the write requires. Changing or removing an applied
// migration is ErrInvalid, the field naming the version
// ("migrations.3"); SQL that fails is ErrInvalid too, naming the version
// and the database's error, and the schema then holds the migrations that
// were applied before it.
func (c *Client) SetSchema(ctx context.Context, tenant, environment string, spec api.SchemaSpec, ifMatch int64, timeout time.Duration) (*api.Schema, error) {
	return c.putSchema(ctx, tenant, environment, spec, ifMatch, timeout, false)
}

// CheckSchema asks the server whether SetSchema would be accepted (a dry
// run: every check, nothing applied) and returns the schema as it would be;
// its Pending lists the versions SetSchema would apply, in order. It sends
// no If-Match: the SetSchema that follows does.
func (c *Client) CheckSchema(ctx context.Context, tenant, environment string, spec api.SchemaSpec) (*api.Schema, error) {
	return c.putSchema(ctx, tenant, environment, spec, 0, 0, true)
}

func (c *Client) putSchema(ctx context.Context, tenant, environment string, spec api.SchemaSpec, ifMatch int64, timeout time.Duration, dryRun bool) (*api.Schema, error) {
	body, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	query := url.Values{}
	if dryRun {
		query.Set("dry_run", "true")
	}
	if timeout > 0 {
		query.Set(api.MigrationTimeoutParam, timeout.String())
	}
	return send[api.Schema](ctx, c, request{
		method: http.MethodPut, path: schemaPath(tenant, environment), query: query,
		body: body, contentType: contentJSON, ifMatch: ifMatch,
	})
}

// CreateCredentials mints a login for an environment's data store that
// expires after ttl (0: the server's default, fifteen minutes). The answer
// is the only place its password is ever shown; a retry of the same call
// is refused rather than shown the password again.
func (c *Client) CreateCredentials(ctx context.Context, tenant, environment string, ttl time.Duration) (*api.Credentials, error) {
	return Create[api.Credentials](ctx, c, credentialsPath(tenant, environment),
		api.CredentialsRequest{TTLSeconds: int64(ttl / time.Second)})
}

// RevokeCredentials drops a login that CreateCredentials minted, before it
// expires, and ends its open sessions. A login that is gone already
// (expired and removed, or revoked) is ErrNotFound: for a caller that
// closes credentials, as good as revoked.
func (c *Client) RevokeCredentials(ctx context.Context, tenant, environment, username string) error {
	_, err := Delete[json.RawMessage](ctx, c, credentialsPath(tenant, environment, username), 0)
	return err
}

// CreateBackup takes a backup of a tenant (req.Environment nil) or of one
// environment: its platform records and every table and row of its data
// stores.
func (c *Client) CreateBackup(ctx context.Context, tenant string, req api.BackupRequest) (*api.Backup, error) {
	return Create[api.Backup](ctx, c, backupsPath(tenant), req)
}

// CheckBackup asks the server whether CreateBackup would succeed (a dry run)
// and returns the backup as it would be, with the tables and rows it would
// hold, without storing anything.
func (c *Client) CheckBackup(ctx context.Context, tenant string, req api.BackupRequest) (*api.Backup, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	return send[api.Backup](ctx, c, request{
		method: http.MethodPost, path: backupsPath(tenant), query: url.Values{"dry_run": {"true"}},
		body: body, contentType: contentJSON,
	})
}

// GetBackup reads one backup of a tenant; ErrNotFound when the tenant has
// no backup with id (or it expired and was deleted).
func (c *Client) GetBackup(ctx context.Context, tenant, id string) (*api.Backup, error) {
	return Get[api.Backup](ctx, c, backupsPath(tenant, id))
}

// DeleteBackup deletes a backup of a tenant before its retain_until.
func (c *Client) DeleteBackup(ctx context.Context, tenant, id string) error {
	_, err := Delete[json.RawMessage](ctx, c, backupsPath(tenant, id), 0)
	return err
}
