# Who administers the tenant: its tenant-wide tenant_admin bindings.
data "tenancy_role_bindings" "acme_admins" {
  tenant_id = "acme"
  role      = "tenant_admin"
}

output "acme_admin_user_ids" {
  value = [for b in data.tenancy_role_bindings.acme_admins.bindings : b.user_id if b.environment == null]
}

# The import ID of every binding of the tenant, for import blocks.
data "tenancy_role_bindings" "acme" {
  tenant_id = "acme"
}

output "binding_import_ids" {
  value = [for b in data.tenancy_role_bindings.acme.bindings : b.id]
}
