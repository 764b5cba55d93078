//! Keeping one cluster's synced names in line, for every resource and data source that
//! touches a cluster: its address and diagnostics, the names it holds, the batching of
//! writes from every object in the process, the declarations that keep a name another
//! object declares from being cancelled, the rule of ownership, and the wait policy.
//!
//! A resource or data source holds the provider's [`Clusters`], which gives where an
//! object's cluster is by default and, for an address, a [`ClusterSync`]. Its face:
//! `apply(change)` and `remove(removal)`, each of which decides (`ownership`, pure), sends
//! (`batch`, which `declarations` and `wait` serve) and records (`ownership` again), and
//! answers a [`Reconciled`]: the object's record and the diagnostics. `api` only makes
//! single signed calls.

mod address;
mod batch;
mod clusters;
mod declarations;
mod ledger;
#[cfg(test)]
mod lifecycle;
mod names;
pub mod ownership;
mod wait;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::api::ApiError;
use crate::framework::Diagnostics;

pub use address::{
    api_error, location_attributes, Address, Holder, CLUSTER_ID, ID, PROJECT_ID, REGION,
};
pub use clusters::Clusters;
pub use ledger::Ledger;
pub use names::{Names, MAX_NAMES};
pub use ownership::Record;

use address::{api_error_with, in_configured_terms};
use batch::{BatchResult, Request};
use clusters::Line;
use ownership::{decide, record_after, Decision, Outcome, Step};

/// What an object's create or update asks: that the cluster hold `desired`.
#[derive(Clone, Debug)]
pub struct Change {
    /// The object's record before this step; None for a create.
    pub prior: Option<Record>,
    pub desired: Names,
    /// `is_all_sync = true`: a full synchronization.
    pub all_sync: bool,
    pub timeout: Duration,
    /// What the step does, for messages: "sync IAM names".
    pub action: &'static str,
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
    /// of).
    pub fn declare_planned(&self, names: &Names, all_sync: bool) -> Names {
        self.line.declared.declare(names, all_sync)
    }

    async fn submit(&self, decision: Decision, timeout: Duration) -> BatchResult {
        let request = Request { decision, timeout };
        let l = &self.line;
        l.queue
            .submit(request, &l.waits(), &l.declared, self.cancel)
            .await
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
        let decision = decide(change.prior.as_ref(), &step);
        let result = self.submit(decision.clone(), change.timeout).await;
        let (outcome, written) = self.outcome(&result, change.timeout);
        let record = record_after(change.prior.as_ref(), &step, &decision, &outcome);

        let mut out = Reconciled::default();
        let pending = record
            .as_ref()
            .map(|r| r.pending.clone())
            .unwrap_or_default();
        match (&written, &outcome.synced_after) {
            (Err(e), _) => {
                // Cancels not yet sent leave names the configuration dropped: that is an
                // error to see, and an update's error taints nothing.
                let undone = match &outcome.synced_after {
                    Some(s) => decision.cancel.intersect(s),
                    None => decision.cancel.clone(),
                };
                self.report(
                    &mut out,
                    change.action,
                    e,
                    &pending,
                    outcome.goes_on && undone.is_empty(),
                );
            }
            (Ok(()), None) => {
                if let Err(read_error) = &result.synced_after {
                    api_error(
                        &mut out.diagnostics,
                        "read the synced names",
                        &self.address,
                        read_error,
                    );
                }
            }
            (Ok(()), Some(synced)) => {
                self.report_unsynced(&mut out, &change, &decision, &result, synced)
            }
        }
        out.record = record;
        out
    }

    /// Errors for declared names the cluster does not hold after the step, with their
    /// cause, and for cancels MRS accepted without effect.
    fn report_unsynced(
        &self,
        out: &mut Reconciled,
        change: &Change,
        decision: &Decision,
        result: &BatchResult,
        synced: &Names,
    ) {
        let cluster = self.address.cluster_id.as_str();
        let missing = decision.declared.minus(synced);
        let held_before = change
            .prior
            .as_ref()
            .map(|r| r.held.clone())
            .unwrap_or_default();
        let lost = missing.intersect(&held_before.union(&result.resynced));
        let never = missing.minus(&lost);
        if !lost.is_empty() {
            out.diagnostics.error(
                format!("Some names were cancelled outside Terraform on MRS cluster {cluster:?}"),
                format!(
                    "{} were synced when this run read the cluster, and were cancelled since by something outside this provider process (by hand in the console, another Terraform run, or a resource of another provider configuration on this cluster). They were sent again and MRS did not sync them: check that they still exist in IAM. The state records only the names that are synced.",
                    capitalize(&lost.describe())
                ),
            );
        }
        if !never.is_empty() {
            out.diagnostics.error(
                format!("Some names did not sync to MRS cluster {cluster:?}"),
                format!(
                    "MRS accepted the request but did not synchronize {}. Check that they exist in IAM in this account. The state records only the names that are synced.",
                    never.describe()
                ),
            );
        }
        let resynced = result.resynced.intersect(synced);
        if !resynced.is_empty() {
            out.diagnostics.warning(
                format!("Names synced again on MRS cluster {cluster:?}"),
                format!(
                    "{} had been cancelled outside this provider process since the plan (by hand, another run, or a resource of another provider configuration). The configuration declares them, so this apply synced them again.",
                    capitalize(&resynced.describe())
                ),
            );
        }
        let lingering = decision
            .cancel
            .minus(&result.kept_for_others)
            .intersect(synced);
        if !lingering.is_empty() {
            out.diagnostics.error(
                format!("Some names are still synced to MRS cluster {cluster:?}"),
                format!(
                    "MRS accepted the cancellation but still lists {}. They stay in the state, so the next apply tries again.",
                    lingering.describe()
                ),
            );
        }
    }

    /// The batch's result as the ownership rule reads it, and the write's error restated
    /// in the configuration's terms.
    fn outcome(&self, result: &BatchResult, timeout: Duration) -> (Outcome, Result<(), ApiError>) {
        let written = result
            .written
            .clone()
            .map_err(|e| in_configured_terms(e, &self.address, timeout));
        let outcome = Outcome {
            written: written.is_ok(),
            maybe_changed: result.maybe_changed,
            goes_on: result.sync_accepted
                && matches!(written, Err(ApiError::Timeout { .. } | ApiError::Cancelled)),
            kept_for_others: result.kept_for_others.clone(),
            synced_after: result.synced_after.clone().ok(),
        };
        (outcome, written)
    }

    /// A failed write or wait, as an error; or, when the sync goes on and nothing else was
    /// left undone, as a warning that says what the state records.
    fn report(
        &self,
        out: &mut Reconciled,
        action: &str,
        e: &ApiError,
        pending: &Names,
        goes_on: bool,
    ) {
        let a = &self.address;
        let sent = if pending.is_empty() {
            "the names sent".to_string()
        } else {
            pending.describe()
        };
        let story = format!(
            "MRS accepted the request, and the sync of {sent} goes on in the cluster after Terraform stopped waiting. The state records them as pending: a refresh after the sync has ended keeps those that synced, the next plan adds again any that did not, and destroy cancels them. Nothing is cancelled or sent again in the meantime."
        );
        if !goes_on {
            if pending.is_empty() {
                api_error(&mut out.diagnostics, action, a, e);
            } else {
                api_error_with(&mut out.diagnostics, action, a, e, &story);
            }
            return;
        }
        let why = match e {
            ApiError::Cancelled => "Terraform was interrupted".to_string(),
            e => e.to_string(),
        };
        out.diagnostics.warning(
            format!(
                "The sync goes on in MRS cluster {:?}",
                a.cluster_id.as_str()
            ),
            format!("{why}.\n\n{story}"),
        );
    }

    /// Cancels what a destroyed object owns (minus what others declare: the new object of
    /// a `create_before_destroy` replacement, a moved name, an all-sync object), then reads
    /// the cluster again: names it still lists keep the object, since an accepted DELETE is
    /// not proof that they went. Adopted names are released, never cancelled.
    pub async fn remove(&self, removal: Removal) -> Reconciled {
        let a = &self.address;
        let decision = decide(Some(&removal.prior), &Step::Remove);
        let result = self.submit(decision.clone(), removal.timeout).await;
        let (outcome, written) = self.outcome(&result, removal.timeout);
        let record = record_after(Some(&removal.prior), &Step::Remove, &decision, &outcome);
        let mut out = Reconciled::default();
        match (&written, &result.synced_after) {
            (Err(ApiError::ClusterNotFound { .. }), _) => {
                out.record = None;
                return out;
            }
            (Err(e), _) => api_error(&mut out.diagnostics, "cancel the IAM sync", a, e),
            (Ok(()), Err(e)) => api_error(&mut out.diagnostics, "cancel the IAM sync", a, e),
            (Ok(()), Ok(_)) => {
                if let Some(lingering) = &record {
                    out.diagnostics.error(
                        format!("Some names are still synced to MRS cluster {:?}", a.cluster_id.as_str()),
                        format!(
                            "MRS accepted the cancellation but still lists {}. The resource stays in the state with exactly these names, so the next destroy tries again.",
                            lingering.held.describe()
                        ),
                    );
                }
            }
        }
        if !decision.released.is_empty() {
            release_warning(&mut out.diagnostics, a, &decision.released);
        }
        out.record = record;
        out
    }
}

/// One warning for the adopted names a destroy lets go.
fn release_warning(diags: &mut Diagnostics, a: &Address, released: &Names) {
    let count = released.users.len() + released.groups.len();
    let names = if count == 1 { "name" } else { "names" };
    let cluster = a.cluster_id.as_str();
    diags.warning(
        format!("{count} adopted {names} released, not cancelled, on MRS cluster {cluster:?}"),
        format!(
            "{} stay synced to MRS cluster {cluster:?}: they were adopted at import, and no apply since has handed them over to a configuration, so this resource never owned them. Cancel them in the console, or import and declare them, if they should go.",
            capitalize(&released.describe())
        ),
    );
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
