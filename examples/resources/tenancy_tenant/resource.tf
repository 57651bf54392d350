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
  }

  security_policy = {
    mfa_required            = true
    session_timeout_minutes = 30
    allowed_cidrs           = ["10.0.0.0/8"]
  }

  data_retention_days = 90

  timeouts = {
    create = "15m"
  }
}
