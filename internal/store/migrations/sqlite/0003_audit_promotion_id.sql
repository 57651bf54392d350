-- An audit event names the promotion that made the change, so that a drift
-- explanation can leave out what a managed promotion did.
ALTER TABLE audit_events ADD COLUMN promotion_id TEXT NOT NULL DEFAULT '';
