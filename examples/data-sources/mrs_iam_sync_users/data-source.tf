data "mrs_iam_sync_users" "current" {
  cluster_id = "c5e8a1f2-3b4d-4e6f-8a9b-0c1d2e3f4a5b"
}

output "synced_users" {
  value = data.mrs_iam_sync_users.current.user_names
}
