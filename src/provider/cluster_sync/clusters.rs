//! The clusters one configured provider touches, one line each (client, declarations,
//! write queue), and what every resource and data source on a cluster shares at plan
//! time: where its cluster is when `region` and `project_id` are left out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::api::{Client, ClusterId, ProjectId};
use crate::framework::model::Attr;
use crate::framework::Diagnostics;
use crate::provider::config::ProviderState;

use super::address::Address;
use super::batch::Queue;
use super::declarations::{lock, Declarations};
use super::ledger::Ledger;
use super::wait::Waits;
use super::ClusterSync;

/// Every cluster the provider has touched, by (endpoint, project, cluster), and the
/// configured provider they are reached through.
pub struct Clusters {
    provider: Arc<ProviderState>,
    lines: Mutex<HashMap<(String, ProjectId, ClusterId), Arc<Line>>>,
    /// What the run's other provider processes declare, when this process is in a run.
    ledger: Option<Arc<Ledger>>,
}

/// What the process keeps per cluster: its client, who declares what, the write queue.
pub(super) struct Line {
    pub client: Client,
    pub project_id: ProjectId,
    pub cluster_id: ClusterId,
    pub declared: Declarations,
    pub queue: Queue,
}

impl Line {
    pub fn waits(&self) -> Waits<'_> {
        Waits {
            client: &self.client,
            project_id: &self.project_id,
            cluster_id: &self.cluster_id,
        }
    }
}

impl Clusters {
    pub fn new(provider: Arc<ProviderState>) -> Clusters {
        Clusters::in_run(provider, None)
    }

    /// Clusters whose declarations are shared with the run's other processes.
    pub fn in_run(provider: Arc<ProviderState>, ledger: Option<Ledger>) -> Clusters {
        Clusters {
            provider,
            lines: Mutex::default(),
            ledger: ledger.map(Arc::new),
        }
    }

    /// The configured provider (its region, project, clients, and StopProvider's token).
    pub fn provider(&self) -> &ProviderState {
        &self.provider
    }

    /// The cluster at `address`, through the configured provider's client for its region.
    pub fn at(&self, address: Address) -> Result<ClusterSync<'_>, Diagnostics> {
        let client = self
            .provider
            .configured()?
            .client(address.region.as_deref())?;
        let key = (
            client.endpoint().to_string(),
            address.project_id.clone(),
            address.cluster_id.clone(),
        );
        let run_key = format!(
            "{} {} {}",
            client.endpoint(),
            address.project_id,
            address.cluster_id
        );
        let line = lock(&self.lines)
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Line {
                    client,
                    project_id: address.project_id.clone(),
                    cluster_id: address.cluster_id.clone(),
                    declared: Declarations::shared(self.ledger.clone(), run_key),
                    queue: Queue::default(),
                })
            })
            .clone();
        Ok(ClusterSync {
            line,
            address,
            cancel: &self.provider.cancel,
        })
    }

    /// Where an object's cluster is, from its configured `region` and `project_id`: a
    /// region left out is the provider's; a project left out is the project of the
    /// region (the provider's in the provider's region, else the one IAM names after the
    /// region, looked up once per region per process). Unknown until apply while the
    /// region is, or while the provider is not configured (its own values unknown).
    pub async fn locate(
        &self,
        region: &Attr<String>,
        project_id: &Attr<String>,
    ) -> Result<(Attr<String>, Attr<String>), Diagnostics> {
        let configured = self.provider.configured().ok();
        let region = if region.is_null() {
            configured.as_ref().and_then(|c| c.region.clone()).into()
        } else {
            region.clone()
        };
        let project_id = match &configured {
            _ if !project_id.is_null() => project_id.clone(),
            Some(c) if !region.is_unknown() => {
                let p = c.project_at(region.known(), &self.provider.cancel).await?;
                Attr::Known(p.to_string())
            }
            _ => Attr::Unknown,
        };
        Ok((region, project_id))
    }
}
