# Take over a cluster as it is (Terraform 1.5 or later): the state lists everything
# synced, and the plan shows each name the configuration would cancel.
import {
  to = mrs_iam_sync_exclusive.prod
  id = "cn-north-4/0a1b2c3d4e5f60718293a4b5c6d7e8f9/c5e8a1f2-3b4d-4e6f-8a9b-0c1d2e3f4a5b"
}
