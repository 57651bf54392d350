data "tenancy_feature_flags" "acme" {
  tenant_id = "acme"
}

# Every flag enabled in production, whoever set it there.
output "enabled_in_production" {
  value = [
    for f in data.tenancy_feature_flags.acme.flags : f.key
    if try(f.environments["production"].enabled, false)
  ]
}
