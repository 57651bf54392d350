# One customer on the platform: a tenant with production, staging and
# development environments, an administrator, a tenant-wide quota split
# between the environments, feature flags, the schema of every environment's
# data store and a nightly backup.

terraform {
  required_version = ">= 1.5"
  required_providers {
    tenancy = {
      source = "tenancyhq/tenancy"
    }
  }
}

resource "tenancy_tenant" "this" {
  slug                = var.slug
  display_name        = var.display_name
  region              = var.region
  isolation           = var.isolation
  labels              = merge(var.labels, { customer = var.slug })
  deletion_protection = var.deletion_protection
}

resource "tenancy_environment" "this" {
  for_each = var.environments

  tenant_id = tenancy_tenant.this.id
  name      = each.key
  type      = each.value.type
  settings  = each.value.settings
}

resource "tenancy_user" "admin" {
  tenant_id    = tenancy_tenant.this.id
  email        = var.admin_email
  display_name = var.admin_name
}

resource "tenancy_role_binding" "admin" {
  tenant_id = tenancy_tenant.this.id
  user_id   = tenancy_user.admin.user_id
  role      = "tenant_admin"
}

resource "tenancy_quota" "tenant" {
  tenant_id      = tenancy_tenant.this.id
  cpu_millicores = var.quota.cpu_millicores
  memory_mb      = var.quota.memory_mb
  storage_gb     = var.quota.storage_gb
  max_users      = var.quota.max_users
}

resource "tenancy_quota" "environment" {
  for_each = { for name, env in var.environments : name => env if env.quota != null }

  tenant_id      = tenancy_tenant.this.id
  environment    = tenancy_environment.this[each.key].name
  cpu_millicores = each.value.quota.cpu_millicores
  memory_mb      = each.value.quota.memory_mb
  storage_gb     = each.value.quota.storage_gb

  # Environment quotas must fit the tenant quota, so it comes first.
  depends_on = [tenancy_quota.tenant]
}

resource "tenancy_feature_flag" "this" {
  for_each = var.feature_flags

  tenant_id    = tenancy_tenant.this.id
  key          = each.key
  description  = each.value.description
  environments = { for env, state in each.value.environments : env => state }

  depends_on = [tenancy_environment.this]
}

# Production gets its feature flags from staging: list only non-production
# environments in feature_flags, and the promotion carries staging's state to
# production, showing line by line in the plan what production is about to
# get. Settings and quotas stay with the environment and quota resources.
resource "tenancy_environment_promotion" "staging_to_production" {
  count = var.promote_staging_to_production && contains(keys(var.environments), "staging") && contains(keys(var.environments), "production") ? 1 : 0

  tenant_id          = tenancy_tenant.this.id
  source_environment = tenancy_environment.this["staging"].name
  target_environment = tenancy_environment.this["production"].name
  include            = ["feature_flags"]

  # A flag changed in this configuration reaches production in the same apply.
  triggers = {
    flags = jsonencode({ for key, flag in tenancy_feature_flag.this : key => flag.environments })
  }
}

# Every environment's data store gets the same migrations, in version order.
resource "tenancy_schema" "this" {
  for_each = var.environments

  tenant_id   = tenancy_tenant.this.id
  environment = tenancy_environment.this[each.key].name
  migrations  = var.migrations
}

# A backup of the whole tenant a day, taken by the first apply of the day;
# the days before stay until their retain_until.
resource "tenancy_backup" "nightly" {
  count = var.nightly_backup_retain_days > 0 ? 1 : 0

  tenant_id       = tenancy_tenant.this.id
  retain_days     = var.nightly_backup_retain_days
  keep_on_destroy = true
  triggers        = { day = formatdate("YYYY-MM-DD", plantimestamp()) }

  depends_on = [tenancy_schema.this]
}
