resource "tenancy_tenant" "acme" {
  slug         = "acme"
  display_name = "Acme Corporation"
  region       = "eu-west"
}

resource "tenancy_environment" "staging" {
  tenant_id = tenancy_tenant.acme.id
  name      = "staging"
  type      = "staging"

  # The configuration that tenancy_environment_promotion carries to production.
  settings = {
    log_level      = "debug"
    "db.pool_size" = "10"
  }
}

resource "tenancy_environment" "production" {
  tenant_id = tenancy_tenant.acme.id
  name      = "production"
  type      = "production"

  settings = {
    log_level      = "warn"
    "db.pool_size" = "50"
  }
}

output "staging_id" {
  value = tenancy_environment.staging.id # "acme/staging"
}
