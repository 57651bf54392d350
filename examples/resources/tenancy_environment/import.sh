# An environment is imported by its tenant's slug and its name: "<tenant>/<name>".
terraform import tenancy_environment.staging acme/staging
