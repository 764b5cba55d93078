# Sync two users and a group to the cluster's Manager. The groups that alice and bob
# belong to are synced too, by MRS itself; this resource does not manage them.
resource "mrs_iam_sync" "analysts" {
  cluster_id  = "c5e8a1f2-3b4d-4e6f-8a9b-0c1d2e3f4a5b"
  user_names  = ["alice", "bob"]
  group_names = ["analytics"]

  timeouts {
    create = "15m"
  }
}

# Or sync every IAM user and group of the account.
resource "mrs_iam_sync" "everyone" {
  cluster_id  = "7d9f0e1a-2b3c-4d5e-9f8a-7b6c5d4e3f2a"
  is_all_sync = true
}
