-- Each tenant's api_requests_per_minute is one token bucket shared by every
-- replica: tokens left, the limit they were counted against, and when.
CREATE TABLE rate_buckets (
    tenant     TEXT    NOT NULL PRIMARY KEY,
    tokens     REAL    NOT NULL,
    rate_limit INTEGER NOT NULL,
    updated_at TEXT    NOT NULL
) WITHOUT ROWID;
