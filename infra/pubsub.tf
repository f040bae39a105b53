# Pub/Sub topics. Names are the code's: cloud-builds (Cloud Build publishes there by itself),
# build-events (buildevents' BUILD_EVENTS_TOPIC), usage, sweeper-tick (the scheduler job).
# Event topics get a dead-letter topic; Eventarc owns the push subscriptions, so the
# dead-letter policy is attached to them with the commands in the dead_letter_commands output.

locals {
  topics = toset(["cloud-builds", "build-events", "usage", "sweeper-tick"])
  # Topics whose undeliverable messages are kept (a lost tick is harmless: the next one comes).
  dead_letter_topics = toset(["cloud-builds", "usage"])
}

resource "google_pubsub_topic" "this" {
  for_each                   = local.topics
  project                    = var.project_id
  name                       = each.value
  message_retention_duration = "604800s"
  labels = {
    "managed-by" = "runyard"
  }
  depends_on = [google_project_service.this]
}

resource "google_pubsub_topic" "dead_letter" {
  for_each                   = local.dead_letter_topics
  project                    = var.project_id
  name                       = "${each.value}-dead-letter"
  message_retention_duration = "2678400s"
  labels = {
    "managed-by" = "runyard"
  }
  depends_on = [google_project_service.this]
}

# Keeps dead letters for inspection (31 days).
resource "google_pubsub_subscription" "dead_letter" {
  for_each                   = local.dead_letter_topics
  project                    = var.project_id
  name                       = "${each.value}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter[each.value].id
  message_retention_duration = "2678400s"
  expiration_policy {
    ttl = ""
  }
}

# The Pub/Sub service agent forwards dead letters (the event_function module lets it
# acknowledge them on the trigger's subscription).
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.dead_letter_topics
  project  = var.project_id
  topic    = google_pubsub_topic.dead_letter[each.value].name
  role     = "roles/pubsub.publisher"
  member   = local.pubsub_agent
}

locals {
  # Google's Pub/Sub service agent of the project.
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}
