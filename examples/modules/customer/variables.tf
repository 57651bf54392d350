variable "slug" {
  description = "The customer's tenant slug, such as \"acme\"."
  type        = string
}

variable "display_name" {
  description = "The customer's name."
  type        = string
}

variable "region" {
  description = "Where the customer's data lives."
  type        = string
  default     = "eu-west"
}

variable "isolation" {
  description = "shared, dedicated or hybrid."
  type        = string
  default     = "shared"
}

variable "labels" {
  description = "Labels for the tenant; a customer label is added."
  type        = map(string)
  default     = {}
}

variable "deletion_protection" {
  description = "Whether the platform refuses to delete the tenant."
  type        = bool
  default     = true
}

variable "admin_email" {
  description = "E-mail address of the customer's administrator."
  type        = string
}

variable "admin_name" {
  description = "Name of the customer's administrator."
  type        = string
  default     = "Administrator"
}

variable "quota" {
  description = "The tenant-wide quota; environment quotas must fit inside it."
  type = object({
    cpu_millicores = number
    memory_mb      = number
    storage_gb     = number
    max_users      = number
  })
  default = {
    cpu_millicores = 8000
    memory_mb      = 16384
    storage_gb     = 200
    max_users      = 50
  }
}

variable "environments" {
  description = "Environments by name, with their type, settings and optional quota."
  type = map(object({
    type     = string
    settings = optional(map(string), {})
    quota = optional(object({
      cpu_millicores = number
      memory_mb      = number
      storage_gb     = number
    }))
  }))
  default = {
    production = {
      type     = "production"
      settings = { log_level = "info" }
      quota    = { cpu_millicores = 4000, memory_mb = 8192, storage_gb = 100 }
    }
    staging = {
      type     = "staging"
      settings = { log_level = "debug" }
      quota    = { cpu_millicores = 2000, memory_mb = 4096, storage_gb = 50 }
    }
    development = {
      type     = "development"
      settings = { log_level = "debug" }
    }
  }
}

variable "feature_flags" {
  description = "Feature flags by key, with their state per environment."
  type = map(object({
    description = optional(string, "")
    environments = map(object({
      enabled            = bool
      rollout_percentage = optional(number, 100)
    }))
  }))
  default = {}
}

variable "promote_staging_to_production" {
  description = "Whether production's feature flags follow staging through a tenancy_environment_promotion."
  type        = bool
  default     = true
}

variable "migrations" {
  description = "Migrations of every environment's data store, from version to SQL; applied ones are immutable, so add versions."
  type        = map(string)
  default = {
    "1" = "CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, amount_cents INTEGER NOT NULL)"
    "2" = "CREATE INDEX invoices_customer ON invoices (customer)"
  }
}

variable "nightly_backup_retain_days" {
  description = "Days each nightly backup of the tenant is kept; 0 takes none."
  type        = number
  default     = 7
}
