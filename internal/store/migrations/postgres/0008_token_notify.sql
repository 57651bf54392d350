-- Every change to the tokens table (a revocation above all) notifies the
-- replicas that listen on tenancy_token_revocations, in the transaction that
-- makes it, whoever makes it: tenancyd or an operator by hand. Replicas
-- cache the tokens they authenticate and forget them on this notification.
CREATE OR REPLACE FUNCTION tenancy_notify_token_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('tenancy_token_revocations', '');
	RETURN NULL;
END
$$;

CREATE TRIGGER tokens_notify_change AFTER UPDATE OR DELETE OR TRUNCATE ON tokens
	FOR EACH STATEMENT EXECUTE FUNCTION tenancy_notify_token_change();
