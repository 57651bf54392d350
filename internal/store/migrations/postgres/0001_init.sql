-- Times are TIMESTAMPTZ (microsecond precision). JSON is JSONB: key order and
-- whitespace are not kept, but null, [] and {} are, and callers unmarshal.

CREATE TABLE objects (
    tenant     TEXT        NOT NULL,
    kind       TEXT        NOT NULL,
    key        TEXT        NOT NULL,
    revision   BIGINT      NOT NULL,
    data       JSONB       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant, kind, key)
);

-- Lists a kind across every tenant (tenants themselves, platform-wide views).
CREATE INDEX objects_kind_key ON objects (kind, key, tenant);

CREATE TABLE tokens (
    id         TEXT        NOT NULL PRIMARY KEY,
    name       TEXT        NOT NULL,
    tenant     TEXT        NOT NULL,
    role       TEXT        NOT NULL,
    hash       BYTEA       NOT NULL UNIQUE,
    created_by TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);

CREATE TABLE audit_events (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant          TEXT        NOT NULL,
    actor           TEXT        NOT NULL,
    action          TEXT        NOT NULL,
    object_kind     TEXT        NOT NULL,
    object_key      TEXT        NOT NULL,
    revision_before BIGINT      NOT NULL,
    revision_after  BIGINT      NOT NULL,
    request_id      TEXT        NOT NULL,
    detail          TEXT        NOT NULL,
    time            TIMESTAMPTZ NOT NULL
);

CREATE INDEX audit_events_tenant ON audit_events (tenant, id);
CREATE INDEX audit_events_object ON audit_events (tenant, object_kind, object_key, id);

CREATE TABLE idempotency (
    scope        TEXT        NOT NULL,
    key          TEXT        NOT NULL,
    request_hash TEXT        NOT NULL,
    status       INTEGER     NOT NULL,
    body         BYTEA       NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE backups (
    id           TEXT        NOT NULL PRIMARY KEY,
    tenant       TEXT        NOT NULL,
    taken_at     TIMESTAMPTZ NOT NULL,
    retain_until TIMESTAMPTZ NOT NULL,
    data         JSONB       NOT NULL
);

CREATE INDEX backups_tenant ON backups (tenant, taken_at, id);
