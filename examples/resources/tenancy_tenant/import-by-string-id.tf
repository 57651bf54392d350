import {
  to = tenancy_tenant.acme
  id = "acme"
}
