import {
  to = tenancy_environment.staging
  id = "acme/staging"
}
