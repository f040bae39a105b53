# The deployment's invariants, checked offline: `tofu test` plans and applies the root module
# against a mocked google provider (no credentials, nothing reaches Google). Run by
# `make infra-check` (infra/infra_test.go).

mock_provider "google" {
  mock_data "google_project" {
    defaults = {
      number = "123456789012"
    }
  }
}

variables {
  project_id = "runyard-test"
  region     = "us-central1"
  image_tag  = "0123abc"
  audiences  = ["client-1.apps.googleusercontent.com"]
}

run "functions_facing_callers_are_public_and_authenticate_themselves" {
  command = apply

  assert {
    condition     = module.api.ingress == "INGRESS_TRAFFIC_ALL" && toset(module.api.invoker_members) == toset(["allUsers"])
    error_message = "api must take traffic from the internet (browsers, CLIs, runtimes' activity reports) with an allUsers invoker: it verifies ID tokens and API keys itself."
  }
  assert {
    condition     = module.runtimeapi.ingress == "INGRESS_TRAFFIC_ALL" && toset(module.runtimeapi.invoker_members) == toset(["allUsers"])
    error_message = "runtimeapi is called by OpenHands with X-API-Key: internet ingress, allUsers invoker."
  }
  assert {
    condition     = module.githubhook.ingress == "INGRESS_TRAFFIC_ALL" && toset(module.githubhook.invoker_members) == toset(["allUsers"])
    error_message = "githubhook is called by GitHub without Google credentials: internet ingress, allUsers invoker."
  }
  assert {
    condition     = module.stripehook.ingress == "INGRESS_TRAFFIC_ALL" && toset(module.stripehook.invoker_members) == toset(["allUsers"])
    error_message = "stripehook is called by Stripe without Google credentials: internet ingress, allUsers invoker."
  }
  assert {
    condition     = module.stripehook.ingress == "INGRESS_TRAFFIC_ALL" && toset(module.stripehook.invoker_members) == toset(["allUsers"])
    error_message = "stripehook is called by Stripe without Google credentials: internet ingress, allUsers invoker."
  }
  assert {
    condition     = length(module.gateway) == 0
    error_message = "without a domain there is no gateway (its preview-link-key secret may have no version yet)."
  }
}

run "event_functions_are_internal_and_invoked_only_by_their_trigger" {
  command = apply

  assert {
    condition     = module.buildevents.ingress == "INGRESS_TRAFFIC_INTERNAL_ONLY" && module.sweeper.ingress == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    error_message = "event functions must take internal traffic only (Eventarc)."
  }
  assert {
    condition     = toset(module.buildevents.invoker_members) == toset([module.buildevents.trigger_service_account_member])
    error_message = "buildevents' only invoker must be its Eventarc trigger's account (no allUsers)."
  }
  assert {
    condition     = toset(module.sweeper.invoker_members) == toset([module.sweeper.trigger_service_account_member])
    error_message = "sweeper's only invoker must be its Eventarc trigger's account (no allUsers)."
  }
  assert {
    condition     = module.usage.ingress == "INGRESS_TRAFFIC_INTERNAL_ONLY" && toset(module.usage.invoker_members) == toset([module.usage.trigger_service_account_member])
    error_message = "usage must take internal traffic only, invoked only by its Eventarc trigger's account."
  }
  assert {
    condition     = module.usage.trigger_topic == google_pubsub_topic.this["usage"].id && module.usage.trigger_event_type == "google.cloud.pubsub.topic.v1.messagePublished"
    error_message = "usage must be triggered by messagePublished on the usage topic."
  }
  assert {
    condition     = module.buildevents.trigger_topic == google_pubsub_topic.this["cloud-builds"].id && module.buildevents.trigger_event_type == "google.cloud.pubsub.topic.v1.messagePublished"
    error_message = "buildevents must be triggered by messagePublished on cloud-builds."
  }
}

run "scheduler_ticks_the_sweeper_every_minute" {
  command = apply

  assert {
    condition     = google_cloud_scheduler_job.sweeper_tick.schedule == "* * * * *"
    error_message = "the sweeper tick must come every minute."
  }
  assert {
    condition     = google_cloud_scheduler_job.sweeper_tick.pubsub_target[0].topic_name == google_pubsub_topic.this["sweeper-tick"].id
    error_message = "the scheduler job must publish to sweeper-tick."
  }
  assert {
    condition     = module.sweeper.trigger_topic == google_pubsub_topic.this["sweeper-tick"].id && module.sweeper.trigger_event_type == "google.cloud.pubsub.topic.v1.messagePublished"
    error_message = "the sweeper must be triggered by messagePublished on sweeper-tick."
  }
}

run "least_privilege" {
  command = apply

  assert {
    condition = alltrue([
      for g in values(google_project_iam_member.function) :
      !contains(["roles/owner", "roles/editor", "roles/viewer", "roles/iam.securityAdmin", "roles/resourcemanager.projectIamAdmin", "roles/iam.serviceAccountAdmin", "roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator", "roles/storage.admin"], g.role)
    ])
    error_message = "no function may hold owner, editor, viewer, IAM or service-account admin, project-wide actAs or token creation, or storage.admin on the main project through the role table."
  }
  assert {
    condition = alltrue([
      for g in values(google_project_iam_member.cell) :
      !contains(["roles/owner", "roles/editor", "roles/viewer", "roles/iam.securityAdmin", "roles/resourcemanager.projectIamAdmin", "roles/iam.serviceAccountTokenCreator", "roles/storage.admin"], g.role)
    ])
    error_message = "in the cell projects the deployers hold run.admin, iap.admin and (tenant identities) service account admin and user, never owner, editor, token creation or (without tenant_vertex_ai) project IAM admin."
  }
  assert {
    condition = alltrue([
      for g in concat(values(google_project_iam_member.function), values(google_project_iam_member.cell), [google_project_iam_member.build_logs]) :
      g.member != local.runtime_member
    ]) && length(google_project_iam_member.runtime_vertex_ai) == 0
    error_message = "the runtime account must hold no project-level role (Vertex AI only when runtime_vertex_ai)."
  }
  assert {
    condition = toset([for m in google_service_account_iam_member.deployer_acts_as_runtime : m.member]) == toset([
      module.api.service_account_member, module.runtimeapi.service_account_member,
      module.buildevents.service_account_member, module.sweeper.service_account_member,
    ])
    error_message = "exactly the deployers (api, runtimeapi, buildevents, sweeper) may act as the runtime account."
  }
  assert {
    condition     = !contains([for g in values(google_project_iam_member.cell) : g.member], module.githubhook.service_account_member)
    error_message = "githubhook deploys nothing: no role in the cell projects."
  }
}

run "tenant_identities_by_default" {
  command = apply

  assert {
    condition = alltrue([for fn in ["api", "runtimeapi", "buildevents"] : alltrue([
      for r in ["roles/iam.serviceAccountAdmin", "roles/iam.serviceAccountUser", "roles/run.admin"] :
      contains([for g in values(google_project_iam_member.cell) : g.role if g.member == local.fn_member[fn]], r)
    ])])
    error_message = "with tenant identities, api, runtimeapi and buildevents create tenants' accounts and deploy as them in each cell project."
  }
  assert {
    condition     = !contains([for g in values(google_project_iam_member.cell) : g.role if g.member == module.sweeper.service_account_member], "roles/iam.serviceAccountAdmin")
    error_message = "the sweeper updates and deletes services; it never creates or deletes accounts."
  }
  assert {
    condition     = local.runtime_env["RUNTIME_IDENTITY"] == "tenant" && local.workspace_prefix == "runyard-test-ws-" && length(google_storage_bucket.workspaces) == 0
    error_message = "tenant identities come with per-tenant workspace buckets (<project>-ws-<tenant>)."
  }
}

run "shared_identity" {
  command = apply

  variables {
    runtime_identity = "shared"
  }

  assert {
    condition     = length([for g in values(google_project_iam_member.cell) : g if contains(["roles/iam.serviceAccountAdmin", "roles/iam.serviceAccountUser"], g.role)]) == 0
    error_message = "with one shared runtime account, nobody needs service account admin or project-wide actAs."
  }
  assert {
    condition     = length(google_project_iam_member.workspace_buckets) == 0 && length(google_storage_bucket.workspaces) == 1 && local.runtime_env["RUNTIME_IDENTITY"] == "shared"
    error_message = "with a shared identity and workspace bucket, no function needs storage.admin."
  }
}

run "audiences_are_required" {
  command = plan

  variables {
    audiences = []
  }
  expect_failures = [var.audiences]
}

run "firestore_is_protected_and_backed_up" {
  command = apply

  assert {
    condition     = google_firestore_database.main.point_in_time_recovery_enablement == "POINT_IN_TIME_RECOVERY_ENABLED" && google_firestore_database.main.delete_protection_state == "DELETE_PROTECTION_ENABLED"
    error_message = "Firestore needs point-in-time recovery and delete protection."
  }
  assert {
    condition     = google_firestore_field.events_ttl.collection == "events" && google_firestore_field.events_ttl.field == "expire_at"
    error_message = "the idempotency ledger (events.expire_at) needs its TTL policy."
  }
}
