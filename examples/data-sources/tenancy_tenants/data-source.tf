# Every gold-tier tenant whose data lives in the EU: all the labels given
# must match, and so must the region.
data "tenancy_tenants" "gold_eu" {
  labels = {
    tier = "gold"
  }
  region = "eu-west"
}

# Tenants still being set up.
data "tenancy_tenants" "provisioning" {
  status = "provisioning"
}

output "gold_eu_slugs" {
  value = [for t in data.tenancy_tenants.gold_eu.tenants : t.slug]
}

# By slug, ready for for_each, for example to give each of them a quota:
#   resource "tenancy_quota" "gold" {
#     for_each  = local.gold_eu
#     tenant_id = each.value.id
#     ...
#   }
locals {
  gold_eu = { for t in data.tenancy_tenants.gold_eu.tenants : t.slug => t }
}

output "gold_eu_domains" {
  value = { for slug, t in local.gold_eu : slug => t.domain }
}
