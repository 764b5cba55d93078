//! The run's ledger: what the provider processes of one Terraform run declare on each
//! cluster, shared through small files, so that no process cancels a name another one
//! declares.
//!
//! Terraform starts a provider process per walk and per provider configuration (alias),
//! all children of the one `terraform` process of the run. A `terraform apply` plans every
//! resource in its plan walk (unchanged ones included) before the apply walk starts, so
//! the apply walk's processes find there every declaration of the run: a name another
//! alias declares, or that a resource the apply walk never calls still declares. Each
//! process writes only its own file (`<pid>.jsonl`: a header line, then one line per
//! declaration with only the names new to the file, appended, so a plan of N objects
//! writes O(N) bytes, not O(N²); a reader skips a line not yet whole) in a directory named
//! after the `terraform` process (its PID and start time, so a reused PID is another run).
//! The lines of one turn of the runtime (the RPCs Terraform sent together) go out in one
//! write, a task queued behind that turn's RPCs; an apply's own declarations are written
//! at once, and whatever is left when the process lets its clusters go.
//!
//! Only the latest walk counts: one `terraform` process may plan and apply several times
//! (`terraform test` runs a plan and an apply per run block), and an object's declaration
//! from an earlier cycle must not keep a name its configuration has dropped since. A
//! process joins the walk of any process of the run still alive when it starts (the
//! aliases of one walk run together; Terraform ends a walk's processes before the next
//! walk starts), else it starts the next walk; a reader heeds its own walk and the latest
//! earlier walk that declared anything on the cluster. The ledger only ever keeps a name
//! synced: a stale or unreadable entry can keep a name, never cancel one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::names::Names;
use super::ownership::Others;

/// Run directories older than this are removed: no run lasts so long.
const STALE_AFTER: Duration = Duration::from_secs(2 * 24 * 3600);
/// The sweep for stale runs reads the age of every run directory (thousands, on a machine
/// that runs Terraform all day), so one process starting at most this often does it; the
/// others read the age of one marker file.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// The marker file, in the root, whose age says when the last sweep began.
const SWEPT: &str = "swept";
/// A ledger file larger than this is not ours to read.
const MAX_FILE: u64 = 16 << 20;

/// One process's file: its identity, its walk, and its declarations by cluster key.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct File {
    pid: u32,
    /// The process's start time in clock ticks since boot (`/proc/PID/stat`, field 22).
    started: String,
    walk: u64,
    #[serde(default)]
    clusters: BTreeMap<String, Entry>,
}

/// The first line of a process's file.
#[derive(Serialize, Deserialize)]
struct Header {
    pid: u32,
    started: String,
    walk: u64,
}

/// A line after the first: names a process declares on a cluster, new to its file.
#[derive(Serialize, Deserialize)]
struct Line {
    cluster: String,
    #[serde(flatten)]
    entry: Entry,
}

impl File {
    /// The file's lines: the header, then one line per cluster.
    fn encode(&self) -> Vec<u8> {
        let header = Header {
            pid: self.pid,
            started: self.started.clone(),
            walk: self.walk,
        };
        let mut out = serde_json::to_vec(&header).unwrap_or_default();
        out.push(b'\n');
        for (cluster, entry) in &self.clusters {
            let line = Line {
                cluster: cluster.clone(),
                entry: entry.clone(),
            };
            out.extend(serde_json::to_vec(&line).unwrap_or_default());
            out.push(b'\n');
        }
        out
    }

    /// A file read back: None without its header; a line that does not parse (one being
    /// written) is skipped.
    fn decode(bytes: &[u8]) -> Option<File> {
        let mut lines = bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty());
        let header: Header = serde_json::from_slice(lines.next()?).ok()?;
        let mut file = File {
            pid: header.pid,
            started: header.started,
            walk: header.walk,
            clusters: BTreeMap::new(),
        };
        for line in lines.filter_map(|l| serde_json::from_slice::<Line>(l).ok()) {
            let e = file.clusters.entry(line.cluster).or_default();
            e.users.extend(line.entry.users);
            e.groups.extend(line.entry.groups);
            e.all_sync |= line.entry.all_sync;
        }
        Some(file)
    }
}

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
    /// This process's file, as written.
    mine: Mutex<File>,
    /// The lines declared and not yet in `own`.
    unwritten: Arc<Mutex<Unwritten>>,
}

/// Lines waiting for their write, and `own` opened for appending once the process has
/// joined its walk (None if it cannot be).
#[derive(Default)]
struct Unwritten {
    file: Option<std::fs::File>,
    lines: Vec<u8>,
}

impl Unwritten {
    /// Best effort, as every write of the ledger: lines that cannot be written only
    /// protect fewer names.
    fn write(&mut self) {
        if self.lines.is_empty() {
            return;
        }
        if let Some(mut f) = self.file.as_ref() {
            use std::io::Write;
            let _ = f.write_all(&self.lines);
        }
        self.lines.clear();
    }
}

impl Ledger {
    /// The ledger of this process's run, opened once: every cluster line of the process
    /// shares it (see [`Ledger::for_this_run`]).
    pub fn of_this_process() -> Option<Arc<Ledger>> {
        static RUN: OnceLock<Option<Arc<Ledger>>> = OnceLock::new();
        RUN.get_or_init(|| Ledger::for_this_run().map(Arc::new))
            .clone()
    }

    /// The ledger of the run this process belongs to, when its parent is `terraform`
    /// (a test's RPC client is not a run); None on a system without `/proc`.
    pub fn for_this_run() -> Option<Ledger> {
        let ppid = std::os::unix::process::parent_id();
        let comm = std::fs::read_to_string(format!("/proc/{ppid}/comm")).ok()?;
        if !comm.trim().starts_with("terraform") {
            return None;
        }
        let started = start_time(ppid)?;
        let root = std::env::temp_dir().join(format!("terraform-provider-mrs-{}", uid()));
        Ledger::at(&root, &format!("{ppid}-{started}"))
    }

    /// The ledger of run `run` under `root` (created 0700), for this process.
    pub fn at(root: &Path, run: &str) -> Option<Ledger> {
        create_private_dir(root).ok()?;
        remove_stale(root, run);
        let dir = root.join(run);
        create_private_dir(&dir).ok()?;
        let pid = std::process::id();
        let own = dir.join(format!("{pid}.jsonl"));
        let started = start_time(pid).unwrap_or_default();
        let ledger = Ledger {
            mine: Mutex::new(File {
                pid,
                started,
                ..File::default()
            }),
            unwritten: Arc::default(),
            dir,
            own,
        };
        ledger.join_walk();
        ledger.open_for_appending();
        Some(ledger)
    }

    /// Registers this process in the walk of any live process of the run, else in the
    /// next walk. The lock keeps the processes of one walk, starting together, from each
    /// starting a walk of their own.
    fn join_walk(&self) {
        let lock = RunLock::take(&self.dir);
        let files = self.files();
        let walk = files
            .iter()
            .find(|f| alive(f.pid, &f.started))
            .map(|f| f.walk)
            .unwrap_or_else(|| files.iter().map(|f| f.walk).max().unwrap_or(0) + 1);
        let mut mine = self.mine.lock().unwrap_or_else(|p| p.into_inner());
        mine.walk = walk;
        self.write(&mine);
        drop(lock);
    }

    /// Opens `own`, as the walk's join wrote it, for the declarations' lines: that join is
    /// the one write that replaces the file.
    fn open_for_appending(&self) {
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.own)
            .ok();
        self.unwritten
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .file = file;
    }

    /// Every other process's file that can be read.
    fn files(&self) -> Vec<File> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| *p != self.own && p.extension().is_some_and(|e| e == "jsonl"))
            .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() <= MAX_FILE))
            .filter_map(|p| std::fs::read(p).ok())
            .filter_map(|b| File::decode(&b))
            .collect()
    }

    /// Best effort: a ledger that cannot be written only protects fewer names. The whole
    /// file is written once, when the process joins its walk (replaced, so a reader sees
    /// the old file or the new one).
    fn write(&self, file: &File) {
        let tmp = self.own.with_extension("tmp");
        if std::fs::write(&tmp, file.encode()).is_ok() {
            let _ = std::fs::rename(&tmp, &self.own);
        }
    }

    /// Adds `names` (and `all_sync`) to what this process declares on `cluster`: one line
    /// with what is new, appended with the others of this turn of the runtime (at once
    /// outside a runtime).
    pub fn declare(&self, cluster: &str, names: &Names, all_sync: bool) {
        let mut mine = self.mine.lock().unwrap_or_else(|p| p.into_inner());
        let e = mine.clusters.entry(cluster.to_string()).or_default();
        let new = Entry {
            users: names.users.difference(&e.users).cloned().collect(),
            groups: names.groups.difference(&e.groups).cloned().collect(),
            all_sync: all_sync && !e.all_sync,
        };
        if new.users.is_empty() && new.groups.is_empty() && !new.all_sync {
            return;
        }
        e.users.extend(new.users.iter().cloned());
        e.groups.extend(new.groups.iter().cloned());
        e.all_sync |= new.all_sync;
        let line = Line {
            cluster: cluster.to_string(),
            entry: new,
        };
        let Ok(mut bytes) = serde_json::to_vec(&line) else {
            return;
        };
        bytes.push(b'\n');
        // Queued under `mine`'s lock: lines keep the order of their declarations.
        let first = {
            let mut unwritten = self.unwritten.lock().unwrap_or_else(|p| p.into_inner());
            let first = unwritten.lines.is_empty();
            unwritten.lines.extend_from_slice(&bytes);
            first
        };
        drop(mine);
        if !first {
            return;
        }
        // The runtime runs its tasks in turn: this write after the RPCs already queued
        // in this turn, which add their lines to it. Nothing waits for it.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let unwritten = Arc::clone(&self.unwritten);
                runtime.spawn(async move {
                    unwritten.lock().unwrap_or_else(|p| p.into_inner()).write()
                });
            }
            Err(_) => self.write_declared(),
        }
    }

    /// Writes now what this process declared and has not written yet.
    pub fn write_declared(&self) {
        self.unwritten
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .write();
    }

    /// What the run's other processes declare on `cluster`: those of this walk, and those
    /// of the latest earlier walk that declared anything there.
    pub fn others(&self, cluster: &str) -> Others {
        let walk = self.mine.lock().unwrap_or_else(|p| p.into_inner()).walk;
        let files = self.files();
        let earlier = files
            .iter()
            .filter(|f| f.walk < walk && f.clusters.contains_key(cluster))
            .map(|f| f.walk)
            .max();
        let mut out = Others::default();
        for f in &files {
            if f.walk != walk && Some(f.walk) != earlier {
                continue;
            }
            if let Some(e) = f.clusters.get(cluster) {
                out.names.users.extend(e.users.iter().cloned());
                out.names.groups.extend(e.groups.iter().cloned());
                out.all_sync |= e.all_sync;
            }
        }
        out
    }
}

#[cfg(test)]
impl Ledger {
    /// The ledger of another process of run `run`: its file is `name`, not `<pid>.jsonl`.
    pub(super) fn other_process(root: &Path, run: &str, name: &str) -> Option<Ledger> {
        let mut ledger = Ledger::at(root, run)?;
        ledger.own = ledger.dir.join(name);
        let file = ledger.mine.lock().map(|m| m.clone()).unwrap_or_default();
        ledger.write(&file);
        ledger.open_for_appending();
        Some(ledger)
    }

    /// A fresh run under the temporary directory, seen by two of its processes: this
    /// one's ledger and another's; and the root, for the test to remove. The other one
    /// first: a second `Ledger::at` in one process replaces the first one's file.
    pub(super) fn two_processes() -> (PathBuf, Ledger, Ledger) {
        let root = std::env::temp_dir().join(format!("mrs-ledger-test-{}", fastrand::u64(..)));
        let other = Ledger::other_process(&root, "run", "other.jsonl");
        let (Some(this), Some(other)) = (Ledger::at(&root, "run"), other) else {
            panic!("two ledgers in {root:?}")
        };
        (root, this, other)
    }
}

/// The run directory's lock while a process joins a walk: a file created exclusively.
/// Best effort: one left by a process killed while holding it is taken over after
/// LOCK_STALE, and a lock not had within LOCK_WAIT is done without.
struct RunLock(Option<PathBuf>);

const LOCK_WAIT: Duration = Duration::from_secs(2);
const LOCK_STALE: Duration = Duration::from_secs(10);

impl RunLock {
    fn take(dir: &Path) -> RunLock {
        let path = dir.join("lock");
        let started = std::time::Instant::now();
        while started.elapsed() < LOCK_WAIT {
            let made = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path);
            if made.is_ok() {
                return RunLock(Some(path));
            }
            let stale = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > LOCK_STALE);
            if stale {
                let _ = std::fs::remove_file(&path);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        RunLock(None)
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A process's start time in clock ticks since boot: with its PID, who it is.
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields counted after the command name's closing parenthesis: state is the 3rd
    // field, start time the 22nd.
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(19).map(str::to_string)
}

/// Whether process `pid`, started at `started`, still runs (not a zombie).
fn alive(pid: u32, started: &str) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    let mut fields = rest.split_whitespace();
    let state = fields.next();
    let start = fields.nth(18);
    state != Some("Z") && start == Some(started)
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

/// Removes the directories of runs long over (not `current`), unless a process swept
/// within SWEEP_EVERY.
fn remove_stale(root: &Path, current: &str) {
    let now = SystemTime::now();
    let marker = root.join(SWEPT);
    let swept_lately = std::fs::metadata(&marker)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| now.duration_since(t).ok())
        .is_some_and(|age| age < SWEEP_EVERY);
    // Written first, so that the processes starting beside this one do not sweep too.
    if swept_lately || std::fs::write(&marker, b"").is_err() {
        return;
    }
    let Ok(runs) = std::fs::read_dir(root) else {
        return;
    };
    for run in runs.flatten() {
        if run.file_name() == current || run.file_name() == SWEPT {
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
        let (root, a, b) = Ledger::two_processes();
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

    #[tokio::test]
    async fn the_lines_of_one_turn_of_the_runtime_go_out_together() {
        let (root, a, b) = Ledger::two_processes();
        b.declare("c1", &names(&["alice"]), false);
        b.declare("c2", &names(&["bob"]), false);
        // Queued: written once this task lets the runtime run the write.
        assert_eq!(a.others("c1"), Others::default());
        tokio::task::yield_now().await;
        assert_eq!(a.others("c1").names, names(&["alice"]));
        assert_eq!(a.others("c2").names, names(&["bob"]));
        // An apply writes its declaration at once.
        b.declare("c3", &names(&["carol"]), false);
        b.write_declared();
        assert_eq!(a.others("c3").names, names(&["carol"]));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn only_the_latest_earlier_walk_counts() {
        let root = std::env::temp_dir().join(format!("mrs-ledger-test-{}", fastrand::u64(..)));
        let dir = root.join("run");
        let _ = std::fs::create_dir_all(&dir);
        // Two processes of earlier walks, gone: an earlier plan and apply cycle declared
        // dave, the latest plan erin instead.
        for (pid, walk, user) in [(u32::MAX - 1, 1, "dave"), (u32::MAX - 2, 2, "erin")] {
            let file = File {
                pid,
                started: "1".into(),
                walk,
                clusters: [(
                    "c1".to_string(),
                    Entry {
                        users: [user.to_string()].into(),
                        ..Entry::default()
                    },
                )]
                .into(),
            };
            let _ = std::fs::write(dir.join(format!("{pid}.jsonl")), file.encode());
        }
        let Some(apply) = Ledger::at(&root, "run") else {
            panic!("a ledger in {root:?}")
        };
        assert_eq!(apply.mine.lock().map(|m| m.walk).unwrap_or(0), 3);
        assert_eq!(apply.others("c1").names, names(&["erin"]));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_file_is_read_back_line_by_line_and_a_partial_line_is_skipped() {
        let root = std::env::temp_dir().join(format!("mrs-ledger-test-{}", fastrand::u64(..)));
        let Some(a) = Ledger::at(&root, "run") else {
            panic!("a ledger in {root:?}")
        };
        a.declare("c1", &names(&["alice"]), false);
        a.declare("c1", &names(&["alice", "bob"]), false);
        a.declare("c2", &Names::default(), true);
        a.declare("c2", &Names::default(), true);
        let Ok(mut bytes) = std::fs::read(&a.own) else {
            panic!("the ledger file")
        };
        // The header and one line per declaration that added something (bob alone).
        assert_eq!(bytes.iter().filter(|b| **b == b'\n').count(), 4);
        bytes.extend_from_slice(b"{\"cluster\":\"c1\",\"users\":[\"ca");
        let Some(read) = File::decode(&bytes) else {
            panic!("a readable file")
        };
        let c1 = read.clusters.get("c1").cloned().unwrap_or_default();
        assert_eq!(c1.users, names(&["alice", "bob"]).users);
        assert!(read.clusters.get("c2").is_some_and(|e| e.all_sync));
        assert!(File::decode(b"not a header\n").is_none());
        let _ = std::fs::remove_dir_all(&root);
    }

    fn age(path: &Path, by: Duration) {
        let file = std::fs::File::open(path).and_then(|f| {
            f.set_modified(SystemTime::now() - by)?;
            Ok(f)
        });
        assert!(file.is_ok(), "ageing {path:?}: {file:?}");
    }

    #[test]
    fn stale_runs_are_swept_at_most_once_an_hour() {
        let root = std::env::temp_dir().join(format!("mrs-ledger-test-{}", fastrand::u64(..)));
        let three_days = Duration::from_secs(3 * 24 * 3600);
        assert!(std::fs::create_dir_all(root.join("old")).is_ok());
        age(&root.join("old"), three_days);
        assert!(Ledger::at(&root, "run").is_some());
        assert!(!root.join("old").exists(), "a run over for days is removed");
        assert!(root.join(SWEPT).exists());
        // Within the hour, a start reads the marker's age and nothing else.
        assert!(std::fs::create_dir_all(root.join("older")).is_ok());
        age(&root.join("older"), three_days);
        assert!(Ledger::at(&root, "run").is_some());
        assert!(
            root.join("older").exists(),
            "no second sweep within the hour"
        );
        assert!(root.join("run").exists());
        // An hour later the next start sweeps again, and keeps the current run.
        age(&root.join(SWEPT), Duration::from_secs(2 * 3600));
        age(&root.join("run"), three_days);
        assert!(Ledger::at(&root, "run").is_some());
        assert!(!root.join("older").exists());
        assert!(root.join("run").exists());
        let _ = std::fs::remove_dir_all(&root);
    }
}
