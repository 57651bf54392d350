# A feature flag is imported by its tenant and key. Import takes every
# environment entry the flag has.
terraform import tenancy_feature_flag.new_billing acme/new-billing
