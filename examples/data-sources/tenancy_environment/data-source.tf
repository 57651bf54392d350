data "tenancy_environment" "staging" {
  tenant_id = "acme"
  name      = "staging"
}

output "staging_log_level" {
  value = try(data.tenancy_environment.staging.settings["log_level"], null)
}
