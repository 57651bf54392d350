data "tenancy_environments" "acme" {
  tenant_id = "acme"
}

# Every environment of the tenant with its kind, by import ID.
output "environments" {
  value = { for e in data.tenancy_environments.acme.environments : e.id => e.type }
}

# Only the production environments.
data "tenancy_environments" "acme_production" {
  tenant_id = "acme"
  type      = "production"
}

output "production_names" {
  value = data.tenancy_environments.acme_production.environments[*].name
}
