//! The run's ledger: what the provider processes of one Terraform run declare on each
//! cluster, shared through small files, so that no process cancels a name another one
//! declares.
//!
//! Terraform starts a provider process per walk and per provider configuration (alias),
//! all children of the one `terraform` process of the run. A `terraform apply` plans every
//! resource in its plan walk (unchanged ones included) before the apply walk starts, so
//! the apply walk's processes find there every declaration of the run: a name another
//! alias declares, or that a resource the apply walk never calls still declares. Each
//! process writes only its own file (`<pid>.json`, replaced whole, so a reader sees the old
//! file or the new one) in a directory named after the `terraform` process (its PID and
//! start time, so a reused PID is another run). The ledger only ever keeps a name synced:
//! a stale or unreadable entry can keep a name, never cancel one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::names::Names;
use super::ownership::Others;

/// Run directories older than this are removed when a process starts: no run lasts so long.
const STALE_AFTER: Duration = Duration::from_secs(2 * 24 * 3600);
/// A ledger file larger than this is not ours to read.
const MAX_FILE: u64 = 16 << 20;

/// One cluster's declarations by one process.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Entry {
    #[serde(default)]
    users: BTreeSet<String>,
    #[serde(default)]
    groups: BTreeSet<String>,
    #[serde(default)]
    all_sync: bool,
}

pub struct Ledger {
    dir: PathBuf,
    own: PathBuf,
    /// This process's declarations by cluster key, as its file holds them.
    mine: Mutex<BTreeMap<String, Entry>>,
}

impl Ledger {
    /// The ledger of the run this process belongs to, when its parent is `terraform`
    /// (a test's RPC client is not a run); None on a system without `/proc`.
    pub fn for_this_run() -> Option<Ledger> {
        let ppid = std::os::unix::process::parent_id();
        let comm = std::fs::read_to_string(format!("/proc/{ppid}/comm")).ok()?;
        if !comm.trim().starts_with("terraform") {
            return None;
        }
        let stat = std::fs::read_to_string(format!("/proc/{ppid}/stat")).ok()?;
        // Field 22, counted after the command name's closing parenthesis.
        let started = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(19))?
            .to_string();
        let root = std::env::temp_dir().join(format!("terraform-provider-mrs-{}", uid()));
        Ledger::at(&root, &format!("{ppid}-{started}"))
    }

    /// The ledger of run `run` under `root` (created 0700), for this process.
    pub fn at(root: &Path, run: &str) -> Option<Ledger> {
        create_private_dir(root).ok()?;
        remove_stale(root, run);
        let dir = root.join(run);
        create_private_dir(&dir).ok()?;
        let own = dir.join(format!("{}.json", std::process::id()));
        Some(Ledger {
            dir,
            own,
            mine: Mutex::default(),
        })
    }

    /// Adds `names` (and `all_sync`) to what this process declares on `cluster`.
    pub fn declare(&self, cluster: &str, names: &Names, all_sync: bool) {
        // A poisoned lock only means a writer panicked; the map stays whole.
        let mut mine = self.mine.lock().unwrap_or_else(|p| p.into_inner());
        let e = mine.entry(cluster.to_string()).or_default();
        let before = (e.users.len(), e.groups.len(), e.all_sync);
        e.users.extend(names.users.iter().cloned());
        e.groups.extend(names.groups.iter().cloned());
        e.all_sync |= all_sync;
        if before == (e.users.len(), e.groups.len(), e.all_sync) {
            return;
        }
        // Best effort: a ledger that cannot be written only protects fewer names.
        if let Ok(bytes) = serde_json::to_vec(&*mine) {
            let tmp = self.own.with_extension("tmp");
            if std::fs::write(&tmp, bytes).is_ok() {
                let _ = std::fs::rename(&tmp, &self.own);
            }
        }
    }

    /// What the run's other processes declare on `cluster`.
    pub fn others(&self, cluster: &str) -> Others {
        let mut out = Others::default();
        let Ok(files) = std::fs::read_dir(&self.dir) else {
            return out;
        };
        for f in files.flatten() {
            let path = f.path();
            if path == self.own || path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            if f.metadata().map_or(true, |m| m.len() > MAX_FILE) {
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let Ok(entries) = serde_json::from_slice::<BTreeMap<String, Entry>>(&bytes) else {
                continue;
            };
            if let Some(e) = entries.get(cluster) {
                out.names.users.extend(e.users.iter().cloned());
                out.names.groups.extend(e.groups.iter().cloned());
                out.all_sync |= e.all_sync;
            }
        }
        out
    }
}

fn uid() -> u32 {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap_or(0)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// Removes the directories of runs long over (not `current`).
fn remove_stale(root: &Path, current: &str) {
    let Ok(runs) = std::fs::read_dir(root) else {
        return;
    };
    let now = SystemTime::now();
    for run in runs.flatten() {
        if run.file_name() == current {
            continue;
        }
        let old = run
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > STALE_AFTER);
        if old {
            let _ = std::fs::remove_dir_all(run.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(users: &[&str]) -> Names {
        Names {
            users: users.iter().map(|s| s.to_string()).collect(),
            groups: Default::default(),
        }
    }

    #[test]
    fn a_process_sees_what_the_runs_other_processes_declare_not_its_own() {
        let root = std::env::temp_dir().join(format!("mrs-ledger-test-{}", fastrand::u64(..)));
        let Some(a) = Ledger::at(&root, "run1") else {
            panic!("a ledger in {root:?}")
        };
        // Another process of the run: the same directory, another file.
        let Some(mut b) = Ledger::at(&root, "run1") else {
            panic!("a second ledger")
        };
        b.own = b.dir.join("other.json");
        b.declare("c1", &names(&["alice"]), false);
        b.declare("c2", &Names::default(), true);
        a.declare("c1", &names(&["bob"]), false);
        assert_eq!(a.others("c1").names, names(&["alice"]));
        assert!(!a.others("c1").all_sync);
        assert!(a.others("c2").all_sync);
        assert_eq!(b.others("c1").names, names(&["bob"]));
        // Another run sees none of it.
        let Some(c) = Ledger::at(&root, "run2") else {
            panic!("a third ledger")
        };
        assert_eq!(c.others("c1"), Others::default());
        let _ = std::fs::remove_dir_all(&root);
    }
}
