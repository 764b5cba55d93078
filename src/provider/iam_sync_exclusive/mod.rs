//! Resource `mrs_iam_sync_exclusive`: the cluster holds exactly the names it lists. Its
//! schema (schema.rs), its model (model.rs), and here its one `TypedResource` impl.
//!
//! A refresh reads every synced name into the lists, so a plan shows as an ordinary diff
//! each name the apply syncs or cancels, and the apply cancels only what its plan showed.
//! The groups of the listed users (read from IAM at plan) sync with them and are never
//! cancelled. Writes go through the IAM sync engine (`cluster_sync`), whose rule keeps
//! every name another object of the run declares.

mod model;
mod schema;

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;

use crate::framework::model::{Attr, Set};
use crate::framework::{
    timeouts, AttributePath, Diagnostics, PlanChange, Schema, StateOutcome, TypedResource,
};
use crate::provider::cluster_sync::{Change, ClusterSync, Names, Reconciled, Record, Removal};
use crate::provider::clusters::{api_error, Clusters, ONE_PER_CLUSTER};

use model::{ExclusiveModel, ExclusivePrivate};
use schema::{schema, GROUP_NAMES, USER_NAMES};

pub const TYPE_NAME: &str = "mrs_iam_sync_exclusive";

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The resource, over the provider's clusters.
pub struct IamSyncExclusive {
    clusters: Arc<Clusters>,
}

impl IamSyncExclusive {
    pub fn new(clusters: Arc<Clusters>) -> Self {
        IamSyncExclusive { clusters }
    }
}

#[async_trait]
impl TypedResource for IamSyncExclusive {
    type Model = ExclusiveModel;
    type Private = ExclusivePrivate;

    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    /// Built once per process, however many providers the process serves.
    fn schema(&self) -> &Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        SCHEMA.get_or_init(schema)
    }

    /// Empty lists cancel everything: only on purpose.
    fn validate_config(&self, config: &ExclusiveModel, diags: &mut Diagnostics) {
        let empty = config.list().is_some_and(|l| l.is_empty());
        let allowed = matches!(config.allow_empty, Attr::Known(true) | Attr::Unknown);
        if empty && !allowed {
            diags.error_at(
                AttributePath::attr(USER_NAMES),
                "No name listed",
                "An mrs_iam_sync_exclusive with no user and no group cancels every name synced to its cluster. Set allow_empty = true if that is what you mean.",
            );
        }
    }

    async fn modify_plan(
        &self,
        change: PlanChange<'_, ExclusiveModel, ExclusivePrivate>,
        diags: &mut Diagnostics,
    ) {
        match change {
            PlanChange::Create { config, planned } => {
                match self
                    .clusters
                    .locate(&config.region, &config.project_id)
                    .await
                {
                    Ok((region, project_id)) => {
                        planned.region = region;
                        planned.project_id = project_id;
                    }
                    Err(d) => return diags.extend(d),
                }
                self.plan(None, planned, diags).await;
            }
            PlanChange::Update {
                prior,
                planned,
                private,
                ..
            } => {
                let prior = Some((prior, private.unconfirmed));
                if let Some(confirmed) = self.plan(prior, planned, diags).await {
                    private.unconfirmed = !confirmed;
                }
            }
            PlanChange::Destroy { .. } => {}
        }
    }

    async fn create(
        &self,
        planned: ExclusiveModel,
        _config: ExclusiveModel,
        private: &mut ExclusivePrivate,
    ) -> StateOutcome<ExclusiveModel> {
        let timeout = timeouts::create_or(&planned.timeouts, DEFAULT_TIMEOUT);
        self.converge(None, planned, private, timeout).await
    }

    /// The lists become what the cluster holds (names still pending stay listed while the
    /// cluster synchronizes); the implicit groups stay apart.
    async fn read(
        &self,
        state: ExclusiveModel,
        private: &mut ExclusivePrivate,
    ) -> StateOutcome<ExclusiveModel> {
        let mut out = StateOutcome::new(Some(state.clone()));
        let recorded = self
            .clusters
            .recorded(&state.region, &state.project_id, &state.cluster_id);
        let Some(sync) = out.or_keep(recorded).map(ClusterSync::on) else {
            return out;
        };
        let still_pending = if private.pending.is_empty() {
            Names::default()
        } else {
            match sync.synchronizing().await {
                Ok(true) => private.pending.clone(),
                Ok(false) => Names::default(),
                Err(e) => {
                    api_error(&mut out.diags, "read the sync status", sync.address(), &e);
                    return out;
                }
            }
        };
        match sync.synced().await {
            Ok(synced) => {
                let implicit: BTreeSet<String> = state
                    .implicit()
                    .intersection(&synced.groups)
                    .cloned()
                    .collect();
                let hidden = Names {
                    groups: implicit.clone(),
                    ..Names::default()
                };
                let listed = synced.minus(&hidden).union(&still_pending);
                out.state = Some(state.showing(&listed, &implicit));
                private.pending = still_pending;
            }
            Err(e) if e.is_cluster_not_found() => out.state = None,
            Err(e) => api_error(&mut out.diags, "read the synced names", sync.address(), &e),
        }
        out
    }

    async fn update(
        &self,
        prior: ExclusiveModel,
        planned: ExclusiveModel,
        _config: ExclusiveModel,
        private: &mut ExclusivePrivate,
    ) -> StateOutcome<ExclusiveModel> {
        let timeout = timeouts::update_or(&planned.timeouts, DEFAULT_TIMEOUT);
        let out = self.converge(Some(&prior), planned, private, timeout).await;
        match out.state {
            None => StateOutcome {
                state: Some(prior),
                ..out
            },
            Some(_) => out,
        }
    }

    /// Releases the names, or with `cancel_on_destroy` cancels them (except what another
    /// object of the run declares: the new object of a replacement, say).
    async fn delete(
        &self,
        prior: ExclusiveModel,
        private: &mut ExclusivePrivate,
    ) -> StateOutcome<ExclusiveModel> {
        let list = prior.list().unwrap_or_default();
        if !prior.cancels_on_destroy() {
            let mut out = StateOutcome::new(None);
            if !list.is_empty() {
                out.diags.warning(
                    "Names released, not cancelled",
                    format!("MRS cluster {:?} keeps {} synced, no longer managed by Terraform (cancel_on_destroy is false).", prior.cluster_id.known().map(String::as_str).unwrap_or_default(), list.describe()),
                );
            }
            return out;
        }
        let mut out = StateOutcome::new(Some(prior.clone()));
        let recorded = self
            .clusters
            .recorded(&prior.region, &prior.project_id, &prior.cluster_id);
        let Some(sync) = out.or_keep(recorded).map(ClusterSync::on) else {
            return out;
        };
        let removal = Removal {
            prior: Record {
                held: list.union(&private.pending),
                pending: private.pending.clone(),
                ..Record::default()
            },
            timeout: timeouts::delete_or(&prior.timeouts, DEFAULT_TIMEOUT),
        };
        let Reconciled {
            record,
            diagnostics,
        } = sync.remove(removal).await;
        out.diags = diagnostics;
        *private = ExclusivePrivate::default();
        out.state = record.map(|r| prior.clone().showing(&r.held, &prior.implicit()));
        out
    }

    /// Everything synced is listed (the groups of the synced users as implicit), so the
    /// first plan shows each name the configuration would cancel; nothing is written
    /// before someone applies it.
    async fn import(&self, id: &str) -> Result<(ExclusiveModel, ExclusivePrivate), Diagnostics> {
        let (cluster, _) = self.clusters.imported(id, &ONE_PER_CLUSTER)?;
        let sync = ClusterSync::on(cluster);
        let a = sync.address();
        let synced = sync.synced().await.map_err(|e| {
            let mut d = Diagnostics::new();
            api_error(&mut d, "import the synced names", a, &e);
            d
        })?;
        // The groups of the synced users stay apart, as a plan would put them.
        let users = Names {
            users: synced.users.clone(),
            ..Names::default()
        };
        let mut ignored = Diagnostics::new();
        let (implicit, confirmed) = self
            .implicit(&sync, &users, BTreeSet::new(), &mut ignored)
            .await;
        let implicit: BTreeSet<String> = implicit.intersection(&synced.groups).cloned().collect();
        let listed = synced.minus(&Names {
            groups: implicit.clone(),
            ..Names::default()
        });
        let state = ExclusiveModel {
            region: a.region.clone().into(),
            project_id: Attr::Known(a.project_id.to_string()),
            cluster_id: Attr::Known(a.cluster_id.to_string()),
            allow_empty: Attr::Known(false),
            cancel_on_destroy: Attr::Known(false),
            ..ExclusiveModel::default()
        };
        let private = ExclusivePrivate {
            unconfirmed: !confirmed,
            ..ExclusivePrivate::default()
        };
        Ok((state.showing(&listed, &implicit), private))
    }
}

impl IamSyncExclusive {
    /// Declares the list on its cluster (a conflict with another declaration is an error),
    /// fills `implicit_group_names`, and for a create refuses a cluster holding names the
    /// list leaves out: no plan would have shown their cancel. `prior` comes with whether
    /// its implicit groups are unconfirmed; the answer says whether the planned ones are
    /// confirmed by IAM (None: not planned here).
    async fn plan(
        &self,
        prior: Option<(&ExclusiveModel, bool)>,
        planned: &mut ExclusiveModel,
        diags: &mut Diagnostics,
    ) -> Option<bool> {
        let Some(list) = planned.list() else {
            planned.implicit_group_names = Attr::Unknown;
            return None;
        };
        let sync =
            match self
                .clusters
                .planned(&planned.region, &planned.project_id, &planned.cluster_id)
            {
                Ok(Some(c)) => ClusterSync::on(c),
                // Known at apply, and then planned again.
                Ok(None) | Err(_) => return None,
            };
        if let Err(d) = sync.declare_exclusive(&list) {
            diags.extend(d);
            return None;
        }
        let Some((prior, unconfirmed)) = prior else {
            return self.plan_create(&sync, &list, planned, diags).await;
        };
        let before = prior.list().unwrap_or_default();
        let dropped_groups: BTreeSet<String> =
            before.groups.difference(&list.groups).cloned().collect();
        let ask_iam = unconfirmed
            || list.users != before.users
            || prior.resync_triggers != planned.resync_triggers
            || !dropped_groups.is_empty();
        let (implicit, confirmed) = if ask_iam {
            // Without IAM, every group synced now stays.
            let keep = prior.implicit().union(&dropped_groups).cloned().collect();
            self.implicit(&sync, &list, keep, diags).await
        } else {
            let kept = prior.implicit().difference(&list.groups).cloned().collect();
            (kept, true)
        };
        planned.implicit_group_names = Attr::Known(Set::of_known(implicit));
        Some(confirmed)
    }

    async fn plan_create(
        &self,
        sync: &ClusterSync<'_>,
        list: &Names,
        planned: &mut ExclusiveModel,
        diags: &mut Diagnostics,
    ) -> Option<bool> {
        let synced = match sync.synced().await {
            Ok(s) => s,
            Err(e) => {
                api_error(diags, "read the synced names", sync.address(), &e);
                return None;
            }
        };
        let keep = synced.groups.difference(&list.groups).cloned().collect();
        let (implicit, confirmed) = self.implicit(sync, list, keep, diags).await;
        let unlisted = unlisted(&synced, list, &implicit);
        if !unlisted.is_empty() {
            let cluster = sync.address().cluster_id.as_str();
            diags.error_at(
                AttributePath::attr(if unlisted.users.is_empty() { GROUP_NAMES } else { USER_NAMES }),
                format!("MRS cluster {cluster:?} holds names this resource does not list"),
                format!("MRS cluster {cluster:?} holds {}. Creating this resource would cancel them without a plan showing it. Import the cluster first (`terraform import` with the ID `{}`, or an import block): the plan after the import shows each cancel. Or list them.", unlisted.describe(), sync.address().import_id()),
            );
        }
        planned.implicit_group_names = Attr::Known(Set::of_known(implicit));
        Some(confirmed)
    }

    /// The groups of the listed users that the list does not name, and true; `keep` and
    /// false when IAM cannot say, with a warning.
    async fn implicit(
        &self,
        sync: &ClusterSync<'_>,
        list: &Names,
        keep: BTreeSet<String>,
        diags: &mut Diagnostics,
    ) -> (BTreeSet<String>, bool) {
        if list.users.is_empty() {
            return (BTreeSet::new(), true);
        }
        let region = sync.address().region.as_deref();
        let answer = match self.clusters.provider().configured() {
            Ok(c) => {
                c.user_groups(region, &list.users, &self.clusters.provider().cancel)
                    .await
            }
            Err(_) => Err("the provider is not configured".to_string()),
        };
        match answer {
            Ok(groups) => {
                let implicit = groups
                    .into_values()
                    .flatten()
                    .filter(|g| !list.groups.contains(g))
                    .collect();
                (implicit, true)
            }
            Err(why) => {
                if !keep.is_empty() {
                    diags.warning_at(
                        AttributePath::attr(GROUP_NAMES),
                        "The groups of the listed users are unknown",
                        format!("IAM could not be read ({why}), so which groups sync with the listed users is unknown. No synced group is cancelled by this plan: {} stay, shown in implicit_group_names. The next plan asks IAM again and shows the cancels.", Names { groups: keep.clone(), ..Names::default() }.describe()),
                    );
                }
                (keep, false)
            }
        }
    }

    /// Syncs the plan's lists from `prior` (None: a create) and cancels what the plan
    /// showed leaving; a name synced since the plan is a warning, never a cancel.
    async fn converge(
        &self,
        prior: Option<&ExclusiveModel>,
        planned: ExclusiveModel,
        private: &mut ExclusivePrivate,
        timeout: Duration,
    ) -> StateOutcome<ExclusiveModel> {
        let mut out = StateOutcome::new(None);
        let applied =
            self.clusters
                .applied(&planned.region, &planned.project_id, &planned.cluster_id);
        let Some(sync) = out.or_keep(applied).map(ClusterSync::on) else {
            return out;
        };
        let list = planned.list().unwrap_or_default();
        let mut diags = Diagnostics::new();
        let implicit = match planned.implicit_group_names.known() {
            Some(_) if prior.is_some() => planned.implicit(),
            // A create's plan leaves no private record: whether IAM confirms the planned
            // groups is asked again here, for the next plan to know.
            Some(_) => {
                let planned_implicit = planned.implicit();
                let (asked, confirmed) = self
                    .implicit(&sync, &list, BTreeSet::new(), &mut Diagnostics::new())
                    .await;
                private.unconfirmed = !confirmed || asked != planned_implicit;
                planned_implicit
            }
            // The plan did not know the cluster: no cancel was shown, none is made.
            None => {
                let (asked, confirmed) = self
                    .implicit(&sync, &list, BTreeSet::new(), &mut diags)
                    .await;
                private.unconfirmed = !confirmed;
                asked
            }
        };
        let record = prior.map(|p| {
            // A group that no listed user brings any more leaves implicit_group_names in
            // the plan, and is cancelled like a name leaving the lists.
            let before = p.list().unwrap_or_default().union(&Names {
                groups: p.implicit(),
                ..Names::default()
            });
            let implicit = Names {
                groups: implicit.clone(),
                ..Names::default()
            };
            let mut held = before.minus(&implicit);
            if p.resync_triggers != planned.resync_triggers {
                // Held names are not sent again unless the record forgets them.
                held = held.minus(&list);
            }
            Record {
                pending: private.pending.intersect(&held),
                held,
                ..Record::default()
            }
        });
        let change = Change {
            prior: record,
            desired: list.clone(),
            all_sync: false,
            timeout,
        };
        let Reconciled {
            record,
            diagnostics,
        } = sync.apply(change).await;
        diags.extend(diagnostics);
        let failed = diags.has_errors();
        let held = match record {
            Some(r) => {
                private.pending = r.pending;
                r.held
            }
            None if failed => {
                out.diags = diags;
                return out;
            }
            // Nothing listed and nothing synced: the object lists nothing.
            None => Names::default(),
        };
        if !failed {
            self.warn_unlisted(&sync, &list, &implicit, &mut diags)
                .await;
        }
        let state = planned.showing(&held, &implicit);
        out.state = Some(state);
        out.diags = diags;
        out
    }

    /// Names synced that neither the list nor the implicit groups hold appeared after the
    /// plan, which did not show their cancel: they stay, and the next plan shows it.
    async fn warn_unlisted(
        &self,
        sync: &ClusterSync<'_>,
        list: &Names,
        implicit: &BTreeSet<String>,
        diags: &mut Diagnostics,
    ) {
        let Ok(synced) = sync.synced().await else {
            return;
        };
        let unlisted = unlisted(&synced, list, implicit);
        if !unlisted.is_empty() {
            diags.warning(
                format!(
                    "Names synced since the plan on MRS cluster {:?}",
                    sync.address().cluster_id.as_str()
                ),
                format!("The cluster holds {}, which this resource does not list. The plan did not show their cancel, so they stay for now; the next plan shows it.", unlisted.describe()),
            );
        }
    }
}

/// What `synced` holds beyond the list and the implicit groups.
fn unlisted(synced: &Names, list: &Names, implicit: &BTreeSet<String>) -> Names {
    let mut rest = synced.minus(list);
    rest.groups.retain(|g| !implicit.contains(g));
    rest
}
