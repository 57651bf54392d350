-- Backups of a tenant or of one environment, with its data stores: the
-- payload (compressed, encrypted when tenancyd has a key) and what a list
-- shows without reading it. Older backups keep their records in data.
ALTER TABLE backups ADD COLUMN environment TEXT    NOT NULL DEFAULT '';
ALTER TABLE backups ADD COLUMN kind        TEXT    NOT NULL DEFAULT 'final';
ALTER TABLE backups ADD COLUMN size_bytes  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE backups ADD COLUMN checksum    TEXT    NOT NULL DEFAULT '';
ALTER TABLE backups ADD COLUMN summary     TEXT    NOT NULL DEFAULT '{}';
ALTER TABLE backups ADD COLUMN payload     BLOB;
