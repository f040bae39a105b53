output "name" {
  value = module.function.name
}

output "uri" {
  value = module.function.uri
}

output "service_account_email" {
  value = module.function.service_account_email
}

output "service_account_member" {
  value = module.function.service_account_member
}

output "trigger_service_account_member" {
  value = local.trigger_member
}

output "subscription" {
  description = "The Pub/Sub subscription Eventarc made for the trigger (its dead-letter policy is set out of band: see infra/README.md)."
  value       = google_eventarc_trigger.this.transport[0].pubsub[0].subscription
}

output "dead_letter_command" {
  description = "The gcloud command that attaches the dead-letter topic to the trigger's subscription (empty without dead_letter)."
  value       = var.dead_letter ? "gcloud pubsub subscriptions update ${google_eventarc_trigger.this.transport[0].pubsub[0].subscription} --dead-letter-topic=${var.dead_letter_topic} --max-delivery-attempts=${var.max_delivery_attempts}" : ""
}

output "ingress" {
  value = module.function.ingress
}

output "invoker_members" {
  value = module.function.invoker_members
}

output "env_names" {
  value = module.function.env_names
}

output "trigger_topic" {
  value = google_eventarc_trigger.this.transport[0].pubsub[0].topic
}

output "trigger_event_type" {
  value = one([for m in google_eventarc_trigger.this.matching_criteria : m.value if m.attribute == "type"])
}
