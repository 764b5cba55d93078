//! Which names the objects of this process declare on one cluster, and which objects this
//! process itself created: a name another object declares is never cancelled on its behalf.
//!
//! An object is known by the ID it keeps in its private state, never by its values: a
//! `create_before_destroy` replacement (`-replace`, `taint`, `replace_triggered_by`) makes
//! a new object whose values are the old one's, and only the private state tells them apart.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use super::names::Names;

/// One object of a resource (one instance's life from create to destroy), as its private
/// state names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectId(String);

impl ObjectId {
    /// A new ID: the time and a random number, unique across processes and runs.
    pub fn new() -> ObjectId {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        ObjectId(format!("{nanos:x}-{:016x}", fastrand::u64(..)))
    }

    /// An ID read back from private state.
    pub fn from_private(id: String) -> ObjectId {
        ObjectId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ObjectId {
    fn default() -> Self {
        ObjectId::new()
    }
}

/// Names with how many plans (or applies) in this process declared each, and the objects
/// this process created or updated.
#[derive(Default)]
pub struct Declarations {
    counts: Mutex<Counts>,
    written_here: Mutex<HashMap<ObjectId, usize>>,
}

#[derive(Default)]
struct Counts {
    users: BTreeMap<String, usize>,
    groups: BTreeMap<String, usize>,
}

impl Declarations {
    /// Records that an object declares `names`, and returns those of them that something
    /// in this process had declared before: an overlap, unless it is the same object
    /// declaring again at apply.
    pub fn declare(&self, names: &Names) -> Names {
        let mut d = lock(&self.counts);
        let seen = |map: &mut BTreeMap<String, usize>, list: &BTreeSet<String>| {
            list.iter()
                .filter(|n| {
                    let count = map.entry((*n).clone()).or_default();
                    *count += 1;
                    *count > 1
                })
                .cloned()
                .collect()
        };
        let users = seen(&mut d.users, &names.users);
        let groups = seen(&mut d.groups, &names.groups);
        Names { users, groups }
    }

    /// Declares, at apply, the names no plan here declared (the plan did not know them or
    /// their cluster), so that a name is counted once per object.
    pub fn declare_undeclared(&self, names: &Names) {
        let mut d = lock(&self.counts);
        for n in &names.users {
            d.users.entry(n.clone()).or_insert(1);
        }
        for n in &names.groups {
            d.groups.entry(n.clone()).or_insert(1);
        }
    }

    /// Records that an apply here wrote the state of `object` (create or update), whose
    /// plan declared its names.
    pub fn written_here(&self, object: &ObjectId) {
        *lock(&self.written_here).entry(object.clone()).or_default() += 1;
    }

    /// Whether `object`'s state was written here; if so the claim is taken, so that one
    /// destroy claims one write. Only an RPC client, never Terraform, destroys in the same
    /// process an object it created; its own plan's declaration must not keep its names.
    pub fn take_written_here(&self, object: &ObjectId) -> bool {
        let mut w = lock(&self.written_here);
        match w.get_mut(object) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// The names declared in this process by someone other than the requests that claim
    /// `own` declarations (one each, per request).
    pub fn declared_by_others(&self, own: &[&Names]) -> Names {
        let d = lock(&self.counts);
        let others = |map: &BTreeMap<String, usize>, kind: fn(&Names) -> &BTreeSet<String>| {
            map.iter()
                .filter(|(name, count)| {
                    let claimed = own.iter().filter(|o| kind(o).contains(*name)).count();
                    **count > claimed
                })
                .map(|(name, _)| name.clone())
                .collect()
        };
        Names {
            users: others(&d.users, |n| &n.users),
            groups: others(&d.groups, |n| &n.groups),
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
        assert!(d.declare(&names(&["a", "b"], &["g"])).is_empty());
        assert_eq!(d.declare(&names(&["b", "c"], &[])), names(&["b"], &[]));
        assert_eq!(d.declare(&names(&[], &["g"])), names(&[], &["g"]));
        assert_eq!(d.declared_by_others(&[]), names(&["a", "b", "c"], &["g"]));
    }

    #[test]
    fn an_own_claim_takes_one_declaration_each() {
        let d = Declarations::default();
        let ab = names(&["a", "b"], &[]);
        d.declare(&ab);
        d.declare(&names(&["b"], &[]));
        assert_eq!(d.declared_by_others(&[&ab]), names(&["b"], &[]));
        assert!(d.declared_by_others(&[&ab, &ab]).is_empty());
    }

    #[test]
    fn objects_are_told_apart_by_id_whatever_their_values() {
        let d = Declarations::default();
        let (new, old) = (ObjectId::new(), ObjectId::new());
        assert_ne!(new, old);
        d.written_here(&new);
        // The deposed object of a replacement has its own ID: not written here.
        assert!(!d.take_written_here(&old));
        assert!(d.take_written_here(&new));
        assert!(!d.take_written_here(&new), "one write, one claim");
    }
}
