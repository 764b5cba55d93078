//! Data source `mrs_iam_sync_users`: which IAM users and groups a cluster holds, and
//! whether a synchronization is running.

use std::sync::Arc;

use async_trait::async_trait;

use super::cluster_sync::{api_error, Address, ClusterSync, CLUSTER_ID, PROJECT_ID, REGION};
use super::config::ProviderState;
use super::ids::{cluster_id_validator, project_id_validator};
use crate::api::ApiError;
use crate::framework::model::{model, Attr, Set};
use crate::framework::validate::not_empty;
use crate::framework::{
    Attribute, AttributePath, Block, Diagnostics, Schema, StateOutcome, TypedDataSource,
};

pub const TYPE_NAME: &str = "mrs_iam_sync_users";
pub const ID: &str = "id";
pub const USER_NAMES: &str = "user_names";
pub const GROUP_NAMES: &str = "group_names";
pub const IS_SYNCHRONIZING: &str = "is_synchronizing";

pub fn schema() -> Schema {
    Schema::new(
        0,
        Block::new("Reads the IAM users and groups synchronized to the Manager of an MRS cluster, whoever synced them (including the groups of synced users).")
            .attribute(Attribute::string(ID).computed().description("`{project_id}/{cluster_id}`."))
            .attribute(Attribute::string(REGION).optional().computed().validator(not_empty()).validator(crate::provider::ids::region_validator()).description("The region of the cluster. Defaults to the provider's `region`."))
            .attribute(
                Attribute::string(PROJECT_ID)
                    .optional()
                    .computed()
                    .validator(project_id_validator())
                    .description("The project ID. Defaults to the project of the data source's region: the provider's `project_id` in the provider's region, else the project IAM names after the region."),
            )
            .attribute(
                Attribute::string(CLUSTER_ID)
                    .required()
                    .validator(cluster_id_validator())
                    .description("The ID of the MRS cluster."),
            )
            .attribute(Attribute::string_set(USER_NAMES).computed().description("The synchronized IAM user names."))
            .attribute(Attribute::string_set(GROUP_NAMES).computed().description("The synchronized IAM group names."))
            .attribute(Attribute::bool(IS_SYNCHRONIZING).computed().description("Whether a synchronization is running on the cluster now.")),
    )
}

model! {
    /// The data source's configuration (inputs only) and state (every attribute known).
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct IamSyncUsersModel {
        pub id: Attr<String> = ID,
        pub region: Attr<String> = REGION,
        pub project_id: Attr<String> = PROJECT_ID,
        pub cluster_id: Attr<String> = CLUSTER_ID,
        pub user_names: Attr<Set<String>> = USER_NAMES,
        pub group_names: Attr<Set<String>> = GROUP_NAMES,
        pub is_synchronizing: Attr<bool> = IS_SYNCHRONIZING,
    }
}

pub struct IamSyncUsers {
    shared: Arc<ProviderState>,
    schema: Schema,
}

impl IamSyncUsers {
    pub fn new(shared: Arc<ProviderState>) -> Self {
        IamSyncUsers {
            shared,
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
        let configured = match self.shared.configured() {
            Ok(c) => c,
            Err(d) => {
                out.diags = d;
                return out;
            }
        };
        let region = config.region.known().cloned().or(configured.region.clone());
        let project_id = match config.project_id.known() {
            Some(p) => p.clone(),
            None => match configured
                .project_at(config.region.known(), &self.shared.cancel)
                .await
            {
                Ok(p) => p.to_string(),
                Err(d) => {
                    out.diags = d;
                    return out;
                }
            },
        };
        let Some(cluster_id) = config.cluster_id.known().cloned() else {
            out.diags.error_at(
                AttributePath::attr(CLUSTER_ID),
                "Missing cluster ID",
                "Set cluster_id.",
            );
            return out;
        };
        let address = Address::planned(region.as_ref(), Some(&project_id), Some(&cluster_id));
        let cluster = match address.and_then(|a| match a {
            Some(a) => ClusterSync::at(&self.shared, a),
            None => Err(Diagnostics::new()),
        }) {
            Ok(c) => c,
            Err(d) => {
                out.diags = d;
                return out;
            }
        };
        let result = async {
            let names = cluster.synced().await?;
            let busy = cluster.synchronizing().await?;
            Ok::<_, ApiError>((names, busy))
        }
        .await;
        match result {
            Ok((names, busy)) => {
                out.state = Some(IamSyncUsersModel {
                    id: Attr::Known(format!("{project_id}/{cluster_id}")),
                    region: region.into(),
                    project_id: Attr::Known(project_id),
                    cluster_id: Attr::Known(cluster_id),
                    user_names: Attr::Known(Set::of_known(names.users)),
                    group_names: Attr::Known(Set::of_known(names.groups)),
                    is_synchronizing: Attr::Known(busy),
                });
            }
            Err(e) => api_error(&mut out.diags, "read the IAM sync", cluster.address(), &e),
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
        for out in [USER_NAMES, GROUP_NAMES, IS_SYNCHRONIZING, ID] {
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
