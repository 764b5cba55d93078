# Take over a cluster as it is: REGION/PROJECT_ID/CLUSTER_ID,
terraform import mrs_iam_sync_exclusive.prod cn-north-4/0a1b2c3d4e5f60718293a4b5c6d7e8f9/c5e8a1f2-3b4d-4e6f-8a9b-0c1d2e3f4a5b
# PROJECT_ID/CLUSTER_ID in the provider's region,
terraform import mrs_iam_sync_exclusive.prod 0a1b2c3d4e5f60718293a4b5c6d7e8f9/c5e8a1f2-3b4d-4e6f-8a9b-0c1d2e3f4a5b
# or CLUSTER_ID alone when the provider sets project_id.
terraform import mrs_iam_sync_exclusive.prod c5e8a1f2-3b4d-4e6f-8a9b-0c1d2e3f4a5b
