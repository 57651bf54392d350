# An integration is imported by its tenant and name. Its secret is never
# read back: after import, set secret_wo and a new secret_wo_version to
# send it from Terraform.
terraform import tenancy_integration.deploys acme/deploys
