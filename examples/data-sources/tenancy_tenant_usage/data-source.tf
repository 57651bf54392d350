data "tenancy_tenant_usage" "acme" {
  tenant_id = "acme"
}

output "acme_usage" {
  value = {
    api_calls     = data.tenancy_tenant_usage.acme.api_calls
    error_rate    = format("%.2f%%", data.tenancy_tenant_usage.acme.error_rate * 100)
    users         = data.tenancy_tenant_usage.acme.users
    environments  = data.tenancy_tenant_usage.acme.environments
    storage_bytes = data.tenancy_tenant_usage.acme.storage_bytes
  }
}

# Fail the run when the tenant's API error rate is too high.
check "acme_error_rate" {
  assert {
    condition     = data.tenancy_tenant_usage.acme.error_rate < 0.05
    error_message = "More than 5% of acme's API calls failed since ${data.tenancy_tenant_usage.acme.window_started_at}."
  }
}
