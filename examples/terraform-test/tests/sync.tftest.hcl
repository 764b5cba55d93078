# Plans and applies the module against a real MRS API (or mrs-sim): the provider's keys and
# endpoint come from the environment. `terraform test` destroys what it created at the end.
variables {
  cluster_id  = "example"
  user_names  = ["bob", "dave"]
  group_names = ["ops"]
}

run "plans_the_listed_names" {
  command = plan

  assert {
    condition     = mrs_iam_sync.this.user_names == toset(["bob", "dave"])
    error_message = "The plan does not list the configured users."
  }

  assert {
    condition     = mrs_iam_sync.this.is_all_sync == false
    error_message = "is_all_sync defaults to false."
  }
}

run "syncs_the_listed_names" {
  command = apply

  assert {
    condition     = mrs_iam_sync.this.project_id != "" && mrs_iam_sync.this.cluster_id == "example"
    error_message = "The applied object does not record its project and cluster."
  }

  assert {
    condition     = setintersection(data.mrs_iam_sync_users.this.user_names, ["bob", "dave"]) == toset(["bob", "dave"])
    error_message = "The cluster does not hold the synced users."
  }
}

run "replaces_a_user" {
  variables {
    user_names = ["bob", "erin"]
  }

  assert {
    condition     = contains(output.synced_users, "erin") && !contains(output.synced_users, "dave")
    error_message = "erin was not synced in dave's place."
  }
}
