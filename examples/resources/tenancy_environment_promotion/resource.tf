resource "tenancy_tenant" "acme" {
  slug         = "acme"
  display_name = "Acme Corporation"
  region       = "eu-west"
}

resource "tenancy_environment" "staging" {
  tenant_id = tenancy_tenant.acme.id
  name      = "staging"
  type      = "staging"
  settings = {
    log_level = "info"
    checkout  = "v2"
  }
}

# Production's settings come from staging through the promotion, so this
# resource leaves them alone.
resource "tenancy_environment" "production" {
  tenant_id = tenancy_tenant.acme.id
  name      = "production"
  type      = "production"

  lifecycle {
    ignore_changes = [settings]
  }
}

# The flag is configured for staging only; the promotion carries it to
# production.
resource "tenancy_feature_flag" "new_billing" {
  tenant_id = tenancy_tenant.acme.id
  key       = "new-billing"
  environments = {
    (tenancy_environment.staging.name) = {
      enabled            = true
      rollout_percentage = 25
    }
  }
}

# Production matches staging's settings and flags. `terraform plan` previews
# what production is about to get, line by line, in `changes`.
resource "tenancy_environment_promotion" "production" {
  tenant_id          = tenancy_tenant.acme.id
  source_environment = tenancy_environment.staging.name
  target_environment = tenancy_environment.production.name
  include            = ["settings", "feature_flags"]

  # A change to staging in this configuration reaches production in the
  # same apply.
  triggers = {
    settings = jsonencode(tenancy_environment.staging.settings)
    flags    = jsonencode(tenancy_feature_flag.new_billing.environments)
  }

  # Destroying this resource puts production back as it was before the
  # last promotion.
  rollback_on_destroy = true
}
