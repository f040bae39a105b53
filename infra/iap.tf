# IAP for runtime services (IAP mode, the default for runtimes created through the api). The
# api enables IAP on each runtime service, grants the tenant's members
# roles/iap.httpsResourceAccessor on it and IAP's service agent roles/run.invoker; here, the
# settings every runtime service in a cell region shares.

resource "google_iap_settings" "runtimes" {
  for_each = local.cell_regions
  name     = "projects/${data.google_project.cell[split("/", each.value)[0]].number}/iap_web/cloud_run-${split("/", each.value)[1]}"

  access_settings {
    # Browsers send CORS preflights (OPTIONS, no credentials) to the agent and preview ports;
    # IAP lets them through to the ingress sidecar, which answers them.
    cors_settings {
      allow_http_options = true
    }
  }

  depends_on = [google_project_service.this]
}
