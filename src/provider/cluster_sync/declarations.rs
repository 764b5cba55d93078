//! Which names the objects of this run declare on one cluster: the plans of this process,
//! counted, and through the run's ledger those of its other provider processes. A name
//! another object declares is never cancelled on its behalf.
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
    /// those of them that something in this process had declared before: an overlap.
    pub fn declare(&self, names: &Names, all_sync: bool) -> Names {
        let overlap = {
            let mut d = lock(&self.counts);
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
        overlap
    }

    /// Declares, at apply, the names no plan here declared (the plan did not know them or
    /// their cluster), so that a name is counted once per object.
    pub fn declare_undeclared(&self, names: &Names, all_sync: bool) {
        {
            let mut d = lock(&self.counts);
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
    }

    /// What the objects of this run declare: in this process, and in its other processes.
    pub fn others(&self) -> Declared {
        let d = lock(&self.counts);
        let process = Others {
            names: Names {
                users: d.users.keys().cloned().collect(),
                groups: d.groups.keys().cloned().collect(),
            },
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

    #[test]
    fn a_second_declaration_of_a_name_is_an_overlap() {
        let d = Declarations::default();
        assert!(d.declare(&names(&["a", "b"], &["g"]), false).is_empty());
        assert_eq!(
            d.declare(&names(&["b", "c"], &[]), false),
            names(&["b"], &[])
        );
        assert_eq!(d.declare(&names(&[], &["g"]), false), names(&[], &["g"]));
        assert_eq!(d.others().process.names, names(&["a", "b", "c"], &["g"]));
        assert!(!d.others().process.all_sync);
    }

    #[test]
    fn an_all_sync_declaration_declares_every_name() {
        let d = Declarations::default();
        d.declare(&Names::default(), true);
        assert!(d.others().process.all_sync);
        assert_eq!(
            d.others().process.keep(&names(&["x"], &["y"])),
            names(&["x"], &["y"])
        );
    }
}
