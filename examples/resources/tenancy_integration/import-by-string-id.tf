import {
  to = tenancy_integration.deploys
  id = "acme/deploys"
}
