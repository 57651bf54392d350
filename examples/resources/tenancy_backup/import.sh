# A backup is imported by its tenant's slug and its backup id: "<tenant>/<backup_id>".
terraform import tenancy_backup.production_nightly acme/bkp_0123456789abcdef0123
