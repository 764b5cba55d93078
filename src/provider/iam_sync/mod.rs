//! Resource `mrs_iam_sync`, wired to the framework. It is non-authoritative: it manages the
//! names in its configuration and never treats or cancels names synced by others or
//! implicitly (the groups of a synced user) as its own.

mod crud;
pub mod import;
pub mod model;
pub mod names;
pub mod schema;

use std::sync::Arc;

use async_trait::async_trait;

use super::config::ProviderState;
use crate::framework::{ApplyOutcome, Diagnostics, ReadOutcome, Resource, Schema, Value};

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

    fn modify_plan(
        &self,
        prior: &Value,
        config: &Value,
        planned: &mut Value,
        diags: &mut Diagnostics,
    ) {
        crud::modify_plan(&self.shared, prior, config, planned, diags)
    }

    /// Terraform validates the configuration again, with its final values, when it plans
    /// the change at apply time, so the plan is all this needs.
    async fn create(&self, planned: &Value, _config: &Value) -> ApplyOutcome {
        crud::create(&self.shared, planned).await
    }

    async fn read(&self, state: &Value) -> ReadOutcome {
        crud::read(&self.shared, state).await
    }

    async fn update(&self, prior: &Value, planned: &Value, _config: &Value) -> ApplyOutcome {
        crud::update(&self.shared, prior, planned).await
    }

    async fn delete(&self, prior: &Value) -> ApplyOutcome {
        crud::delete(&self.shared, prior).await
    }

    async fn import(&self, id: &str) -> Result<Value, Diagnostics> {
        import::import(&self.shared, id).await
    }
}
