output "name" {
  value = google_cloud_run_v2_service.this.name
}

output "uri" {
  description = "The service's https://…run.app URL."
  value       = google_cloud_run_v2_service.this.uri
}

output "service_account_email" {
  value = local.email
}

output "service_account_member" {
  description = "serviceAccount:<email>, for IAM bindings."
  value       = local.member
}

output "ingress" {
  value = google_cloud_run_v2_service.this.ingress
}

output "invoker_members" {
  description = "Every member with roles/run.invoker on the service that this module grants."
  value       = concat([for m in google_cloud_run_v2_service_iam_member.public : m.member], [for m in google_cloud_run_v2_service_iam_member.invoker : m.member])
}

output "env_names" {
  description = "Names of the environment variables the service sets."
  value       = sort([for e in google_cloud_run_v2_service.this.template[0].containers[0].env : e.name])
}
