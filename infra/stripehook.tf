# stripehook: Stripe webhooks → tenants' billing state. Public: Stripe calls it without Google
# credentials; the event's signature (STRIPE_WEBHOOK_SECRET) is the authentication. Without the
# secret it answers 501 billing_disabled.

module "stripehook" {
  source     = "./modules/function"
  name       = "stripehook"
  project_id = var.project_id
  region     = var.region
  image      = local.image["stripehook"]
  ingress    = "INGRESS_TRAFFIC_ALL"
  public     = true
  timeout    = "30s"

  env = local.store_env
  defaulted = [
    "STRIPE_WEBHOOK_SECRET", # a secret env ref once billing is on (infra/README.md)
    "LOG_LEVEL", "REQUEST_TIMEOUT", "MAX_BODY_BYTES", "WEBHOOK_TOLERANCE", "EVENT_TTL",
  ]

  depends_on = [google_project_service.this]
}
