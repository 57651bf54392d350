resource "tenancy_tenant" "acme" {
  slug         = "acme"
  display_name = "Acme Corporation"
  region       = "eu-west"
}

resource "tenancy_environment" "production" {
  tenant_id = tenancy_tenant.acme.id
  name      = "production"
  type      = "production"
}

resource "tenancy_environment" "staging" {
  tenant_id = tenancy_tenant.acme.id
  name      = "staging"
  type      = "staging"
}

# The tenant's budget on the platform (set with a platform_admin token).
# api_requests_per_minute throttles the tenant's tokens with HTTP 429.
resource "tenancy_quota" "acme" {
  tenant_id               = tenancy_tenant.acme.id
  cpu_millicores          = 8000
  memory_mb               = 16384
  storage_gb              = 500
  max_users               = 50
  api_requests_per_minute = 6000
}

# Shares of that budget per environment: in each dimension they may add up
# to no more than the tenant-wide quota, or the plan fails with the numbers.
# Unset limits take no share.
resource "tenancy_quota" "production" {
  tenant_id      = tenancy_tenant.acme.id
  environment    = tenancy_environment.production.name
  cpu_millicores = 6000
  memory_mb      = 12288
  storage_gb     = 400

  depends_on = [tenancy_quota.acme]
}

resource "tenancy_quota" "staging" {
  tenant_id      = tenancy_tenant.acme.id
  environment    = tenancy_environment.staging.name
  cpu_millicores = 2000
  memory_mb      = 4096

  depends_on = [tenancy_quota.acme]
}
