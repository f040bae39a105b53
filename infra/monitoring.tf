# Alert policies and one dashboard. Log-based metrics count what the functions log (message
# and field names as the code writes them: shared/logging JSON, Cloud Logging field names);
# monitoring_test.go checks that each message below is still logged by the code.

locals {
  functions = sort(keys(local.fn_member))

  # Log-based counters: name => (description, the logging filter).
  log_metrics = {
    runtimes_stuck = {
      description = "Runtimes the sweeper failed because they stayed in deploying past STUCK_AFTER."
      filter      = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"sweeper\" AND jsonPayload.message=\"swept\" AND jsonPayload.action=\"fail_stuck\""
    }
    tenants_at_budget = {
      description = "Runtime creates and resumes the api refused because the tenant's spend reached its monthly budget (429 budget_exceeded)."
      filter      = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"api\" AND jsonPayload.message=\"request failed\" AND jsonPayload.code=\"budget_exceeded\""
    }
    stripe_meter_rejected = {
      description = "Meter events Stripe refused for good (recorded on the usage period, not retried)."
      filter      = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"usage\" AND jsonPayload.message=\"Stripe rejected a meter event; recorded on the period and acknowledged\""
    }
    sweep_action_failed = {
      description = "Sweeper actions (pause, archive, delete, fail, remove orphan) that failed."
      filter      = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"sweeper\" AND jsonPayload.message=\"sweep action failed\""
    }
  }
}

resource "google_monitoring_notification_channel" "email" {
  for_each     = toset(var.alert_emails)
  project      = var.project_id
  display_name = "Runyard alerts: ${each.value}"
  type         = "email"
  labels = {
    email_address = each.value
  }
}

resource "google_logging_metric" "this" {
  for_each    = local.log_metrics
  project     = var.project_id
  name        = "runyard/${each.key}"
  description = each.value.description
  filter      = each.value.filter
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
}

resource "google_monitoring_alert_policy" "function_errors" {
  project               = var.project_id
  display_name          = "Runyard: function 5xx ratio above ${var.function_error_ratio * 100}%"
  combiner              = "OR"
  notification_channels = [for c in google_monitoring_notification_channel.email : c.id]
  documentation {
    content   = "A Runyard function answers more than ${var.function_error_ratio * 100}% of its requests with 5xx over 5 minutes. Read its logs: resource.labels.service_name=<function> severity>=ERROR."
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "5xx / all requests per function"
    condition_threshold {
      filter                  = "resource.type = \"cloud_run_revision\" AND metric.type = \"run.googleapis.com/request_count\" AND metric.labels.response_code_class = \"5xx\" AND resource.labels.service_name = one_of(${join(", ", [for f in local.functions : "\"${f}\""])})"
      denominator_filter      = "resource.type = \"cloud_run_revision\" AND metric.type = \"run.googleapis.com/request_count\" AND resource.labels.service_name = one_of(${join(", ", [for f in local.functions : "\"${f}\""])})"
      comparison              = "COMPARISON_GT"
      threshold_value         = var.function_error_ratio
      duration                = "300s"
      evaluation_missing_data = "EVALUATION_MISSING_DATA_INACTIVE"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.service_name"]
      }
      denominator_aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.service_name"]
      }
    }
  }
}

resource "google_monitoring_alert_policy" "runtimes_stuck" {
  project               = var.project_id
  display_name          = "Runyard: runtimes stuck in a transition"
  combiner              = "OR"
  notification_channels = [for c in google_monitoring_notification_channel.email : c.id]
  documentation {
    content   = "The sweeper failed runtimes that stayed in deploying past STUCK_AFTER (jsonPayload.action=\"fail_stuck\"). Cloud Run may be refusing services (quota, image pulls): check the runtimes' error field and the api's logs."
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "runtimes failed as stuck"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.this["runtimes_stuck"].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "sweep_failures" {
  project               = var.project_id
  display_name          = "Runyard: sweeper actions failing"
  combiner              = "OR"
  notification_channels = [for c in google_monitoring_notification_channel.email : c.id]
  documentation {
    content   = "Sweeper actions keep failing (message \"sweep action failed\"): idle runtimes may not pause and orphans may not be removed. Read the sweeper's logs."
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "sweep actions failed, 30 min"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.this["sweep_action_failed"].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 5
      duration        = "0s"
      aggregations {
        alignment_period     = "1800s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "tenants_at_budget" {
  project               = var.project_id
  display_name          = "Runyard: tenants at their budget"
  combiner              = "OR"
  notification_channels = [for c in google_monitoring_notification_channel.email : c.id]
  documentation {
    content   = "The api refused runtimes because a tenant's spend this month reached its budget (jsonPayload.code=\"budget_exceeded\"). The billing code logs no earlier \"near budget\" signal yet; this fires at the budget. Check the tenant's usage (GET /v1/tenants/{t}/usage) and budget."
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "budget_exceeded answers, 1 h"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.this["tenants_at_budget"].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "3600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
}

# Usage events Eventarc gave up delivering to the usage function land on usage-dead-letter
# (once dead_letter_commands has attached it): periods that never reached Stripe.
resource "google_monitoring_alert_policy" "stripe_forwarding" {
  project               = var.project_id
  display_name          = "Runyard: usage not forwarded to Stripe"
  combiner              = "OR"
  notification_channels = [for c in google_monitoring_notification_channel.email : c.id]
  documentation {
    content   = "Usage did not reach Stripe: either Stripe refused meter events for good (the usage function's \"Stripe rejected a meter event\" lines; the reason is on the period), or usage events were dead-lettered (topic usage-dead-letter, subscription usage-dead-letter) after max-delivery-attempts failures. Read the usage function's logs, fix the cause, then republish dead letters from the usage-dead-letter subscription to usage."
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "meter events Stripe rejected"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.this["stripe_meter_rejected"].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  conditions {
    display_name = "messages published to usage-dead-letter"
    condition_threshold {
      filter          = "resource.type = \"pubsub_topic\" AND resource.labels.topic_id = \"${google_pubsub_topic.dead_letter["usage"].name}\" AND metric.type = \"pubsub.googleapis.com/topic/send_message_operation_count\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
}

resource "google_monitoring_dashboard" "runyard" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "Runyard"
    mosaicLayout = {
      columns = 12
      tiles = [
        {
          width = 6, height = 4, xPos = 0, yPos = 0
          widget = {
            title = "Requests per function"
            xyChart = {
              dataSets = [{
                plotType = "LINE"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter      = "resource.type=\"cloud_run_revision\" AND metric.type=\"run.googleapis.com/request_count\""
                    aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_RATE", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["resource.label.service_name"] }
                  }
                }
              }]
            }
          }
        },
        {
          width = 6, height = 4, xPos = 6, yPos = 0
          widget = {
            title = "5xx per function"
            xyChart = {
              dataSets = [{
                plotType = "STACKED_BAR"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter      = "resource.type=\"cloud_run_revision\" AND metric.type=\"run.googleapis.com/request_count\" AND metric.label.response_code_class=\"5xx\""
                    aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_RATE", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["resource.label.service_name"] }
                  }
                }
              }]
            }
          }
        },
        {
          width = 6, height = 4, xPos = 0, yPos = 4
          widget = {
            title = "Request latency p95 per function"
            xyChart = {
              dataSets = [{
                plotType = "LINE"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter      = "resource.type=\"cloud_run_revision\" AND metric.type=\"run.googleapis.com/request_latencies\""
                    aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_PERCENTILE_95", crossSeriesReducer = "REDUCE_MAX", groupByFields = ["resource.label.service_name"] }
                  }
                }
              }]
            }
          }
        },
        {
          width = 6, height = 4, xPos = 6, yPos = 4
          widget = {
            title = "Runtimes failed as stuck, sweep failures, budget refusals"
            xyChart = {
              dataSets = [for m in keys(local.log_metrics) : {
                plotType = "STACKED_BAR"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter      = "metric.type=\"logging.googleapis.com/user/runyard/${m}\""
                    aggregation = { alignmentPeriod = "300s", perSeriesAligner = "ALIGN_SUM", crossSeriesReducer = "REDUCE_SUM" }
                  }
                }
              }]
            }
          }
        },
      ]
    }
  })
}
