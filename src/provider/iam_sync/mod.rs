//! Resource `mrs_iam_sync`, wired to the framework. It is non-authoritative: it manages the
//! names in its configuration and never treats or cancels names synced by others or
//! implicitly (the groups of a synced user) as its own. Its private state (model.rs)
//! records the object's ID, names released by a plan, and names pending after a timeout
//! or an interruption.

mod crud;
pub mod import;
pub mod model;
pub mod schema;

use std::sync::Arc;

use async_trait::async_trait;

use super::config::ProviderState;
use crate::framework::model::IntoValue;
use crate::framework::{ApplyOutcome, Diagnostics, ReadOutcome, Resource, Schema, Value};
use model::{IamSyncModel, IamSyncPrivate};

pub use import::parse_import_id;
pub use schema::schema;

pub const TYPE_NAME: &str = "mrs_iam_sync";

pub struct IamSync {
    shared: Arc<ProviderState>,
    schema: Schema,
}

impl IamSync {
    pub fn new(shared: Arc<ProviderState>) -> Self {
        IamSync {
            shared,
            schema: schema(),
        }
    }
}

#[async_trait]
impl Resource for IamSync {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate_config(&self, config: &Value, diags: &mut Diagnostics) {
        crud::validate_config(config, diags)
    }

    async fn modify_plan(
        &self,
        prior: &Value,
        config: &Value,
        planned: &mut Value,
        private: &mut Vec<u8>,
        diags: &mut Diagnostics,
    ) {
        crud::modify_plan(&self.shared, prior, config, planned, diags).await;
        if prior.is_null() || planned.is_null() {
            return;
        }
        // An update: the apply must know which removed names are released.
        match (
            IamSyncModel::read(prior),
            IamSyncModel::read(planned),
            IamSyncPrivate::decode(private),
        ) {
            (Ok(prior), Ok(mut plan), Ok(record)) => {
                *private = import::plan_release(&prior, &mut plan, &record, diags).encode();
                *planned = plan.into_value();
            }
            (a, b, c) => {
                for d in [a.err(), b.err(), c.err()].into_iter().flatten() {
                    diags.extend(d);
                }
            }
        }
    }

    /// Terraform validates the configuration again, with its final values, when it plans
    /// the change at apply time, so the plan is all this needs.
    async fn create(
        &self,
        planned: &Value,
        _config: &Value,
        private: &mut Vec<u8>,
    ) -> ApplyOutcome {
        crud::create(&self.shared, planned, private).await
    }

    async fn read(&self, state: &Value, private: &mut Vec<u8>) -> ReadOutcome {
        crud::read(&self.shared, state, private).await
    }

    async fn update(
        &self,
        prior: &Value,
        planned: &Value,
        _config: &Value,
        private: &mut Vec<u8>,
    ) -> ApplyOutcome {
        crud::update(&self.shared, prior, planned, private).await
    }

    /// Pending names are in the prior state, so the delete cancels them like the rest.
    async fn delete(&self, prior: &Value, private: &mut Vec<u8>) -> ApplyOutcome {
        crud::delete(&self.shared, prior, private).await
    }

    async fn import(&self, id: &str, private: &mut Vec<u8>) -> Result<Value, Diagnostics> {
        import::import(&self.shared, id, private).await
    }
}
