# A login to staging's data store for the length of one plan or apply (at
# most ttl), revoked when Terraform is done with it and never written to
# the plan or the state. Terraform 1.10 or newer; a tenant_admin token.
ephemeral "tenancy_database_credentials" "staging" {
  tenant_id   = "acme"
  environment = "staging"
  ttl         = "10m"
}

# Where staging's data store is: host, port and database, without secrets.
data "tenancy_environment" "staging" {
  tenant_id = "acme"
  name      = "staging"
}

# For instance, a PostgreSQL provider (cyrilgdn/postgresql) that manages
# what the migrations do not, such as the grants of the application's own
# role, connected as the login.
provider "postgresql" {
  host      = data.tenancy_environment.staging.database.host
  port      = data.tenancy_environment.staging.database.port
  database  = data.tenancy_environment.staging.database.name
  username  = ephemeral.tenancy_database_credentials.staging.username
  password  = ephemeral.tenancy_database_credentials.staging.password
  superuser = false
}
