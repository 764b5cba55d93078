//! What the provider holds once configured, shared with its resources and data sources:
//! the region, the project of each region, IAM users' groups, one API client per MRS
//! endpoint.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use tokio_util::sync::CancellationToken;

use crate::api::iam::IamError;
use crate::api::ids::Cloud;
use crate::api::shown::shorten;
use crate::api::{Client, ClientConfig, ProjectId, Region, REGION_RULE};
use crate::framework::{AttributePath, Diagnostics};

use super::endpoints::mrs_endpoint;
use super::projects::Projects;
use super::schema::attr;
use super::user_groups::UserGroups;

/// What the provider knows after ConfigureProvider.
pub struct Configured {
    /// The provider's region (it has passed the region rule).
    pub region: Option<String>,
    /// The provider's project: configured, from the profile, or looked up for `region`.
    pub project_id: Option<ProjectId>,
    /// The projects of other regions, looked up when a resource names one.
    projects: Projects,
    /// The IAM groups of the users resources have asked about, per region.
    user_groups: UserGroups,
    endpoint: Option<String>,
    cloud: Option<Cloud>,
    base: ClientConfig,
    /// One API client per endpoint: normally exactly one, for the provider's region.
    clients: Mutex<HashMap<String, Client>>,
}

impl Configured {
    /// `endpoint` is the explicit MRS endpoint, which wins over every region's.
    pub(super) fn new(
        region: Option<Region>,
        project_id: Option<ProjectId>,
        projects: Projects,
        user_groups: UserGroups,
        endpoint: Option<String>,
        cloud: Option<Cloud>,
        base: ClientConfig,
    ) -> Configured {
        Configured {
            region: region.map(|r| r.to_string()),
            project_id,
            projects,
            user_groups,
            endpoint,
            cloud,
            base,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The project of `region` (None: the provider's): the provider's project in its own
    /// region, else the one IAM names after the region, looked up once per process. None
    /// when neither the provider nor the region gives one.
    pub async fn project_for(
        &self,
        region: Option<&str>,
        cancel: &CancellationToken,
    ) -> Result<Option<ProjectId>, IamError> {
        match region {
            Some(r) if self.region.as_deref() != Some(r) => {
                let r = Region::parse(r).map_err(|e| IamError::Config {
                    message: format!("the region {} is not {}", shorten(r), e.rule()),
                })?;
                self.projects.of(&r, cancel).await.map(Some)
            }
            _ => Ok(self.project_id.clone()),
        }
    }

    /// [`Configured::project_for`] for a resource or data source whose `region` (None: not
    /// set) and `project_id` attributes share the provider's names: a failed lookup is an
    /// error at `region`, no project at all one at `project_id`.
    pub async fn project_at(
        &self,
        region: Option<&String>,
        cancel: &CancellationToken,
    ) -> Result<ProjectId, Diagnostics> {
        let region = region.map(String::as_str);
        match self.project_for(region, cancel).await {
            Ok(Some(p)) => Ok(p),
            Ok(None) => Err(Diagnostics::error_at_path(
                AttributePath::attr(attr::PROJECT_ID),
                "Missing project ID",
                "Set project_id here or on the provider (or HW_PROJECT_ID), or a region whose project IAM can name.",
            )),
            Err(e) => Err(Diagnostics::error_at_path(
                AttributePath::attr(attr::REGION),
                "Cannot find the project of the region",
                format!(
                    "Looking up the project of region {} with {}: {e}. Set `project_id` here to skip the lookup, or check `region`, `cloud`, `auth_url` and `endpoints.iam`.",
                    shorten(region.unwrap_or_default()),
                    self.projects.label
                ),
            )),
        }
    }

    /// The IAM groups of each of `users` (sorted) in `region` (None: the provider's), from
    /// the IAM of that region; each user's answer is asked once per region per process.
    /// A user IAM does not know has none. The error says what failed, shortened, and holds
    /// no secret.
    pub async fn user_groups(
        &self,
        region: Option<&str>,
        users: &BTreeSet<String>,
        cancel: &CancellationToken,
    ) -> Result<BTreeMap<String, Vec<String>>, String> {
        let region = match region.or(self.region.as_deref()) {
            None => None,
            // A region from a state written by hand: host names are built from valid
            // regions only.
            Some(r) => Some(
                Region::parse(r)
                    .map_err(|e| format!("the region {} is not {}", shorten(r), e.rule()))?,
            ),
        };
        self.user_groups.of(region.as_ref(), users, cancel).await
    }

    /// The API client for a region (the explicit endpoint wins over the region's). A
    /// region breaking the rule (a state written by hand) is an error at `region`: host
    /// names are built from valid regions only.
    pub fn client(&self, region: Option<&str>) -> Result<Client, Diagnostics> {
        let region = match region.map(Region::parse) {
            None => None,
            Some(Ok(r)) => Some(r),
            Some(Err(_)) => {
                return Err(Diagnostics::error_at_path(
                    AttributePath::attr(attr::REGION),
                    "Invalid region",
                    format!(
                        "The region {} must be {REGION_RULE}. If the state holds it, correct it with `terraform state rm` and `terraform import`.",
                        shorten(region.unwrap_or_default())
                    ),
                ))
            }
        };
        let endpoint = match (&self.endpoint, region) {
            (Some(e), _) => e.clone(),
            (None, Some(r)) => mrs_endpoint(&r, self.cloud.as_ref()),
            (None, None) => {
                return Err(Diagnostics::single_error(
                    "No region",
                    "Set `region` on the provider or the resource (or HW_REGION_NAME), or set `endpoints.mrs`.",
                ))
            }
        };
        let mut clients = match self.clients.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(c) = clients.get(&endpoint) {
            return Ok(c.clone());
        }
        let mut cfg = self.base.clone();
        cfg.endpoint = endpoint.clone();
        let client = Client::new(cfg).map_err(|e| {
            Diagnostics::single_error("Cannot create the MRS API client", e.to_string())
        })?;
        clients.insert(endpoint, client.clone());
        Ok(client)
    }
}

/// The provider's state, shared with its resources and data sources: the configuration
/// once Terraform has sent it, and the cancellation of in-flight work.
#[derive(Default)]
pub struct ProviderState {
    configured: RwLock<Option<Arc<Configured>>>,
    pub cancel: CancellationToken,
}

impl ProviderState {
    pub fn new(cancel: CancellationToken) -> Self {
        ProviderState {
            configured: RwLock::new(None),
            cancel,
        }
    }

    pub fn configured(&self) -> Result<Arc<Configured>, Diagnostics> {
        let guard = match self.configured.read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        guard.clone().ok_or_else(|| {
            Diagnostics::single_error(
                "Provider not configured",
                "Terraform did not configure the mrs provider before using it. This is a bug; please report it.",
            )
        })
    }

    pub(super) fn set(&self, c: Configured) {
        let mut guard = match self.configured.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Some(Arc::new(c));
    }
}
