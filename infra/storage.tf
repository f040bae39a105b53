# Cloud Storage: uploaded build sources (short-lived) and, unless each tenant gets its own
# bucket (workspace_bucket_prefix), the shared runtime workspace bucket.

resource "google_storage_bucket" "sources" {
  project                     = var.project_id
  name                        = "${var.project_id}-runyard-sources"
  location                    = upper(var.region)
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  # An uploaded archive is read once by its build.
  lifecycle_rule {
    condition {
      age = 7
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket" "workspaces" {
  count                       = local.workspace_prefix == "" ? 1 : 0
  project                     = var.project_id
  name                        = "${var.project_id}-runyard-workspaces"
  location                    = upper(var.region)
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
}
