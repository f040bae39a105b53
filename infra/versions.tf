terraform {
  required_version = ">= 1.6.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 8.0"
    }
  }

  # State in a Cloud Storage bucket: tofu init -backend-config="bucket=<bucket>" (see README.md).
  backend "gcs" {
    prefix = "runyard"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
