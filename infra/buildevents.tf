# buildevents: Cloud Build notifications (Pub/Sub cloud-builds, through Eventarc) → build
# records, the image cache, build.finished, and the runtimes waiting on the build.

module "buildevents" {
  source            = "./modules/event_function"
  name              = "buildevents"
  project_id        = var.project_id
  region            = var.region
  image             = local.image["buildevents"]
  topic             = "cloud-builds"
  topic_id          = google_pubsub_topic.this["cloud-builds"].id
  pubsub_agent      = local.pubsub_agent
  dead_letter       = true
  dead_letter_topic = google_pubsub_topic.dead_letter["cloud-builds"].id

  env = merge(local.store_env, local.runtime_env, {
    BUILD_EVENTS_TOPIC = google_pubsub_topic.this["build-events"].name
    SECRETS_PROJECT    = var.project_id
  })
  defaulted = concat(local.runtime_defaulted, ["LOG_LEVEL"])

  depends_on = [google_project_service.this]
}
