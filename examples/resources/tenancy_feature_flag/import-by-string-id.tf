import {
  to = tenancy_feature_flag.new_billing
  id = "acme/new-billing"
}
