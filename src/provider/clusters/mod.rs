//! The kit every resource and data source on an MRS cluster starts from, whatever it
//! manages there: the location attributes and the address read from them, the cluster at
//! an address (its API client, StopProvider's cancellation, what the process shares per
//! cluster), the import-ID grammar with a suffix, the gone-cluster answer and API-error
//! diagnostics.
//!
//! A resource holds the provider's [`Clusters`]: `locate` fills a plan's `region` and
//! `project_id`, `planned`/`recorded`/`imported` give the [`Cluster`] a plan, a state or
//! an import ID names, and the resource calls its client.

mod address;
mod id;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio_util::sync::CancellationToken;

use crate::api::{ApiError, Client, ClusterId, ProjectId};
use crate::framework::model::Attr;
use crate::framework::{Diagnostics, StateOutcome};
use crate::provider::config::ProviderState;

pub use address::{
    api_error, api_error_with, location_attributes, Address, Holder, CLUSTER_ID, PROJECT_ID, REGION,
};
pub use id::{parse_import_id, IdForm, ImportTarget, Suffix, ONE_PER_CLUSTER};

/// What the process keeps for one cluster, one value per type (the IAM sync's
/// declarations and write queue, say), shared by every object on the cluster.
type Shared = Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>;

/// Every cluster the provider has touched, by (endpoint, project, cluster), and the
/// configured provider they are reached through.
pub struct Clusters {
    provider: Arc<ProviderState>,
    shared: Mutex<HashMap<(String, ProjectId, ClusterId), Arc<Shared>>>,
}

/// One cluster as one step of one object sees it.
pub struct Cluster<'a> {
    client: Client,
    address: Address,
    cancel: &'a CancellationToken,
    shared: Arc<Shared>,
}

impl Clusters {
    pub fn new(provider: Arc<ProviderState>) -> Clusters {
        Clusters {
            provider,
            shared: Mutex::default(),
        }
    }

    /// The configured provider (its region, project, clients, and StopProvider's token).
    pub fn provider(&self) -> &ProviderState {
        &self.provider
    }

    /// The cluster at `address`, through the configured provider's client for its region.
    pub fn cluster(&self, address: Address) -> Result<Cluster<'_>, Diagnostics> {
        let client = self
            .provider
            .configured()?
            .client(address.region.as_deref())?;
        let key = (
            client.endpoint().to_string(),
            address.project_id.clone(),
            address.cluster_id.clone(),
        );
        let shared = lock(&self.shared).entry(key).or_default().clone();
        Ok(Cluster {
            client,
            address,
            cancel: &self.provider.cancel,
            shared,
        })
    }

    /// The cluster a plan names; None while its project or cluster is not yet known.
    pub fn planned(
        &self,
        region: &Attr<String>,
        project_id: &Attr<String>,
        cluster_id: &Attr<String>,
    ) -> Result<Option<Cluster<'_>>, Diagnostics> {
        match Address::planned(region.known(), project_id.known(), cluster_id.known())? {
            Some(a) => self.cluster(a).map(Some),
            None => Ok(None),
        }
    }

    /// The cluster a plan being applied names: Terraform plans again at apply, when the
    /// region is known and the project is found, so a project or cluster still unknown is
    /// an error.
    pub fn applied(
        &self,
        region: &Attr<String>,
        project_id: &Attr<String>,
        cluster_id: &Attr<String>,
    ) -> Result<Cluster<'_>, Diagnostics> {
        self.planned(region, project_id, cluster_id)?.ok_or_else(|| {
            Diagnostics::single_error(
                "Unknown project or cluster",
                "project_id and cluster_id must be known when applying (Terraform plans again at apply, when the region is known, and the project is found then). Set project_id on the resource or the provider (HW_PROJECT_ID).",
            )
        })
    }

    /// The cluster a state records; a state that does not say is an error.
    pub fn recorded(
        &self,
        region: &Attr<String>,
        project_id: &Attr<String>,
        cluster_id: &Attr<String>,
    ) -> Result<Cluster<'_>, Diagnostics> {
        let a = Address::recorded(region.known(), project_id.known(), cluster_id.known())?;
        self.cluster(a)
    }

    /// The cluster an import ID of `form` names, and its suffix: the project and region
    /// left out are the provider's.
    pub fn imported(
        &self,
        id: &str,
        form: &IdForm,
    ) -> Result<(Cluster<'_>, Option<String>), Diagnostics> {
        let configured = self.provider.configured()?;
        let at = parse_import_id(id, form, configured.project_id.as_ref())?;
        let cluster = self.cluster(Address {
            region: at.region.or_else(|| configured.region.clone()),
            project_id: at.project_id,
            cluster_id: at.cluster_id,
        })?;
        Ok((cluster, at.suffix))
    }

    /// Where an object's cluster is, from its configured `region` and `project_id`: a
    /// region left out is the provider's; a project left out is the project of the
    /// region (the provider's in the provider's region, else the one IAM names after the
    /// region, looked up once per region per process). Unknown until apply while the
    /// region is, or while the provider is not configured (its own values unknown).
    pub async fn locate(
        &self,
        region: &Attr<String>,
        project_id: &Attr<String>,
    ) -> Result<(Attr<String>, Attr<String>), Diagnostics> {
        let configured = self.provider.configured().ok();
        let region = if region.is_null() {
            configured.as_ref().and_then(|c| c.region.clone()).into()
        } else {
            region.clone()
        };
        let project_id = match &configured {
            _ if !project_id.is_null() => project_id.clone(),
            Some(c) if !region.is_unknown() => {
                let p = c.project_at(region.known(), &self.provider.cancel).await?;
                Attr::Known(p.to_string())
            }
            _ => Attr::Unknown,
        };
        Ok((region, project_id))
    }
}

impl<'a> Cluster<'a> {
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The MRS API client of the cluster's region; its calls take the IDs and `cancel`.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn project_id(&self) -> &ProjectId {
        &self.address.project_id
    }

    pub fn cluster_id(&self) -> &ClusterId {
        &self.address.cluster_id
    }

    /// StopProvider's token: every call and wait on the cluster ends when it fires.
    pub fn cancel(&self) -> &'a CancellationToken {
        self.cancel
    }

    /// The one `T` the process keeps for this cluster, made by `make` on first use: what
    /// the objects on one cluster share (a write queue, say).
    pub fn shared<T: Any + Send + Sync>(&self, make: impl FnOnce() -> T) -> Arc<T> {
        let mut shared = lock(&self.shared);
        let found = shared.get(&TypeId::of::<T>()).cloned();
        if let Some(t) = found.and_then(|t| t.downcast::<T>().ok()) {
            return t;
        }
        let t = Arc::new(make());
        shared.insert(TypeId::of::<T>(), t.clone());
        t
    }

    /// An error diagnostic for a failed `action` on this cluster, with what to do.
    pub fn api_error(&self, d: &mut Diagnostics, action: &str, e: &ApiError) {
        api_error(d, action, &self.address, e)
    }

    /// What a refresh or a destroy answers when a call on the cluster failed: a cluster
    /// that is gone took the object with it (no state, no error); any other failure is an
    /// error that keeps `state`.
    pub fn gone_or_failed<M>(&self, action: &str, e: &ApiError, state: M) -> StateOutcome<M> {
        if e.is_cluster_not_found() {
            return StateOutcome::new(None);
        }
        let mut out = StateOutcome::new(Some(state));
        self.api_error(&mut out.diags, action, e);
        out
    }
}

/// A poisoned lock only means another task panicked while holding it; the maps it guards
/// are updated in single steps and stay consistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::framework::Value;
    use crate::provider::config;

    /// A provider configured as in a real run, its MRS endpoint nothing listens on.
    fn clusters() -> Clusters {
        Clusters::new(config::configured_for_tests(vec![
            ("region", Value::string("cn-north-4")),
            ("project_id", Value::string("p1")),
            ("access_key", Value::string("AK")),
            ("secret_key", Value::string("SK")),
            (
                "endpoints",
                Value::Map([("mrs".to_string(), Value::string("http://127.0.0.1:9"))].into()),
            ),
        ]))
    }

    fn count(c: &Cluster<'_>) -> usize {
        c.shared(AtomicUsize::default)
            .fetch_add(1, Ordering::SeqCst)
    }

    #[test]
    fn what_a_cluster_shares_is_one_value_per_type_and_cluster() {
        let clusters = clusters();
        let at = |id: &str| match clusters.imported(id, &ONE_PER_CLUSTER) {
            Ok((c, suffix)) => {
                assert_eq!(suffix, None);
                c
            }
            Err(d) => panic!("{d:?}"),
        };
        assert_eq!(count(&at("c1")), 0);
        // The same cluster, named with the provider's project and region or without.
        assert_eq!(count(&at("p1/c1")), 1);
        assert_eq!(count(&at("c2")), 0, "another cluster");
        let c1 = at("c1");
        assert_eq!(c1.address().region.as_deref(), Some("cn-north-4"));
        assert_eq!(
            c1.shared(|| "a string").as_ref(),
            &"a string",
            "another type"
        );
        assert_eq!(count(&c1), 2);
    }

    #[test]
    fn an_applied_plan_names_its_cluster_and_a_state_records_it() {
        let clusters = clusters();
        let known = |s: &str| Attr::Known(s.to_string());
        let (region, p1, c1) = (Attr::Null, known("p1"), known("c1"));
        let applied = clusters
            .applied(&region, &p1, &c1)
            .map(|c| c.address().import_id());
        assert_eq!(applied.ok().as_deref(), Some("p1/c1"));
        let Err(d) = clusters.applied(&region, &Attr::Unknown, &c1) else {
            panic!("an unknown project at apply")
        };
        assert!(
            format!("{d:?}").contains("Unknown project or cluster"),
            "{d:?}"
        );
        assert!(matches!(
            clusters.planned(&region, &p1, &Attr::Unknown),
            Ok(None)
        ));
        assert!(clusters.recorded(&region, &Attr::Null, &c1).is_err());
    }

    #[test]
    fn a_gone_cluster_answers_no_state_and_any_other_failure_an_error() {
        let clusters = clusters();
        let Ok((c, _)) = clusters.imported("c1", &ONE_PER_CLUSTER) else {
            unreachable!("a valid ID")
        };
        let gone = ApiError::ClusterNotFound {
            status: 404,
            code: "MRS.0011".into(),
            request_id: None,
            message: "no cluster c1".into(),
        };
        let out = c.gone_or_failed("read the tags", &gone, "state");
        assert_eq!((out.state, out.diags.len()), (None, 0));
        let out = c.gone_or_failed("read the tags", &ApiError::Cancelled, "state");
        assert_eq!(out.state, Some("state"));
        assert!(out.diags.has_errors(), "{:?}", out.diags);
    }
}
