# Service accounts that are not a function's own, and the project-level grants of the
# functions' accounts. Each function's account is made by its module (infra/<name>.tf); the
# roles it needs are listed here in one table, so the least-privilege review reads one file.
#
# No account gets owner, editor or any */admin role on the project it does not need for what it
# creates at run time (tests/iam.tftest.hcl checks the list).

# runyard-runtime: the identity runtime services run as (RUNTIME_SERVICE_ACCOUNT). No project
# role at all: the api grants it each tenant secret a runtime references, one by one.
resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = "runyard-runtime"
  display_name = "Runyard runtimes"
  description  = "Identity of runtime services rt-<id> (RUNTIME_SERVICE_ACCOUNT). No project-level role."
}

# runyard-build: the identity Cloud Build runs tenant builds as (BUILD_SERVICE_ACCOUNT).
resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "runyard-build"
  display_name = "Runyard builds"
  description  = "Identity of the Cloud Build builds Runyard starts (BUILD_SERVICE_ACCOUNT)."
}

resource "google_project_iam_member" "build_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = local.build_member
}

resource "google_artifact_registry_repository_iam_member" "build_push" {
  project    = var.project_id
  location   = google_artifact_registry_repository.runtime_images.location
  repository = google_artifact_registry_repository.runtime_images.name
  role       = "roles/artifactregistry.writer"
  member     = local.build_member
}

resource "google_storage_bucket_iam_member" "build_sources" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = local.build_member
}

# Runtimes read and write their workspace in the shared bucket (per-tenant buckets are granted
# by the api when it creates them).
resource "google_storage_bucket_iam_member" "runtime_workspace" {
  count  = local.workspace_prefix == "" ? 1 : 0
  bucket = google_storage_bucket.workspaces[0].name
  role   = "roles/storage.objectUser"
  member = local.runtime_member
}

resource "google_project_iam_member" "runtime_vertex_ai" {
  count   = var.runtime_vertex_ai ? 1 : 0
  project = var.project_id
  role    = "roles/aiplatform.user"
  member  = local.runtime_member
}

locals {
  # Emails and ids built from the account ids (known at plan time, and real in mocked tests);
  # the references still order each grant after its account.
  runtime_email  = "${google_service_account.runtime.account_id}@${google_service_account.runtime.project}.iam.gserviceaccount.com"
  runtime_member = "serviceAccount:${local.runtime_email}"
  runtime_id     = "projects/${google_service_account.runtime.project}/serviceAccounts/${local.runtime_email}"
  build_email    = "${google_service_account.build.account_id}@${google_service_account.build.project}.iam.gserviceaccount.com"
  build_member   = "serviceAccount:${local.build_email}"
  build_id       = "projects/${google_service_account.build.project}/serviceAccounts/${local.build_email}"

  fn_member = merge({
    api         = module.api.service_account_member
    runtimeapi  = module.runtimeapi.service_account_member
    buildevents = module.buildevents.service_account_member
    githubhook  = module.githubhook.service_account_member
    stripehook  = module.stripehook.service_account_member
    sweeper     = module.sweeper.service_account_member
    usage       = module.usage.service_account_member
  }, var.domain == "" ? {} : { gateway = module.gateway[0].service_account_member })

  # Functions that create, update or delete runtime services in the cells.
  deployers = toset(["api", "runtimeapi", "buildevents", "sweeper"])
  # Functions that start Cloud Build builds as runyard-build.
  builders = toset(["api", "runtimeapi", "githubhook"])

  # Project-level roles on the main project, function => roles.
  #   datastore.user            every function: Firestore reads and writes
  #   secretmanager.admin       api, runtimeapi, buildevents: create tenant secrets and grant a
  #                             runtime's account access to the ones it references (setIamPolicy)
  #   secretmanager.secretAccessor  githubhook: reads repository hook keys
  #   cloudbuild.builds.editor  builders: start and read builds
  project_roles = {
    api         = ["roles/datastore.user", "roles/secretmanager.admin", "roles/cloudbuild.builds.editor"]
    runtimeapi  = ["roles/datastore.user", "roles/secretmanager.admin", "roles/cloudbuild.builds.editor"]
    buildevents = ["roles/datastore.user", "roles/secretmanager.admin"]
    githubhook  = ["roles/datastore.user", "roles/secretmanager.secretAccessor", "roles/cloudbuild.builds.editor"]
    stripehook  = ["roles/datastore.user"]
    sweeper     = ["roles/datastore.user"]
    usage       = ["roles/datastore.user"]
    # gateway: reads runtime records, preview settings, members, domain claims and branding.
    gateway = ["roles/datastore.viewer"]
  }
  project_grants = merge([
    for fn, roles in local.project_roles : { for r in roles : "${fn} ${r}" => { fn = fn, role = r } } if contains(keys(local.fn_member), fn)
  ]...)

  # Roles in every cell project, for the deployers:
  #   run.admin  create, update and delete runtime services and set their invoker policy (Cloud
  #              Run checks run.services.create on the location, so a name condition cannot
  #              narrow it to rt-* services)
  #   iap.admin  grant the tenant's members roles/iap.httpsResourceAccessor on each runtime
  #   iam.serviceAccountAdmin  runtime_identity = "tenant": create, read and delete the
  #                            tenants' rt-<tenant> accounts (shared/identity)
  #   iam.serviceAccountUser   runtime_identity = "tenant": deploy and update services that run
  #                            as those accounts (actAs); project-wide because the accounts come
  #                            and go with tenants: keep cells in projects of their own
  #   resourcemanager.projectIamAdmin  tenant_vertex_ai: the conditioned aiplatform.user binding
  #                            of each opted-in tenant's account
  tenant_identity = var.runtime_identity == "tenant" ? ["roles/iam.serviceAccountAdmin", "roles/iam.serviceAccountUser"] : []
  tenant_vertex   = var.runtime_identity == "tenant" && var.tenant_vertex_ai ? ["roles/resourcemanager.projectIamAdmin"] : []
  cell_roles = {
    api         = concat(["roles/run.admin", "roles/iap.admin"], local.tenant_identity, local.tenant_vertex)
    runtimeapi  = concat(["roles/run.admin", "roles/iap.admin"], local.tenant_identity, local.tenant_vertex)
    buildevents = concat(["roles/run.admin", "roles/iap.admin"], local.tenant_identity, local.tenant_vertex)
    sweeper     = concat(["roles/run.admin"], var.runtime_identity == "tenant" ? ["roles/iam.serviceAccountUser"] : [])
  }
  cell_grants = merge(flatten([
    for fn, roles in local.cell_roles : [
      for p in local.cell_projects : { for r in roles : "${fn} ${p} ${r}" => { fn = fn, project = p, role = r } }
    ]
  ])...)
}

resource "google_project_iam_member" "function" {
  for_each = local.project_grants
  project  = var.project_id
  role     = each.value.role
  member   = local.fn_member[each.value.fn]
}

resource "google_project_iam_member" "cell" {
  for_each = local.cell_grants
  project  = each.value.project
  role     = each.value.role
  member   = local.fn_member[each.value.fn]
}

# Deployers deploy services that run as runyard-runtime: they must be allowed to act as it
# (on that one account, not the project).
resource "google_service_account_iam_member" "deployer_acts_as_runtime" {
  for_each           = local.deployers
  service_account_id = local.runtime_id
  role               = "roles/iam.serviceAccountUser"
  member             = local.fn_member[each.value]
}

resource "google_service_account_iam_member" "builder_acts_as_build" {
  for_each           = local.builders
  service_account_id = local.build_id
  role               = "roles/iam.serviceAccountUser"
  member             = local.fn_member[each.value]
}

# Uploaded sources: api and runtimeapi write them, builds read them.
resource "google_storage_bucket_iam_member" "sources_writer" {
  for_each = toset(["api", "runtimeapi"])
  bucket   = google_storage_bucket.sources.name
  role     = "roles/storage.objectAdmin"
  member   = local.fn_member[each.value]
}

# Per-tenant workspace buckets: the deployers create them and grant the runtime account.
resource "google_project_iam_member" "workspace_buckets" {
  for_each = local.workspace_prefix == "" ? toset([]) : toset(["api", "runtimeapi", "buildevents"])
  project  = var.project_id
  role     = "roles/storage.admin"
  member   = local.fn_member[each.value]
}

# Closed usage periods: published right after the state change that closes them (api,
# runtimeapi, buildevents, sweeper) and by the sweeper's outbox drain.
resource "google_pubsub_topic_iam_member" "usage_publisher" {
  for_each = toset(["api", "runtimeapi", "buildevents", "sweeper"])
  project  = var.project_id
  topic    = google_pubsub_topic.this["usage"].name
  role     = "roles/pubsub.publisher"
  member   = local.fn_member[each.value]
}

resource "google_pubsub_topic_iam_member" "build_events_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.this["build-events"].name
  role    = "roles/pubsub.publisher"
  member  = module.buildevents.service_account_member
}
