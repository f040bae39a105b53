output "api_url" {
  description = "The api function's URL: frontends and the runyard CLI (RUNYARD_API=<api_url>)."
  value       = module.api.uri
}

output "runtimeapi_url" {
  description = "The runtimeapi function's URL (OpenHands' SANDBOX_REMOTE_RUNTIME_API_URL)."
  value       = module.runtimeapi.uri
}

output "stripehook_url" {
  description = "Base URL of the Stripe webhook endpoint (/v1/events)."
  value       = module.stripehook.uri
}

output "githubhook_url" {
  description = "Base URL of repository push webhooks (/v1/hooks/{tenant}/{repo})."
  value       = module.githubhook.uri
}

output "openhands_env" {
  description = "Environment for OpenHands (add SANDBOX_API_KEY: a tenant API key with the runtimes scope)."
  value = {
    RUNTIME                        = "remote"
    SANDBOX_REMOTE_RUNTIME_API_URL = module.runtimeapi.uri
    SANDBOX_KEEP_RUNTIME_ALIVE     = "true"
  }
}

output "function_service_accounts" {
  description = "Each function's service account."
  value       = { for fn, m in local.fn_member : fn => trimprefix(m, "serviceAccount:") }
}

output "runtime_service_account" {
  value = local.runtime_email
}

output "dead_letter_commands" {
  description = "Run once after the first apply: attach the dead-letter topics to the Eventarc subscriptions."
  value       = compact([module.buildevents.dead_letter_command, module.usage.dead_letter_command])
}

output "secrets_to_fill" {
  description = "Secrets created empty: add a version to each (gcloud secrets versions add NAME --data-file=-)."
  value       = sort(keys(google_secret_manager_secret.this))
}
