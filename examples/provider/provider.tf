terraform {
  required_providers {
    tenancy = {
      source = "tenancyhq/tenancy"
    }
  }
}

# The endpoint and token usually come from TENANCY_ENDPOINT and TENANCY_TOKEN,
# so the same configuration runs locally, in CI and in Terraform Cloud.
provider "tenancy" {
  endpoint        = "https://tenancy.example.com"
  max_retries     = 5
  request_timeout = "30s"
}
