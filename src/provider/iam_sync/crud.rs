//! What `mrs_iam_sync` does at each step, in lifecycle order: validate, plan, create,
//! read, update, delete. Every step reads and writes the typed model.

use std::time::{Duration, Instant};

use tokio::sync::OwnedMutexGuard;
use tokio_util::sync::CancellationToken;

use crate::api::{ApiError, Client, ClusterId, ProjectId, UpdateSyncRequest};
use crate::framework::model::{Attr, IntoValue};
use crate::framework::timeouts::{self, human_duration};
use crate::framework::{ApplyOutcome, AttributePath, Diagnostics, ReadOutcome, Value};
use crate::provider::config::ProviderState;
use crate::provider::ids::parse_at;

use super::model::{IamSyncModel, IamSyncPrivate};
use super::names::{cancel_batches, plan_update, Names, UpdatePlan};
use super::schema::{CLUSTER_ID, PROJECT_ID};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// How often the sync status is polled while a sync runs. Short at first, because the
/// simulator and small syncs finish fast, then backing off to spare the API.
const POLL_FIRST: Duration = Duration::from_millis(50);
const POLL_MAX: Duration = Duration::from_secs(2);
/// Bound on the read that records the outcome of an apply. That read ignores StopProvider:
/// after Ctrl-C the state must still say what the cluster holds, and Terraform waits for
/// the apply to return, so it has to be short.
const FINAL_READ_TIMEOUT: Duration = Duration::from_secs(3);

// ---------------------------------------------------------------- validate

/// Checks across attributes, beyond each attribute's own validators.
pub fn validate_config(config: &Value, diags: &mut Diagnostics) {
    let config = match IamSyncModel::read(config) {
        Ok(m) => m,
        Err(d) => return diags.extend(d),
    };
    let (all, users, groups) = (&config.is_all_sync, &config.user_names, &config.group_names);
    if all.is_unknown() || users.is_unknown() || groups.is_unknown() {
        return;
    }
    if !config.all_sync() && users.is_null() && groups.is_null() {
        diags.error(
            "Nothing to synchronize",
            "Set user_names, group_names, or is_all_sync = true.",
        );
    }
}

// ---------------------------------------------------------------- plan

/// A new resource's region and project_id default to the provider's, and its ID follows
/// from them.
pub fn modify_plan(
    shared: &ProviderState,
    prior: &Value,
    config: &Value,
    planned: &mut Value,
    diags: &mut Diagnostics,
) {
    if !prior.is_null() {
        return;
    }
    let (config, mut plan) = match (IamSyncModel::read(config), IamSyncModel::read(planned)) {
        (Ok(c), Ok(p)) => (c, p),
        (c, p) => {
            for d in [c.err(), p.err()].into_iter().flatten() {
                diags.extend(d);
            }
            return;
        }
    };
    let configured = shared.configured().ok();
    if config.region.is_null() {
        plan.region = configured.as_ref().and_then(|c| c.region.clone()).into();
    }
    if config.project_id.is_null() {
        match configured.as_ref().and_then(|c| c.project_id.clone()) {
            Some(p) => plan.project_id = Attr::Known(p),
            None => diags.error_at(
                AttributePath::attr(PROJECT_ID),
                "Missing project ID",
                "Set project_id on this resource or on the provider (or HW_PROJECT_ID).",
            ),
        }
    }
    if let (Some(p), Some(c)) = (plan.project_id.known(), plan.cluster_id.known()) {
        plan.id = Attr::Known(format!("{p}/{c}"));
    }
    *planned = plan.into_value();
}

// ---------------------------------------------------------------- create

pub async fn create(
    shared: &ProviderState,
    planned: &Value,
    private: &mut Vec<u8>,
) -> ApplyOutcome {
    let planned = match IamSyncModel::read(planned) {
        Ok(m) => m,
        Err(diags) => {
            return ApplyOutcome {
                state: Value::Null,
                diags,
            }
        }
    };
    let timeout = timeouts::create_or(&planned.timeouts, DEFAULT_TIMEOUT);
    let (out, pending) = converge(
        shared,
        &planned,
        &Names::default(),
        None,
        timeout,
        "sync IAM names",
    )
    .await;
    *private = IamSyncPrivate {
        pending,
        ..IamSyncPrivate::default()
    }
    .encode();
    out
}

// ---------------------------------------------------------------- read

/// Names pending from a wait that ran out stay in the state while the cluster still
/// synchronizes (a refresh does not wait: a plan must stay quick); once it is idle, the
/// state keeps those that synced and they are no longer pending.
pub async fn read(shared: &ProviderState, state: &Value, private: &mut Vec<u8>) -> ReadOutcome {
    let mut out = ReadOutcome {
        state: state.clone(),
        diags: Diagnostics::new(),
    };
    let state = match IamSyncModel::read(state) {
        Ok(m) => m,
        Err(d) => {
            out.diags = d;
            return out;
        }
    };
    // Bytes this provider did not write are left as they are: a refresh has no names to
    // release or cancel, so only the plan and the apply need to understand them.
    let mut record = IamSyncPrivate::decode(private).unwrap_or_default();
    let cluster = match Cluster::of(shared, &state) {
        Ok(Some(c)) => c,
        Ok(None) => return out,
        Err(d) => {
            out.diags = d;
            return out;
        }
    };
    let mut still_pending = Names::default();
    if !record.pending.is_empty() {
        let t = &cluster.target;
        match cluster
            .client
            .sync_status(&t.project_id, &t.cluster_id, cluster.cancel)
            .await
        {
            Ok(false) => {}
            Ok(true) => {
                out.diags.warning(
                    format!("Names still pending on MRS cluster {:?}", t.cluster_id.as_str()),
                    format!(
                        "{} were sent to be synced and the cluster is still synchronizing. The state keeps them, so the next apply waits for the sync and destroy cancels them.",
                        record.pending.describe()
                    ),
                );
                still_pending = record.pending.clone();
            }
            Err(e) => {
                api_diag(&mut out.diags, "read the sync status", t, &e);
                return out;
            }
        }
    }
    match cluster.remote().await {
        Ok(remote) => {
            out.state = state
                .retain_synced(&remote.union(&still_pending))
                .into_value();
            if record.pending != still_pending {
                record.pending = still_pending;
                *private = record.encode();
            }
        }
        Err(ApiError::ClusterNotFound { .. }) => out.state = Value::Null,
        Err(e) => api_diag(&mut out.diags, "read the synced names", &cluster.target, &e),
    }
    out
}

// ---------------------------------------------------------------- update

/// `private` holds the plan's record: names it released are dropped without a DELETE.
pub async fn update(
    shared: &ProviderState,
    prior_value: &Value,
    planned_value: &Value,
    private: &mut Vec<u8>,
) -> ApplyOutcome {
    let (prior, planned, record) = match (
        IamSyncModel::read(prior_value),
        IamSyncModel::read(planned_value),
        IamSyncPrivate::decode(private),
    ) {
        (Ok(prior), Ok(planned), Ok(record)) => (prior, planned, record),
        (a, b, c) => {
            let mut diags = Diagnostics::new();
            for d in [a.err(), b.err(), c.err()].into_iter().flatten() {
                diags.extend(d);
            }
            return ApplyOutcome {
                state: prior_value.clone(),
                diags,
            };
        }
    };
    if planned.all_sync() && prior.all_sync() {
        // Only timeouts can change: nothing to send.
        return ApplyOutcome {
            state: planned_value.clone(),
            diags: Diagnostics::new(),
        };
    }
    // Turning is_all_sync on manages every synced name, so no listed name is cancelled.
    let prior_managed = if planned.all_sync() {
        Names::default()
    } else {
        prior.names().minus(&record.released)
    };
    let prior_kept = prior.clone().with_names(&prior_managed);
    let timeout = timeouts::update_or(&planned.timeouts, DEFAULT_TIMEOUT);
    let (out, pending) = converge(
        shared,
        &planned,
        &prior_managed,
        Some(&prior_kept),
        timeout,
        "update IAM names",
    )
    .await;
    // Whatever was adopted is now declared by the configuration, or was released.
    *private = IamSyncPrivate {
        pending,
        ..IamSyncPrivate::default()
    }
    .encode();
    out
}

// ---------------------------------------------------------------- delete

/// Cancels, then reads the cluster again: names it still lists keep the resource, since
/// an accepted DELETE is not proof that they went.
pub async fn delete(shared: &ProviderState, prior_value: &Value, private: &[u8]) -> ApplyOutcome {
    let mut out = ApplyOutcome {
        state: prior_value.clone(),
        diags: Diagnostics::new(),
    };
    let (prior, record) = match (
        IamSyncModel::read(prior_value),
        IamSyncPrivate::decode(private),
    ) {
        (Ok(m), Ok(p)) => (m, p),
        (a, b) => {
            for d in [a.err(), b.err()].into_iter().flatten() {
                out.diags.extend(d);
            }
            return out;
        }
    };
    let cluster = match Cluster::of(shared, &prior) {
        Ok(Some(c)) => c,
        Ok(None) => {
            out.state = Value::Null;
            return out;
        }
        Err(d) => {
            out.diags = d;
            return out;
        }
    };
    let timeout = timeouts::delete_or(&prior.timeouts, DEFAULT_TIMEOUT);
    let deadline = Instant::now() + timeout;
    let all_sync = prior.all_sync();
    let managed = prior.names();
    let _guard = cluster.lock().await;
    let result = async {
        cluster.wait_idle(deadline).await?;
        let remote = cluster.remote().await?;
        let remove = if all_sync {
            remote
        } else {
            managed.intersect(&remote)
        };
        let plan = UpdatePlan {
            add: Names::default(),
            remove,
        };
        let (mut wrote, mut posted) = (false, None);
        cluster
            .send(&plan, false, deadline, &mut wrote, &mut posted)
            .await?;
        if !wrote {
            return Ok(Names::default());
        }
        cluster
            .remote()
            .await
            .map(|after| plan.remove.intersect(&after))
    }
    .await
    .map_err(|e| configured_timeout(e, &cluster.target, timeout));
    match result {
        Ok(lingering) if !lingering.is_empty() => {
            let t = &cluster.target;
            out.diags.error(
                format!("Some names are still synced to MRS cluster {:?}", t.cluster_id.as_str()),
                format!(
                    "MRS accepted the cancellation but still lists {}. The resource stays in the state with exactly these names, so the next destroy tries again.",
                    lingering.describe()
                ),
            );
            if !all_sync {
                out.state = prior.with_names(&lingering).into_value();
            }
        }
        Ok(_) | Err(ApiError::ClusterNotFound { .. }) => out.state = Value::Null,
        Err(e) => {
            api_diag(&mut out.diags, "cancel the IAM sync", &cluster.target, &e);
            // Keep in state whatever is still synced or may still sync, so nothing is lost.
            if let Ok(remote) = cluster.remote_for_state().await {
                if !all_sync {
                    let kept = remote.union(&record.pending);
                    out.state = prior.retain_synced(&kept).into_value();
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------- shared by the steps

/// Brings the cluster to the names `planned` lists from `prior_managed`, and returns the
/// state that is then true remotely, with diagnostics for what failed, and the names sent
/// whose sync had not ended when the apply gave up (the state lists them too).
async fn converge(
    shared: &ProviderState,
    planned: &IamSyncModel,
    prior_managed: &Names,
    prior: Option<&IamSyncModel>,
    timeout: Duration,
    action: &str,
) -> (ApplyOutcome, Names) {
    let mut out = ApplyOutcome {
        state: prior.map_or(Value::Null, |p| p.clone().into_value()),
        diags: Diagnostics::new(),
    };
    let cluster = match Cluster::of(shared, planned) {
        Ok(Some(c)) => c,
        Ok(None) => {
            out.diags.error(
                "Unknown project or cluster",
                "project_id and cluster_id must be known when applying. Set project_id on the resource or the provider (HW_PROJECT_ID).",
            );
            return (out, Names::default());
        }
        Err(d) => {
            out.diags = d;
            return (out, Names::default());
        }
    };
    let t = &cluster.target;
    let deadline = Instant::now() + timeout;
    let desired = planned.names();
    let all_sync = planned.all_sync();
    let _guard = cluster.lock().await;

    let (mut wrote, mut posted) = (false, None);
    let sent = async {
        cluster.wait_idle(deadline).await?;
        let remote = cluster.remote().await?;
        let plan = plan_update(prior_managed, &desired, &remote);
        cluster
            .send(&plan, all_sync, deadline, &mut wrote, &mut posted)
            .await
    }
    .await
    .map_err(|e| configured_timeout(e, t, timeout));
    // Names of an accepted POST that the cluster does not list yet: the sync goes on in
    // the cluster after the apply gives up, so they are recorded rather than forgotten.
    let pending_of = |remote: &Names| match (&sent, &posted) {
        (Err(ApiError::Timeout { .. }), Some(add)) => add.minus(remote),
        _ => Names::default(),
    };
    let report = |diags: &mut Diagnostics, pending: &Names| {
        if let Err(e) = &sent {
            if pending.is_empty() {
                api_diag(diags, action, t, e);
            } else {
                let goes_on = format!(
                    "MRS accepted the request, and the sync of {} goes on in the cluster after this apply. The state records them as pending: the next apply waits for their sync to end, and destroy cancels them.",
                    pending.describe()
                );
                api_diag_with(diags, action, t, e, &goes_on);
            }
        }
    };

    // Record what is true now. If the cluster cannot be read, assume every name sent
    // may have been added and nothing cancelled: a name wrongly kept in state is
    // dropped by the next refresh, whereas a name wrongly dropped would stay synced
    // and unmanaged.
    let remote = match cluster.remote_for_state().await {
        Ok(r) => r,
        Err(e) => {
            let pending = pending_of(&Names::default());
            report(&mut out.diags, &pending);
            if sent.is_ok() {
                api_diag(&mut out.diags, "read the synced names", t, &e);
            }
            let maybe = if wrote {
                desired.union(prior_managed)
            } else {
                prior_managed.clone()
            };
            if prior.is_none() && maybe.is_empty() {
                return (out, pending);
            }
            out.state = planned.clone().with_names(&maybe).into_value();
            return (out, pending);
        }
    };
    let pending = pending_of(&remote);
    report(&mut out.diags, &pending);
    // Names cancelled unsuccessfully are still synced and still ours, so they stay.
    let keep = desired
        .union(prior_managed)
        .intersect(&remote)
        .union(&pending);
    let mut state = planned.clone().with_names(&keep);
    state.id = Attr::Known(format!("{}/{}", t.project_id, t.cluster_id));
    if sent.is_ok() {
        let missing = desired.minus(&remote);
        if !missing.is_empty() {
            out.diags.error(
                format!("Some names did not sync to MRS cluster {:?}", t.cluster_id.as_str()),
                format!(
                    "MRS accepted the request but did not synchronize {}. Check that they exist in IAM in this account. The state records only the names that are synced.",
                    missing.describe()
                ),
            );
        }
        let lingering = prior_managed.minus(&desired).intersect(&remote);
        if !lingering.is_empty() {
            out.diags.error(
                format!("Some names are still synced to MRS cluster {:?}", t.cluster_id.as_str()),
                format!(
                    "MRS accepted the cancellation but still lists {}. They stay in the state, so the next apply tries again.",
                    lingering.describe()
                ),
            );
        }
    }
    if out.diags.has_errors() && prior.is_none() && keep.is_empty() && !all_sync {
        // A failed create that left nothing synced leaves nothing to record.
        out.state = Value::Null;
        return (out, pending);
    }
    // A full sync whose POST was accepted goes on: destroy must be able to cancel it.
    if all_sync && sent.is_err() && prior.is_none() && posted.is_none() {
        out.state = Value::Null;
        return (out, pending);
    }
    out.state = state.into_value();
    (out, pending)
}

/// Where a resource lives.
pub struct Target {
    pub region: Option<String>,
    pub project_id: ProjectId,
    pub cluster_id: ClusterId,
}

impl Target {
    /// None while project or cluster is not known; an error for an ID that breaks its
    /// rule, which only a state written by something else can hold.
    fn of(m: &IamSyncModel) -> Result<Option<Target>, Diagnostics> {
        let (Some(p), Some(c)) = (m.project_id.known(), m.cluster_id.known()) else {
            return Ok(None);
        };
        Ok(Some(Target {
            region: m.region.known().cloned(),
            project_id: parse_at(p, PROJECT_ID, ProjectId::parse)?,
            cluster_id: parse_at(c, CLUSTER_ID, ClusterId::parse)?,
        }))
    }
}

/// One cluster as the steps talk to it: its API client, and the token StopProvider cancels.
pub struct Cluster<'a> {
    pub client: Client,
    pub target: Target,
    cancel: &'a CancellationToken,
}

impl<'a> Cluster<'a> {
    fn of(shared: &'a ProviderState, m: &IamSyncModel) -> Result<Option<Cluster<'a>>, Diagnostics> {
        match Target::of(m)? {
            Some(t) => Cluster::at(shared, t).map(Some),
            None => Ok(None),
        }
    }

    pub fn at(shared: &'a ProviderState, target: Target) -> Result<Cluster<'a>, Diagnostics> {
        let client = shared.configured()?.client(target.region.as_deref())?;
        Ok(Cluster {
            client,
            target,
            cancel: &shared.cancel,
        })
    }

    async fn lock(&self) -> OwnedMutexGuard<()> {
        self.client
            .lock_cluster(&self.target.project_id, &self.target.cluster_id)
            .await
    }

    /// Waits until the cluster reports no sync running, polling with backoff.
    async fn wait_idle(&self, deadline: Instant) -> Result<(), ApiError> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        self.client
            .wait_until_idle(
                &self.target.project_id,
                &self.target.cluster_id,
                POLL_FIRST,
                POLL_MAX,
                remaining,
                self.cancel,
            )
            .await
    }

    pub async fn remote(&self) -> Result<Names, ApiError> {
        self.client
            .show_sync(
                &self.target.project_id,
                &self.target.cluster_id,
                self.cancel,
            )
            .await
            .map(Names::from_remote)
    }

    /// The names synced now, for recording an apply's outcome: not cancelled by
    /// StopProvider, but bounded by FINAL_READ_TIMEOUT.
    async fn remote_for_state(&self) -> Result<Names, ApiError> {
        let uncancelled = CancellationToken::new();
        let read = self.client.show_sync(
            &self.target.project_id,
            &self.target.cluster_id,
            &uncancelled,
        );
        match tokio::time::timeout(FINAL_READ_TIMEOUT, read).await {
            Ok(r) => r.map(Names::from_remote),
            Err(_) => Err(ApiError::Timeout {
                message: format!(
                    "reading the synced names of cluster {} took over {}",
                    self.target.cluster_id,
                    human_duration(FINAL_READ_TIMEOUT)
                ),
            }),
        }
    }

    /// Sends the calls of `plan` and waits for the last sync to end. The caller has just
    /// seen the cluster idle while holding its lock, so only later calls wait first.
    /// Sets `wrote` once a POST or DELETE has gone out, whatever its answer: from then on
    /// the cluster may have changed even if the call seemed to fail. Sets `posted` to the
    /// names of a POST MRS accepted: their sync runs on even if the wait for it ends.
    async fn send(
        &self,
        plan: &UpdatePlan,
        all_sync: bool,
        deadline: Instant,
        wrote: &mut bool,
        posted: &mut Option<Names>,
    ) -> Result<(), ApiError> {
        let (p, c) = (&self.target.project_id, &self.target.cluster_id);
        if all_sync || !plan.add.is_empty() {
            let body = UpdateSyncRequest {
                is_all_sync: all_sync,
                user_names: plan.add.users.iter().cloned().collect(),
                group_names: plan.add.groups.iter().cloned().collect(),
            };
            *wrote = true;
            self.client.update_sync(p, c, &body, self.cancel).await?;
            *posted = Some(plan.add.clone());
        }
        for batch in cancel_batches(&plan.remove) {
            if *wrote {
                self.wait_idle(deadline).await?;
            }
            *wrote = true;
            self.client.cancel_sync(p, c, &batch, self.cancel).await?;
        }
        if *wrote {
            self.wait_idle(deadline).await?;
        }
        Ok(())
    }
}

pub fn api_diag(d: &mut Diagnostics, action: &str, t: &Target, e: &ApiError) {
    api_diag_with(d, action, t, e, "")
}

/// `api_diag` with `more` said before the advice.
fn api_diag_with(d: &mut Diagnostics, action: &str, t: &Target, e: &ApiError, more: &str) {
    let advice = match e {
        ApiError::ClusterNotFound { .. } => "Check cluster_id and project_id, and that the cluster still exists.",
        ApiError::Timeout { .. } => "The sync may still be running: run terraform apply again later, or raise the timeouts.",
        ApiError::Cancelled => "Terraform was interrupted; the state records what is known to be true.",
        ApiError::Transport { .. } => "Nothing answered, so there is no request ID: check `region`, `cloud` and `endpoints`, and that this machine can reach the endpoint, then run terraform apply again.",
        ApiError::Credentials { .. } => "Check the credential source named above; the provider renews temporary keys before they expire.",
        _ if e.is_auth() => "Check access_key, secret_key and security_token, and that they may use MRS in this project.",
        _ => "Run terraform apply again; if it keeps failing, give the request ID to Huawei Cloud support.",
    };
    let more = if more.is_empty() {
        String::new()
    } else {
        format!("{more}\n\n")
    };
    d.error(
        format!("Cannot {action} on MRS cluster {:?}", t.cluster_id.as_str()),
        format!("{e}\n\n{more}{advice}"),
    );
}

/// The client reports the time left of a wait, which after earlier waits is less than the
/// configured timeout; a person needs the configured one to know what to raise.
fn configured_timeout(e: ApiError, t: &Target, timeout: Duration) -> ApiError {
    match e {
        ApiError::Timeout { .. } => ApiError::Timeout {
            message: format!(
                "cluster {} was still synchronizing when the {} timeout ran out",
                t.cluster_id,
                human_duration(timeout)
            ),
        },
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_errors_name_the_configured_timeout() {
        let (Ok(project_id), Ok(cluster_id)) = (ProjectId::parse("p1"), ClusterId::parse("c1"))
        else {
            unreachable!("valid IDs")
        };
        let t = Target {
            region: None,
            project_id,
            cluster_id,
        };
        // The client reports the time left (here 1s of a 2s timeout): say 2s.
        let left = ApiError::Timeout {
            message: "cluster c1 was still synchronizing after 1s".into(),
        };
        let e = configured_timeout(left, &t, Duration::from_secs(2));
        assert_eq!(
            e.to_string(),
            "timed out: cluster c1 was still synchronizing when the 2s timeout ran out"
        );
        assert_eq!(
            configured_timeout(ApiError::Cancelled, &t, Duration::from_secs(2)),
            ApiError::Cancelled
        );
    }
}
