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

output "databases" {
  description = "Where each environment's data store lives, by name (no secrets)."
  value       = { for name, env in tenancy_environment.this : name => env.database }
}

output "latest_backup_id" {
  description = "The id of today's backup, for tenancy_environment.restore_from_backup; null without nightly backups."
  value       = one(tenancy_backup.nightly[*].backup_id)
}
