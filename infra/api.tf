# api: the HTTPS API for frontends, CLIs and the runtimes' ingress (activity reports). Public:
# it verifies Google ID tokens and tenant API keys itself (functions/api/README.md).

module "api" {
  source     = "./modules/function"
  name       = "api"
  project_id = var.project_id
  region     = var.region
  image      = local.image["api"]
  ingress    = "INGRESS_TRAFFIC_ALL"
  public     = true
  timeout    = "300s"
  memory     = "1Gi"

  env = merge(local.store_env, local.runtime_env, local.build_env, {
    SECRETS_PROJECT       = var.project_id
    RUNYARD_AUDIENCES     = join(",", var.audiences)
    SOURCES_BUCKET        = google_storage_bucket.sources.name
    RUNYARD_API_URL       = local.run_url["api"]
    RUNYARD_HOOK_BASE_URL = local.run_url["githubhook"]
  })
  defaulted = concat(local.build_defaulted, local.runtime_defaulted, local.billing_defaulted, [
    "LOG_LEVEL", "REQUEST_TIMEOUT", "MAX_BODY_BYTES", "MAX_UPLOAD_BYTES",
    "BUILD_ALLOWED_HOSTS", "RUNYARD_REPO_HOSTS",
    "RUNYARD_PREVIEW_HOST", # the local stack's preview host; in the cloud previews are under the runtime's URL
    # Custom domains are verified through the system resolver; the platform's branding is Runyard's.
    "DNS_SERVER", "DNS_TIMEOUT", "WHITELABEL_CACHE_TTL",
    "BRANDING_PRODUCT_NAME", "BRANDING_LOGO_URL", "BRANDING_SUPPORT_URL",
    "PREVIEW_LINK_KEY", # domain mode: set it as a secret_env from preview-link-key, as infra/gateway.tf does
  ])

  depends_on = [google_project_service.this]
}
