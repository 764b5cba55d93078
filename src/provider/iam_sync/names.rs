//! The pure name planner of `mrs_iam_sync`: which names to add and which to cancel, and
//! how to batch the cancellations. No I/O, so its rules are property-tested here.

use std::collections::BTreeSet;

use crate::api::{CancelSyncRequest, SyncedNames};

/// The API takes at most this many names of each kind in one call.
pub const MAX_NAMES: usize = 1000;

/// The names a resource manages, or that a cluster holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    pub users: BTreeSet<String>,
    pub groups: BTreeSet<String>,
}

impl Names {
    pub fn from_remote(r: SyncedNames) -> Names {
        Names {
            users: r.user_names.into_iter().collect(),
            groups: r.group_names.into_iter().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }

    pub fn minus(&self, other: &Names) -> Names {
        Names {
            users: self.users.difference(&other.users).cloned().collect(),
            groups: self.groups.difference(&other.groups).cloned().collect(),
        }
    }

    pub fn intersect(&self, other: &Names) -> Names {
        Names {
            users: self.users.intersection(&other.users).cloned().collect(),
            groups: self.groups.intersection(&other.groups).cloned().collect(),
        }
    }

    pub fn union(&self, other: &Names) -> Names {
        Names {
            users: self.users.union(&other.users).cloned().collect(),
            groups: self.groups.union(&other.groups).cloned().collect(),
        }
    }

    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.users.is_empty() {
            parts.push(format!("users {}", quote_list(&self.users)));
        }
        if !self.groups.is_empty() {
            parts.push(format!("groups {}", quote_list(&self.groups)));
        }
        parts.join(" and ")
    }
}

fn quote_list(s: &BTreeSet<String>) -> String {
    s.iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The calls that bring a cluster from `remote` to holding `desired`, given what this
/// resource managed before (`prior`). Adds only what is missing remotely; cancels only
/// names this resource managed and no longer wants, and only while they are still synced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdatePlan {
    pub add: Names,
    pub remove: Names,
}

pub fn plan_update(prior: &Names, desired: &Names, remote: &Names) -> UpdatePlan {
    UpdatePlan {
        add: desired.minus(remote),
        remove: prior.minus(desired).intersect(remote),
    }
}

/// Splits names into DELETE bodies of at most MAX_NAMES users and MAX_NAMES groups each.
pub fn cancel_batches(n: &Names) -> Vec<CancelSyncRequest> {
    let users: Vec<String> = n.users.iter().cloned().collect();
    let groups: Vec<String> = n.groups.iter().cloned().collect();
    let batches = users
        .len()
        .div_ceil(MAX_NAMES)
        .max(groups.len().div_ceil(MAX_NAMES));
    (0..batches)
        .map(|i| {
            let part = |v: &[String]| -> Vec<String> {
                v.iter()
                    .skip(i * MAX_NAMES)
                    .take(MAX_NAMES)
                    .cloned()
                    .collect()
            };
            CancelSyncRequest {
                user_names: part(&users),
                group_names: part(&groups),
            }
        })
        .collect()
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
    fn update_adds_missing_and_cancels_only_removed_managed_names() {
        let prior = names(&["alice", "bob"], &["dev"]);
        let desired = names(&["alice", "carol"], &["ops"]);
        // "admins" is synced implicitly (alice's group) and "zed" by someone else.
        let remote = names(&["alice", "bob", "zed"], &["dev", "admins"]);
        let p = plan_update(&prior, &desired, &remote);
        assert_eq!(p.add, names(&["carol"], &["ops"]));
        assert_eq!(p.remove, names(&["bob"], &["dev"]));
    }

    #[test]
    fn nothing_to_send_when_converged() {
        let n = names(&["a"], &["g"]);
        let p = plan_update(&n, &n, &names(&["a", "x"], &["g", "y"]));
        assert!(p.add.is_empty() && p.remove.is_empty());
    }

    #[test]
    fn removed_names_no_longer_synced_are_not_cancelled() {
        let p = plan_update(
            &names(&["a", "b"], &[]),
            &names(&["a"], &[]),
            &names(&["a"], &[]),
        );
        assert!(p.remove.is_empty());
    }

    #[test]
    fn batches_hold_at_most_1000_of_each() {
        let users: Vec<String> = (0..2500).map(|i| format!("u{i}")).collect();
        let n = Names {
            users: users.into_iter().collect(),
            groups: ["g".to_string()].into(),
        };
        let b = cancel_batches(&n);
        assert_eq!(b.len(), 3);
        assert!(b
            .iter()
            .all(|r| r.user_names.len() <= MAX_NAMES && r.group_names.len() <= MAX_NAMES));
        assert_eq!(b.iter().map(|r| r.user_names.len()).sum::<usize>(), 2500);
        assert_eq!(b.iter().map(|r| r.group_names.len()).sum::<usize>(), 1);
        assert!(cancel_batches(&Names::default()).is_empty());
    }
}

#[cfg(test)]
mod props {
    //! Property tests of the pure update planner: whatever the prior state, the config and
    //! the cluster hold, the calls add and cancel exactly the right names.
    use std::collections::BTreeSet;

    use proptest::collection::btree_set;
    use proptest::prelude::*;

    use super::{cancel_batches, plan_update, Names, MAX_NAMES};

    /// Names from a small pool, so prior, desired and remote overlap often.
    fn names() -> impl Strategy<Value = Names> {
        let set = || btree_set("[a-f]{1,2}", 0..12);
        (set(), set()).prop_map(|(users, groups)| Names { users, groups })
    }

    /// Up to 3,500 names of each kind, to cross the 1,000 limit several times.
    fn many() -> impl Strategy<Value = Names> {
        (0usize..3500, 0usize..3500).prop_map(|(u, g)| Names {
            users: (0..u).map(|i| format!("u{i}")).collect(),
            groups: (0..g).map(|i| format!("g{i}")).collect(),
        })
    }

    fn check_kind(
        prior: &BTreeSet<String>,
        desired: &BTreeSet<String>,
        remote: &BTreeSet<String>,
        add: &BTreeSet<String>,
        remove: &BTreeSet<String>,
    ) -> Result<(), TestCaseError> {
        let missing: BTreeSet<String> = desired.difference(remote).cloned().collect();
        prop_assert_eq!(add, &missing, "adds exactly the desired names not synced");
        let removed_still_synced: BTreeSet<String> = prior
            .difference(desired)
            .filter(|n| remote.contains(*n))
            .cloned()
            .collect();
        prop_assert_eq!(remove, &removed_still_synced);
        for n in remove {
            prop_assert!(prior.contains(n), "cancels {} which it never managed", n);
            prop_assert!(!desired.contains(n), "cancels {} which is still wanted", n);
        }
        prop_assert!(add.is_disjoint(remove));
        Ok(())
    }

    proptest! {
        #[test]
        fn plan_adds_missing_and_cancels_only_removed_managed_names(
            prior in names(),
            desired in names(),
            remote in names(),
        ) {
            let p = plan_update(&prior, &desired, &remote);
            check_kind(&prior.users, &desired.users, &remote.users, &p.add.users, &p.remove.users)?;
            check_kind(&prior.groups, &desired.groups, &remote.groups, &p.add.groups, &p.remove.groups)?;
            // Applying the plan to the remote gives a cluster holding every desired name
            // and none of the removed managed ones; unmanaged names are untouched.
            let after = remote.minus(&p.remove).union(&p.add);
            prop_assert!(desired.minus(&after).is_empty());
            prop_assert!(prior.minus(&desired).intersect(&after).is_empty());
            let unmanaged = remote.minus(&prior).minus(&desired);
            prop_assert_eq!(unmanaged.intersect(&after), unmanaged);
            // Converged: a second plan against the result sends nothing.
            let again = plan_update(&desired, &desired, &after);
            prop_assert!(again.add.is_empty() && again.remove.is_empty());
        }

        #[test]
        fn cancel_batches_respect_the_limit_and_partition_the_names(n in many()) {
            let batches = cancel_batches(&n);
            let mut users = BTreeSet::new();
            let mut groups = BTreeSet::new();
            for b in &batches {
                prop_assert!(b.user_names.len() <= MAX_NAMES && b.group_names.len() <= MAX_NAMES);
                prop_assert!(!(b.user_names.is_empty() && b.group_names.is_empty()), "empty batch");
                for u in &b.user_names {
                    prop_assert!(users.insert(u.clone()), "user {} in two batches", u);
                }
                for g in &b.group_names {
                    prop_assert!(groups.insert(g.clone()), "group {} in two batches", g);
                }
            }
            prop_assert_eq!(&users, &n.users);
            prop_assert_eq!(&groups, &n.groups);
            let fewest = n.users.len().div_ceil(MAX_NAMES).max(n.groups.len().div_ceil(MAX_NAMES));
            prop_assert_eq!(batches.len(), fewest, "no more calls than needed");
        }
    }
}
