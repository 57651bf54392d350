# Pass the secret in, for example as TF_VAR_deploy_webhook_secret; the
# default only lets this example apply as it is.
variable "deploy_webhook_secret" {
  description = "Signing secret of the deploy webhook. Write-only: never stored in plan or state."
  type        = string
  sensitive   = true
  ephemeral   = true
  default     = "whsec_change-me"
}

resource "tenancy_tenant" "acme" {
  slug         = "acme"
  display_name = "Acme Corporation"
  region       = "eu-west"
}

# The secret is write-only (Terraform 1.11+). To rotate it, change the
# variable and bump secret_wo_version in the same apply.
resource "tenancy_integration" "deploys" {
  tenant_id = tenancy_tenant.acme.id
  name      = "deploys"
  kind      = "webhook"

  config = {
    url = "https://hooks.example.com/acme/deploys"
  }

  secret_wo         = var.deploy_webhook_secret
  secret_wo_version = 1
}

resource "tenancy_integration" "sso" {
  tenant_id = tenancy_tenant.acme.id
  name      = "sso"
  kind      = "oidc"

  config = {
    issuer_url = "https://login.acme.example.com"
    client_id  = "tenancy"
  }
}

resource "tenancy_integration" "alerts" {
  tenant_id = tenancy_tenant.acme.id
  name      = "alerts"
  kind      = "slack"

  config = {
    channel = "#acme-alerts"
  }
}
