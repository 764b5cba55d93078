//! The project of each region: the provider's own, or asked of IAM (`GET
//! /v3/projects?name={region}`) once per region per process and kept, so that every
//! resource and data source in a region shares one lookup.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::api::iam::{IamClient, IamConfig, IamError};
use crate::api::ids::Cloud;
use crate::api::{CredentialSource, Credentials, HttpSettings, ProjectId, Region};

use super::endpoints::iam_endpoint;

/// How to reach IAM: its endpoint follows from these and a region.
#[derive(Clone, Debug)]
pub struct IamSettings {
    /// `endpoints.iam`.
    pub explicit: Option<String>,
    pub auth_url: Option<String>,
    pub cloud: Option<Cloud>,
    /// The same settings as the MRS client's.
    pub http: HttpSettings,
}

impl IamSettings {
    /// The IAM client of `region` and the keys from `source` that sign its calls.
    pub async fn session(
        &self,
        source: &dyn CredentialSource,
        region: Option<&Region>,
    ) -> Result<(IamClient, Credentials), IamError> {
        let iam = self.client(region)?;
        let keys = source.credentials().await.map_err(|e| IamError::Config {
            message: e.to_string(),
        })?;
        Ok((iam, keys))
    }

    /// A client of the IAM endpoint for `region` (`endpoints.iam` and `auth_url` win).
    pub fn client(&self, region: Option<&Region>) -> Result<IamClient, IamError> {
        let endpoint = iam_endpoint(
            self.explicit.as_deref(),
            self.auth_url.as_deref(),
            region,
            self.cloud.as_ref(),
        )
        .ok_or_else(|| IamError::Config {
            message: "IAM's endpoint is unknown: set `region`, `auth_url` or `endpoints.iam`"
                .into(),
        })?;
        IamClient::new(IamConfig {
            endpoint,
            http: self.http.clone(),
        })
    }
}

/// The projects found so far, one cell per region, so that concurrent plans in one region
/// wait for a single lookup instead of each sending their own.
pub struct Projects {
    iam: IamSettings,
    source: Arc<dyn CredentialSource>,
    /// Where the keys come from, for messages (never the keys).
    pub label: String,
    found: Mutex<HashMap<Region, Arc<OnceCell<ProjectId>>>>,
}

impl Projects {
    pub fn new(iam: IamSettings, source: Arc<dyn CredentialSource>, label: String) -> Projects {
        Projects {
            iam,
            source,
            label,
            found: Mutex::new(HashMap::new()),
        }
    }

    fn cell(&self, region: &Region) -> Arc<OnceCell<ProjectId>> {
        let mut found = match self.found.lock() {
            Ok(f) => f,
            Err(poisoned) => poisoned.into_inner(),
        };
        found.entry(region.clone()).or_default().clone()
    }

    /// The project named after `region`: the one found before in this process, or asked of
    /// IAM now. A failed lookup is not kept, so a later call asks again.
    pub async fn of(
        &self,
        region: &Region,
        cancel: &CancellationToken,
    ) -> Result<ProjectId, IamError> {
        let cell = self.cell(region);
        cell.get_or_try_init(|| self.look_up(region, cancel))
            .await
            .cloned()
    }

    async fn look_up(
        &self,
        region: &Region,
        cancel: &CancellationToken,
    ) -> Result<ProjectId, IamError> {
        let (iam, keys) = self.iam.session(self.source.as_ref(), Some(region)).await?;
        match iam.project_id(&keys, region, cancel).await? {
            Some(id) => match ProjectId::parse(&id) {
                Ok(project) => {
                    crate::log_debug!(
                        "found the project of the region",
                        region = region.as_str(),
                        project_id = id
                    );
                    Ok(project)
                }
                Err(e) => Err(IamError::Malformed {
                    service: "IAM",
                    message: format!(
                        "the project ID {} of region {:?} is not {}",
                        crate::api::shown::shorten(&id),
                        region.as_str(),
                        e.rule()
                    ),
                }),
            },
            None => Err(IamError::Config {
                message: format!(
                    "IAM at {} has no project named {:?}",
                    iam.endpoint(),
                    region.as_str()
                ),
            }),
        }
    }
}
