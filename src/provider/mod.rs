//! The mrs provider: its configuration, the clusters kit, the IAM sync engine, the
//! `mrs_iam_sync` and `mrs_iam_sync_exclusive` resources and the `mrs_iam_sync_users`
//! data source, registered one line each. No wire types here.

pub mod cluster_sync;
pub mod clusters;
pub mod config;
pub mod credentials;
pub mod docs;
pub mod iam_names;
pub mod iam_sync;
pub mod iam_sync_exclusive;
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
use clusters::Clusters;
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
        // Every resource and data source reaches its clusters through the same lines.
        let clusters = Arc::new(Clusters::new(provider.clone()));
        MrsProvider {
            schema: config::schema(),
            // One line per resource and data source.
            resources: vec![
                typed(iam_sync::IamSync::new(clusters.clone())),
                typed(iam_sync_exclusive::IamSyncExclusive::new(clusters.clone())),
            ],
            data_sources: vec![typed_data_source(iam_sync_users::IamSyncUsers::new(
                clusters.clone(),
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
