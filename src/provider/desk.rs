//! One coordinator per cluster: group commit of writes, waits that end when the sync ends,
//! and names declared in this process never cancelled.
//!
//! Terraform starts up to 10 ApplyResourceChange calls at once, and MRS runs one sync per
//! cluster at a time. Were each resource to send its own POST and wait on its own, ten
//! resources on one cluster would take ten syncs; and a resource that stops declaring a
//! name would cancel it even while another resource of the same run starts declaring it
//! (a move, a `create_before_destroy` replacement). So every write on a cluster goes
//! through its desk: requests that arrive while the desk is busy, or within
//! `GATHER_QUIET` of each other, go out together as one POST with every name to add, one
//! wait, one DELETE per 1,000 names to cancel, one wait and one read, from which each
//! request learns its own outcome.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::api::{ApiError, Client, ClusterId, ProjectId, UpdateSyncRequest, Write};

use super::iam_sync::names::{cancel_batches, Names};

/// The first request of a batch waits for others until none arrives for this long:
/// Terraform's parallel ApplyResourceChange calls arrive within milliseconds of each
/// other, a little further apart on a busy machine...
const GATHER_QUIET: Duration = Duration::from_millis(30);
/// ...but never longer than this in all.
const GATHER_MAX: Duration = Duration::from_millis(300);
/// Status polls during a wait: at least this far apart (a few a second at most)...
const POLL_MIN: Duration = Duration::from_millis(250);
/// ...and at most this far apart, however long the sync runs.
const POLL_MAX: Duration = Duration::from_secs(30);
/// Bound on the read that records a batch's outcome. That read ignores StopProvider:
/// after Ctrl-C the state must still say what the cluster holds, and Terraform waits for
/// the apply to return, so it has to be short.
const FINAL_READ_TIMEOUT: Duration = Duration::from_secs(3);

type DeskKey = (String, ProjectId, ClusterId);

/// The desks of one configured provider, one per (endpoint, project, cluster).
#[derive(Default)]
pub struct Desks {
    desks: Mutex<HashMap<DeskKey, Arc<Desk>>>,
}

impl Desks {
    /// The desk of a cluster, made on first use; `client` is the endpoint's client.
    pub fn desk(
        &self,
        client: &Client,
        project_id: &ProjectId,
        cluster_id: &ClusterId,
    ) -> Arc<Desk> {
        let key = (
            client.endpoint().to_string(),
            project_id.clone(),
            cluster_id.clone(),
        );
        lock(&self.desks)
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Desk {
                    client: client.clone(),
                    project_id: project_id.clone(),
                    cluster_id: cluster_id.clone(),
                    declared: Mutex::default(),
                    produced: Mutex::default(),
                    pending: Mutex::default(),
                    seen_idle: Default::default(),
                    turn: tokio::sync::Mutex::new(()),
                })
            })
            .clone()
    }
}

/// What one resource operation asks of its cluster.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// Names to start syncing: what the resource newly declares, sent even when the
    /// cluster lists them already, so a move is never a no-op that a cancel then undoes.
    pub add: Names,
    /// `is_all_sync = true`: the POST asks for a full synchronization.
    pub all_sync: bool,
    /// Names to stop syncing; those another resource of this process declares are kept.
    pub remove: Names,
    /// Also cancel every name the cluster lists (destroying an `is_all_sync` resource).
    pub remove_all_synced: bool,
    /// Names whose declaration (one each) this resource made itself in this process: a
    /// destroy of a state created here. They do not protect its own cancels.
    pub own: Names,
    /// How long this operation may take, waits included.
    pub timeout: Duration,
}

/// What one request learns from its batch.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Whether every write of the batch was accepted and every wait ended.
    pub sent: Result<(), ApiError>,
    /// Whether a write went out: from then on the cluster may have changed even if the
    /// write seemed to fail.
    pub wrote: bool,
    /// Whether MRS accepted the batch's POST: its sync runs on in the cluster even when
    /// the wait for it ends first (a timeout), so what it added may still appear.
    pub posted: bool,
    /// Names of `remove` (of every synced name, for `remove_all_synced`) not cancelled
    /// because another resource declares them.
    pub kept: Names,
    /// The names synced after the batch, read without regard to StopProvider.
    pub remote: Result<Names, ApiError>,
}

struct Queued {
    request: Request,
    reply: oneshot::Sender<Outcome>,
}

/// Names with how many plans (or applies) in this process declared each.
#[derive(Default)]
struct Declared {
    users: BTreeMap<String, usize>,
    groups: BTreeMap<String, usize>,
}

/// One cluster's coordinator. See the module documentation.
pub struct Desk {
    client: Client,
    project_id: ProjectId,
    cluster_id: ClusterId,
    declared: Mutex<Declared>,
    /// States created or updated here, each as its fingerprint, with how many times.
    produced: Mutex<HashMap<String, usize>>,
    pending: Mutex<Vec<Queued>>,
    /// Whether this process has seen the cluster idle (after a wait of its own). Until
    /// it has, the first write waits for a sync someone else may be running, rather than
    /// being refused; after that, writes go first and a refusal is waited out.
    seen_idle: AtomicBool,
    /// Held by the request whose task sends the current batch.
    turn: tokio::sync::Mutex<()>,
}

impl Desk {
    /// Records that a resource declares `names` on this cluster, and returns those of them
    /// that something in this process had declared before: an overlap, unless it is the
    /// same resource declaring again at apply.
    pub fn declare(&self, names: &Names) -> Names {
        let mut d = lock(&self.declared);
        let seen = |map: &mut BTreeMap<String, usize>,
                    list: &std::collections::BTreeSet<String>| {
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

    /// Declares, at apply, the names no plan here declared (the plan did not know them
    /// or their cluster), so that a name is counted once per resource.
    pub fn declare_undeclared(&self, names: &Names) {
        let mut d = lock(&self.declared);
        for n in &names.users {
            d.users.entry(n.clone()).or_insert(1);
        }
        for n in &names.groups {
            d.groups.entry(n.clone()).or_insert(1);
        }
    }

    /// Records a state that an apply here produced (create or update), by fingerprint.
    pub fn produced(&self, fingerprint: String) {
        *lock(&self.produced).entry(fingerprint).or_default() += 1;
    }

    /// Whether a state with this fingerprint was produced here; if so it is taken, so
    /// that one destroy claims one such state.
    pub fn take_produced(&self, fingerprint: &str) -> bool {
        let mut p = lock(&self.produced);
        match p.get_mut(fingerprint) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// The names declared in this process by someone other than the requests that
    /// claim `own` declarations (one each, per request).
    fn declared_by_others(&self, own: &[&Names]) -> Names {
        let d = lock(&self.declared);
        let others =
            |map: &BTreeMap<String, usize>,
             kind: fn(&Names) -> &std::collections::BTreeSet<String>| {
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

    #[cfg(test)]
    fn declared(&self) -> Names {
        self.declared_by_others(&[])
    }

    /// The names synced now.
    pub async fn read(&self, cancel: &CancellationToken) -> Result<Names, ApiError> {
        self.client
            .show_sync(&self.project_id, &self.cluster_id, cancel)
            .await
            .map(Names::from_remote)
    }

    /// Whether a sync runs on the cluster now, without waiting for it to end.
    pub async fn synchronizing(&self, cancel: &CancellationToken) -> Result<bool, ApiError> {
        self.client
            .sync_status(&self.project_id, &self.cluster_id, cancel)
            .await
    }

    /// Sends `request` with whatever else is asked of this cluster meanwhile, and returns
    /// this request's outcome.
    pub async fn submit(&self, request: Request, cancel: &CancellationToken) -> Outcome {
        let (reply, mut answer) = oneshot::channel();
        lock(&self.pending).push(Queued { request, reply });
        let _turn = self.turn.lock().await;
        // A batch sent while this request waited for its turn may have carried it.
        if let Ok(outcome) = answer.try_recv() {
            return outcome;
        }
        self.gather().await;
        let batch = std::mem::take(&mut *lock(&self.pending));
        self.send(batch, cancel).await;
        match answer.try_recv() {
            Ok(outcome) => outcome,
            // Only if a batch that carried it was abandoned half-way (its task dropped):
            // nobody knows what went out, so read what is true.
            Err(_) => Outcome {
                sent: Err(ApiError::Cancelled),
                wrote: true,
                posted: true,
                kept: Names::default(),
                remote: self.read_for_state().await,
            },
        }
    }

    /// Waits while requests keep arriving, within GATHER_MAX.
    async fn gather(&self) {
        let started = Instant::now();
        let mut queued = lock(&self.pending).len();
        loop {
            tokio::time::sleep(GATHER_QUIET).await;
            let now = lock(&self.pending).len();
            if now == queued || started.elapsed() >= GATHER_MAX {
                return;
            }
            queued = now;
        }
    }

    /// Sends one batch and answers each of its requests.
    async fn send(&self, batch: Vec<Queued>, cancel: &CancellationToken) {
        if batch.is_empty() {
            return;
        }
        let timeout = batch
            .iter()
            .map(|q| q.request.timeout)
            .min()
            .unwrap_or_default();
        let deadline = Instant::now() + timeout;
        let all_sync = batch.iter().any(|q| q.request.all_sync);
        let add = batch
            .iter()
            .fold(Names::default(), |acc, q| acc.union(&q.request.add));
        let mut asked = batch
            .iter()
            .fold(Names::default(), |acc, q| acc.union(&q.request.remove));
        let mut wrote = false;
        let mut posted = false;
        let sent = async {
            if batch.iter().any(|q| q.request.remove_all_synced) {
                asked = asked.union(&self.read(cancel).await?);
            }
            let writes = all_sync || !add.is_empty() || !asked.is_empty();
            if writes && !self.seen_idle.load(Ordering::Relaxed) {
                let left = deadline.saturating_duration_since(Instant::now());
                self.client
                    .wait_until_idle(
                        &self.project_id,
                        &self.cluster_id,
                        POLL_MIN,
                        POLL_MAX,
                        left,
                        cancel,
                    )
                    .await?;
            }
            // A name another resource declares, or that this batch adds, stays synced.
            let own: Vec<&Names> = batch.iter().map(|q| &q.request.own).collect();
            let keep = self.declared_by_others(&own).union(&add);
            let remove = asked.minus(&keep);
            if all_sync || !add.is_empty() {
                let body = UpdateSyncRequest {
                    is_all_sync: all_sync,
                    user_names: add.users.iter().cloned().collect(),
                    group_names: add.groups.iter().cloned().collect(),
                };
                self.write(
                    Write::Sync(&body),
                    deadline,
                    &mut wrote,
                    &mut posted,
                    cancel,
                )
                .await?;
            }
            for body in cancel_batches(&remove) {
                self.write(
                    Write::Cancel(&body),
                    deadline,
                    &mut wrote,
                    &mut false,
                    cancel,
                )
                .await?;
            }
            Ok(asked.intersect(&keep))
        }
        .await;
        let (sent, kept) = match sent {
            Ok(kept) => (Ok(()), kept),
            Err(e) => (Err(e), Names::default()),
        };
        let remote = self.read_for_state().await;
        for q in batch {
            let outcome = Outcome {
                sent: sent.clone(),
                wrote,
                posted,
                // A request to cancel everything learns every name kept for others.
                kept: if q.request.remove_all_synced {
                    kept.clone()
                } else {
                    q.request.remove.intersect(&kept)
                },
                remote: remote.clone(),
            };
            // The asker may be gone (its RPC dropped); its outcome then has no reader.
            let _ = q.reply.send(outcome);
        }
    }

    /// One write, sent again while a sync (someone else's) refuses it, then the wait for
    /// the sync it starts.
    async fn write(
        &self,
        write: Write<'_>,
        deadline: Instant,
        wrote: &mut bool,
        accepted: &mut bool,
        cancel: &CancellationToken,
    ) -> Result<(), ApiError> {
        let (p, c) = (&self.project_id, &self.cluster_id);
        let left = || deadline.saturating_duration_since(Instant::now());
        self.client
            .write_when_idle(write, p, c, POLL_MIN, POLL_MAX, left(), wrote, cancel)
            .await?;
        *accepted = true;
        self.client
            .wait_until_idle(p, c, POLL_MIN, POLL_MAX, left(), cancel)
            .await?;
        self.seen_idle.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// The names synced now, for recording an outcome: not cancelled by StopProvider, but
    /// bounded by FINAL_READ_TIMEOUT.
    pub async fn read_for_state(&self) -> Result<Names, ApiError> {
        let uncancelled = CancellationToken::new();
        match tokio::time::timeout(FINAL_READ_TIMEOUT, self.read(&uncancelled)).await {
            Ok(r) => r,
            Err(_) => Err(ApiError::Timeout {
                message: format!(
                    "reading the synced names of cluster {} took over {}s",
                    self.cluster_id,
                    FINAL_READ_TIMEOUT.as_secs()
                ),
            }),
        }
    }
}

/// A poisoned lock only means another task panicked while holding it; the maps it guards
/// are updated in single steps and stay consistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
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

    fn desk() -> Arc<Desk> {
        let cfg = crate::api::ClientConfig::new(
            "http://127.0.0.1:9",
            crate::api::Credentials {
                access_key: "AK".into(),
                secret_key: crate::api::Secret::new("SK"),
                security_token: None,
            },
        );
        let (Ok(client), Ok(p), Ok(c)) = (
            Client::new(cfg),
            ProjectId::parse("p1"),
            ClusterId::parse("c1"),
        ) else {
            unreachable!("valid config and IDs")
        };
        Desks::default().desk(&client, &p, &c)
    }

    #[test]
    fn a_second_declaration_of_a_name_is_an_overlap() {
        let d = desk();
        assert!(d.declare(&names(&["a", "b"], &["g"])).is_empty());
        assert_eq!(d.declare(&names(&["b", "c"], &[])), names(&["b"], &[]));
        assert_eq!(d.declare(&names(&[], &["g"])), names(&[], &["g"]));
        assert_eq!(d.declared(), names(&["a", "b", "c"], &["g"]));
    }

    #[test]
    fn one_desk_per_endpoint_project_and_cluster() {
        let desks = Desks::default();
        let d1 = desk();
        let client = d1.client.clone();
        let (Ok(p), Ok(c1), Ok(c2)) = (
            ProjectId::parse("p1"),
            ClusterId::parse("c1"),
            ClusterId::parse("c2"),
        ) else {
            unreachable!("valid IDs")
        };
        let a = desks.desk(&client, &p, &c1);
        assert!(Arc::ptr_eq(&a, &desks.desk(&client, &p, &c1)));
        assert!(!Arc::ptr_eq(&a, &desks.desk(&client, &p, &c2)));
    }
}
