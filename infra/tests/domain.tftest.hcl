# Domain mode: the load balancer (wildcard certificate, Cloud Armor, IAP) exists only with a
# domain, and sends everything to the gateway function through a serverless NEG.

mock_provider "google" {
  mock_data "google_project" {
    defaults = {
      number = "123456789012"
    }
  }
}

variables {
  project_id = "runyard-test"
  region     = "us-central1"
  image_tag  = "0123abc"
  audiences  = ["client-1.apps.googleusercontent.com"]
}

run "no_domain_no_load_balancer" {
  command = plan

  assert {
    condition     = length(google_compute_global_forwarding_rule.gateway) == 0 && length(google_compute_security_policy.gateway) == 0 && length(google_certificate_manager_certificate.wildcard) == 0
    error_message = "without a domain there is no load balancer (it costs about $18/month idle)."
  }
}

run "domain_mode_load_balancer" {
  command = apply

  variables {
    domain = "runyard.example.com"
  }

  assert {
    condition     = module.gateway[0].ingress == "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER" && toset(module.gateway[0].invoker_members) == toset(["allUsers"])
    error_message = "the gateway takes traffic only from the load balancer (it authorizes every request itself, so its invoker is allUsers)."
  }
  assert {
    condition     = google_compute_region_network_endpoint_group.gateway[0].cloud_run[0].service == "gateway" && google_compute_region_network_endpoint_group.gateway[0].network_endpoint_type == "SERVERLESS"
    error_message = "the load balancer's backend must be the gateway function, through a serverless NEG."
  }
  assert {
    condition     = google_compute_backend_service.gateway[0].iap[0].enabled && google_compute_backend_service.gateway[0].load_balancing_scheme == "EXTERNAL_MANAGED"
    error_message = "IAP must be on in front of the gateway by default (domain_iap)."
  }
  assert {
    condition     = google_compute_backend_service.gateway[0].security_policy == google_compute_security_policy.gateway[0].id
    error_message = "the Cloud Armor policy must guard the gateway's backend."
  }
  assert {
    condition     = one([for r in google_compute_security_policy.gateway[0].rule : r.rate_limit_options[0].rate_limit_threshold[0].count if r.action == "throttle"]) == 1200
    error_message = "Cloud Armor must rate-limit each client IP (rate_limit_per_minute)."
  }
  assert {
    condition     = toset(google_certificate_manager_certificate.wildcard[0].managed[0].domains) == toset(["runyard.example.com", "*.runyard.example.com"])
    error_message = "the certificate must cover <domain> and *.<domain>."
  }
  assert {
    condition     = google_compute_global_forwarding_rule.gateway[0].port_range == "443"
    error_message = "the load balancer serves HTTPS on 443 only."
  }
  assert {
    condition     = local.gateway_iap_audience == "/projects/123456789012/global/backendServices/${google_compute_backend_service.gateway[0].generated_id}"
    error_message = "the gateway's IAP audience must name the backend service by project number and id."
  }
}

run "domain_mode_without_iap" {
  command = plan

  variables {
    domain     = "runyard.example.com"
    domain_iap = false
  }

  assert {
    condition     = !google_compute_backend_service.gateway[0].iap[0].enabled && length(google_iap_web_backend_service_iam_member.gateway) == 0 && local.gateway_iap_audience == ""
    error_message = "domain_iap = false: no IAP on the backend, no accessors, no IAP audience."
  }
}
