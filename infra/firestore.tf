# Firestore: the one database of all state, with point-in-time recovery, daily and weekly
# backups, the TTL policy of the idempotency ledger, and the composite indexes the store's
# queries need (checked against the code by firestore_test.go).

resource "google_firestore_database" "main" {
  project                           = var.project_id
  name                              = "(default)"
  location_id                       = var.firestore_location
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "OPTIMISTIC"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON"

  depends_on = [google_project_service.this]
}

resource "google_firestore_backup_schedule" "daily" {
  project   = var.project_id
  database  = google_firestore_database.main.name
  retention = "604800s" # 7 days

  daily_recurrence {}
}

resource "google_firestore_backup_schedule" "weekly" {
  project   = var.project_id
  database  = google_firestore_database.main.name
  retention = "8467200s" # 14 weeks

  weekly_recurrence {
    day = "SUNDAY"
  }
}

# events/{id}.expire_at: processed event ids and leases expire (shared/store ClaimEvent).
resource "google_firestore_field" "events_ttl" {
  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = "events"
  field      = "expire_at"

  ttl_config {}
}

# Composite indexes. The store port (shared/store.Query) has only equality filters on top-level
# fields, ordered by document id; Firestore serves one such filter from its automatic
# single-field indexes and several by merging them, so no composite index is required today.
# A query with two or more filters is listed here anyway (merges slow down as collections grow);
# firestore_test.go fails when the code's queries and this list disagree.
locals {
  firestore_indexes = {
    # "<collection>/<field>,<field>" = { collection, fields = [...] }
  }
}

resource "google_firestore_index" "this" {
  for_each   = local.firestore_indexes
  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = each.value.collection

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value
      order      = "ASCENDING"
    }
  }
  fields {
    field_path = "__name__"
    order      = "ASCENDING"
  }
}
