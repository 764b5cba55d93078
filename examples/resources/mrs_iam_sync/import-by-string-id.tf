# Adopt everything currently synced to a cluster (Terraform 1.5 or later). The ID is
# REGION/PROJECT_ID/CLUSTER_ID, PROJECT_ID/CLUSTER_ID in the provider's region, or
# CLUSTER_ID alone when the provider sets project_id. `terraform plan
# -generate-config-out=generated.tf` writes the resource block for it when there is none.
import {
  to = mrs_iam_sync.analysts
  id = "cn-north-4/0a1b2c3d4e5f60718293a4b5c6d7e8f9/c5e8a1f2-3b4d-4e6f-8a9b-0c1d2e3f4a5b"
}
