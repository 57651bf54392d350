# A schema is imported by its environment's ID: "<tenant>/<environment>".
terraform import tenancy_schema.staging acme/staging
