-- Times are TEXT in one fixed UTC format with microseconds
-- (2006-01-02T15:04:05.000000Z), so they sort as text and round-trip exactly.
-- JSON is TEXT, kept byte for byte.

CREATE TABLE objects (
    tenant     TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    revision   INTEGER NOT NULL,
    data       TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (tenant, kind, key)
) WITHOUT ROWID;

-- Lists a kind across every tenant (tenants themselves, platform-wide views).
CREATE INDEX objects_kind_key ON objects (kind, key, tenant);

CREATE TABLE tokens (
    id         TEXT NOT NULL PRIMARY KEY,
    name       TEXT NOT NULL,
    tenant     TEXT NOT NULL,
    role       TEXT NOT NULL,
    hash       BLOB NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT
);

-- AUTOINCREMENT: an id is never reused, even after the newest event is deleted.
CREATE TABLE audit_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant          TEXT    NOT NULL,
    actor           TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    object_kind     TEXT    NOT NULL,
    object_key      TEXT    NOT NULL,
    revision_before INTEGER NOT NULL,
    revision_after  INTEGER NOT NULL,
    request_id      TEXT    NOT NULL,
    detail          TEXT    NOT NULL,
    time            TEXT    NOT NULL
);

CREATE INDEX audit_events_tenant ON audit_events (tenant, id);
CREATE INDEX audit_events_object ON audit_events (tenant, object_kind, object_key, id);

CREATE TABLE idempotency (
    scope        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    body         BLOB    NOT NULL,
    created_at   TEXT    NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;

CREATE TABLE backups (
    id           TEXT NOT NULL PRIMARY KEY,
    tenant       TEXT NOT NULL,
    taken_at     TEXT NOT NULL,
    retain_until TEXT NOT NULL,
    data         TEXT NOT NULL
);

CREATE INDEX backups_tenant ON backups (tenant, taken_at, id);
