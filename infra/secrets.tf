# Secret Manager placeholders for Runyard's own signing keys. Terraform makes the secrets, never
# their values: add versions out of band (README.md), so no key lands in the state.
# Tenant secrets are made by the api at run time (rt-<tenant>-<NAME>), not here.

locals {
  secrets = {
    stripe-secret-key     = "Stripe API secret key (sk_live_…) the usage function reports meter events with."
    stripe-webhook-secret = "Stripe webhook signing secret (whsec_…) the stripehook function verifies events with."
    github-webhook-secret = "GitHub App webhook secret, for app-level webhooks (per-repository hook keys are tenant secrets)."
    preview-link-key      = "Domain mode: the key (at least 32 bytes) preview links are signed with; the gateway checks them."
  }
}

resource "google_secret_manager_secret" "this" {
  for_each  = local.secrets
  project   = var.project_id
  secret_id = each.key
  labels = {
    "managed-by" = "runyard"
  }
  annotations = {
    "description" = each.value
  }
  replication {
    auto {}
  }
  depends_on = [google_project_service.this]
}
