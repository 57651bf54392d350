-- Idempotency records expire; the server prunes them by age.
CREATE INDEX idempotency_created_at ON idempotency (created_at);
