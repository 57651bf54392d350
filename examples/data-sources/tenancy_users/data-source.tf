data "tenancy_users" "acme" {
  tenant_id = "acme"
}

# The import ID of every user of the tenant, by e-mail address: what the
# `id` of an import block for that user takes.
output "user_import_ids" {
  value = { for u in data.tenancy_users.acme.users : u.email => u.id }
}

# One user, by e-mail address.
data "tenancy_users" "alice" {
  tenant_id = "acme"
  email     = "alice@acme.example.com"
}

output "alice_user_id" {
  value = one(data.tenancy_users.alice.users[*].user_id)
}
