# runtimeapi: the OpenHands Remote Runtime API. Public: OpenHands calls it with a tenant API
# key (X-API-Key) that the function checks itself.

module "runtimeapi" {
  source     = "./modules/function"
  name       = "runtimeapi"
  project_id = var.project_id
  region     = var.region
  image      = local.image["runtimeapi"]
  ingress    = "INGRESS_TRAFFIC_ALL"
  public     = true
  timeout    = "300s"
  memory     = "1Gi"

  env = merge(local.store_env, local.runtime_env, local.build_env, {
    SOURCES_BUCKET  = google_storage_bucket.sources.name
    RUNYARD_API_URL = local.run_url["api"]
  })
  defaulted = concat(local.build_defaulted, local.runtime_defaulted, local.billing_defaulted, [
    "LOG_LEVEL", "REQUEST_TIMEOUT", "MAX_BODY_BYTES", "ALIVE_TIMEOUT", "WHITELABEL_CACHE_TTL",
  ])

  depends_on = [google_project_service.this]
}
