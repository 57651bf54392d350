# The tenant-wide quota is imported by its tenant's slug: "<tenant>".
terraform import tenancy_quota.acme acme

# An environment's quota by its tenant's slug and the environment's name: "<tenant>/<environment>".
terraform import tenancy_quota.production acme/production
