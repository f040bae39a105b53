# usage: closed usage periods (Pub/Sub usage, through Eventarc) → Stripe meter events, once per
# period and meter (the identifier and idempotency key are the period id and meter).

module "usage" {
  source            = "./modules/event_function"
  name              = "usage"
  project_id        = var.project_id
  region            = var.region
  image             = local.image["usage"]
  topic             = "usage"
  topic_id          = google_pubsub_topic.this["usage"].id
  pubsub_agent      = local.pubsub_agent
  dead_letter       = true
  dead_letter_topic = google_pubsub_topic.dead_letter["usage"].id
  timeout           = "60s"

  env = merge(local.store_env, {})
  # Billing is off (usage recorded, periods marked billing_off) until the Stripe key is wired in,
  # as for the api's billing settings: add a version to the secret stripe-secret-key, then move
  # STRIPE_SECRET_KEY from defaulted to
  #   secret_env = { STRIPE_SECRET_KEY = google_secret_manager_secret.this["stripe-secret-key"].secret_id }
  defaulted = ["LOG_LEVEL", "STRIPE_SECRET_KEY", "STRIPE_API_URL", "STRIPE_TIMEOUT", "STRIPE_MAX_NETWORK_RETRIES"]

  depends_on = [google_project_service.this]
}
