-- tenancyd deletes backups past their retain_until; this finds them.
CREATE INDEX backups_retain_until ON backups (retain_until, id);
