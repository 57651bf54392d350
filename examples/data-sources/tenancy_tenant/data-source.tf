data "tenancy_tenant" "acme" {
  slug = "acme"
}

output "acme_region" {
  value = data.tenancy_tenant.acme.region
}
