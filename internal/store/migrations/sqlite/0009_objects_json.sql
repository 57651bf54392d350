-- SQLite keeps objects' JSON as written already (TEXT); PostgreSQL changes
-- its column from JSONB to JSON.
SELECT 1;
