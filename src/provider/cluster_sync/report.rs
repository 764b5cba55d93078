//! What a step tells the user: the diagnostics of an apply or a removal, from what was
//! decided, what the batch learnt and what the object records. No decisions are made here.

use crate::api::ApiError;
use crate::framework::Diagnostics;

use super::batch::BatchResult;
use super::declarations::Conflict;
use super::names::Names;
use super::ownership::{Decision, Outcome, Record};
use crate::provider::clusters::{api_error, api_error_with, Address};

/// The error of a plan whose declaration cannot stand beside another on the cluster.
pub fn conflict(a: &Address, c: &Conflict) -> Diagnostics {
    let cluster = a.cluster_id.as_str();
    let detail = match c {
        Conflict::TwoLists => "Two mrs_iam_sync_exclusive resources in this configuration list different names for this cluster. Keep one exclusive resource per cluster.".to_string(),
        Conflict::AllSync => "An mrs_iam_sync with is_all_sync = true and an mrs_iam_sync_exclusive declare this cluster: one syncs every IAM name, the other cancels what it does not list. Keep one of them.".to_string(),
        Conflict::Outside(names) => format!(
            "An mrs_iam_sync in this configuration declares {}, which the mrs_iam_sync_exclusive of this cluster does not list: its apply would cancel them. List them in the exclusive resource, or remove them from the mrs_iam_sync.",
            names.describe()
        ),
    };
    Diagnostics::single_error(
        format!("Conflicting declarations for MRS cluster {cluster:?}"),
        detail,
    )
}

/// An apply's diagnostics. `written` is the batch's write result in the configuration's
/// terms; `held_before` what the object's state listed before the step.
pub fn applied(
    a: &Address,
    action: &str,
    held_before: &Names,
    decision: &Decision,
    result: &BatchResult,
    (outcome, written): (&Outcome, &Result<(), ApiError>),
    record: Option<&Record>,
) -> Diagnostics {
    let mut d = Diagnostics::new();
    let pending = record.map(|r| r.pending.clone()).unwrap_or_default();
    match (written, &outcome.synced_after) {
        (Err(e), synced) => {
            // Cancels not yet sent leave names the configuration dropped: that is an
            // error to see, and an update's error taints nothing.
            let undone = match synced {
                Some(s) => decision.cancel.intersect(s),
                None => decision.cancel.clone(),
            };
            // A cut wait is only a warning while every declared name is synced or on its
            // way; a name lost since the plan and not sent again is an error to see.
            let lost = match synced {
                Some(s) => decision.declared.minus(s).minus(&pending),
                None => Names::default(),
            };
            failed_write(
                &mut d,
                a,
                action,
                e,
                &pending,
                outcome.goes_on && undone.is_empty() && lost.is_empty(),
            );
            if !lost.is_empty() {
                d.error(
                    format!("Declared names are not synced to MRS cluster {:?}", a.cluster_id.as_str()),
                    format!(
                        "{} are declared but the cluster no longer holds them: they were cancelled outside this provider process since the plan, and this apply stopped before it could send them again. The state records only the names that are synced; the next apply syncs them again.",
                        capitalize(&lost.describe())
                    ),
                );
            }
        }
        (Ok(()), None) => {
            if let Err(read_error) = &result.synced_after {
                api_error(&mut d, "read the synced names", a, read_error);
            }
        }
        (Ok(()), Some(synced)) => unsynced(&mut d, a, held_before, decision, result, synced),
    }
    d
}

/// A removal's diagnostics: a failed write, names MRS still lists, adopted names let go.
pub fn removed(
    a: &Address,
    decision: &Decision,
    result: &BatchResult,
    written: &Result<(), ApiError>,
    record: Option<&Record>,
) -> Diagnostics {
    let mut d = Diagnostics::new();
    match (written, &result.synced_after) {
        (Err(ApiError::ClusterNotFound { .. }), _) => return d,
        (Err(e), _) | (Ok(()), Err(e)) => api_error(&mut d, "cancel the IAM sync", a, e),
        (Ok(()), Ok(_)) => {
            if let Some(lingering) = record {
                d.error(
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
        released(&mut d, a, &decision.released);
    }
    d
}

/// Errors for declared names the cluster does not hold after the step, with their cause;
/// a warning for those synced again; errors for cancels MRS accepted without effect.
fn unsynced(
    d: &mut Diagnostics,
    a: &Address,
    held_before: &Names,
    decision: &Decision,
    result: &BatchResult,
    synced: &Names,
) {
    let cluster = a.cluster_id.as_str();
    let missing = decision.declared.minus(synced);
    let lost = missing.intersect(&held_before.union(&result.resynced));
    let never = missing.minus(&lost);
    if !lost.is_empty() {
        d.error(
            format!("Some names were cancelled outside Terraform on MRS cluster {cluster:?}"),
            format!(
                "{} were synced when this run read the cluster, and were cancelled since by something outside this provider process (by hand in the console, another Terraform run, or a resource of another provider configuration on this cluster). They were sent again and MRS did not sync them: check that they still exist in IAM. The state records only the names that are synced.",
                capitalize(&lost.describe())
            ),
        );
    }
    if !never.is_empty() {
        d.error(
            format!("Some names did not sync to MRS cluster {cluster:?}"),
            format!(
                "MRS accepted the request but did not synchronize {}. Check that they exist in IAM in this account. The state records only the names that are synced.",
                never.describe()
            ),
        );
    }
    let resynced = result.resynced.intersect(synced);
    if !resynced.is_empty() {
        d.warning(
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
        d.error(
            format!("Some names are still synced to MRS cluster {cluster:?}"),
            format!(
                "MRS accepted the cancellation but still lists {}. They stay in the state, so the next apply tries again.",
                lingering.describe()
            ),
        );
    }
}

/// A failed write or wait, as an error; or, when the sync goes on and nothing else was
/// left undone, as a warning that says what the state records.
fn failed_write(
    d: &mut Diagnostics,
    a: &Address,
    action: &str,
    e: &ApiError,
    pending: &Names,
    goes_on: bool,
) {
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
            api_error(d, action, a, e);
        } else {
            api_error_with(d, action, a, e, &story);
        }
        return;
    }
    let why = match e {
        ApiError::Cancelled => "Terraform was interrupted".to_string(),
        e => e.to_string(),
    };
    d.warning(
        format!(
            "The sync goes on in MRS cluster {:?}",
            a.cluster_id.as_str()
        ),
        format!("{why}.\n\n{story}"),
    );
}

/// One warning for the adopted names a destroy lets go.
fn released(d: &mut Diagnostics, a: &Address, names: &Names) {
    let count = names.users.len() + names.groups.len();
    let noun = if count == 1 { "name" } else { "names" };
    let cluster = a.cluster_id.as_str();
    d.warning(
        format!("{count} adopted {noun} released, not cancelled, on MRS cluster {cluster:?}"),
        format!(
            "{} stay synced to MRS cluster {cluster:?}: they were adopted at import, and no apply since has handed them over to a configuration, so this resource never owned them. Cancel them in the console, or import and declare them, if they should go.",
            capitalize(&names.describe())
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
