# The same module with the provider mocked (Terraform 1.7 or later): no credentials and no
# API needed, for checking the module's own logic.
mock_provider "mrs" {
  mock_resource "mrs_iam_sync" {
    defaults = {
      project_id = "0123456789abcdef"
      region     = "cn-north-4"
    }
  }

  mock_data "mrs_iam_sync_users" {
    defaults = {
      user_names       = ["bob", "dave"]
      group_names      = ["ops"]
      is_synchronizing = false
    }
  }
}

variables {
  cluster_id = "example"
  user_names = ["bob", "dave"]
}

run "applies_with_the_mocked_provider" {
  assert {
    condition     = mrs_iam_sync.this.project_id == "0123456789abcdef"
    error_message = "The mocked project_id is not used."
  }

  assert {
    condition     = length(mrs_iam_sync.this.group_names) == 0
    error_message = "No group was configured."
  }
}

run "reads_the_mocked_data_source" {
  assert {
    condition     = output.synced_users == toset(["bob", "dave"])
    error_message = "The output does not pass the data source's users on."
  }
}
