# The project's APIs, its number, and the values every function shares.

locals {
  services = toset([
    "artifactregistry.googleapis.com",
    "certificatemanager.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "eventarc.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "iap.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])

  # Tenant identities get per-tenant workspace buckets (their accounts are granted one bucket
  # each), named <project>-ws-<tenant> unless workspace_bucket_prefix says otherwise.
  workspace_prefix = var.workspace_bucket_prefix != "" ? var.workspace_bucket_prefix : (var.runtime_identity == "tenant" ? "${var.project_id}-ws-" : "")

  cells = length(var.cells) > 0 ? var.cells : [
    { name = "main", project = var.project_id, region = var.region, limit = 100 },
  ]
  cell_projects = toset([for c in local.cells : c.project])
  cell_regions  = toset([for c in local.cells : "${c.project}/${c.region}"])

  image_repo = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.functions.repository_id}"
  image      = { for n in local.image_names : n => lookup(var.images, n, "${local.image_repo}/${n}:${var.image_tag}") }
  image_names = [
    "api", "buildevents", "gateway", "githubhook", "ingress", "runtimeapi", "stripehook", "sweeper", "usage",
  ]

  # Cloud Run URLs are deterministic (https://<service>-<project number>.<region>.run.app), so a
  # function can be told another's URL (or its own) without a dependency cycle.
  run_url = { for n in local.image_names : n => "https://${n}-${data.google_project.this.number}.${var.region}.run.app" }

  # Where runtimes run (shared/deploy/cloudrun.EnvConfig): api, runtimeapi, buildevents, sweeper.
  runtime_env = {
    RUNYARD_CELLS           = join(",", [for c in local.cells : "${c.name}:${c.project}:${c.region}:${c.limit}"])
    RUNYARD_PROJECT_NUMBERS = join(",", [for p in local.cell_projects : "${p}=${data.google_project.cell[p].number}"])
    RUNTIME_INGRESS_IMAGE   = local.image["ingress"]
    RUNTIME_SERVICE_ACCOUNT = local.runtime_email
    # tenant: each tenant's runtimes run as its own rt-<tenant> account (shared/identity);
    # shared: all as runyard-runtime.
    RUNTIME_IDENTITY        = var.runtime_identity
    WORKSPACE_BUCKET        = local.workspace_prefix == "" ? google_storage_bucket.workspaces[0].name : ""
    WORKSPACE_BUCKET_PREFIX = local.workspace_prefix
    WORKSPACE_PROJECT       = var.project_id
    WORKSPACE_LOCATION      = upper(var.region)
    # Domain mode: the gateway's account is the only invoker of runtime services.
    GATEWAY_SERVICE_ACCOUNT = var.domain == "" ? "" : "fn-gateway@${var.project_id}.iam.gserviceaccount.com"
    # Domain mode: runtime URLs are {runtime}.<domain>, vscode-…, {port}-… (shared/hosts).
    RUNTIME_DOMAIN = var.domain
    # How paused and stopped runtime time is metered (shared/usage).
    USAGE_STORAGE_RATE = tostring(var.usage_storage_rate)
  }
  # RUNTIME_URL_SCHEME keeps its default (https), VERTEX_LOCATION its (global).
  runtime_defaulted = ["RUNTIME_URL_SCHEME", "VERTEX_LOCATION"]

  # Billing (shared/billing/stripe.EnvConfig): api, runtimeapi, stripehook, sweeper. Off (no
  # STRIPE_SECRET_KEY) until a Stripe key is wired in as a secret env ref; budgets hold anyway,
  # counted at the default unit prices.
  billing_defaulted = ["STRIPE_SECRET_KEY", "STRIPE_API_URL", "STRIPE_PRICE_IDS", "STRIPE_TIMEOUT",
    "BILLING_SUCCESS_URL", "BILLING_CANCEL_URL", "BILLING_RETURN_URL",
  "PRICE_VCPU_SECOND", "PRICE_GIB_SECOND", "PRICE_BUILD_MINUTE"]

  # Where builds run (shared/build/cloudbuild.EnvConfig): api, runtimeapi, githubhook.
  build_env = {
    BUILD_ARTIFACT_REPO   = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.runtime_images.repository_id}"
    BUILD_REGION          = var.region
    BUILD_SERVICE_ACCOUNT = local.build_id
  }
  # BUILD_MACHINE_TYPE and BUILD_TIMEOUT keep the functions' defaults (Cloud Build's default machine, 20m).
  build_defaulted = ["BUILD_MACHINE_TYPE", "BUILD_TIMEOUT"]

  # Every function's store.
  store_env = {
    FIRESTORE_DATABASE = google_firestore_database.main.name
  }
}

resource "google_project_service" "this" {
  for_each           = local.services
  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

data "google_project" "this" {
  project_id = var.project_id
}

data "google_project" "cell" {
  for_each   = local.cell_projects
  project_id = each.value
}
