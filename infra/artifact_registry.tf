# Two Docker repositories: Runyard's own images (functions and the ingress sidecar, pushed by
# cloudbuild.yaml) and the tenants' runtime images (pushed by the builds Runyard starts).

resource "google_artifact_registry_repository" "functions" {
  project       = var.project_id
  location      = var.region
  repository_id = "runyard"
  format        = "DOCKER"
  description   = "Runyard function images and the runtime ingress sidecar (tagged with the commit)."

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 20
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }

  depends_on = [google_project_service.this]
}

resource "google_artifact_registry_repository" "runtime_images" {
  project       = var.project_id
  location      = var.region
  repository_id = "runyard-images"
  format        = "DOCKER"
  description   = "Tenants' runtime images built by Runyard (BUILD_ARTIFACT_REPO); the prebuild cache points here."

  depends_on = [google_project_service.this]
}
