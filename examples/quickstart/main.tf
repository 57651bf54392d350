# The quickstart: one customer on the platform, with production, staging and
# development, two people, quotas, a feature flag, the schema of staging's
# data store, the promotion that carries staging's configuration and schema
# to production, and a nightly backup of production. `make demo` applies it
# against a local tenancyd; point TENANCY_ENDPOINT and TENANCY_TOKEN at your
# own to use it there.

terraform {
  required_providers {
    tenancy = {
      source = "tenancyhq/tenancy"
    }
  }
}

# Endpoint and token come from TENANCY_ENDPOINT and TENANCY_TOKEN.
provider "tenancy" {}

resource "tenancy_tenant" "acme" {
  slug         = "acme"
  display_name = "Acme Corporation"
  region       = "eu-west"
  isolation    = "dedicated"
  domain       = "acme.example.com"
  timezone     = "Europe/Paris"
  language     = "fr-FR"

  branding = {
    logo_url      = "https://cdn.example.com/acme/logo.svg"
    primary_color = "#0A66C2"
  }

  labels = {
    plan = "enterprise"
    team = "platform"
  }

  security_policy = {
    mfa_required            = true
    session_timeout_minutes = 30
    allowed_cidrs           = ["10.0.0.0/8", "192.168.0.0/16"]
  }

  data_retention_days = 90
}

# Production's settings come from staging through the promotion at the end,
# so this resource leaves them alone.
resource "tenancy_environment" "production" {
  tenant_id = tenancy_tenant.acme.id
  name      = "production"
  type      = "production"

  lifecycle {
    ignore_changes = [settings]
  }
}

resource "tenancy_environment" "staging" {
  tenant_id = tenancy_tenant.acme.id
  name      = "staging"
  type      = "staging"
  settings  = { log_level = "info", replicas = "3" }
}

resource "tenancy_environment" "development" {
  tenant_id = tenancy_tenant.acme.id
  name      = "development"
  type      = "development"
  settings  = { log_level = "debug", replicas = "1" }
}

resource "tenancy_user" "alice" {
  tenant_id    = tenancy_tenant.acme.id
  email        = "alice@acme.example.com"
  display_name = "Alice Martin"
}

resource "tenancy_user" "bob" {
  tenant_id    = tenancy_tenant.acme.id
  email        = "bob@acme.example.com"
  display_name = "Bob Durand"
}

# Alice administers the whole tenant; Bob works in staging only.
resource "tenancy_role_binding" "alice_admin" {
  tenant_id = tenancy_tenant.acme.id
  user_id   = tenancy_user.alice.user_id
  role      = "tenant_admin"
}

resource "tenancy_role_binding" "bob_staging" {
  tenant_id   = tenancy_tenant.acme.id
  user_id     = tenancy_user.bob.user_id
  role        = "tenant_user"
  environment = tenancy_environment.staging.name
}

# The tenant-wide quota bounds the environments' quotas together.
resource "tenancy_quota" "acme" {
  tenant_id               = tenancy_tenant.acme.id
  cpu_millicores          = 8000
  memory_mb               = 16384
  storage_gb              = 200
  max_users               = 25
  api_requests_per_minute = 6000
}

resource "tenancy_quota" "production" {
  tenant_id      = tenancy_tenant.acme.id
  environment    = tenancy_environment.production.name
  cpu_millicores = 4000
  memory_mb      = 8192
  storage_gb     = 100

  depends_on = [tenancy_quota.acme]
}

resource "tenancy_quota" "staging" {
  tenant_id      = tenancy_tenant.acme.id
  environment    = tenancy_environment.staging.name
  cpu_millicores = 2000
  memory_mb      = 4096
  storage_gb     = 50

  depends_on = [tenancy_quota.acme]
}

# The flag is managed in development and staging only: production gets it
# from staging through the promotion below.
resource "tenancy_feature_flag" "new_billing" {
  tenant_id   = tenancy_tenant.acme.id
  key         = "new-billing"
  description = "The redesigned billing pages"

  environments = {
    (tenancy_environment.development.name) = { enabled = true }
    (tenancy_environment.staging.name)     = { enabled = true, rollout_percentage = 50 }
  }
}

# The tables of the application's data, in staging's data store: each
# migration runs once, in version order; add a version to change them. The
# promotion below applies them to production.
resource "tenancy_schema" "staging" {
  tenant_id   = tenancy_tenant.acme.id
  environment = tenancy_environment.staging.name

  migrations = {
    "1" = "CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, amount_cents INTEGER NOT NULL)"
    "2" = "CREATE INDEX invoices_customer ON invoices (customer)"
  }
}

# Production matches staging's settings, flags and schema. `terraform plan`
# previews, line by line in `changes`, what production is about to get; a
# change to staging in this configuration reaches production in the same
# apply.
resource "tenancy_environment_promotion" "production" {
  tenant_id          = tenancy_tenant.acme.id
  source_environment = tenancy_environment.staging.name
  target_environment = tenancy_environment.production.name
  include            = ["settings", "feature_flags", "schema"]

  triggers = {
    settings = jsonencode(tenancy_environment.staging.settings)
    flags    = jsonencode(tenancy_feature_flag.new_billing.environments)
    schema   = jsonencode(tenancy_schema.staging.migrations)
  }
}

# A backup of production a day: the first apply of each day (run it from a
# daily schedule) takes that day's, and the days before stay until their
# retain_until.
resource "tenancy_backup" "production_nightly" {
  tenant_id       = tenancy_tenant.acme.id
  environment     = tenancy_environment.production.name
  retain_days     = 14
  keep_on_destroy = true
  triggers        = { day = formatdate("YYYY-MM-DD", plantimestamp()) }

  # Production's schema comes from the promotion: back up after it.
  depends_on = [tenancy_environment_promotion.production]
}

output "tenant" {
  value = {
    id     = tenancy_tenant.acme.id
    status = tenancy_tenant.acme.status
  }
}

output "data" {
  value = {
    production_database = tenancy_environment.production.database
    staging_migrations  = [for m in tenancy_schema.staging.applied : m.version]
    nightly_backup      = tenancy_backup.production_nightly.backup_id
  }
}
