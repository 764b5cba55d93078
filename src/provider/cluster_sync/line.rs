//! What the IAM sync keeps per cluster in the process (client, declarations shared with
//! the run's ledger, write queue), kept in the kit's cluster, and the [`ClusterSync`] of a
//! kit cluster.

use crate::api::{Client, ClusterId, ProjectId};
use crate::provider::clusters::Cluster;

use super::batch::Queue;
use super::declarations::Declarations;
use super::ledger::Ledger;
use super::wait::Waits;
use super::ClusterSync;

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

impl<'a> ClusterSync<'a> {
    /// The IAM sync of `cluster`, sharing its line with every other object on it.
    pub fn on(cluster: Cluster<'a>) -> ClusterSync<'a> {
        let line = cluster.shared(|| {
            // The run's other processes know the cluster by the same three parts.
            let run_key = format!(
                "{} {} {}",
                cluster.client().endpoint(),
                cluster.project_id(),
                cluster.cluster_id()
            );
            Line {
                client: cluster.client().clone(),
                project_id: cluster.project_id().clone(),
                cluster_id: cluster.cluster_id().clone(),
                declared: Declarations::shared(Ledger::of_this_process(), run_key),
                queue: Queue::default(),
            }
        });
        ClusterSync {
            line,
            address: cluster.address().clone(),
            cancel: cluster.cancel(),
        }
    }
}
