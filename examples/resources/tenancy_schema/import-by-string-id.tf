import {
  to = tenancy_schema.staging
  id = "acme/staging"
}
