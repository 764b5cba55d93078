# The demo: sync IAM users and groups to a cluster of the local simulator mrs-sim.
# scripts/demo.sh points the provider at mrs-sim through HW_* environment variables.
terraform {
  required_providers {
    mrs = {
      source  = "terraform.local/mrs/mrs"
      version = "0.1.0"
    }
  }
}

provider "mrs" {}

variable "user_names" {
  type        = set(string)
  description = "IAM users to sync to the cluster."
}

variable "group_names" {
  type        = set(string)
  description = "IAM groups to sync to the cluster."
}

resource "mrs_iam_sync" "analysts" {
  cluster_id  = "demo-cluster"
  user_names  = var.user_names
  group_names = var.group_names
}

# What the cluster holds, whoever synced it: includes the groups of synced users.
data "mrs_iam_sync_users" "cluster" {
  cluster_id = mrs_iam_sync.analysts.cluster_id
  depends_on = [mrs_iam_sync.analysts]
}

output "cluster_users" {
  value = data.mrs_iam_sync_users.cluster.user_names
}

output "cluster_groups" {
  value = data.mrs_iam_sync_users.cluster.group_names
}
