# Terraform 1.8 or newer.
output "staging_id" {
  value = provider::tenancy::environment_id("acme", "staging") # "acme/staging"
}

# The IDs of a tenant's environments, built from their names alone, for
# example to import them.
output "environment_ids" {
  value = [
    for name in ["development", "staging", "production"] :
    provider::tenancy::environment_id("acme", name)
  ]
}
