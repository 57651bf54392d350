# The quickstart: one customer on the platform. `make demo` applies it
# against a local tenancyd; point TENANCY_ENDPOINT and TENANCY_TOKEN at
# your own to use it there.

terraform {
  required_providers {
    tenancy = {
      source = "tenancyhq/tenancy"
    }
  }
}

# Endpoint and token come from TENANCY_ENDPOINT and TENANCY_TOKEN.
provider "tenancy" {}

resource "tenancy_tenant" "acme" {
  slug         = "acme"
  display_name = "Acme Corporation"
  region       = "eu-west"
  isolation    = "dedicated"
  domain       = "acme.example.com"
  timezone     = "Europe/Paris"
  language     = "fr-FR"

  branding = {
    logo_url      = "https://cdn.example.com/acme/logo.svg"
    primary_color = "#0A66C2"
  }

  labels = {
    plan = "enterprise"
    team = "platform"
  }

  security_policy = {
    mfa_required            = true
    session_timeout_minutes = 30
    allowed_cidrs           = ["10.0.0.0/8", "192.168.0.0/16"]
  }

  data_retention_days = 90
}

output "tenant" {
  value = {
    id     = tenancy_tenant.acme.id
    status = tenancy_tenant.acme.status
  }
}
