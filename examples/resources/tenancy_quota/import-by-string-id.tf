import {
  to = tenancy_quota.acme
  id = "acme"
}

import {
  to = tenancy_quota.production
  id = "acme/production"
}
