variable "name" {
  description = "The function's name (see ../function)."
  type        = string
}

variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "image" {
  type = string
}

variable "topic" {
  description = "The Pub/Sub topic's short name (for descriptions)."
  type        = string
}

variable "topic_id" {
  description = "The Pub/Sub topic's full id, projects/P/topics/T."
  type        = string
}

variable "env" {
  type    = map(string)
  default = {}
}

variable "secret_env" {
  type    = map(string)
  default = {}
}

variable "defaulted" {
  type    = list(string)
  default = []
}

variable "max_instances" {
  type    = number
  default = 10
}

variable "concurrency" {
  type    = number
  default = 80
}

variable "timeout" {
  type    = string
  default = "60s"
}

variable "pubsub_agent" {
  description = "The project's Pub/Sub service agent (serviceAccount:service-N@gcp-sa-pubsub.iam.gserviceaccount.com)."
  type        = string
}

variable "dead_letter" {
  description = "Whether undeliverable messages go to dead_letter_topic (set on the trigger's subscription out of band: Eventarc owns it)."
  type        = bool
  default     = false
}

variable "dead_letter_topic" {
  description = "projects/P/topics/T of the dead-letter topic, when dead_letter."
  type        = string
  default     = ""
}

variable "max_delivery_attempts" {
  description = "Deliveries before a message is dead-lettered."
  type        = number
  default     = 10
}
