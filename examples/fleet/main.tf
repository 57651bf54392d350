# A fleet: every customer gets the same shape from one module, with
# for_each over a map. Adding a customer is one more entry.

terraform {
  required_version = ">= 1.5"
  required_providers {
    tenancy = {
      source = "tenancyhq/tenancy"
    }
  }
}

# Endpoint and token come from TENANCY_ENDPOINT and TENANCY_TOKEN.
provider "tenancy" {}

variable "customers" {
  description = "Customers by slug."
  type = map(object({
    name   = string
    region = string
    plan   = string
    admin  = string
  }))
}

variable "deletion_protection" {
  description = "Whether the platform refuses to delete the customers' tenants."
  type        = bool
  default     = true
}

module "customer" {
  source   = "../modules/customer"
  for_each = var.customers

  slug                = each.key
  display_name        = each.value.name
  region              = each.value.region
  labels              = { plan = each.value.plan }
  admin_email         = each.value.admin
  deletion_protection = var.deletion_protection

  feature_flags = {
    "new-billing" = {
      description = "The new billing pages."
      environments = {
        staging     = { enabled = true, rollout_percentage = 100 }
        development = { enabled = true }
      }
    }
  }
}

output "tenants" {
  value = { for slug, c in module.customer : slug => c.environment_ids }
}
