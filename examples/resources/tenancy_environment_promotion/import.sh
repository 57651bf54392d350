# A promotion is imported by its tenant, source and target environments
# (only one that a tenancy_environment_promotion created). include comes from
# the last promotion; triggers and rollback_on_destroy live only in
# configuration, so when the configuration sets them the first plan after
# import shows an update.
terraform import tenancy_environment_promotion.production acme/staging/production
