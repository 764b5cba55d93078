//! Data source `mrs_iam_sync_users`: which IAM users and groups a cluster holds, and
//! whether a synchronization is running.

use std::sync::Arc;

use async_trait::async_trait;

use super::cluster_sync::Names;
use super::clusters::{location_attributes, Clusters, Holder, CLUSTER_ID, PROJECT_ID, REGION};
use crate::api::ApiError;
use crate::framework::model::{model, Attr, Set};
use crate::framework::{Attribute, AttributePath, Block, Schema, StateOutcome, TypedDataSource};

pub const TYPE_NAME: &str = "mrs_iam_sync_users";
pub const USER_NAMES: &str = "user_names";
pub const GROUP_NAMES: &str = "group_names";
pub const IS_SYNCHRONIZING: &str = "is_synchronizing";

pub fn schema() -> Schema {
    Schema::new(
        0,
        Block::new("Reads the IAM users and groups synchronized to the Manager of an MRS cluster, whoever synced them (including the groups of synced users).")
            .attributes(location_attributes(Holder::DataSource))
            .attribute(Attribute::string_set(USER_NAMES).computed().description("The synchronized IAM user names."))
            .attribute(Attribute::string_set(GROUP_NAMES).computed().description("The synchronized IAM group names."))
            .attribute(Attribute::bool(IS_SYNCHRONIZING).computed().description("Whether a synchronization is running on the cluster now.")),
    )
}

model! {
    /// The data source's configuration (inputs only) and state (every attribute known).
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct IamSyncUsersModel {
        pub region: Attr<String> = REGION,
        pub project_id: Attr<String> = PROJECT_ID,
        pub cluster_id: Attr<String> = CLUSTER_ID,
        pub user_names: Attr<Set<String>> = USER_NAMES,
        pub group_names: Attr<Set<String>> = GROUP_NAMES,
        pub is_synchronizing: Attr<bool> = IS_SYNCHRONIZING,
    }
}

pub struct IamSyncUsers {
    clusters: Arc<Clusters>,
    schema: Schema,
}

impl IamSyncUsers {
    pub fn new(clusters: Arc<Clusters>) -> Self {
        IamSyncUsers {
            clusters,
            schema: schema(),
        }
    }
}

#[async_trait]
impl TypedDataSource for IamSyncUsers {
    type Model = IamSyncUsersModel;

    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    async fn read(&self, config: IamSyncUsersModel) -> StateOutcome<IamSyncUsersModel> {
        let mut out = StateOutcome::new(None);
        // A data source is read once the provider is configured.
        if out.or_keep(self.clusters.provider().configured()).is_none() {
            return out;
        }
        let located = self
            .clusters
            .locate(&config.region, &config.project_id)
            .await;
        let Some((region, project_id)) = out.or_keep(located) else {
            return out;
        };
        let planned = self
            .clusters
            .planned(&region, &project_id, &config.cluster_id);
        let cluster = match out.or_keep(planned) {
            Some(Some(c)) => c,
            Some(None) => {
                out.diags.error_at(
                    AttributePath::attr(CLUSTER_ID),
                    "Missing project or cluster ID",
                    "Set cluster_id, and project_id on the data source or the provider.",
                );
                return out;
            }
            None => return out,
        };
        let (client, p, c, cancel) = (
            cluster.client(),
            cluster.project_id(),
            cluster.cluster_id(),
            cluster.cancel(),
        );
        let result = async {
            let names = Names::from_remote(client.show_sync(p, c, cancel).await?);
            let busy = client.sync_status(p, c, cancel).await?;
            Ok::<_, ApiError>((names, busy))
        }
        .await;
        match result {
            Ok((names, busy)) => {
                let a = cluster.address();
                out.state = Some(IamSyncUsersModel {
                    region,
                    project_id: Attr::Known(a.project_id.to_string()),
                    cluster_id: Attr::Known(a.cluster_id.to_string()),
                    user_names: Attr::Known(Set::of_known(names.users)),
                    group_names: Attr::Known(Set::of_known(names.groups)),
                    is_synchronizing: Attr::Known(busy),
                });
            }
            Err(e) => cluster.api_error(&mut out.diags, "read the IAM sync", &e),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_computed_and_inputs_validated() {
        let s = schema();
        for out in [USER_NAMES, GROUP_NAMES, IS_SYNCHRONIZING] {
            let a = s.block.find_attribute(out).expect("attribute");
            assert!(a.computed && !a.optional, "{out}");
        }
        let c = s
            .block
            .find_attribute(CLUSTER_ID)
            .expect("the cluster ID attribute");
        assert!(c.required && !c.validators.is_empty());
    }
}
