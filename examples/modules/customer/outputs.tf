output "tenant_id" {
  description = "The tenant's ID (its slug)."
  value       = tenancy_tenant.this.id
}

output "environment_ids" {
  description = "Environment IDs by name, such as \"acme/staging\"."
  value       = { for name, env in tenancy_environment.this : name => env.id }
}

output "admin_user_id" {
  description = "The administrator's user ID."
  value       = tenancy_user.admin.user_id
}

output "pending_promotion" {
  description = "What the last promotion from staging changed in production."
  value       = one(tenancy_environment_promotion.staging_to_production[*].changes)
}
