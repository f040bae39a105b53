# sweeper: every minute a Cloud Scheduler job publishes a tick to sweeper-tick; Eventarc
# delivers it to the sweeper, which pauses idle runtimes, archives and deletes old ones, fails
# stuck ones and removes orphan services.

module "sweeper" {
  source     = "./modules/event_function"
  name       = "sweeper"
  project_id = var.project_id
  region     = var.region
  image      = local.image["sweeper"]
  topic      = "sweeper-tick"
  topic_id   = google_pubsub_topic.this["sweeper-tick"].id
  # A tick lasts at most TICK_TIMEOUT (50s); one instance is enough and two would only race for leases.
  max_instances = 2
  timeout       = "60s"
  pubsub_agent  = local.pubsub_agent

  # Only RUNYARD_CELLS and RUNYARD_PROJECT_NUMBERS matter to the sweeper; it gets the whole
  # runtime configuration so its cloudrun.EnvConfig matches the deployers'.
  env       = merge(local.store_env, local.runtime_env, {})
  defaulted = concat(local.runtime_defaulted, local.billing_defaulted, ["LOG_LEVEL", "MAX_PER_TICK", "STUCK_AFTER", "LEASE_TTL", "TICK_TIMEOUT"])

  depends_on = [google_project_service.this]
}

resource "google_cloud_scheduler_job" "sweeper_tick" {
  project     = var.project_id
  region      = var.region
  name        = "sweeper-tick"
  description = "Publishes a tick to sweeper-tick every minute (functions/sweeper)."
  schedule    = "* * * * *"
  time_zone   = "Etc/UTC"
  # A tick that finds the topic unavailable is not retried: the next one comes in a minute.
  retry_config {
    retry_count = 0
  }

  pubsub_target {
    topic_name = google_pubsub_topic.this["sweeper-tick"].id
    data       = base64encode("{\"tick\":true}")
  }

  depends_on = [google_project_service.this]
}
