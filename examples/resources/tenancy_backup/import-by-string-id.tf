import {
  to = tenancy_backup.production_nightly
  id = "acme/bkp_0123456789abcdef0123"
}
