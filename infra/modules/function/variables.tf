variable "name" {
  description = "The function's name: folder functions/<name>, FUNCTION_TARGET, Cloud Run service, image."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,26}$", var.name))
    error_message = "name must be 2-27 lowercase letters and digits (the service account is fn-<name>)."
  }
}

variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "image" {
  description = "The function's image, e.g. REGION-docker.pkg.dev/PROJECT/runyard/<name>:<commit>."
  type        = string
}

variable "env" {
  description = "Plain environment variables (names byte-for-byte the function's config tags)."
  type        = map(string)
  default     = {}
}

variable "secret_env" {
  description = "Environment variables read from Secret Manager: name => secret id (latest version)."
  type        = map(string)
  default     = {}
}

variable "defaulted" {
  description = "Config variables deliberately left to the function's default (documentation, checked by infra/consistency_test.go and against env)."
  type        = list(string)
  default     = []
}

variable "ingress" {
  description = "INGRESS_TRAFFIC_ALL for functions called from the internet, INGRESS_TRAFFIC_INTERNAL_ONLY for event functions, INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER behind the load balancer."
  type        = string
  validation {
    condition     = contains(["INGRESS_TRAFFIC_ALL", "INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"], var.ingress)
    error_message = "ingress must be INGRESS_TRAFFIC_ALL, INGRESS_TRAFFIC_INTERNAL_ONLY or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  }
}

variable "public" {
  description = "Grant roles/run.invoker to allUsers (the function authenticates its callers itself)."
  type        = bool
  default     = false
}

variable "invokers" {
  description = "Members granted roles/run.invoker on the service, by a static key (e.g. trigger => an Eventarc trigger's account)."
  type        = map(string)
  default     = {}
}

variable "max_instances" {
  type    = number
  default = 20
}

variable "concurrency" {
  type    = number
  default = 80
}

variable "timeout" {
  description = "Request timeout."
  type        = string
  default     = "60s"
}

variable "cpu" {
  type    = string
  default = "1"
}

variable "memory" {
  type    = string
  default = "512Mi"
}
