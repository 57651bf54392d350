import {
  to = tenancy_environment_promotion.production
  id = "acme/staging/production"
}
