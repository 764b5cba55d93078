//! Keeping one cluster's synced names in line, for every resource and data source that
//! syncs names: the names it holds, the batching of writes from every object in the
//! process, the declarations that keep a name another object declares from being
//! cancelled (in the process, and through the run's `ledger` across processes), the rule
//! of ownership, and the wait policy.
//!
//! A resource builds a [`ClusterSync`] from the kit's cluster (`ClusterSync::on`, see
//! `provider::clusters`). Its face: `apply(change)` and `remove(removal)`, each of which
//! decides (`ownership`, pure), sends (`batch`, which `declarations` and `wait` serve) and
//! records (`ownership` again), and answers a [`Reconciled`]: the object's record and the
//! diagnostics. `api` only makes single signed calls.

mod batch;
mod declarations;
mod ledger;
#[cfg(test)]
mod lifecycle;
mod line;
mod names;
pub mod ownership;
mod report;
mod wait;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::api::ApiError;
use crate::framework::Diagnostics;
use crate::provider::clusters::Address;

pub use declarations::Conflict;
pub use ledger::Ledger;
pub use names::{Names, MAX_NAMES};
pub use ownership::Record;

use line::Line;
use ownership::record::record_after;
use ownership::{decide, Step};

/// What an object's create or update asks: that the cluster hold `desired`.
#[derive(Clone, Debug)]
pub struct Change {
    /// The object's record before this step; None for a create.
    pub prior: Option<Record>,
    pub desired: Names,
    /// `is_all_sync = true`: a full synchronization.
    pub all_sync: bool,
    pub timeout: Duration,
}

/// What an object's destroy asks: that the names it owns leave the cluster, unless another
/// object declares them.
#[derive(Clone, Debug)]
pub struct Removal {
    pub prior: Record,
    pub timeout: Duration,
}

/// The end of a step.
#[derive(Debug, Default)]
pub struct Reconciled {
    /// What the object's state records, all of it true remotely or pending; None when no
    /// object remains (a create that synced nothing, a completed destroy).
    pub record: Option<Record>,
    pub diagnostics: Diagnostics,
}

/// One cluster as one step of one object sees it.
pub struct ClusterSync<'a> {
    line: Arc<Line>,
    address: Address,
    cancel: &'a CancellationToken,
}

impl<'a> ClusterSync<'a> {
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The names synced now.
    pub async fn synced(&self) -> Result<Names, ApiError> {
        let l = &self.line;
        l.client
            .show_sync(&l.project_id, &l.cluster_id, self.cancel)
            .await
            .map(Names::from_remote)
    }

    /// Whether a sync runs on the cluster now, without waiting for it to end.
    pub async fn synchronizing(&self) -> Result<bool, ApiError> {
        let l = &self.line;
        l.client
            .sync_status(&l.project_id, &l.cluster_id, self.cancel)
            .await
    }

    /// Records that a planned object declares `names` (every name, with `all_sync`), and
    /// returns those something else in this process declared before (an overlap to warn
    /// of); a conflict with an exclusive object's list is an error diagnostic.
    pub fn declare_planned(&self, names: &Names, all_sync: bool) -> Result<Names, Diagnostics> {
        self.line
            .declared
            .declare(names, all_sync)
            .map_err(|c| report::conflict(&self.address, &c))
    }

    /// Records the list of an exclusive object planned here: every name the cluster may
    /// hold (the others' declarations outside it are an error diagnostic).
    pub fn declare_exclusive(&self, list: &Names) -> Result<(), Diagnostics> {
        self.line
            .declared
            .declare_exclusive(list)
            .map_err(|c| report::conflict(&self.address, &c))
    }

    /// Brings the cluster to `change.desired`: decides what to send and cancel (the rule
    /// of ownership), sends it with the cluster's batch, and records what is then true.
    ///
    /// Once MRS has accepted the POST, a wait ended by the timeout or by Ctrl-C is a
    /// warning, not an error: the sync goes on in the cluster, the state records its names
    /// as pending, and an error on a create would make Terraform taint the object and
    /// replace it next time, cancelling and syncing again every name it declares.
    pub async fn apply(&self, change: Change) -> Reconciled {
        let step = Step::Sync {
            desired: change.desired.clone(),
            all_sync: change.all_sync,
        };
        // Declared again here: the plan may not have known the names or the cluster.
        self.line
            .declared
            .declare_undeclared(&change.desired, change.all_sync);
        let prior = change.prior.as_ref();
        let decision = decide(prior, &step);
        let result = Line::send(&self.line, decision.clone(), change.timeout, self.cancel).await;
        let (outcome, written) = result.outcome(&self.address, change.timeout);
        let record = record_after(prior, &step, &decision, &outcome);
        let held_before = prior.map(|r| r.held.clone()).unwrap_or_default();
        let action = match prior {
            None => "sync IAM names",
            Some(_) => "update IAM names",
        };
        let diagnostics = report::applied(
            &self.address,
            action,
            &held_before,
            &decision,
            &result,
            (&outcome, &written),
            record.as_ref(),
        );
        Reconciled {
            record,
            diagnostics,
        }
    }

    /// Cancels what a destroyed object owns (minus what others declare: the new object of
    /// a `create_before_destroy` replacement, a moved name, an all-sync object), then reads
    /// the cluster again: names it still lists keep the object, since an accepted DELETE is
    /// not proof that they went. Adopted names are released, never cancelled.
    pub async fn remove(&self, removal: Removal) -> Reconciled {
        let prior = Some(&removal.prior);
        let decision = decide(prior, &Step::Remove);
        let result = Line::send(&self.line, decision.clone(), removal.timeout, self.cancel).await;
        let (outcome, written) = result.outcome(&self.address, removal.timeout);
        let record = match written {
            // The cluster is gone, and every name with it.
            Err(ApiError::ClusterNotFound { .. }) => None,
            _ => record_after(prior, &Step::Remove, &decision, &outcome),
        };
        let diagnostics =
            report::removed(&self.address, &decision, &result, &written, record.as_ref());
        Reconciled {
            record,
            diagnostics,
        }
    }
}
