# A tenant is imported by its slug.
terraform import tenancy_tenant.acme acme
