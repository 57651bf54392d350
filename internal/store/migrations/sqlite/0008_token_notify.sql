-- PostgreSQL notifies replicas of changed tokens with a trigger. SQLite has
-- nothing to do: one tenancyd serves the file and hears its own revocations
-- as it commits them.
SELECT 1;
