resource "tenancy_tenant" "acme" {
  slug         = "acme"
  display_name = "Acme Corporation"
  region       = "eu-west"
}

resource "tenancy_environment" "staging" {
  tenant_id = tenancy_tenant.acme.id
  name      = "staging"
  type      = "staging"
}

resource "tenancy_user" "alice" {
  tenant_id    = tenancy_tenant.acme.id
  email        = "alice@acme.example.com"
  display_name = "Alice Liddell"
}

resource "tenancy_user" "bob" {
  tenant_id    = tenancy_tenant.acme.id
  email        = "bob@acme.example.com"
  display_name = "Bob Builder"
}

# Without environment, the role applies in every environment of the tenant.
resource "tenancy_role_binding" "alice" {
  tenant_id = tenancy_tenant.acme.id
  user_id   = tenancy_user.alice.user_id
  role      = "tenant_viewer"
}

# Bob may change feature flags and settings, in staging only.
resource "tenancy_role_binding" "bob_staging" {
  tenant_id   = tenancy_tenant.acme.id
  user_id     = tenancy_user.bob.user_id
  role        = "tenant_user"
  environment = tenancy_environment.staging.name
}

# role = "tenant_admin" with environment unset makes a user an administrator
# of the tenant. The platform keeps a tenant's last such binding: bind a
# second administrator before removing or narrowing it.
