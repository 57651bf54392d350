package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tenancyhq/terraform-provider-tenancy/internal/api"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/store"
	"github.com/tenancyhq/terraform-provider-tenancy/internal/tenantdata"
)

// backupFormat is the version of backupPayload. Backups of format 1 (from
// before tenant data) hold a tenant's objects in the record's Data.
const backupFormat = 2

// backupPayload is everything a backup holds: the platform's records of
// the tenant (or of the environment) and the dump of each environment's
// data store, by environment name. It is stored as gzip-compressed JSON,
// sealed with the secret key when tenancyd has one.
type backupPayload struct {
	Format      int                         `json:"format"`
	Tenant      string                      `json:"tenant"`
	Environment string                      `json:"environment,omitempty"`
	Records     []store.Object              `json:"records"`
	Stores      map[string]*tenantdata.Dump `json:"stores"`
}

// backupSummary is what a backup record shows of its payload, so that a
// list need not read payloads.
type backupSummary struct {
	Records   int64              `json:"records"`
	Encrypted bool               `json:"encrypted"`
	Stores    []api.StoreSummary `json:"stores"`
	// TenantCreatedAt tells the life of the slug the backup is of: a tenant
	// made later under the same slug does not see it.
	TenantCreatedAt time.Time `json:"tenant_created_at"`
}

// sealedPayloadPrefix marks a payload sealed with the secret key.
var sealedPayloadPrefix = []byte("tenancy-sealed-v1:")

// maxBackupBytes bounds a backup's payload as stored: backups live in the
// platform's database and are read whole into memory.
const maxBackupBytes = 512 << 20

// newBackup encodes a backup record: its payload, checksum, size and summary.
func (s *Server) newBackup(kind string, t api.Tenant, env string, retainDays int64, records []store.Object, stores map[string]*tenantdata.Dump) (store.BackupRecord, error) {
	tenant := t.Slug
	if stores == nil {
		stores = map[string]*tenantdata.Dump{}
	}
	payload := backupPayload{Format: backupFormat, Tenant: tenant, Environment: env, Records: records, Stores: stores}
	if payload.Records == nil {
		payload.Records = []store.Object{}
	}
	plain, err := json.Marshal(payload)
	if err != nil {
		return store.BackupRecord{}, err
	}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	if _, err := zw.Write(plain); err != nil {
		return store.BackupRecord{}, err
	}
	if err := zw.Close(); err != nil {
		return store.BackupRecord{}, err
	}
	stored, err := s.secrets.sealBytes(zipped.Bytes())
	if err != nil {
		return store.BackupRecord{}, err
	}
	if len(stored) > maxBackupBytes {
		return store.BackupRecord{}, errConflict("", "the backup would take %d bytes compressed, more than the %d a backup may hold; tenant data this large needs a backup of the database server itself",
			len(stored), maxBackupBytes)
	}
	sum := sha256.Sum256(stored)
	summary := backupSummary{Records: int64(len(payload.Records)), Encrypted: s.secrets.aead != nil, Stores: storeSummaries(stores),
		TenantCreatedAt: t.CreatedAt}
	summaryJSON, err := json.Marshal(summary)
	if err != nil {
		return store.BackupRecord{}, err
	}
	now := s.now().UTC()
	return store.BackupRecord{
		ID: newID("bkp"), Tenant: tenant, Environment: env, Kind: kind, TakenAt: now,
		RetainUntil: now.AddDate(0, 0, int(retainDays)), SizeBytes: int64(len(stored)),
		Checksum: hex.EncodeToString(sum[:]), Summary: summaryJSON, Data: json.RawMessage(`[]`), Payload: stored,
	}, nil
}

func storeSummaries(stores map[string]*tenantdata.Dump) []api.StoreSummary {
	out := []api.StoreSummary{}
	for _, env := range slices.Sorted(maps.Keys(stores)) {
		d := stores[env]
		out = append(out, api.StoreSummary{Environment: env, Engine: d.Engine, Tables: d.Summary(), Checksum: d.Checksum})
	}
	return out
}

// openBackup checks a backup's checksum and decodes what it holds. A
// backup whose payload does not match its checksum is refused: it was
// damaged or tampered with.
func (s *Server) openBackup(b store.BackupRecord) (*backupPayload, error) {
	if b.Payload == nil {
		// Format 1: a tenant's final backup, its objects in Data.
		var objs []store.Object
		if err := json.Unmarshal(b.Data, &objs); err != nil {
			return nil, fmt.Errorf("backup %s: stored data is corrupt: %w", b.ID, err)
		}
		return &backupPayload{Format: 1, Tenant: b.Tenant, Records: objs, Stores: map[string]*tenantdata.Dump{}}, nil
	}
	sum := sha256.Sum256(b.Payload)
	if got := hex.EncodeToString(sum[:]); got != b.Checksum {
		return nil, errConflict("checksum", "backup %s does not match its checksum (%s recorded, %s computed): it was damaged or altered, and is not restored",
			b.ID, b.Checksum, got)
	}
	zipped, err := s.secrets.openBytes(b.Payload)
	if err != nil {
		return nil, errConflict("", "backup %s: %v", b.ID, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", b.ID, err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", b.ID, err)
	}
	var p backupPayload
	if err := json.Unmarshal(plain, &p); err != nil {
		return nil, fmt.Errorf("backup %s: stored data is corrupt: %w", b.ID, err)
	}
	if p.Format != backupFormat || p.Tenant != b.Tenant || p.Environment != b.Environment {
		return nil, fmt.Errorf("backup %s: its payload (format %d, tenant %q, environment %q) is not the backup's", b.ID, p.Format, p.Tenant, p.Environment)
	}
	for env, d := range p.Stores {
		if err := d.Verify(d.Engine); err != nil {
			return nil, errConflict("checksum", "backup %s, environment %q: %v", b.ID, env, err)
		}
	}
	return &p, nil
}

// ofTenant reports whether a backup is of the tenant t, in its present
// life: not of an earlier tenant under the same slug.
func ofTenant(b store.BackupRecord, t api.Tenant) bool {
	var sum backupSummary
	return b.Tenant == t.Slug && json.Unmarshal(b.Summary, &sum) == nil && sum.TenantCreatedAt.Equal(t.CreatedAt)
}

// backupView is a backup as the API shows it.
func backupView(b store.BackupRecord) api.Backup {
	v := api.Backup{
		ID: b.ID, Tenant: b.Tenant, Kind: orDefault(b.Kind, api.BackupFinal), TakenAt: b.TakenAt, RetainUntil: b.RetainUntil,
		SizeBytes: b.SizeBytes, Checksum: b.Checksum, Stores: []api.StoreSummary{},
	}
	if b.Environment != "" {
		v.Environment = &b.Environment
	}
	var sum backupSummary
	if len(b.Summary) > 0 && json.Unmarshal(b.Summary, &sum) == nil {
		v.Records, v.Encrypted = sum.Records, sum.Encrypted
		if sum.Stores != nil {
			v.Stores = sum.Stores
		}
	}
	if b.Payload == nil && b.Checksum == "" {
		// Format 1: the records are in Data.
		var objs []json.RawMessage
		if json.Unmarshal(b.Data, &objs) == nil {
			v.Records = int64(len(objs))
		}
		v.SizeBytes = int64(len(b.Data))
	}
	return v
}

// sealBytes encrypts a payload under the secret key; without a key it is
// stored as it is.
func (b *secretBox) sealBytes(plain []byte) ([]byte, error) {
	if b.aead == nil {
		return plain, nil
	}
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return b.aead.Seal(append(slices.Clone(sealedPayloadPrefix), nonce...), nonce, plain, sealedPayloadPrefix), nil
}

// openBytes decrypts a payload sealBytes made.
func (b *secretBox) openBytes(stored []byte) ([]byte, error) {
	if !bytes.HasPrefix(stored, sealedPayloadPrefix) {
		return stored, nil
	}
	if b.aead == nil {
		return nil, errors.New("it is encrypted, and tenancyd runs without the secret key; start it with the TENANCYD_SECRET_KEY it was taken under")
	}
	data := stored[len(sealedPayloadPrefix):]
	n := b.aead.NonceSize()
	if len(data) < n {
		return nil, errors.New("its encrypted payload is truncated")
	}
	plain, err := b.aead.Open(nil, data[:n], data[n:], sealedPayloadPrefix)
	if err != nil {
		return nil, errors.New("it cannot be decrypted with this secret key; start tenancyd with the TENANCYD_SECRET_KEY it was taken under")
	}
	return plain, nil
}

// dumpStores dumps the stores of environments (those that have one),
// by name.
func (s *Server) dumpStores(ctx context.Context, t api.Tenant, envs []api.Environment) (map[string]*tenantdata.Dump, error) {
	out := map[string]*tenantdata.Dump{}
	for _, e := range envs {
		if e.Database == nil {
			continue // Never provisioned: no data.
		}
		d, err := s.data.Dump(ctx, storeRef(t, e))
		if errors.Is(err, tenantdata.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, dataError(t.Slug, e.Name, err)
		}
		out[e.Name] = d
	}
	return out, nil
}

// environmentRecords are the records an environment backup holds: the
// environment, its quota and its schema.
func environmentRecords(ctx context.Context, tx store.Tx, tenant, env string) ([]store.Object, error) {
	var out []store.Object
	for _, kind := range []string{api.KindEnvironment, api.KindQuota, api.KindSchema} {
		o, err := tx.Get(ctx, tenant, kind, env)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// tablesLine says in a few words what tables a dump holds, for messages
// and audit events: "3 tables, 120 rows".
func tablesLine(tables []api.TableSummary) string {
	var rows int64
	for _, t := range tables {
		rows += t.Rows
	}
	return fmt.Sprintf("%d tables, %d rows", len(tables), rows)
}

// storesLine is tablesLine over every store of a backup.
func storesLine(stores []api.StoreSummary) string {
	var all []api.TableSummary
	for _, st := range stores {
		all = append(all, st.Tables...)
	}
	return tablesLine(all)
}

// nonEmptyTables lists the tables of a store that hold rows, for a refusal
// to overwrite them.
func nonEmptyTables(stats []tenantdata.TableStat) string {
	var names []string
	for _, t := range stats {
		if t.Name != api.SchemaTable {
			names = append(names, fmt.Sprintf("%s (%d rows)", t.Name, t.Rows))
		}
	}
	if len(names) == 0 {
		return "applied migrations"
	}
	return strings.Join(names, ", ")
}
