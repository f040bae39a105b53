variable "project_id" {
  description = "The Google Cloud project Runyard is deployed to (functions, Firestore, Pub/Sub, secrets)."
  type        = string
}

variable "region" {
  description = "Region of the functions, Eventarc triggers, Artifact Registry and the scheduler job."
  type        = string
  default     = "us-central1"
}

variable "firestore_location" {
  description = "Location of the Firestore database (a multi-region such as nam5 or eur3, or a region)."
  type        = string
  default     = "nam5"
}

variable "cells" {
  description = "Where runtime services go: a (project, region) slot each, with the most services it may hold. Empty: one cell \"main\" in project_id/region with limit 100. Becomes RUNYARD_CELLS (name:project:region:limit)."
  type = list(object({
    name    = string
    project = string
    region  = string
    limit   = number
  }))
  default = []
  validation {
    condition     = alltrue([for c in var.cells : can(regex("^[a-z][a-z0-9-]{0,30}$", c.name)) && c.limit > 0])
    error_message = "each cell needs a lowercase name and a positive limit."
  }
}

variable "domain" {
  description = "Domain mode: the domain runtimes are served under ({runtime}.<domain>, {port}-{runtime}.<domain>) through a global HTTPS load balancer, a wildcard certificate, Cloud Armor and IAP in front of the gateway function. Empty: no load balancer (runtimes use their run.app URLs with IAP or session keys)."
  type        = string
  default     = ""
}

variable "image_tag" {
  description = "Tag of the function images in the Artifact Registry repository (cloudbuild.yaml pushes $COMMIT_SHA)."
  type        = string
}

variable "images" {
  description = "Per-image overrides (function name or \"ingress\" => full image reference); others are REGION-docker.pkg.dev/PROJECT/runyard/<name>:<image_tag>."
  type        = map(string)
  default     = {}
}

variable "audiences" {
  description = "Google ID token audiences the api accepts: the OAuth client ids of your frontends (RUNYARD_AUDIENCES)."
  type        = list(string)
  validation {
    condition     = length(var.audiences) > 0 && alltrue([for a in var.audiences : a != "" && !strcontains(a, ",")])
    error_message = "audiences needs at least one non-empty audience without commas."
  }
}

variable "workspace_bucket_prefix" {
  description = "When set, each tenant gets its own workspace bucket named <prefix><tenant> (WORKSPACE_BUCKET_PREFIX); otherwise all tenants share one bucket made here."
  type        = string
  default     = ""
}

variable "usage_storage_rate" {
  description = "Fraction of a runtime's vCPU and GiB billed while it is paused or stopped (USAGE_STORAGE_RATE); 0 records that time without billing it."
  type        = number
  default     = 0
  validation {
    condition     = var.usage_storage_rate >= 0 && var.usage_storage_rate <= 1
    error_message = "usage_storage_rate must be between 0 and 1."
  }
}

variable "runtime_identity" {
  description = "Who runtimes run as (RUNTIME_IDENTITY): \"tenant\", each tenant's own rt-<tenant> account in the cell's project, with per-tenant workspace buckets (the deployers then hold iam.serviceAccountAdmin and iam.serviceAccountUser on each cell project); or \"shared\", everyone as runyard-runtime."
  type        = string
  default     = "tenant"
  validation {
    condition     = contains(["tenant", "shared"], var.runtime_identity)
    error_message = "runtime_identity must be \"tenant\" or \"shared\"."
  }
}

variable "tenant_vertex_ai" {
  description = "With runtime_identity = \"tenant\": tenants may turn Vertex AI on for their runtimes (PUT /v1/tenants/{t}/llm), so the deployers edit the cell projects' IAM policies (resourcemanager.projectIamAdmin: keep cell projects free of anything else)."
  type        = bool
  default     = false
}

variable "runtime_vertex_ai" {
  description = "With runtime_identity = \"shared\": runyard-runtime may call Vertex AI (roles/aiplatform.user), so no LLM key enters the sandbox. Tenant identities use tenant_vertex_ai instead."
  type        = bool
  default     = false
}

variable "alert_emails" {
  description = "Email addresses that receive the alert policies' notifications."
  type        = list(string)
  default     = []
}

variable "function_error_ratio" {
  description = "Alert when more than this share of a function's requests answer 5xx over 5 minutes."
  type        = number
  default     = 0.05
}

variable "rate_limit_per_minute" {
  description = "Domain mode: requests per minute one client IP may send before Cloud Armor answers 429."
  type        = number
  default     = 1200
}

variable "domain_iap" {
  description = "Domain mode: IAP on the load balancer's backend (the gateway verifies its JWT: IAP_AUDIENCE). Every host then needs an IAP sign-in first, so token-mode runtimes (OpenHands calling the agent server-to-server) and public previews need it off (functions/gateway/README.md)."
  type        = bool
  default     = true
}

variable "gateway_iap_members" {
  description = "Domain mode: who passes IAP in front of the gateway (roles/iap.httpsResourceAccessor). The gateway authorizes each runtime itself."
  type        = list(string)
  default     = ["allAuthenticatedUsers"]
}
