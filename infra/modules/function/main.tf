# One Runyard function: a Cloud Run service running the function's image (built from
# buildpacks/<name>) with FUNCTION_TARGET=<name>, under its own service account.
#
# The caller grants the account its roles; this module only creates it. Public functions
# (they authenticate callers themselves: ID tokens, API keys, webhook signatures) get an
# allUsers invoker; every other function is invoked only by the members in `invokers`.

terraform {
  required_providers {
    google = {
      source = "hashicorp/google"
    }
  }
}

resource "google_service_account" "this" {
  project      = var.project_id
  account_id   = "fn-${var.name}"
  display_name = "Runyard function ${var.name}"
  description  = "Identity of the ${var.name} function (Cloud Run service ${var.name})."
}

locals {
  # Built from the account id: known at plan time; the reference orders users after the account.
  email  = "${google_service_account.this.account_id}@${google_service_account.this.project}.iam.gserviceaccount.com"
  member = "serviceAccount:${local.email}"
}

resource "google_cloud_run_v2_service" "this" {
  project             = var.project_id
  location            = var.region
  name                = var.name
  ingress             = var.ingress
  deletion_protection = false
  labels = {
    "managed-by" = "runyard"
    "function"   = var.name
  }

  template {
    service_account                  = local.email
    timeout                          = var.timeout
    max_instance_request_concurrency = var.concurrency
    labels = {
      "function" = var.name
    }

    scaling {
      min_instance_count = 0
      max_instance_count = var.max_instances
    }

    containers {
      image = var.image

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        # Request-based billing: no CPU (and no cost) between requests.
        cpu_idle          = true
        startup_cpu_boost = true
      }

      env {
        name  = "FUNCTION_TARGET"
        value = var.name
      }
      env {
        name  = "GOOGLE_CLOUD_PROJECT"
        value = var.project_id
      }

      dynamic "env" {
        for_each = var.env
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = var.secret_env
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }
    }
  }

  lifecycle {
    precondition {
      condition     = length(setintersection(keys(var.env), keys(var.secret_env))) == 0
      error_message = "function ${var.name}: a variable is in both env and secret_env."
    }
    precondition {
      condition     = length(setintersection(concat(keys(var.env), keys(var.secret_env)), var.defaulted)) == 0
      error_message = "function ${var.name}: a variable listed in defaulted is also set."
    }
  }
}

# Public functions: anyone may invoke; the function authenticates the request itself.
resource "google_cloud_run_v2_service_iam_member" "public" {
  count    = var.public ? 1 : 0
  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.this.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = var.invokers
  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.this.name
  role     = "roles/run.invoker"
  member   = each.value
}

# Secret env vars are read at instance start by the function's own identity.
resource "google_secret_manager_secret_iam_member" "env" {
  for_each  = var.secret_env
  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = local.member
}
