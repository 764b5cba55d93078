//! What the provider holds once configured, shared with its resources and data sources:
//! the region, the project, one API client per MRS endpoint, and one desk per cluster.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use tokio_util::sync::CancellationToken;

use crate::api::{Client, ClientConfig, ProjectId};
use crate::framework::Diagnostics;
use crate::provider::desk::Desks;

use super::endpoints::mrs_endpoint;

/// What the provider knows after ConfigureProvider.
pub struct Configured {
    pub region: Option<String>,
    /// The provider's project: configured, from the profile, or looked up for `region`.
    pub project_id: Option<ProjectId>,
    endpoint: Option<String>,
    cloud: Option<String>,
    base: ClientConfig,
    /// One API client per endpoint: normally exactly one, for the provider's region.
    clients: Mutex<HashMap<String, Client>>,
}

impl Configured {
    /// `endpoint` is the explicit MRS endpoint, which wins over every region's.
    pub(super) fn new(
        region: Option<String>,
        project_id: Option<ProjectId>,
        endpoint: Option<String>,
        cloud: Option<String>,
        base: ClientConfig,
    ) -> Configured {
        Configured {
            region,
            project_id,
            endpoint,
            cloud,
            base,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The API client for a region (the explicit endpoint wins over the region's).
    pub fn client(&self, region: Option<&str>) -> Result<Client, Diagnostics> {
        let endpoint = match (&self.endpoint, region) {
            (Some(e), _) => e.clone(),
            (None, Some(r)) => mrs_endpoint(r, self.cloud.as_deref()),
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
    /// Every read, write and wait on a cluster goes through its desk.
    pub desks: Desks,
}

impl ProviderState {
    pub fn new(cancel: CancellationToken) -> Self {
        ProviderState {
            configured: RwLock::new(None),
            cancel,
            desks: Desks::default(),
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
