//! What the IAM sync keeps per cluster in the process (client, declarations, write
//! queue), shared through the kit's cluster, and the [`ClusterSync`] of a kit cluster.

use crate::api::{Client, ClusterId, ProjectId};
use crate::provider::clusters::Cluster;

use super::batch::Queue;
use super::declarations::Declarations;
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
        let line = cluster.shared(|| Line {
            client: cluster.client().clone(),
            project_id: cluster.project_id().clone(),
            cluster_id: cluster.cluster_id().clone(),
            declared: Declarations::default(),
            queue: Queue::default(),
        });
        ClusterSync {
            line,
            address: cluster.address().clone(),
            cancel: cluster.cancel(),
        }
    }
}
