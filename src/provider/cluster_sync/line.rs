//! What the IAM sync keeps per cluster in the process (client, declarations shared with
//! the run's ledger, write queue), kept in the kit's cluster, the [`ClusterSync`] of a
//! kit cluster, and the sending of one object's decision through the cluster's queue.

use crate::api::{Client, ClusterId, ProjectId};
use crate::provider::clusters::Cluster;

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::batch::{BatchResult, Queue, Request};
use super::declarations::Declarations;
use super::ledger::Ledger;
use super::ownership::Decision;
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

    /// Sends one object's decision with the cluster's batch, and returns what it learnt.
    pub async fn send(
        &self,
        decision: Decision,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> BatchResult {
        let request = Request { decision, timeout };
        self.queue
            .submit(request, &self.waits(), &self.declared, cancel)
            .await
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
