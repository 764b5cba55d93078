//! The project of each region: the provider's own, or asked of IAM (`GET
//! /v3/projects?name={region}`) once per region per process and kept, so that every
//! resource and data source in a region shares one lookup.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::api::iam::{IamClient, IamConfig, IamError};
use crate::api::{CredentialSource, ProjectId};

use super::endpoints::iam_endpoint;

/// How to reach IAM: its endpoint follows from these and a region.
#[derive(Clone, Debug)]
pub struct IamSettings {
    /// `endpoints.iam`.
    pub explicit: Option<String>,
    pub auth_url: Option<String>,
    pub cloud: Option<String>,
    pub insecure: bool,
    pub max_retries: u32,
    pub retry_base_delay: Duration,
    pub request_timeout: Duration,
    pub user_agent: String,
}

impl IamSettings {
    /// A client of the IAM endpoint for `region` (`endpoints.iam` and `auth_url` win).
    pub fn client(&self, region: Option<&str>) -> Result<IamClient, IamError> {
        let endpoint = iam_endpoint(
            self.explicit.as_deref(),
            self.auth_url.as_deref(),
            region,
            self.cloud.as_deref(),
        )
        .ok_or_else(|| IamError::Config {
            message: "IAM's endpoint is unknown: set `region`, `auth_url` or `endpoints.iam`"
                .into(),
        })?;
        IamClient::new(IamConfig {
            endpoint,
            insecure: self.insecure,
            max_retries: self.max_retries,
            retry_base_delay: self.retry_base_delay,
            request_timeout: self.request_timeout,
            user_agent: self.user_agent.clone(),
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
    found: Mutex<HashMap<String, Arc<OnceCell<ProjectId>>>>,
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

    fn cell(&self, region: &str) -> Arc<OnceCell<ProjectId>> {
        let mut found = match self.found.lock() {
            Ok(f) => f,
            Err(poisoned) => poisoned.into_inner(),
        };
        found.entry(region.to_string()).or_default().clone()
    }

    /// The project named after `region`: the one found before in this process, or asked of
    /// IAM now. A failed lookup is not kept, so a later call asks again.
    pub async fn of(
        &self,
        region: &str,
        cancel: &CancellationToken,
    ) -> Result<ProjectId, IamError> {
        let cell = self.cell(region);
        cell.get_or_try_init(|| self.look_up(region, cancel))
            .await
            .cloned()
    }

    async fn look_up(
        &self,
        region: &str,
        cancel: &CancellationToken,
    ) -> Result<ProjectId, IamError> {
        let iam = self.iam.client(Some(region))?;
        let keys = self
            .source
            .credentials()
            .await
            .map_err(|e| IamError::Config {
                message: e.to_string(),
            })?;
        match iam.project_id(&keys, region, cancel).await? {
            Some(id) => match ProjectId::parse(&id) {
                Ok(project) => {
                    crate::log_debug!(
                        "found the project of the region",
                        region = region,
                        project_id = id
                    );
                    Ok(project)
                }
                Err(e) => Err(IamError::Malformed {
                    service: "IAM",
                    message: format!(
                        "the project ID {id:?} of region {region:?} is not {}",
                        e.rule()
                    ),
                }),
            },
            None => Err(IamError::Config {
                message: format!("IAM at {} has no project named {region:?}", iam.endpoint()),
            }),
        }
    }
}
