-- Each token records the token that minted it (created_by_id, '' for the
-- bootstrap token and for tokens minted before this migration), so that
-- revoking a token revokes every token minted from it, directly or not.
ALTER TABLE tokens ADD COLUMN created_by_id TEXT NOT NULL DEFAULT '';
CREATE INDEX tokens_created_by_id ON tokens (created_by_id);
-- Lists a tenant's tokens in id order.
CREATE INDEX tokens_tenant ON tokens (tenant, id);

-- Audit events name the token that acted and the token that minted it: a
-- token's name is free text that anyone who mints a token chooses.
ALTER TABLE audit_events ADD COLUMN actor_token_id TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN actor_token_created_by_id TEXT NOT NULL DEFAULT '';
