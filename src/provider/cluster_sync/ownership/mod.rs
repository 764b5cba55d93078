//! Ownership, the one rule of the shared cluster: which names an object owns, and from that,
//! for every path (create, update, destroy, both replacement orders, deposed cleanup,
//! import hand-over, all-sync), what a step sends, what it may cancel and what the object
//! records afterwards. Pure: no I/O, so the lifecycle model in the tests drives it directly.
//!
//! A name is owned by an object when the object synced it, or when a configuration declared
//! it while the object held it. An adopted name (held since an import, never declared to
//! the object) is never owned and so never cancelled, whatever the path. A removal cancels
//! what the object owns, minus what any other object declares (`Others`, taken when the
//! cancels are sent); a removal that fails records only what it still owns and did not
//! cancel, never a name it kept for others.
//!
//! A step's three parts: `decide` (here) before anything is sent, `writes` (here) when a
//! batch joins the decisions of every object on the cluster, and `record::record_after`
//! once the writes are done.

use super::names::Names;

pub mod record;
pub use record::Outcome;

/// What one object's state and private record say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// Every name the state lists: synced, or pending.
    pub held: Names,
    /// Held names adopted at import that no configuration has declared to the object yet.
    pub adopted: Names,
    /// Held names of a sync that went on after the step that sent them.
    pub pending: Names,
    /// `is_all_sync = true`: the object declares every name.
    pub all_sync: bool,
}

impl Record {
    /// The names this object may cancel.
    pub fn owned(&self) -> Names {
        self.held.minus(&self.adopted)
    }
}

/// What a step asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Create or update: the cluster must hold `desired` (every name, with `all_sync`).
    Sync { desired: Names, all_sync: bool },
    /// Destroy, of a live, tainted or deposed object alike.
    Remove,
}

/// What objects other than the one stepping declare, as far as this process can know: the
/// plans of this process, and the plans of the run's other provider processes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Others {
    pub names: Names,
    /// An all-sync object declares every name.
    pub all_sync: bool,
}

impl Others {
    /// The names of `candidates` another object declares: they stay synced.
    pub fn keep(&self, candidates: &Names) -> Names {
        if self.all_sync {
            candidates.clone()
        } else {
            candidates.intersect(&self.names)
        }
    }
}

/// What a step sends, decided before anything is sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// Names to POST: the new ones (a name already held is not sent again).
    pub add: Names,
    /// The POST asks for a full synchronization.
    pub all_sync: bool,
    /// Owned names the object no longer declares: cancelled unless `Others` declares them.
    pub cancel: Names,
    /// Also cancel every synced name another object does not declare (an all-sync object's
    /// removal: it synced them all).
    pub cancel_all_synced: bool,
    /// Adopted names the object lets go without a cancel.
    pub released: Names,
    /// What the cluster must hold when the step ends: a name missing then is synced again.
    pub declared: Names,
    /// The object is being removed (its cancels do not heed the run's other processes).
    pub removal: bool,
}

/// Decides what a step sends. `prior` is None for a create.
pub fn decide(prior: Option<&Record>, step: &Step) -> Decision {
    let prior = prior.cloned().unwrap_or_default();
    let owned = prior.owned();
    match step {
        Step::Sync { desired, all_sync } => Decision {
            add: desired.minus(&prior.held),
            all_sync: *all_sync,
            // An all-sync object declares every name: it cancels none.
            cancel: if *all_sync {
                Names::default()
            } else {
                owned.minus(desired)
            },
            cancel_all_synced: false,
            // The configuration now says which adopted names it declares: those become
            // owned; the others are let go. An all-sync object owns them all.
            released: if *all_sync {
                Names::default()
            } else {
                prior.adopted.minus(desired)
            },
            declared: desired.clone(),
            removal: false,
        },
        Step::Remove => Decision {
            removal: true,
            cancel: owned,
            cancel_all_synced: prior.all_sync,
            released: prior.adopted.clone(),
            ..Decision::default()
        },
    }
}

/// What one batch sends for the decisions of every object stepping on a cluster at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Writes {
    /// One POST: every name a decision adds.
    pub add: Names,
    pub all_sync: bool,
    /// The DELETEs: the cancels no object declares.
    pub cancel: Names,
    /// Per decision, in order: the names it asked to cancel (every synced name, for
    /// `cancel_all_synced`) that stay, because an object declares them: that object, not
    /// the asker, holds them now.
    pub kept: Vec<Names>,
    /// What the cluster must hold after the writes: a name missing then is sent again.
    pub declared: Names,
}

/// What other objects declare, as a batch sees it when its cancels go out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Declared {
    /// Planned in this process (the apply walk's final plans).
    pub process: Others,
    /// Planned by the run's other processes (its plan walk, other provider aliases).
    pub run: Others,
}

/// Joins the decisions of one batch. A name is cancelled only when no object declares it:
/// not the batch itself (its adds, its declared names), not an object planned in this
/// process, and, for the cancels of an update, not an object planned in the run's other
/// processes. A removal does not heed the run's other processes: `terraform destroy`
/// plans every object with its configuration before it plans the destroy, so the run
/// would keep every name a destroy should cancel; a name another resource still declares
/// is synced again by that resource's next apply. `synced` (what the cluster lists now)
/// is needed only when a decision cancels every synced name.
pub fn writes(decisions: &[&Decision], declared_by: &Declared, synced: Option<&Names>) -> Writes {
    let join = |f: fn(&Decision) -> &Names| {
        decisions
            .iter()
            .fold(Names::default(), |acc, d| acc.union(f(d)))
    };
    let add = join(|d| &d.add);
    let declared = join(|d| &d.declared);
    let released = join(|d| &d.released);
    let batch = declared.union(&add);
    let asked: Vec<Names> = decisions
        .iter()
        .map(|d| match (d.cancel_all_synced, synced) {
            (true, Some(s)) => d.cancel.union(s),
            _ => d.cancel.clone(),
        })
        // A released name is never cancelled, not even as "every synced name".
        .map(|a| a.minus(&released))
        .collect();
    let cancel = decisions
        .iter()
        .zip(&asked)
        .fold(Names::default(), |acc, (d, a)| {
            let mut keep = batch.union(&declared_by.process.keep(a));
            if !d.removal {
                keep = keep.union(&declared_by.run.keep(a));
            }
            acc.union(&a.minus(&keep))
        });
    Writes {
        all_sync: decisions.iter().any(|d| d.all_sync),
        kept: asked.iter().map(|a| a.minus(&cancel)).collect(),
        cancel,
        add,
        declared,
    }
}

#[cfg(test)]
mod tests {
    use super::record::record_after;
    use super::*;

    fn n(users: &[&str]) -> Names {
        Names {
            users: users.iter().map(|s| s.to_string()).collect(),
            groups: Default::default(),
        }
    }

    fn ok(synced: Names) -> Outcome {
        Outcome {
            written: true,
            maybe_changed: true,
            synced_after: Some(synced),
            ..Outcome::default()
        }
    }

    #[test]
    fn a_full_sync_mrs_refused_is_not_recorded_as_one() {
        let prior = Record {
            held: n(&["alice"]),
            ..Record::default()
        };
        let step = Step::Sync {
            desired: Names::default(),
            all_sync: true,
        };
        let d = decide(Some(&prior), &step);
        let refused = Outcome {
            synced_after: Some(n(&["alice"])),
            ..Outcome::default()
        };
        let after = record_after(Some(&prior), &step, &d, &refused);
        let after = after.unwrap_or_default();
        // Still the object it was, so the next plan asks for the full sync again.
        assert!(!after.all_sync);
        assert_eq!(after.held, n(&["alice"]));
        // Accepted, it is an all-sync object that lists nothing.
        let after = record_after(Some(&prior), &step, &d, &ok(n(&["alice", "bob"])));
        let after = after.unwrap_or_default();
        assert!(after.all_sync);
        assert!(after.held.is_empty());
        // An all-sync object whose full sync is refused again stays all-sync.
        let all = Record {
            all_sync: true,
            ..Record::default()
        };
        let d = decide(Some(&all), &step);
        let after = record_after(Some(&all), &step, &d, &refused).unwrap_or_default();
        assert!(after.all_sync);
    }

    #[test]
    fn an_imported_object_cancels_nothing_it_adopted() {
        let imported = Record {
            held: n(&["alice", "bob", "carol"]),
            adopted: n(&["alice", "bob", "carol"]),
            ..Record::default()
        };
        let d = decide(Some(&imported), &Step::Remove);
        assert!(d.cancel.is_empty());
        assert_eq!(d.released, n(&["alice", "bob", "carol"]));
        let after = record_after(
            Some(&imported),
            &Step::Remove,
            &d,
            &ok(n(&["alice", "bob"])),
        );
        assert_eq!(after, None, "nothing owned remains");
    }

    #[test]
    fn the_hand_over_owns_the_declared_and_releases_the_rest() {
        let imported = Record {
            held: n(&["alice", "bob"]),
            adopted: n(&["alice", "bob"]),
            ..Record::default()
        };
        let step = Step::Sync {
            desired: n(&["alice"]),
            all_sync: false,
        };
        let d = decide(Some(&imported), &step);
        assert!(d.add.is_empty() && d.cancel.is_empty());
        assert_eq!(d.released, n(&["bob"]));
        let after = record_after(Some(&imported), &step, &d, &ok(n(&["alice", "bob"])));
        let after = after.unwrap_or_default();
        assert_eq!(after.held, n(&["alice"]));
        assert_eq!(after.owned(), n(&["alice"]));
    }

    #[test]
    fn a_failed_removal_records_only_what_it_still_owns() {
        let old = Record {
            held: n(&["alice", "bob"]),
            ..Record::default()
        };
        let d = decide(Some(&old), &Step::Remove);
        let failed = Outcome {
            written: false,
            maybe_changed: true,
            kept_for_others: n(&["alice"]),
            synced_after: Some(n(&["alice", "bob", "carol"])),
            ..Outcome::default()
        };
        let after = record_after(Some(&old), &Step::Remove, &d, &failed);
        assert_eq!(after.map(|r| r.held), Some(n(&["bob"])));
    }

    #[test]
    fn an_update_heeds_the_run_and_a_removal_only_this_process() {
        let owner = Record {
            held: n(&["alice", "bob"]),
            ..Record::default()
        };
        let update = decide(
            Some(&owner),
            &Step::Sync {
                desired: n(&["bob"]),
                all_sync: false,
            },
        );
        let removal = decide(Some(&owner), &Step::Remove);
        let declared = Declared {
            process: Others::default(),
            run: Others {
                names: n(&["alice"]),
                all_sync: false,
            },
        };
        let w = writes(&[&update], &declared, None);
        assert!(w.cancel.is_empty());
        assert_eq!(w.kept, vec![n(&["alice"])]);
        let w = writes(&[&removal], &declared, None);
        assert_eq!(w.cancel, n(&["alice", "bob"]));
        // Together: a name one decision keeps but another cancels is cancelled, and the
        // keeper learns it was not kept; what the batch declares (bob) stays.
        let w = writes(&[&update, &removal], &declared, None);
        assert_eq!(w.cancel, n(&["alice"]));
        assert_eq!(w.kept, vec![Names::default(), n(&["bob"])]);
    }

    #[test]
    fn others_that_sync_everything_keep_everything() {
        let all = Others {
            names: Names::default(),
            all_sync: true,
        };
        assert_eq!(all.keep(&n(&["a", "b"])), n(&["a", "b"]));
        let some = Others {
            names: n(&["b"]),
            all_sync: false,
        };
        assert_eq!(some.keep(&n(&["a", "b"])), n(&["b"]));
    }
}
