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

use super::cluster_sync::Clusters;
use crate::framework::{Diagnostics, PlanChange, Schema, StateOutcome, TypedResource};
use model::{IamSyncModel, IamSyncPrivate};

pub use import::parse_import_id;
pub use schema::schema;

pub const TYPE_NAME: &str = "mrs_iam_sync";

pub struct IamSync {
    clusters: Arc<Clusters>,
    schema: Schema,
}

impl IamSync {
    pub fn new(clusters: Arc<Clusters>) -> Self {
        IamSync {
            clusters,
            schema: schema(),
        }
    }
}

#[async_trait]
impl TypedResource for IamSync {
    type Model = IamSyncModel;
    type Private = IamSyncPrivate;

    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate_config(&self, config: &IamSyncModel, diags: &mut Diagnostics) {
        crud::validate_config(config, diags)
    }

    async fn modify_plan(
        &self,
        change: PlanChange<'_, IamSyncModel, IamSyncPrivate>,
        diags: &mut Diagnostics,
    ) {
        match change {
            PlanChange::Create { config, planned } => {
                crud::plan_create(&self.clusters, config, planned, diags).await
            }
            PlanChange::Update {
                prior,
                planned,
                private,
                ..
            } => {
                crud::plan_update(&self.clusters, planned, diags);
                // The apply must know which removed names are released.
                *private = import::plan_release(prior, planned, private, diags);
            }
            PlanChange::Destroy { .. } => {}
        }
    }

    /// Terraform validates the configuration again, with its final values, when it plans
    /// the change at apply time, so the plan is all this needs.
    async fn create(
        &self,
        planned: IamSyncModel,
        _config: IamSyncModel,
        private: &mut IamSyncPrivate,
    ) -> StateOutcome<IamSyncModel> {
        crud::create(&self.clusters, planned, private).await
    }

    async fn read(
        &self,
        state: IamSyncModel,
        private: &mut IamSyncPrivate,
    ) -> StateOutcome<IamSyncModel> {
        crud::read(&self.clusters, state, private).await
    }

    async fn update(
        &self,
        prior: IamSyncModel,
        planned: IamSyncModel,
        _config: IamSyncModel,
        private: &mut IamSyncPrivate,
    ) -> StateOutcome<IamSyncModel> {
        crud::update(&self.clusters, prior, planned, private).await
    }

    /// Pending names are in the prior state, so the delete cancels them like the rest.
    async fn delete(
        &self,
        prior: IamSyncModel,
        private: &mut IamSyncPrivate,
    ) -> StateOutcome<IamSyncModel> {
        crud::delete(&self.clusters, prior, private).await
    }

    async fn import(&self, id: &str) -> Result<(IamSyncModel, IamSyncPrivate), Diagnostics> {
        import::import(&self.clusters, id).await
    }
}
