# Exactly these users and groups may be synced to the cluster's Manager: the plan shows
# every other synced name as a cancel. The groups alice and bob belong to in IAM sync with
# them and stay (implicit_group_names).
resource "mrs_iam_sync_exclusive" "prod" {
  cluster_id  = "c5e8a1f2-3b4d-4e6f-8a9b-0c1d2e3f4a5b"
  user_names  = ["alice", "bob"]
  group_names = ["analytics"]

  # Sync everyone again when their IAM permissions change, so that MRS maps the new
  # policies to Manager roles (the guide wires it to huaweicloud role assignments).
  resync_triggers = {
    roles = join(",", var.analyst_role_ids)
  }
}

variable "analyst_role_ids" {
  type        = list(string)
  description = "The IDs of the roles the analysts' IAM group is granted."
  default     = []
}
