//! The mrs provider: its configuration, the `mrs_iam_sync` resource and the
//! `mrs_iam_sync_users` data source. No wire types here.

pub mod cluster_sync;
pub mod config;
pub mod credentials;
pub mod docs;
pub mod iam_names;
pub mod iam_sync;
pub mod iam_sync_users;
pub mod ids;
#[cfg(test)]
mod plan_props;

use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::framework::{
    typed, typed_data_source, DataSource, Diagnostics, Provider, Resource, Schema, Value,
};
use cluster_sync::Clusters;
use config::ProviderState;

pub struct MrsProvider {
    schema: Schema,
    provider: Arc<ProviderState>,
    resources: Vec<Arc<dyn Resource>>,
    data_sources: Vec<Arc<dyn DataSource>>,
}

impl MrsProvider {
    /// `cancel` ends in-flight waits and retries: StopProvider cancels it, and so does
    /// the process shutting down.
    pub fn new(cancel: CancellationToken) -> Self {
        let provider = Arc::new(ProviderState::new(cancel));
        // Every resource and data source reaches its clusters through the same lines, and
        // shares its declarations with the run's other provider processes.
        let ledger = cluster_sync::Ledger::for_this_run();
        let clusters = Arc::new(Clusters::in_run(provider.clone(), ledger));
        MrsProvider {
            schema: config::schema(),
            resources: vec![typed(iam_sync::IamSync::new(clusters.clone()))],
            data_sources: vec![typed_data_source(iam_sync_users::IamSyncUsers::new(
                clusters,
            ))],
            provider,
        }
    }
}

#[async_trait]
impl Provider for MrsProvider {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    async fn configure(&self, _terraform_version: &str, config: &Value) -> Diagnostics {
        config::configure(&self.provider, config).await
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        self.resources.clone()
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        self.data_sources.clone()
    }

    fn stop(&self) {
        self.provider.cancel.cancel();
    }
}
