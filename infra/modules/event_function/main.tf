# One Runyard event function: the function module with internal-only ingress and no public
# invoker, plus an Eventarc trigger (Pub/Sub messagePublished on `topic`) whose own service
# account is the service's only invoker.

terraform {
  required_providers {
    google = {
      source = "hashicorp/google"
    }
  }
}

module "function" {
  source = "../function"

  name       = var.name
  project_id = var.project_id
  region     = var.region
  image      = var.image
  env        = var.env
  secret_env = var.secret_env
  defaulted  = var.defaulted
  # Eventarc (Pub/Sub push) counts as internal traffic; nothing else may reach the service.
  ingress       = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  public        = false
  invokers      = { trigger = local.trigger_member }
  max_instances = var.max_instances
  concurrency   = var.concurrency
  timeout       = var.timeout
}

resource "google_service_account" "trigger" {
  project      = var.project_id
  account_id   = "ev-${var.name}"
  display_name = "Runyard ${var.name} trigger"
  description  = "Eventarc delivers ${var.topic} to the ${var.name} function as this account (run.invoker on that service only)."
}

locals {
  trigger_email  = "${google_service_account.trigger.account_id}@${google_service_account.trigger.project}.iam.gserviceaccount.com"
  trigger_member = "serviceAccount:${local.trigger_email}"
}

resource "google_eventarc_trigger" "this" {
  project         = var.project_id
  location        = var.region
  name            = var.name
  service_account = local.trigger_email
  labels = {
    "managed-by" = "runyard"
    "function"   = var.name
  }

  matching_criteria {
    attribute = "type"
    value     = "google.cloud.pubsub.topic.v1.messagePublished"
  }

  transport {
    pubsub {
      topic = var.topic_id
    }
  }

  destination {
    cloud_run_service {
      service = module.function.name
      region  = var.region
      path    = "/"
    }
  }
}

# The Pub/Sub service agent acknowledges dead-lettered messages on the trigger's subscription.
resource "google_pubsub_subscription_iam_member" "dead_letter_ack" {
  count        = var.dead_letter ? 1 : 0
  project      = var.project_id
  subscription = google_eventarc_trigger.this.transport[0].pubsub[0].subscription
  role         = "roles/pubsub.subscriber"
  member       = var.pubsub_agent
}
