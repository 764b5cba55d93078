//! The names a cluster holds or an object declares, as sets: the set arithmetic a batch
//! plans with, and how cancellations are split into calls (property-tested).

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

/// How many names a message quotes of one kind; the rest are counted.
const QUOTED: usize = 10;

/// The first names quoted, then how many more: a message about 1,000 names stays short.
fn quote_list(s: &BTreeSet<String>) -> String {
    let quoted = s
        .iter()
        .take(QUOTED)
        .map(|n| crate::shown::shorten(n))
        .collect::<Vec<_>>()
        .join(", ");
    match s.len().saturating_sub(QUOTED) {
        0 => quoted,
        more => format!("{quoted} (and {more} more)"),
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

    #[test]
    fn descriptions_quote_ten_names_of_a_kind_and_count_the_rest() {
        let n = Names {
            users: (10..40).map(|i| format!("u{i}")).collect(),
            groups: ["ops".to_string()].into(),
        };
        assert_eq!(
            n.describe(),
            "users \"u10\", \"u11\", \"u12\", \"u13\", \"u14\", \"u15\", \"u16\", \"u17\", \"u18\", \"u19\" (and 20 more) and groups \"ops\""
        );
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
    //! Property tests of the cancel batches: whatever the names, the batches keep the
    //! API's limit and partition the names.
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::{cancel_batches, Names, MAX_NAMES};

    /// Up to 3,500 names of each kind, to cross the 1,000 limit several times.
    fn many() -> impl Strategy<Value = Names> {
        (0usize..3500, 0usize..3500).prop_map(|(u, g)| Names {
            users: (0..u).map(|i| format!("u{i}")).collect(),
            groups: (0..g).map(|i| format!("g{i}")).collect(),
        })
    }

    proptest! {
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
