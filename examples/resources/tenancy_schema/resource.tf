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

# The migrations of staging's data store, applied in version order, each in
# a transaction. Add a version to change the schema: applied ones are
# immutable, and the plan lists the versions about to run in `applied`.
# Keep the SQL portable, or write it for the engine tenancyd runs
# (PostgreSQL, or SQLite for the embedded default).
resource "tenancy_schema" "staging" {
  tenant_id   = tenancy_tenant.acme.id
  environment = tenancy_environment.staging.name

  migrations = {
    "1" = "CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, amount_cents INTEGER NOT NULL)"
    "2" = "CREATE INDEX invoices_customer ON invoices (customer)"
    # Longer migrations live in files: "3" = file("${path.module}/migrations/3.sql")
  }

  # How long one migration may run before the platform cancels it.
  timeouts = {
    create = "10m"
    update = "10m"
  }
}

output "applied_versions" {
  value = [for m in tenancy_schema.staging.applied : m.version] # ["1", "2"]
}
