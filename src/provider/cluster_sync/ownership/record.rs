//! What an object records after its step, from its prior record, the step's decision and
//! what the writes came to: the last part of the rule of ownership. Pure, as the rest of
//! it: a name the object kept for another object, or released, never stays in its record.

use super::{Decision, Record, Step};
use crate::provider::cluster_sync::names::Names;

/// What the step's writes came to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Every write was accepted and every wait ended.
    pub written: bool,
    /// A write went out: the cluster may have changed even if the step failed.
    pub maybe_changed: bool,
    /// The POST was accepted but its wait was cut (timeout, interrupt): the sync goes on.
    pub goes_on: bool,
    /// Names not cancelled because another object declares them: they leave this record.
    pub kept_for_others: Names,
    /// The names synced after the writes; None when they could not be read.
    pub synced_after: Option<Names>,
}

/// What an object records after its step: None when no object remains (a create that
/// changed nothing, a completed removal).
pub fn record_after(
    prior: Option<&Record>,
    step: &Step,
    decision: &Decision,
    outcome: &Outcome,
) -> Option<Record> {
    let creating = prior.is_none();
    let prior = prior.cloned().unwrap_or_default();
    // What the object still holds of its past: never a released name, never one kept for
    // others (it belongs to the object that declares it now).
    let base = prior
        .held
        .minus(&decision.released)
        .minus(&outcome.kept_for_others);
    match step {
        Step::Sync { desired, all_sync } => {
            let accepted = outcome.written || outcome.goes_on;
            // A full sync MRS refused leaves the object what it was: all-sync only if it
            // was before, so the next plan asks for the full sync again.
            let all_sync_now = *all_sync && (accepted || prior.all_sync);
            // An all-sync object lists only what its configuration lists: it declares, and
            // on removal cancels, every synced name anyway.
            let base = if all_sync_now { Names::default() } else { base };
            let pending = if !outcome.goes_on {
                Names::default()
            } else {
                match &outcome.synced_after {
                    Some(s) => decision.add.minus(s),
                    None => decision.add.clone(),
                }
            };
            let held = match &outcome.synced_after {
                // A full sync MRS accepted owns every name through `all_sync`, and its
                // configuration lists none: names kept from before would stay in a state
                // the configuration contradicts, a change planned after every apply (the
                // lifecycle model's I4).
                _ if *all_sync && accepted => pending.clone(),
                Some(s) => desired.union(&base).intersect(s).union(&pending),
                // Unreadable: assume every name sent may have been added and nothing
                // cancelled. A name wrongly listed is dropped by the next refresh; a name
                // wrongly dropped would stay synced and unmanaged.
                None if outcome.maybe_changed => desired.union(&base),
                None => base,
            };
            if creating && held.is_empty() && !(*all_sync && accepted) {
                return None;
            }
            Some(Record {
                held,
                adopted: Names::default(),
                pending,
                all_sync: all_sync_now,
            })
        }
        Step::Remove => {
            let owned = prior.owned().minus(&outcome.kept_for_others);
            let held = match (&outcome.synced_after, outcome.written) {
                // Cancels that MRS accepted but whose names it still lists.
                (Some(s), true) if prior.all_sync => s.minus(&outcome.kept_for_others),
                (Some(s), true) => owned.intersect(s),
                // An accepted cancel is not proof the names went; a read would tell.
                (None, _) => owned,
                (Some(s), false) => owned.intersect(&s.union(&prior.pending)),
            };
            // A failed all-sync removal stays: the next destroy cancels everything again.
            let failed_all_sync = prior.all_sync && !outcome.written;
            if held.is_empty() && !failed_all_sync {
                return None;
            }
            Some(Record {
                held,
                adopted: Names::default(),
                pending: Names::default(),
                all_sync: prior.all_sync,
            })
        }
    }
}
