# Domain mode (var.domain set): a global external HTTPS load balancer with a wildcard
# certificate (Certificate Manager, DNS authorization) for <domain> and *.<domain>, Cloud Armor
# rate limiting per client IP, and (var.domain_iap) IAP, in front of the gateway function
# through a serverless NEG (functions/gateway/README.md has the picture). Costs about $18/month
# for the forwarding rule plus $5/month for the Armor policy, idle.

locals {
  domain_mode = var.domain != ""
  # The aud of the IAP JWTs the load balancer adds (the gateway's IAP_AUDIENCE); empty without IAP.
  gateway_iap_audience = local.domain_mode && var.domain_iap ? "/projects/${data.google_project.this.number}/global/backendServices/${google_compute_backend_service.gateway[0].generated_id}" : ""
}

resource "google_compute_region_network_endpoint_group" "gateway" {
  count                 = local.domain_mode ? 1 : 0
  project               = var.project_id
  region                = var.region
  name                  = "runyard-gateway"
  network_endpoint_type = "SERVERLESS"
  # The service by name, not module.gateway: the gateway's env takes the backend's id
  # (IAP_AUDIENCE), and a reference back would be a cycle. The NEG may exist before the service.
  cloud_run {
    service = "gateway"
  }
}

resource "google_compute_security_policy" "gateway" {
  count       = local.domain_mode ? 1 : 0
  project     = var.project_id
  name        = "runyard-gateway"
  description = "Rate limit per client IP in front of the Runyard gateway."

  rule {
    action      = "throttle"
    priority    = 1000
    description = "At most rate_limit_per_minute requests per minute per client IP; then 429."
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"
      enforce_on_key = "IP"
      rate_limit_threshold {
        count        = var.rate_limit_per_minute
        interval_sec = 60
      }
    }
  }

  rule {
    action      = "allow"
    priority    = 2147483647
    description = "Default: allow."
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }
}

resource "google_compute_backend_service" "gateway" {
  count                 = local.domain_mode ? 1 : 0
  project               = var.project_id
  name                  = "runyard-gateway"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"
  security_policy       = google_compute_security_policy.gateway[0].id

  backend {
    group = google_compute_region_network_endpoint_group.gateway[0].id
  }

  # Google-managed OAuth client: no client id or secret to keep.
  iap {
    enabled = var.domain_iap
  }
}

resource "google_iap_web_backend_service_iam_member" "gateway" {
  for_each            = local.domain_mode && var.domain_iap ? toset(var.gateway_iap_members) : toset([])
  project             = var.project_id
  web_backend_service = google_compute_backend_service.gateway[0].name
  role                = "roles/iap.httpsResourceAccessor"
  member              = each.value
}

resource "google_compute_url_map" "gateway" {
  count           = local.domain_mode ? 1 : 0
  project         = var.project_id
  name            = "runyard-gateway"
  default_service = google_compute_backend_service.gateway[0].id
}

resource "google_certificate_manager_dns_authorization" "domain" {
  count    = local.domain_mode ? 1 : 0
  project  = var.project_id
  name     = "runyard-domain"
  location = "global"
  domain   = var.domain
}

resource "google_certificate_manager_certificate" "wildcard" {
  count    = local.domain_mode ? 1 : 0
  project  = var.project_id
  name     = "runyard-wildcard"
  location = "global"
  managed {
    domains            = [var.domain, "*.${var.domain}"]
    dns_authorizations = [google_certificate_manager_dns_authorization.domain[0].id]
  }
}

resource "google_certificate_manager_certificate_map" "gateway" {
  count   = local.domain_mode ? 1 : 0
  project = var.project_id
  name    = "runyard-gateway"
}

resource "google_certificate_manager_certificate_map_entry" "gateway" {
  for_each     = local.domain_mode ? { apex = var.domain, wildcard = "*.${var.domain}" } : {}
  project      = var.project_id
  name         = "runyard-${each.key}"
  map          = google_certificate_manager_certificate_map.gateway[0].name
  hostname     = each.value
  certificates = [google_certificate_manager_certificate.wildcard[0].id]
}

resource "google_compute_target_https_proxy" "gateway" {
  count           = local.domain_mode ? 1 : 0
  project         = var.project_id
  name            = "runyard-gateway"
  url_map         = google_compute_url_map.gateway[0].id
  certificate_map = "//certificatemanager.googleapis.com/${google_certificate_manager_certificate_map.gateway[0].id}"
}

resource "google_compute_global_address" "gateway" {
  count   = local.domain_mode ? 1 : 0
  project = var.project_id
  name    = "runyard-gateway"
}

resource "google_compute_global_forwarding_rule" "gateway" {
  count                 = local.domain_mode ? 1 : 0
  project               = var.project_id
  name                  = "runyard-gateway"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.gateway[0].id
  port_range            = "443"
  target                = google_compute_target_https_proxy.gateway[0].id
}

output "domain_dns_records" {
  description = "Domain mode: the DNS records to create (A records for <domain> and *.<domain>, and the certificate's DNS authorization CNAME)."
  value = local.domain_mode ? {
    a     = { names = [var.domain, "*.${var.domain}"], address = google_compute_global_address.gateway[0].address }
    cname = google_certificate_manager_dns_authorization.domain[0].dns_resource_record
  } : null
}
