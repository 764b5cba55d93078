//! What `mrs_iam_sync` does at each step, in lifecycle order: validate, plan, create,
//! read, update, delete. Every step reads and writes the typed model.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::api::{ApiError, ClusterId, ProjectId};
use crate::framework::model::{Attr, IntoValue, Set};
use crate::framework::timeouts::{self, human_duration};
use crate::framework::{ApplyOutcome, AttributePath, Diagnostics, ReadOutcome, Value};
use crate::provider::config::ProviderState;
use crate::provider::desk::{Desk, Outcome, Request};
use crate::provider::ids::parse_at;

use super::model::{IamSyncModel, IamSyncPrivate};
use super::names::Names;
use super::schema::{CLUSTER_ID, GROUP_NAMES, PROJECT_ID, USER_NAMES};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

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
    // `[]` and an absent argument mean the same: no names.
    let none = |names: &Attr<Set<String>>| {
        names.is_null() || names.known().is_some_and(|set| set.0.is_empty())
    };
    if !config.all_sync() && none(users) && none(groups) {
        diags.error(
            "Nothing to synchronize",
            "Set user_names, group_names, or is_all_sync = true.",
        );
    }
}

// ---------------------------------------------------------------- plan

/// A new resource's region defaults to the provider's, its project_id to the project of
/// its region (the provider's in the provider's region, else looked up in IAM once per
/// region per process), and its ID follows from them. Every planned resource declares its
/// names on its cluster's desk, which then never cancels them on another's behalf and
/// warns of names two resources declare.
pub async fn modify_plan(
    shared: &ProviderState,
    prior: &Value,
    config: &Value,
    planned: &mut Value,
    diags: &mut Diagnostics,
) {
    if !prior.is_null() {
        declare(shared, planned, diags);
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
        // A region known only at apply leaves the project unknown until then.
        if let (Some(c), false) = (&configured, plan.region.is_unknown()) {
            match c.project_at(plan.region.known(), &shared.cancel).await {
                Ok(p) => plan.project_id = Attr::Known(p.to_string()),
                Err(d) => diags.extend(d),
            }
        }
    }
    if let (Some(p), Some(c)) = (plan.project_id.known(), plan.cluster_id.known()) {
        plan.id = Attr::Known(format!("{p}/{c}"));
    }
    *planned = plan.into_value();
    declare(shared, planned, diags);
}

/// Declares a plan's names on its cluster's desk, with a warning on each kind of name
/// that another resource planned in this process declares too.
fn declare(shared: &ProviderState, planned: &Value, diags: &mut Diagnostics) {
    let Ok(plan) = IamSyncModel::read(planned) else {
        return;
    };
    if planned.is_null() || plan.all_sync() {
        return;
    }
    // A plan whose cluster is not yet known declares its names when it is applied.
    let Ok(Some(cluster)) = Cluster::of(shared, &plan) else {
        return;
    };
    let overlap = cluster.desk.declare(&plan.names());
    let users = Names {
        users: overlap.users,
        ..Names::default()
    };
    let groups = Names {
        groups: overlap.groups,
        ..Names::default()
    };
    for (attr, list) in [(USER_NAMES, users), (GROUP_NAMES, groups)] {
        if list.is_empty() {
            continue;
        }
        diags.warning_at(
            AttributePath::attr(attr),
            format!(
                "Names declared by more than one mrs_iam_sync on MRS cluster {:?}",
                cluster.target.cluster_id.as_str()
            ),
            format!(
                "Another mrs_iam_sync resource in this configuration also declares {}. A name belongs to one resource per cluster: while both declare it, neither cancels it, but once one stops declaring it in a later run, that run cancels the name the other still declares. Keep each name in one resource.",
                list.describe()
            ),
        );
    }
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
        match cluster.synchronizing().await {
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
    let all_sync = prior.all_sync();
    // A state created here (only an RPC client, not Terraform, destroys it in the same
    // process) was declared by its own plan: that declaration must not keep its names.
    let own = if cluster.desk.take_produced(&fingerprint(&prior)) {
        prior.names()
    } else {
        Names::default()
    };
    let request = Request {
        remove: prior.names(),
        remove_all_synced: all_sync,
        own,
        timeout,
        ..Request::default()
    };
    let outcome = cluster.desk.submit(request, cluster.cancel).await;
    let sent = outcome
        .sent
        .map_err(|e| configured_timeout(e, &cluster.target, timeout));
    // An accepted DELETE is not proof: what the cluster lists after the batch decides.
    // Names kept because another resource declares them are not this destroy's to cancel.
    let result = match (sent, &outcome.remote) {
        (Ok(()), Ok(after)) => {
            let asked = if all_sync {
                after.clone()
            } else {
                prior.names()
            };
            Ok(asked.minus(&outcome.kept).intersect(after))
        }
        (Ok(()), Err(e)) => Err(e.clone()),
        (Err(e), _) => Err(e),
    };
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
            if let Ok(remote) = &outcome.remote {
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
                "project_id and cluster_id must be known when applying (Terraform plans again at apply, when the region is known, and the project is found then). Set project_id on the resource or the provider (HW_PROJECT_ID).",
            );
            return (out, Names::default());
        }
        Err(d) => {
            out.diags = d;
            return (out, Names::default());
        }
    };
    let t = &cluster.target;
    let desired = planned.names();
    let all_sync = planned.all_sync();
    // Declared again here: the plan may not have known the names or the cluster.
    cluster.desk.declare_undeclared(&desired);
    let add = desired.minus(prior_managed);
    let request = Request {
        add: add.clone(),
        all_sync,
        remove: prior_managed.minus(&desired),
        remove_all_synced: false,
        own: Names::default(),
        timeout,
    };
    let Outcome {
        sent,
        wrote,
        posted,
        kept,
        remote,
    } = cluster.desk.submit(request, cluster.cancel).await;
    let sent = sent.map_err(|e| configured_timeout(e, t, timeout));
    // A name whose cancel was dropped belongs to the resource that declares it now.
    let prior_managed = &prior_managed.minus(&kept);
    // Names of an accepted POST that the cluster does not list yet: the sync goes on in
    // the cluster after the apply gives up, so they are recorded rather than forgotten.
    let pending_of = |remote: &Names| match &sent {
        Err(ApiError::Timeout { .. }) if posted => add.minus(remote),
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
    let remote = match remote {
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
    if all_sync && sent.is_err() && prior.is_none() && !posted {
        out.state = Value::Null;
        return (out, pending);
    }
    cluster.desk.produced(fingerprint(&state));
    out.state = state.into_value();
    (out, pending)
}

/// Identifies a state by everything it records, to tell a destroy of a state created in
/// this process from one of a state that an earlier run created.
fn fingerprint(m: &IamSyncModel) -> String {
    format!(
        "{:?} {:?} {:?} {} {:?}",
        m.region.known(),
        m.project_id.known(),
        m.cluster_id.known(),
        m.all_sync(),
        m.names()
    )
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

/// One cluster as the steps talk to it: its desk, and the token StopProvider cancels.
pub struct Cluster<'a> {
    pub desk: Arc<Desk>,
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
        let desk = shared
            .desks
            .desk(&client, &target.project_id, &target.cluster_id);
        Ok(Cluster {
            desk,
            target,
            cancel: &shared.cancel,
        })
    }

    pub async fn remote(&self) -> Result<Names, ApiError> {
        self.desk.read(self.cancel).await
    }

    /// Whether a sync runs on the cluster now, without waiting for it to end.
    pub async fn synchronizing(&self) -> Result<bool, ApiError> {
        self.desk.synchronizing(self.cancel).await
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
