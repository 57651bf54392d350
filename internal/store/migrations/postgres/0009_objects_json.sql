-- Objects keep their JSON as tenancyd wrote it (JSON, not JSONB): a GET of
-- one object then serves the stored bytes with its revision and timestamps
-- spliced in, instead of decoding and encoding them again. Nothing queries
-- inside the data. Rows converted here keep JSONB's spacing and key order,
-- which tenancyd decodes as before, until their next write.
ALTER TABLE objects ALTER COLUMN data TYPE JSON USING data::json;
