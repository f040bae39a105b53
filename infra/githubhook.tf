# githubhook: GitHub push webhooks → prebuilds. Public: GitHub calls it without Google
# credentials; the delivery's signature is the authentication.

module "githubhook" {
  source     = "./modules/function"
  name       = "githubhook"
  project_id = var.project_id
  region     = var.region
  image      = local.image["githubhook"]
  ingress    = "INGRESS_TRAFFIC_ALL"
  public     = true
  timeout    = "30s"

  env = merge(local.store_env, local.build_env, {
    SECRETS_PROJECT = var.project_id
  })
  defaulted = concat(local.build_defaulted, [
    "LOG_LEVEL", "REQUEST_TIMEOUT", "MAX_BODY_BYTES", "DELIVERY_TTL",
  ])

  depends_on = [google_project_service.this]
}
