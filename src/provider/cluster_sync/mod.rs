//! Keeping one cluster's synced names in line, for every resource and data source that
//! syncs names: the names it holds, the batching of writes from every object in the
//! process, the declarations that keep a name another object declares from being
//! cancelled, and the wait policy.
//!
//! A resource builds a [`ClusterSync`] from the kit's cluster (`ClusterSync::on`, see
//! `provider::clusters`). Its face: `apply(change)` and `remove(removal)` answer with a
//! [`Reconciled`]: which names the object's state records, which of them are still pending
//! in a sync that goes on, and the diagnostics. Under it, `batch` sends, `declarations`
//! remembers, `wait` polls; `api` only makes single signed calls.

mod batch;
mod declarations;
mod line;
mod names;
mod wait;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::api::ApiError;
use crate::framework::Diagnostics;
use crate::provider::clusters::{api_error, api_error_with, Address};

pub use declarations::ObjectId;
pub use names::{Names, MAX_NAMES};

use batch::{BatchResult, Request};
use line::Line;
use wait::in_configured_terms;

/// What an object's create or update asks: that the cluster hold `desired`.
#[derive(Clone, Debug)]
pub struct Change {
    pub object: ObjectId,
    pub desired: Names,
    /// `is_all_sync = true`: a full synchronization.
    pub all_sync: bool,
    /// The names the object manages before this step; None for a create.
    pub managed: Option<Names>,
    pub timeout: Duration,
    /// What the step does, for messages: "sync IAM names".
    pub action: &'static str,
}

/// What an object's destroy asks: that `names` (with `all_synced`, every synced name)
/// leave the cluster, unless another object declares them.
#[derive(Clone, Debug)]
pub struct Removal {
    pub object: ObjectId,
    pub names: Names,
    pub all_synced: bool,
    /// Names of a sync that went on after an earlier step: they may appear yet.
    pub pending: Names,
    pub timeout: Duration,
}

/// The end of a step.
#[derive(Debug, Default)]
pub struct Reconciled {
    /// The names the object's state records, all of them true remotely or pending; None
    /// when no object remains (a create that synced nothing, a completed destroy).
    pub record: Option<Names>,
    /// The names of `record` whose sync went on after the step returned.
    pub pending: Names,
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

    /// Records that a planned object declares `names`, and returns those something else
    /// in this process declared before (an overlap to warn of).
    pub fn declare_planned(&self, names: &Names) -> Names {
        self.line.declared.declare(names)
    }

    async fn submit(&self, request: Request) -> BatchResult {
        let l = &self.line;
        l.queue
            .submit(request, &l.waits(), &l.declared, self.cancel)
            .await
    }

    /// Brings the cluster to `change.desired` and says what is then true: the names to
    /// record (never cancelling one another object declares), those still pending, and
    /// diagnostics for what failed.
    ///
    /// Once MRS has accepted the POST, a wait ended by the timeout or by Ctrl-C is a
    /// warning, not an error: the sync goes on in the cluster, the state records its names
    /// as pending, and an error on a create would make Terraform taint the object and
    /// replace it next time, cancelling and syncing again every name it declares.
    pub async fn apply(&self, change: Change) -> Reconciled {
        let a = &self.address;
        let creating = change.managed.is_none();
        let managed = change.managed.unwrap_or_default();
        let desired = change.desired;
        // Declared again here: the plan may not have known the names or the cluster.
        self.line.declared.declare_undeclared(&desired);
        let add = desired.minus(&managed);
        let remove = managed.minus(&desired);
        let result = self
            .submit(Request {
                add: add.clone(),
                all_sync: change.all_sync,
                remove: remove.clone(),
                remove_all_synced: false,
                own: Names::default(),
                timeout: change.timeout,
            })
            .await;
        let written = result
            .written
            .map_err(|e| in_configured_terms(e, a, change.timeout));
        // A name whose cancel was dropped belongs to the object that declares it now.
        let managed = managed.minus(&result.kept_for_others);
        let goes_on = result.sync_accepted
            && matches!(written, Err(ApiError::Timeout { .. } | ApiError::Cancelled));
        let mut out = Reconciled::default();

        // If the cluster cannot be read, assume every name sent may have been added and
        // nothing cancelled: a name wrongly kept in state is dropped by the next refresh,
        // whereas a name wrongly dropped would stay synced and unmanaged.
        let synced = match result.synced_after {
            Ok(s) => s,
            Err(read_error) => {
                let maybe = if result.maybe_changed {
                    desired.union(&managed)
                } else {
                    managed.clone()
                };
                out.pending = if goes_on {
                    add.clone()
                } else {
                    Names::default()
                };
                match &written {
                    Ok(()) => api_error(
                        &mut out.diagnostics,
                        "read the synced names",
                        a,
                        &read_error,
                    ),
                    Err(e) => self.report(&mut out, change.action, e, goes_on && remove.is_empty()),
                }
                out.record = (!(creating && maybe.is_empty())).then_some(maybe);
                self.remember(&out, &change.object);
                return out;
            }
        };
        out.pending = if goes_on {
            add.minus(&synced)
        } else {
            Names::default()
        };
        // Names cancelled unsuccessfully are still synced and still ours, so they stay.
        let keep = desired
            .union(&managed)
            .intersect(&synced)
            .union(&out.pending);
        match &written {
            // Cancels not yet sent leave names the configuration dropped: that is an
            // error to see, and an update's error taints nothing.
            Err(e) => {
                let undone = remove.intersect(&synced);
                self.report(&mut out, change.action, e, goes_on && undone.is_empty());
            }
            Ok(()) => {
                let missing = desired.minus(&synced);
                if !missing.is_empty() {
                    out.diagnostics.error(
                        format!("Some names did not sync to MRS cluster {:?}", a.cluster_id.as_str()),
                        format!(
                            "MRS accepted the request but did not synchronize {}. Check that they exist in IAM in this account. The state records only the names that are synced.",
                            missing.describe()
                        ),
                    );
                }
                let lingering = managed.minus(&desired).intersect(&synced);
                if !lingering.is_empty() {
                    out.diagnostics.error(
                        format!("Some names are still synced to MRS cluster {:?}", a.cluster_id.as_str()),
                        format!(
                            "MRS accepted the cancellation but still lists {}. They stay in the state, so the next apply tries again.",
                            lingering.describe()
                        ),
                    );
                }
            }
        }
        let errors = out.diagnostics.has_errors();
        let nothing_happened = if change.all_sync {
            // A full sync whose POST was accepted goes on: destroy must be able to cancel it.
            written.is_err() && !result.sync_accepted
        } else {
            errors && keep.is_empty()
        };
        out.record = (!(creating && nothing_happened)).then_some(keep);
        self.remember(&out, &change.object);
        out
    }

    /// A failed write or wait, as an error; or, when the sync goes on and nothing else was
    /// left undone, as a warning that says what the state records.
    fn report(&self, out: &mut Reconciled, action: &str, e: &ApiError, goes_on: bool) {
        let a = &self.address;
        let pending = if out.pending.is_empty() {
            "the names sent".to_string()
        } else {
            out.pending.describe()
        };
        let story = format!(
            "MRS accepted the request, and the sync of {pending} goes on in the cluster after Terraform stopped waiting. The state records them as pending: a refresh after the sync has ended keeps those that synced, the next plan adds again any that did not, and destroy cancels them. Nothing is cancelled or sent again in the meantime."
        );
        if !goes_on {
            if out.pending.is_empty() {
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

    /// A state written here: its object's own declaration does not protect its names
    /// should the same process destroy it.
    fn remember(&self, out: &Reconciled, object: &ObjectId) {
        if out.record.is_some() {
            self.line.declared.written_here(object);
        }
    }

    /// Cancels the names of a destroyed object, then reads the cluster again: names it
    /// still lists keep the object, since an accepted DELETE is not proof that they went.
    /// Names another object of this process declares (the new object of a
    /// `create_before_destroy` replacement, a moved name) are left synced.
    pub async fn remove(&self, removal: Removal) -> Reconciled {
        let a = &self.address;
        // An object created here (only an RPC client, not Terraform, destroys it in the
        // same process) was declared by its own plan: that declaration must not keep its
        // names.
        let own = if self.line.declared.take_written_here(&removal.object) {
            removal.names.clone()
        } else {
            Names::default()
        };
        let result = self
            .submit(Request {
                remove: removal.names.clone(),
                remove_all_synced: removal.all_synced,
                own,
                timeout: removal.timeout,
                ..Request::default()
            })
            .await;
        let written = result
            .written
            .map_err(|e| in_configured_terms(e, a, removal.timeout));
        let mut out = Reconciled::default();
        let outcome = match (written, &result.synced_after) {
            (Ok(()), Ok(after)) => {
                let asked = if removal.all_synced {
                    after.clone()
                } else {
                    removal.names.clone()
                };
                Ok(asked.minus(&result.kept_for_others).intersect(after))
            }
            (Ok(()), Err(e)) => Err(e.clone()),
            (Err(e), _) => Err(e),
        };
        match outcome {
            Ok(lingering) if !lingering.is_empty() => {
                out.diagnostics.error(
                    format!("Some names are still synced to MRS cluster {:?}", a.cluster_id.as_str()),
                    format!(
                        "MRS accepted the cancellation but still lists {}. The resource stays in the state with exactly these names, so the next destroy tries again.",
                        lingering.describe()
                    ),
                );
                out.record = Some(lingering);
            }
            Ok(_) | Err(ApiError::ClusterNotFound { .. }) => {}
            Err(e) => {
                api_error(&mut out.diagnostics, "cancel the IAM sync", a, &e);
                // Keep whatever is still synced or may still sync, so nothing is lost.
                out.record = Some(match &result.synced_after {
                    Ok(after) => removal.names.intersect(&after.union(&removal.pending)),
                    Err(_) => removal.names.clone(),
                });
            }
        }
        out
    }
}
