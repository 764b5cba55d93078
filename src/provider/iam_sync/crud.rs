//! `mrs_iam_sync` as one `TypedResource`, and what it does at each step, in lifecycle
//! order: validate, plan, create, read, update, delete (import: import.rs). Every step gets
//! the typed model and private record, read by the framework, and answers a model.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::api::ApiError;
use crate::framework::model::{Attr, Set};
use crate::framework::timeouts;
use crate::framework::{
    AttributePath, Diagnostics, PlanChange, Schema, StateOutcome, TypedResource,
};
use crate::provider::cluster_sync::{Change, ClusterSync, Names, Reconciled, Record, Removal};
use crate::provider::clusters::{api_error, Clusters};

use super::model::{IamSyncModel, IamSyncPrivate};
use super::schema::{schema, GROUP_NAMES, USER_NAMES};
use super::{import, TYPE_NAME};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

pub struct IamSync {
    clusters: Arc<Clusters>,
    schema: Schema,
}

impl IamSync {
    pub fn new(clusters: Arc<Clusters>) -> Self {
        IamSync {
            clusters,
            schema: schema(),
        }
    }
}

/// Each step is the function of its name below, given the provider's clusters.
#[async_trait]
impl TypedResource for IamSync {
    type Model = IamSyncModel;
    type Private = IamSyncPrivate;

    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate_config(&self, config: &IamSyncModel, diags: &mut Diagnostics) {
        validate_config(config, diags)
    }

    async fn modify_plan(
        &self,
        change: PlanChange<'_, IamSyncModel, IamSyncPrivate>,
        diags: &mut Diagnostics,
    ) {
        match change {
            PlanChange::Create { config, planned } => {
                plan_create(&self.clusters, config, planned, diags).await
            }
            PlanChange::Update {
                prior,
                planned,
                private,
                ..
            } => {
                plan_update(&self.clusters, planned, diags);
                // The apply must know which removed names are released.
                *private = import::plan_release(prior, planned, private, diags);
            }
            PlanChange::Destroy { .. } => {}
        }
    }

    /// Terraform validates the configuration again, with its final values, when it plans
    /// the change at apply time, so the plan is all this needs.
    async fn create(
        &self,
        planned: IamSyncModel,
        _config: IamSyncModel,
        private: &mut IamSyncPrivate,
    ) -> StateOutcome<IamSyncModel> {
        create(&self.clusters, planned, private).await
    }

    async fn read(
        &self,
        state: IamSyncModel,
        private: &mut IamSyncPrivate,
    ) -> StateOutcome<IamSyncModel> {
        read(&self.clusters, state, private).await
    }

    async fn update(
        &self,
        prior: IamSyncModel,
        planned: IamSyncModel,
        _config: IamSyncModel,
        private: &mut IamSyncPrivate,
    ) -> StateOutcome<IamSyncModel> {
        update(&self.clusters, prior, planned, private).await
    }

    /// Pending names are in the prior state, so the delete cancels them like the rest.
    async fn delete(
        &self,
        prior: IamSyncModel,
        private: &mut IamSyncPrivate,
    ) -> StateOutcome<IamSyncModel> {
        delete(&self.clusters, prior, private).await
    }

    async fn import(&self, id: &str) -> Result<(IamSyncModel, IamSyncPrivate), Diagnostics> {
        import::import(&self.clusters, id).await
    }
}

// ---------------------------------------------------------------- validate

/// Checks across attributes, beyond each attribute's own validators.
pub fn validate_config(config: &IamSyncModel, diags: &mut Diagnostics) {
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
/// names on its cluster, which then never cancels them on another's behalf, with a warning
/// for names two resources declare.
pub async fn plan_create(
    clusters: &Clusters,
    config: &IamSyncModel,
    planned: &mut IamSyncModel,
    diags: &mut Diagnostics,
) {
    let mut plan = std::mem::take(planned);
    match clusters.locate(&config.region, &config.project_id).await {
        Ok((region, project_id)) => {
            plan.region = region;
            plan.project_id = project_id;
        }
        Err(d) => diags.extend(d),
    }
    *planned = plan;
    declare(clusters, planned, diags);
}

/// An update plan declares its names (the hand-over of adopted names is
/// `import::plan_release`).
pub fn plan_update(clusters: &Clusters, planned: &IamSyncModel, diags: &mut Diagnostics) {
    declare(clusters, planned, diags);
}

/// Declares a plan's names on its cluster (every name, for an all-sync plan), with a
/// warning on each kind of name that another resource planned in this process declares too.
fn declare(clusters: &Clusters, plan: &IamSyncModel, diags: &mut Diagnostics) {
    // A plan whose cluster is not yet known declares its names when it is applied.
    let Ok(Some(cluster)) = planned_cluster(clusters, plan) else {
        return;
    };
    let overlap = match cluster.declare_planned(&plan.names(), plan.all_sync()) {
        Ok(overlap) => overlap,
        Err(d) => return diags.extend(d),
    };
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
                cluster.address().cluster_id.as_str()
            ),
            format!(
                "Another mrs_iam_sync resource in this configuration also declares {}. A name belongs to one resource per cluster: while either declares it, neither cancels it. Keep each name in one resource, so that removing it from the configuration cancels it.",
                list.describe()
            ),
        );
    }
}

// ---------------------------------------------------------------- create

/// A new object: what it syncs it owns.
pub async fn create(
    clusters: &Clusters,
    planned: IamSyncModel,
    private: &mut IamSyncPrivate,
) -> StateOutcome<IamSyncModel> {
    let timeout = timeouts::create_or(&planned.timeouts, DEFAULT_TIMEOUT);
    let (out, record) = converge(clusters, &planned, None, timeout).await;
    *private = IamSyncPrivate {
        pending: record.map(|r| r.pending).unwrap_or_default(),
        ..IamSyncPrivate::default()
    };
    out
}

// ---------------------------------------------------------------- read

/// Names pending from a wait that ran out stay in the state while the cluster still
/// synchronizes (a refresh does not wait: a plan must stay quick); once it is idle, the
/// state keeps those that synced and they are no longer pending.
///
/// Adopted names the cluster no longer holds leave the record with the state's.
pub async fn read(
    clusters: &Clusters,
    state: IamSyncModel,
    record: &mut IamSyncPrivate,
) -> StateOutcome<IamSyncModel> {
    let mut out = StateOutcome::new(Some(state.clone()));
    let Some(cluster) = out.or_keep(recorded_cluster(clusters, &state)) else {
        return out;
    };
    let mut still_pending = Names::default();
    if !record.pending.is_empty() {
        let a = cluster.address();
        match cluster.synchronizing().await {
            Ok(false) => {}
            Ok(true) => {
                out.diags.warning(
                    format!("Names still pending on MRS cluster {:?}", a.cluster_id.as_str()),
                    format!(
                        "{} were sent to be synced and the cluster is still synchronizing. The state keeps them: a refresh after the sync has ended keeps those that synced, and destroy cancels them.",
                        record.pending.describe()
                    ),
                );
                still_pending = record.pending.clone();
            }
            Err(e) => {
                api_error(&mut out.diags, "read the sync status", a, &e);
                return out;
            }
        }
    }
    match cluster.synced().await {
        Ok(synced) => {
            out.state = Some(state.retain_synced(&synced.union(&still_pending)));
            record.adopted = record.adopted.intersect(&synced);
            record.pending = still_pending;
        }
        Err(ApiError::ClusterNotFound { .. }) => out.state = None,
        Err(e) => api_error(
            &mut out.diags,
            "read the synced names",
            cluster.address(),
            &e,
        ),
    }
    out
}

// ---------------------------------------------------------------- update

/// `private` holds the plan's record: the adopted names it hands over or releases.
pub async fn update(
    clusters: &Clusters,
    prior: IamSyncModel,
    planned: IamSyncModel,
    private: &mut IamSyncPrivate,
) -> StateOutcome<IamSyncModel> {
    let mut record = prior.record(private);
    let resync = prior.resync_triggers != planned.resync_triggers;
    if planned.all_sync() && prior.all_sync() && !resync {
        // Only timeouts can change: nothing to send.
        *private = IamSyncPrivate {
            pending: record.pending,
            ..IamSyncPrivate::default()
        };
        return StateOutcome::new(Some(planned));
    }
    if resync {
        // New triggers send every declared name again: names the record holds are not.
        record.held = record.held.minus(&planned.names());
    }
    let timeout = timeouts::update_or(&planned.timeouts, DEFAULT_TIMEOUT);
    let (out, after) = converge(clusters, &planned, Some(&record), timeout).await;
    *private = IamSyncPrivate {
        pending: after
            .as_ref()
            .map(|r| r.pending.clone())
            .unwrap_or_default(),
        ..IamSyncPrivate::default()
    };
    if out.state.is_none() {
        // The step failed before it knew anything new: the prior names stand.
        *private = IamSyncPrivate {
            adopted: record.adopted,
            pending: record.pending,
            ..IamSyncPrivate::default()
        };
        return StateOutcome {
            state: Some(prior),
            ..out
        };
    }
    out
}

// ---------------------------------------------------------------- delete

/// Cancels the names the object owns, unless another object of this run declares them;
/// names the cluster still lists afterwards keep the resource in the state.
pub async fn delete(
    clusters: &Clusters,
    prior: IamSyncModel,
    private: &mut IamSyncPrivate,
) -> StateOutcome<IamSyncModel> {
    let mut out = StateOutcome::new(Some(prior.clone()));
    let Some(cluster) = out.or_keep(recorded_cluster(clusters, &prior)) else {
        return out;
    };
    let removal = Removal {
        prior: prior.record(private),
        timeout: timeouts::delete_or(&prior.timeouts, DEFAULT_TIMEOUT),
    };
    let Reconciled {
        record: remaining,
        diagnostics,
    } = cluster.remove(removal).await;
    out.diags = diagnostics;
    *private = IamSyncPrivate::default();
    out.state = match remaining {
        None => None,
        // A full sync stays in the state as it was: the next destroy cancels everything.
        Some(_) if prior.all_sync() => Some(prior),
        Some(r) => Some(prior.with_names(&r.held)),
    };
    out
}

// ---------------------------------------------------------------- shared by the steps

/// Brings the cluster to the names `planned` lists from the object's `prior` record (None:
/// a create), and returns the state then true remotely, with diagnostics for what failed,
/// and the object's record (pending names included; the state lists them too).
async fn converge(
    clusters: &Clusters,
    planned: &IamSyncModel,
    prior: Option<&Record>,
    timeout: Duration,
) -> (StateOutcome<IamSyncModel>, Option<Record>) {
    let mut out = StateOutcome::new(None);
    let applied = clusters.applied(&planned.region, &planned.project_id, &planned.cluster_id);
    let Some(cluster) = out.or_keep(applied).map(ClusterSync::on) else {
        return (out, None);
    };
    let change = Change {
        prior: prior.cloned(),
        desired: planned.names(),
        all_sync: planned.all_sync(),
        timeout,
    };
    let Reconciled {
        record,
        diagnostics,
    } = cluster.apply(change).await;
    out.diags = diagnostics;
    if let Some(r) = &record {
        let mut state = planned.clone().with_names(&r.held);
        if planned.all_sync() && !r.all_sync {
            // MRS refused the full sync: the state says so, and the next plan asks again.
            state.is_all_sync = Attr::Known(false);
        }
        out.state = Some(state);
    }
    (out, record)
}

/// The cluster a plan names; None while its project or cluster is not yet known.
fn planned_cluster<'a>(
    clusters: &'a Clusters,
    m: &IamSyncModel,
) -> Result<Option<ClusterSync<'a>>, Diagnostics> {
    let cluster = clusters.planned(&m.region, &m.project_id, &m.cluster_id)?;
    Ok(cluster.map(ClusterSync::on))
}

/// The cluster a state records; a state that does not say is an error.
fn recorded_cluster<'a>(
    clusters: &'a Clusters,
    m: &IamSyncModel,
) -> Result<ClusterSync<'a>, Diagnostics> {
    let cluster = clusters.recorded(&m.region, &m.project_id, &m.cluster_id)?;
    Ok(ClusterSync::on(cluster))
}
