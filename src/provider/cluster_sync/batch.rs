//! Group commit of one cluster's writes: what every object asks of the cluster at about the
//! same time goes out as one POST, one DELETE per 1,000 names, and one wait each.
//!
//! Terraform starts up to 10 ApplyResourceChange calls at once, and MRS runs one sync per
//! cluster at a time. Were each object to send its own POST and wait on its own, ten
//! objects on one cluster would take ten syncs. So requests that arrive while the cluster's
//! batch is being sent, or within BATCH_QUIET of each other, go out together, and each
//! request learns its own result from the one read after the batch.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::api::http::Deadline;
use crate::api::{ApiError, UpdateSyncRequest};

use super::declarations::{lock, Declarations};
use super::names::{cancel_batches, Names};
use super::ownership::{writes, Decision, Declared, Outcome, Writes};
use super::wait::in_configured_terms;
use super::wait::{Waits, Write};
use crate::provider::clusters::Address;

/// The first request of a batch waits for others until none arrives for this long:
/// Terraform's parallel ApplyResourceChange calls arrive within milliseconds of each
/// other, a little further apart on a busy machine...
const BATCH_QUIET: Duration = Duration::from_millis(30);
/// ...but never longer than this in all.
const BATCH_MAX: Duration = Duration::from_millis(300);

/// What one object's step asks of its cluster: its ownership decision, sent.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub decision: Decision,
    /// How long this step may take, waits included.
    pub timeout: Duration,
}

/// What one request learns from its batch.
#[derive(Clone, Debug)]
pub struct BatchResult {
    /// Whether every write of the batch was accepted and every wait ended.
    pub written: Result<(), ApiError>,
    /// Whether a write went out: from then on the cluster may have changed even if the
    /// write seemed to fail.
    pub maybe_changed: bool,
    /// Whether MRS accepted the batch's POST: its sync runs on in the cluster even when
    /// the wait for it ends first (a timeout, Ctrl-C), so what it added may still appear.
    pub sync_accepted: bool,
    /// Names of the decision's cancels (of every synced name, for `cancel_all_synced`)
    /// not cancelled because another object declares them.
    pub kept_for_others: Names,
    /// Declared names the cluster had lost after the writes (cancelled outside this
    /// process since the plan), sent again in the same batch.
    pub resynced: Names,
    /// The names synced after the batch, read without regard to StopProvider.
    pub synced_after: Result<Names, ApiError>,
}

impl BatchResult {
    /// This result as the rule of ownership reads it, with the write's error restated in
    /// the configuration's terms (its timeout, its cluster).
    pub fn outcome(&self, a: &Address, timeout: Duration) -> (Outcome, Result<(), ApiError>) {
        let written = self
            .written
            .clone()
            .map_err(|e| in_configured_terms(e, a, timeout));
        let outcome = Outcome {
            written: written.is_ok(),
            maybe_changed: self.maybe_changed,
            goes_on: self.sync_accepted
                && matches!(written, Err(ApiError::Timeout { .. } | ApiError::Cancelled)),
            kept_for_others: self.kept_for_others.clone(),
            synced_after: self.synced_after.clone().ok(),
        };
        (outcome, written)
    }
}

struct Queued {
    request: Request,
    reply: oneshot::Sender<BatchResult>,
}

/// One cluster's queue of writes.
#[derive(Default)]
pub struct Queue {
    queued: Mutex<Vec<Queued>>,
    /// Whether this process has seen the cluster idle (after a wait of its own). Until it
    /// has, the first write waits for a sync someone else may be running, rather than
    /// being refused; after that, writes go first and a refusal is waited out.
    seen_idle: AtomicBool,
    /// Held by the request whose task sends the current batch.
    turn: tokio::sync::Mutex<()>,
}

impl Queue {
    /// Sends `request` with whatever else is asked of this cluster meanwhile, and returns
    /// this request's result.
    pub async fn submit(
        &self,
        request: Request,
        waits: &Waits<'_>,
        declared: &Declarations,
        cancel: &CancellationToken,
    ) -> BatchResult {
        let (reply, mut answer) = oneshot::channel();
        lock(&self.queued).push(Queued { request, reply });
        let _turn = self.turn.lock().await;
        // A batch sent while this request waited for its turn may have carried it.
        if let Ok(result) = answer.try_recv() {
            return result;
        }
        self.gather().await;
        let batch = std::mem::take(&mut *lock(&self.queued));
        self.send(batch, waits, declared, cancel).await;
        match answer.try_recv() {
            Ok(result) => result,
            // Only if a batch that carried it was abandoned half-way (its task dropped):
            // nobody knows what went out, so read what is true.
            Err(_) => BatchResult {
                written: Err(ApiError::Cancelled),
                maybe_changed: true,
                sync_accepted: true,
                kept_for_others: Names::default(),
                resynced: Names::default(),
                synced_after: waits.read_for_state().await,
            },
        }
    }

    /// Waits while requests keep arriving, within BATCH_MAX.
    async fn gather(&self) {
        let started = Instant::now();
        let mut queued = lock(&self.queued).len();
        loop {
            tokio::time::sleep(BATCH_QUIET).await;
            let now = lock(&self.queued).len();
            if now == queued || started.elapsed() >= BATCH_MAX {
                return;
            }
            queued = now;
        }
    }

    /// Sends one batch and answers each of its requests.
    async fn send(
        &self,
        batch: Vec<Queued>,
        waits: &Waits<'_>,
        declared_by: &Declarations,
        cancel: &CancellationToken,
    ) {
        if batch.is_empty() {
            return;
        }
        let timeout = batch
            .iter()
            .map(|q| q.request.timeout)
            .min()
            .unwrap_or_default();
        // One deadline for the batch's every call and wait: see `Client::until`.
        let deadline = Deadline::after(timeout);
        let left = || deadline.left();
        let client = waits.client.until(deadline);
        let waits = &waits.bounded(&client);
        let decisions: Vec<&Decision> = batch.iter().map(|q| &q.request.decision).collect();
        let mut maybe_changed = false;
        let mut sync_accepted = false;
        let mut resynced = Names::default();
        let mut synced_after = None;
        let mut kept: Vec<Names> = Vec::new();
        let written = async {
            let synced_now = if decisions.iter().any(|d| d.cancel_all_synced) {
                let synced = waits
                    .client
                    .show_sync(waits.project_id, waits.cluster_id, cancel)
                    .await?;
                Some(Names::from_remote(synced))
            } else {
                None
            };
            let might_write = decisions.iter().any(|d| {
                d.all_sync || !d.add.is_empty() || !d.cancel.is_empty() || d.cancel_all_synced
            });
            if might_write && !self.seen_idle.load(Ordering::Relaxed) {
                waits.until_idle(left(), cancel).await?;
            }
            // The rule's last part, taken as the cancels go out: a name another object
            // declares, or that this batch adds, stays synced. Without a cancel to filter,
            // the declarations (and the run's ledger files) are not read.
            let cancels = decisions
                .iter()
                .any(|d| !d.cancel.is_empty() || d.cancel_all_synced);
            let others = if cancels {
                declared_by.others()
            } else {
                Declared::default()
            };
            let Writes {
                add,
                all_sync,
                cancel: remove,
                kept: keep,
                declared,
            } = writes(&decisions, &others, synced_now.as_ref());
            kept = keep;
            if all_sync || !add.is_empty() {
                let body = UpdateSyncRequest {
                    is_all_sync: all_sync,
                    user_names: add.users.iter().cloned().collect(),
                    group_names: add.groups.iter().cloned().collect(),
                };
                let sent = waits
                    .write_when_idle(Write::Sync(&body), left(), &mut maybe_changed, cancel)
                    .await;
                // A POST cut off in flight by the deadline may have been accepted.
                sync_accepted = sent
                    .as_ref()
                    .map_or_else(ApiError::may_have_landed, |_| true);
                sent?;
                waits.until_synced(left(), &self.seen_idle, cancel).await?;
            }
            for body in cancel_batches(&remove) {
                waits
                    .write_when_idle(Write::Cancel(&body), left(), &mut maybe_changed, cancel)
                    .await?;
                waits.until_synced(left(), &self.seen_idle, cancel).await?;
            }
            // Whatever happened since the plan (a name cancelled by hand, by another run or
            // by another provider process), the cluster must hold every declared name.
            let after = waits.read_for_state().await;
            if let Ok(now) = &after {
                let missing = declared.minus(now);
                if !missing.is_empty() {
                    let body = UpdateSyncRequest {
                        is_all_sync: false,
                        user_names: missing.users.iter().cloned().collect(),
                        group_names: missing.groups.iter().cloned().collect(),
                    };
                    let sent = waits
                        .write_when_idle(Write::Sync(&body), left(), &mut maybe_changed, cancel)
                        .await;
                    sync_accepted |= sent
                        .as_ref()
                        .map_or_else(ApiError::may_have_landed, |_| true);
                    sent?;
                    resynced = missing;
                    waits.until_synced(left(), &self.seen_idle, cancel).await?;
                    synced_after = Some(waits.read_for_state().await);
                } else {
                    synced_after = Some(after);
                }
            } else {
                synced_after = Some(after);
            }
            Ok(())
        }
        .await;
        let synced_after = match synced_after {
            Some(s) => s,
            None => waits.read_for_state().await,
        };
        for (i, q) in batch.into_iter().enumerate() {
            let d = &q.request.decision;
            let result = BatchResult {
                written: written.clone(),
                maybe_changed,
                sync_accepted,
                // A request to cancel everything learns every name kept for others.
                kept_for_others: kept.get(i).cloned().unwrap_or_default(),
                resynced: resynced.intersect(&d.declared),
                synced_after: synced_after.clone(),
            };
            // The asker may be gone (its RPC dropped); its result then has no reader.
            let _ = q.reply.send(result);
        }
    }
}
