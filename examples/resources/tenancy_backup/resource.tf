resource "tenancy_tenant" "acme" {
  slug                = "acme"
  display_name        = "Acme Corporation"
  region              = "eu-west"
  data_retention_days = 30
}

resource "tenancy_environment" "production" {
  tenant_id = tenancy_tenant.acme.id
  name      = "production"
  type      = "production"
}

# A backup of production every day: the first apply of each day (run
# `terraform apply` from a daily schedule) replaces this resource, taking
# that day's backup, and keep_on_destroy leaves the backups of the days
# before on the platform until their retain_until.
resource "tenancy_backup" "production_nightly" {
  tenant_id       = tenancy_tenant.acme.id
  environment     = tenancy_environment.production.name
  retain_days     = 14
  keep_on_destroy = true

  triggers = {
    day = formatdate("YYYY-MM-DD", plantimestamp())
  }
}

# A backup of the whole tenant, kept for its data_retention_days (30).
resource "tenancy_backup" "before_migration" {
  tenant_id = tenancy_tenant.acme.id

  depends_on = [tenancy_environment.production]
}

# A sandbox cloned from last night's production: a new backup id replaces
# the sandbox, so it follows production day by day.
resource "tenancy_environment" "sandbox" {
  tenant_id           = tenancy_tenant.acme.id
  name                = "sandbox"
  type                = "sandbox"
  restore_from_backup = tenancy_backup.production_nightly.backup_id
}

output "nightly" {
  value = {
    id           = tenancy_backup.production_nightly.backup_id
    taken_at     = tenancy_backup.production_nightly.taken_at
    retain_until = tenancy_backup.production_nightly.retain_until
    size_bytes   = tenancy_backup.production_nightly.size_bytes
  }
}
