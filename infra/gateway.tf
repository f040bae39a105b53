# gateway: domain mode. Serves {runtime}.<domain>, vscode-…, work-1-…, {port}-{runtime}.<domain>
# (and tenants' verified custom domains) behind the global HTTPS load balancer, and proxies each
# request to the runtime's service, whose only invoker it is (GATEWAY_SERVICE_ACCOUNT in
# project.tf). It authorizes every request itself (functions/gateway/README.md), so it is public
# behind the load balancer; ingress admits only the load balancer. The 60-minute timeout is
# Cloud Run's cap: WebSockets live as long as a request.
#
# Deployed only in domain mode: PREVIEW_LINK_KEY comes from the secret preview-link-key, and Cloud
# Run refuses a revision whose secret has no version yet, so add one before setting var.domain.

module "gateway" {
  count      = var.domain == "" ? 0 : 1
  source     = "./modules/function"
  name       = "gateway"
  project_id = var.project_id
  region     = var.region
  image      = local.image["gateway"]
  ingress    = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
  public     = true
  timeout    = "3600s"

  env = merge(local.store_env, {
    RUNTIME_DOMAIN = var.domain
    IAP_AUDIENCE   = local.gateway_iap_audience # the load balancer's backend service (domain.tf); empty without IAP
  })
  secret_env = {
    PREVIEW_LINK_KEY = google_secret_manager_secret.this["preview-link-key"].secret_id
  }
  defaulted = ["LOG_LEVEL", "CACHE_TTL", "CACHE_SIZE", "DIAL_TIMEOUT", "LOOKUP_TIMEOUT"]

  depends_on = [google_project_service.this]
}
