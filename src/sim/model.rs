//! The simulator's data model: the IAM directory, per-cluster synced names, delayed syncs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::api::types::{CancelSyncRequest, UpdateSyncRequest};

/// The IAM users and groups of the simulated account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Directory {
    /// No directory file: every well-formed name exists and users belong to no group.
    #[default]
    Open,
    /// A fixed directory: only these names can ever become synced.
    Listed {
        /// user → the groups the user belongs to.
        users: BTreeMap<String, Vec<String>>,
        groups: BTreeSet<String>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DirectoryFile {
    #[serde(default)]
    users: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    groups: BTreeSet<String>,
}

impl Directory {
    /// Parses `{"users": {"alice": ["admins"]}, "groups": ["admins", "ops"]}`.
    pub fn from_json(text: &str) -> Result<Directory, String> {
        let f: DirectoryFile =
            serde_json::from_str(text).map_err(|e| format!("invalid directory JSON: {e}"))?;
        let mut groups = f.groups;
        // A user's groups exist even when the file forgot to list them.
        for gs in f.users.values() {
            groups.extend(gs.iter().cloned());
        }
        Ok(Directory::Listed {
            users: f.users,
            groups,
        })
    }

    pub fn load(path: &Path) -> Result<Directory, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read directory file {}: {e}", path.display()))?;
        Directory::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The groups of `user`; None when the user does not exist.
    pub(super) fn user_groups(&self, user: &str) -> Option<Vec<String>> {
        match self {
            Directory::Open => well_formed(user).then(Vec::new),
            Directory::Listed { users, .. } => users.get(user).cloned(),
        }
    }

    fn has_group(&self, group: &str) -> bool {
        match self {
            Directory::Open => well_formed(group),
            Directory::Listed { groups, .. } => groups.contains(group),
        }
    }
}

/// IAM names are short printable strings; anything else can never exist.
pub fn well_formed(name: &str) -> bool {
    !name.trim().is_empty() && name.chars().count() <= 64 && !name.chars().any(char::is_control)
}

/// The synced names of one cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Names {
    pub user_names: BTreeSet<String>,
    pub group_names: BTreeSet<String>,
}

#[derive(Debug, Clone)]
struct Pending {
    ends_at: Instant,
    result: Names,
}

/// One cluster: what is synced now and, during a sync, what will be synced when it ends.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    pub names: Names,
    pending: Option<Pending>,
}

impl Cluster {
    pub fn with_names(names: Names) -> Cluster {
        Cluster {
            names,
            pending: None,
        }
    }

    /// Applies a finished sync; returns whether the names changed.
    pub fn settle(&mut self, now: Instant) -> bool {
        match &self.pending {
            Some(p) if now >= p.ends_at => {
                let changed = self.names != p.result;
                if let Some(p) = self.pending.take() {
                    self.names = p.result;
                }
                changed
            }
            _ => false,
        }
    }

    pub fn is_synchronizing(&self, now: Instant) -> bool {
        self.pending.as_ref().is_some_and(|p| now < p.ends_at)
    }

    /// Starts a sync towards `result`; with no delay it is applied at once.
    pub fn start_sync(&mut self, result: Names, now: Instant, delay: Duration) -> bool {
        self.pending = Some(Pending {
            ends_at: now + delay,
            result,
        });
        self.settle(now)
    }

    /// Replaces the names out of band (drift tests); any running sync is forgotten.
    pub fn set_names(&mut self, names: Names) {
        self.pending = None;
        self.names = names;
    }
}

/// The names after a POST: requested users that exist, with their groups, and requested
/// groups that exist; with `is_all_sync`, the whole directory.
pub fn after_update(dir: &Directory, current: &Names, req: &UpdateSyncRequest) -> Names {
    let mut next = current.clone();
    if req.is_all_sync {
        if let Directory::Listed { users, groups } = dir {
            next.user_names.extend(users.keys().cloned());
            next.group_names.extend(groups.iter().cloned());
        }
    }
    for user in &req.user_names {
        if let Some(groups) = dir.user_groups(user) {
            next.user_names.insert(user.clone());
            next.group_names.extend(groups);
        }
    }
    for group in &req.group_names {
        if dir.has_group(group) {
            next.group_names.insert(group.clone());
        }
    }
    next
}

/// The names after a DELETE: exactly the listed names go; a removed user's groups stay.
pub fn after_cancel(current: &Names, req: &CancelSyncRequest) -> Names {
    let mut next = current.clone();
    for u in &req.user_names {
        next.user_names.remove(u);
    }
    for g in &req.group_names {
        next.group_names.remove(g);
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> Directory {
        let d = Directory::from_json(
            r#"{"users": {"alice": ["admins","dev"], "bob": []}, "groups": ["admins","dev","ops"]}"#,
        );
        d.unwrap_or_default()
    }

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn upd(all: bool, users: &[&str], groups: &[&str]) -> UpdateSyncRequest {
        UpdateSyncRequest {
            is_all_sync: all,
            user_names: users.iter().map(|s| s.to_string()).collect(),
            group_names: groups.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn user_brings_groups_and_unknown_names_never_sync() {
        let n = after_update(
            &dir(),
            &Names::default(),
            &upd(false, &["alice", "zed"], &["ops", "nope"]),
        );
        assert_eq!(n.user_names, set(&["alice"]));
        assert_eq!(n.group_names, set(&["admins", "dev", "ops"]));
    }

    #[test]
    fn all_sync_takes_whole_directory_and_open_directory_adds_nothing() {
        let n = after_update(&dir(), &Names::default(), &upd(true, &[], &[]));
        assert_eq!(n.user_names, set(&["alice", "bob"]));
        assert_eq!(n.group_names, set(&["admins", "dev", "ops"]));
        let n = after_update(
            &Directory::Open,
            &Names::default(),
            &upd(true, &["x"], &[""]),
        );
        assert_eq!(n.user_names, set(&["x"]));
        assert!(n.group_names.is_empty());
    }

    #[test]
    fn cancel_removes_exactly_the_listed_names() {
        let n = after_update(
            &dir(),
            &Names::default(),
            &upd(false, &["alice", "bob"], &[]),
        );
        let c = CancelSyncRequest {
            user_names: vec!["alice".into()],
            group_names: vec!["dev".into()],
        };
        let n = after_cancel(&n, &c);
        assert_eq!(n.user_names, set(&["bob"]));
        assert_eq!(n.group_names, set(&["admins"]));
    }

    #[test]
    fn delayed_sync_takes_effect_when_it_ends() {
        let t0 = Instant::now();
        let mut c = Cluster::default();
        let target = Names {
            user_names: set(&["a"]),
            group_names: BTreeSet::new(),
        };
        assert!(!c.start_sync(target.clone(), t0, Duration::from_secs(5)));
        assert!(c.is_synchronizing(t0 + Duration::from_secs(1)));
        assert!(!c.settle(t0 + Duration::from_secs(1)));
        assert!(c.names.user_names.is_empty());
        assert!(c.settle(t0 + Duration::from_secs(5)));
        assert!(!c.is_synchronizing(t0 + Duration::from_secs(5)));
        assert_eq!(c.names, target);
        // Zero delay: applied at once.
        let mut c = Cluster::default();
        assert!(c.start_sync(target.clone(), t0, Duration::ZERO));
        assert!(!c.is_synchronizing(t0));
    }

    #[test]
    fn directory_file_errors_are_reported() {
        assert!(Directory::from_json("42").is_err());
        assert!(Directory::from_json(r#"{"users": {"a": "notalist"}}"#).is_err());
        assert!(Directory::from_json(r#"{"people": {}}"#).is_err());
        // Groups named only by users still exist.
        let d = Directory::from_json(r#"{"users": {"a": ["g"]}}"#).unwrap_or_default();
        assert!(d.has_group("g"));
    }
}
