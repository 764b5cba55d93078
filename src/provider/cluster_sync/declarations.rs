//! Which names the objects of this run declare on one cluster: the plans of this process,
//! counted, and through the run's ledger those of its other provider processes. A name
//! another object declares is never cancelled on its behalf. An exclusive object's list
//! (everything the cluster may hold) is kept apart: a name declared outside it, or an
//! all-sync object beside it, is a conflict, found by whichever of the two plans second.
//!
//! Terraform plans each object at most once per process (the plan walk, or the apply walk's
//! final plan), and never destroys in a process an object it planned or created there (a
//! `create_before_destroy` replacement destroys the old, deposed object, which it did not
//! plan). So every declaration a removal finds is another object's, and no object needs an
//! identity of its own: its state stays as small as its values.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use super::ledger::Ledger;
use super::names::Names;
use super::ownership::{Declared, Others};

/// Names with how many plans (or applies) in this process declared each, and how many
/// all-sync objects; and the run's ledger, when there is one.
#[derive(Default)]
pub struct Declarations {
    counts: Mutex<Counts>,
    ledger: Option<(Arc<Ledger>, String)>,
}

#[derive(Default)]
struct Counts {
    users: BTreeMap<String, usize>,
    groups: BTreeMap<String, usize>,
    all_sync: usize,
    /// The lists of the exclusive objects planned here.
    exclusive: Vec<Names>,
}

/// Why a declaration cannot stand beside another on the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// Two exclusive objects list different names.
    TwoLists,
    /// An all-sync object and an exclusive one.
    AllSync,
    /// Names declared by an additive object that the exclusive list leaves out.
    Outside(Names),
}

impl Counts {
    fn declared(&self) -> Names {
        Names {
            users: self.users.keys().cloned().collect(),
            groups: self.groups.keys().cloned().collect(),
        }
    }

    /// What keeps `names` (with `all_sync`, an additive object's) from standing beside
    /// the exclusive lists.
    fn conflict(&self, names: &Names, all_sync: bool) -> Option<Conflict> {
        let list = self.exclusive.first()?;
        if all_sync {
            return Some(Conflict::AllSync);
        }
        let outside = names.minus(list);
        (!outside.is_empty()).then_some(Conflict::Outside(outside))
    }
}

impl Declarations {
    /// Declarations shared with the run's other processes through `ledger`, under `key`.
    pub fn shared(ledger: Option<Arc<Ledger>>, key: String) -> Declarations {
        Declarations {
            counts: Mutex::default(),
            ledger: ledger.map(|l| (l, key)),
        }
    }

    /// Records that an object declares `names` (every name, with `all_sync`), and returns
    /// those of them that something in this process had declared before (an overlap), or
    /// the conflict with an exclusive list.
    pub fn declare(&self, names: &Names, all_sync: bool) -> Result<Names, Conflict> {
        let overlap = {
            let mut d = lock(&self.counts);
            if let Some(conflict) = d.conflict(names, all_sync) {
                return Err(conflict);
            }
            d.all_sync += usize::from(all_sync);
            let mut seen = |kind: fn(&mut Counts) -> &mut BTreeMap<String, usize>,
                            list: &BTreeSet<String>| {
                let map = kind(&mut d);
                list.iter()
                    .filter(|n| {
                        let count = map.entry((*n).clone()).or_default();
                        *count += 1;
                        *count > 1
                    })
                    .cloned()
                    .collect()
            };
            Names {
                users: seen(|c| &mut c.users, &names.users),
                groups: seen(|c| &mut c.groups, &names.groups),
            }
        };
        self.publish(names, all_sync);
        Ok(overlap)
    }

    /// Records the list of an exclusive object: every name the cluster may hold. Another
    /// list that differs, an all-sync object, or names an additive object declares
    /// outside the list are a conflict.
    pub fn declare_exclusive(&self, list: &Names) -> Result<(), Conflict> {
        {
            let mut d = lock(&self.counts);
            if d.exclusive.iter().any(|other| other != list) {
                return Err(Conflict::TwoLists);
            }
            if d.all_sync > 0 {
                return Err(Conflict::AllSync);
            }
            let outside = d.declared().minus(list);
            if !outside.is_empty() {
                return Err(Conflict::Outside(outside));
            }
            d.exclusive.push(list.clone());
        }
        self.publish(list, false);
        Ok(())
    }

    /// Declares, at apply, the names no plan here declared (the plan did not know them or
    /// their cluster), so that a name is counted once per object.
    pub fn declare_undeclared(&self, names: &Names, all_sync: bool) {
        {
            let mut d = lock(&self.counts);
            // An exclusive object's names are its list's, not counted.
            let listed = d.exclusive.first().cloned().unwrap_or_default();
            let names = &names.minus(&listed);
            for n in &names.users {
                d.users.entry(n.clone()).or_insert(1);
            }
            for n in &names.groups {
                d.groups.entry(n.clone()).or_insert(1);
            }
            if all_sync && d.all_sync == 0 {
                d.all_sync = 1;
            }
        }
        self.publish(names, all_sync);
        // An apply's declaration is in the file before its sync is sent.
        if let Some((ledger, _)) = &self.ledger {
            ledger.write_declared();
        }
    }

    /// What the objects of this run declare: in this process, and in its other processes.
    pub fn others(&self) -> Declared {
        let d = lock(&self.counts);
        let process = Others {
            names: d
                .exclusive
                .iter()
                .fold(d.declared(), |all, list| all.union(list)),
            all_sync: d.all_sync > 0,
        };
        drop(d);
        let run = match &self.ledger {
            Some((ledger, key)) => ledger.others(key),
            None => Others::default(),
        };
        Declared { process, run }
    }

    fn publish(&self, names: &Names, all_sync: bool) {
        if let Some((ledger, key)) = &self.ledger {
            ledger.declare(key, names, all_sync);
        }
    }
}

/// The process's last declarations are written when its clusters are let go, at the
/// latest as the process ends.
impl Drop for Declarations {
    fn drop(&mut self) {
        if let Some((ledger, _)) = &self.ledger {
            ledger.write_declared();
        }
    }
}

/// A poisoned lock only means another task panicked while holding it; the maps it guards
/// are updated in single steps and stay consistent.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(users: &[&str], groups: &[&str]) -> Names {
        Names {
            users: users.iter().map(|s| s.to_string()).collect(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[tokio::test]
    async fn the_declarations_left_unwritten_are_written_when_they_end() {
        let (root, reader, ledger) = Ledger::two_processes();
        let d = Declarations::shared(Some(Arc::new(ledger)), "c1".into());
        let _ = d.declare(&names(&["alice"], &[]), false);
        assert!(
            reader.others("c1").names.is_empty(),
            "queued for the turn's end"
        );
        drop(d);
        assert_eq!(reader.others("c1").names, names(&["alice"], &[]));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_second_declaration_of_a_name_is_an_overlap() {
        let d = Declarations::default();
        assert_eq!(
            d.declare(&names(&["a", "b"], &["g"]), false),
            Ok(Names::default())
        );
        assert_eq!(
            d.declare(&names(&["b", "c"], &[]), false),
            Ok(names(&["b"], &[]))
        );
        assert_eq!(
            d.declare(&names(&[], &["g"]), false),
            Ok(names(&[], &["g"]))
        );
        assert_eq!(d.others().process.names, names(&["a", "b", "c"], &["g"]));
        assert!(!d.others().process.all_sync);
    }

    #[test]
    fn an_all_sync_declaration_declares_every_name() {
        let d = Declarations::default();
        assert!(d.declare(&Names::default(), true).is_ok());
        assert!(d.others().process.all_sync);
        assert_eq!(
            d.others().process.keep(&names(&["x"], &["y"])),
            names(&["x"], &["y"])
        );
    }

    #[test]
    fn an_exclusive_list_conflicts_with_what_declares_outside_it_in_either_order() {
        let list = names(&["a", "b"], &["g"]);
        // The exclusive object plans first.
        let d = Declarations::default();
        assert_eq!(d.declare_exclusive(&list), Ok(()));
        assert_eq!(d.declare_exclusive(&list), Ok(()), "the same list again");
        assert_eq!(d.declare(&names(&["a"], &[]), false), Ok(Names::default()));
        assert_eq!(
            d.declare(&names(&["a", "z"], &[]), false),
            Err(Conflict::Outside(names(&["z"], &[])))
        );
        assert_eq!(d.declare(&Names::default(), true), Err(Conflict::AllSync));
        assert_eq!(
            d.declare_exclusive(&names(&["a"], &[])),
            Err(Conflict::TwoLists)
        );
        // The list is what others declare: a removal keeps it.
        assert_eq!(d.others().process.names, list);
        // The additive objects plan first.
        let d = Declarations::default();
        assert!(d.declare(&names(&["a", "z"], &[]), false).is_ok());
        assert_eq!(
            d.declare_exclusive(&list),
            Err(Conflict::Outside(names(&["z"], &[])))
        );
        let d = Declarations::default();
        assert!(d.declare(&Names::default(), true).is_ok());
        assert_eq!(d.declare_exclusive(&list), Err(Conflict::AllSync));
    }

    #[test]
    fn an_exclusive_objects_apply_does_not_count_its_names_as_an_overlap() {
        let d = Declarations::default();
        assert_eq!(d.declare_exclusive(&names(&["a"], &[])), Ok(()));
        d.declare_undeclared(&names(&["a"], &[]), false);
        assert_eq!(d.declare(&names(&["a"], &[]), false), Ok(Names::default()));
    }
}
