# A module that syncs a list of IAM users and groups to one MRS cluster, with the tests in
# tests/ that `terraform test` (Terraform 1.6 or later) runs against it.
terraform {
  required_providers {
    mrs = {
      source = "terraform.local/mrs/mrs"
    }
  }
}

# Keys, region and endpoint come from the environment (HW_ACCESS_KEY, HW_SECRET_KEY,
# HW_REGION_NAME, HW_MRS_ENDPOINT for mrs-sim, ...).
provider "mrs" {}

variable "cluster_id" {
  type        = string
  description = "The MRS cluster to sync to."
}

variable "user_names" {
  type    = set(string)
  default = []
}

variable "group_names" {
  type    = set(string)
  default = []
}

resource "mrs_iam_sync" "this" {
  cluster_id  = var.cluster_id
  user_names  = var.user_names
  group_names = var.group_names
}

# Read back after the apply: what the cluster holds now.
data "mrs_iam_sync_users" "this" {
  cluster_id = mrs_iam_sync.this.cluster_id
}

output "synced_users" {
  value = data.mrs_iam_sync_users.this.user_names
}
