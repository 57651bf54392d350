# Terraform 1.8 or newer.
locals {
  promotion = provider::tenancy::parse_id("acme/staging/production")
  # {
  #   tenant = "acme"
  #   rest   = ["staging", "production"]
  #   parts  = ["acme", "staging", "production"]
  # }
}

output "promotion_target" {
  value = local.promotion.rest[1] # "production"
}

# The tenant of any object, from its id alone.
output "tenant_of_environment" {
  value = provider::tenancy::parse_id("acme/staging").tenant # "acme"
}
