resource "tenancy_tenant" "acme" {
  slug         = "acme"
  display_name = "Acme Corporation"
  region       = "eu-west"
}

resource "tenancy_environment" "staging" {
  tenant_id = tenancy_tenant.acme.id
  name      = "staging"
  type      = "staging"
}

resource "tenancy_environment" "development" {
  tenant_id = tenancy_tenant.acme.id
  name      = "development"
  type      = "development"
}

# The flag manages only the environments listed here. Production is left to
# a tenancy_environment_promotion from staging (or to people), and its entry
# never shows up as a diff of this resource.
resource "tenancy_feature_flag" "new_billing" {
  tenant_id   = tenancy_tenant.acme.id
  key         = "new-billing"
  description = "The redesigned billing page"

  environments = {
    (tenancy_environment.development.name) = {
      enabled = true
    }
    (tenancy_environment.staging.name) = {
      enabled            = true
      rollout_percentage = 25
    }
  }
}
