//! Data source `mrs_iam_sync_users`: which IAM users and groups a cluster holds, and
//! whether a synchronization is running.

use std::sync::Arc;

use async_trait::async_trait;

use super::config::{ProviderState, PROJECT_ID_PATTERN, PROJECT_ID_RULE};
use super::iam_sync::{CLUSTER_ID_PATTERN, CLUSTER_ID_RULE};
use crate::framework::validate::{not_empty, regex_matches};
use crate::framework::{Attribute, AttributePath, Block, DataSource, ReadOutcome, Schema, Value};

pub const TYPE_NAME: &str = "mrs_iam_sync_users";

pub fn schema() -> Schema {
    Schema::new(
        0,
        Block::new("Reads the IAM users and groups synchronized to the Manager of an MRS cluster, whoever synced them (including the groups of synced users).")
            .attribute(Attribute::string("id").computed().description("`{project_id}/{cluster_id}`."))
            .attribute(Attribute::string("region").optional().computed().validator(not_empty()).description("The region of the cluster. Defaults to the provider's `region`."))
            .attribute(
                Attribute::string("project_id")
                    .optional()
                    .computed()
                    .validator(regex_matches(PROJECT_ID_PATTERN, PROJECT_ID_RULE))
                    .description("The project ID. Defaults to the provider's `project_id`."),
            )
            .attribute(
                Attribute::string("cluster_id")
                    .required()
                    .validator(regex_matches(CLUSTER_ID_PATTERN, CLUSTER_ID_RULE))
                    .description("The ID of the MRS cluster."),
            )
            .attribute(Attribute::string_set("user_names").computed().description("The synchronized IAM user names."))
            .attribute(Attribute::string_set("group_names").computed().description("The synchronized IAM group names."))
            .attribute(Attribute::bool("is_synchronizing").computed().description("Whether a synchronization is running on the cluster now.")),
    )
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
impl DataSource for IamSyncUsers {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    async fn read(&self, config: &Value) -> ReadOutcome {
        let mut out = ReadOutcome::default();
        let configured = match self.shared.configured() {
            Ok(c) => c,
            Err(d) => {
                out.diags = d;
                return out;
            }
        };
        let region = config
            .get("region")
            .as_str()
            .map(str::to_string)
            .or(configured.region.clone());
        let Some(project_id) = config
            .get("project_id")
            .as_str()
            .map(str::to_string)
            .or(configured.project_id.clone())
        else {
            out.diags.error_at(
                AttributePath::attr("project_id"),
                "Missing project ID",
                "Set project_id on this data source or on the provider (or HW_PROJECT_ID).",
            );
            return out;
        };
        let Some(cluster_id) = config.get("cluster_id").as_str().map(str::to_string) else {
            out.diags.error_at(
                AttributePath::attr("cluster_id"),
                "Missing cluster ID",
                "Set cluster_id.",
            );
            return out;
        };
        let client = match configured.client(region.as_deref()) {
            Ok(c) => c,
            Err(d) => {
                out.diags = d;
                return out;
            }
        };
        let cancel = &self.shared.cancel;
        let result = async {
            let names = client.show_sync(&project_id, &cluster_id, cancel).await?;
            let busy = client.sync_status(&project_id, &cluster_id, cancel).await?;
            Ok::<_, crate::api::ApiError>((names, busy))
        }
        .await;
        match result {
            Ok((names, busy)) => {
                out.state = Value::object([
                    ("id", Value::string(format!("{project_id}/{cluster_id}"))),
                    ("region", region.map(Value::string).unwrap_or(Value::Null)),
                    ("project_id", Value::string(project_id)),
                    ("cluster_id", Value::string(cluster_id)),
                    ("user_names", Value::string_set(names.user_names)),
                    ("group_names", Value::string_set(names.group_names)),
                    ("is_synchronizing", Value::Bool(busy)),
                ]);
            }
            Err(e) => out.diags.error(
                format!("Cannot read the IAM sync of MRS cluster {cluster_id:?}"),
                e.to_string(),
            ),
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
        for out in ["user_names", "group_names", "is_synchronizing", "id"] {
            let a = s.block.find_attribute(out).expect("attribute");
            assert!(a.computed && !a.optional, "{out}");
        }
        let c = s.block.find_attribute("cluster_id").expect("cluster_id");
        assert!(c.required && !c.validators.is_empty());
    }
}
