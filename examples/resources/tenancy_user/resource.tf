resource "tenancy_tenant" "acme" {
  slug         = "acme"
  display_name = "Acme Corporation"
  region       = "eu-west"
}

# The platform gives the user a user_id; role bindings refer to it.
resource "tenancy_user" "alice" {
  tenant_id    = tenancy_tenant.acme.id
  email        = "alice@acme.example.com"
  display_name = "Alice Liddell"
}

output "alice_user_id" {
  value = tenancy_user.alice.user_id
}
