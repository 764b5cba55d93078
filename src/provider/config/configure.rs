//! Configuring the provider: each argument or its environment fallback, the keys, the
//! project of the region, and the `Configured` that resources use.

use std::time::Duration;

use crate::api::iam::{self, IamError};
use crate::api::{ClientConfig, Credentials, ProjectId, Secret};
use crate::framework::{AttributePath, Diagnostics, Value};

use super::env::{env, env_bool};
use super::keys::{agency_setting, base_keys, signing_keys, SigningKeys};
use super::model::ProviderModel;
use super::projects::{IamSettings, Projects};
use super::schema::attr;
use super::state::{Configured, ProviderState};

pub const DEFAULT_MAX_RETRIES: u32 = 5;

/// Resolves the configuration with environment fallbacks, obtains the first keys of a
/// temporary source, looks up the project of the region when none is set, and stores the
/// result in `state`. Nothing is written to any API.
pub async fn configure(state: &ProviderState, config: &Value) -> Diagnostics {
    let m = match ProviderModel::read(config) {
        Ok(m) => m,
        Err(d) => return d,
    };
    let mut d = Diagnostics::new();
    let endpoints = &m.endpoints;
    let mrs = endpoints
        .get(attr::MRS)
        .cloned()
        .or_else(|| env("HW_MRS_ENDPOINT"));
    for (key, value, env_name) in [
        (attr::MRS, &mrs, "HW_MRS_ENDPOINT"),
        (attr::IAM, &endpoints.get(attr::IAM).cloned(), "-"),
        (
            attr::METADATA,
            &endpoints.get(attr::METADATA).cloned(),
            "HW_METADATA_ENDPOINT",
        ),
    ] {
        if let Some(e) = value {
            if !(e.starts_with("https://") || e.starts_with("http://")) {
                let from = if env_name == "-" {
                    String::new()
                } else {
                    format!(" (or {env_name})")
                };
                d.error_at(
                    AttributePath::attr(attr::ENDPOINTS).then_key(key),
                    "Invalid endpoint",
                    format!("The {key} endpoint {e:?}{from} must start with https:// (or http:// for a local simulator)."),
                );
            }
        }
    }
    for (key, value) in endpoints {
        if ![attr::MRS, attr::IAM, attr::METADATA].contains(&key.as_str()) {
            d.warning_at(
                AttributePath::attr(attr::ENDPOINTS).then_key(key),
                "Unused endpoint",
                format!("The provider uses only the `mrs`, `iam` and `metadata` endpoints; {key} = {value:?} is ignored."),
            );
        }
    }
    let metadata = endpoints
        .get(attr::METADATA)
        .cloned()
        .or_else(|| env("HW_METADATA_ENDPOINT"))
        .unwrap_or_else(|| iam::DEFAULT_METADATA_ENDPOINT.to_string());
    let cloud = m.cloud.clone().or_else(|| env("HW_CLOUD"));
    let auth_url = m.auth_url.clone().or_else(|| env("HW_AUTH_URL"));
    let insecure = match m.insecure {
        Some(b) => b,
        None => match env_bool("HW_INSECURE") {
            Ok(b) => b.unwrap_or(false),
            Err(msg) => {
                d.error_at(
                    AttributePath::attr(attr::INSECURE),
                    "Invalid HW_INSECURE",
                    msg,
                );
                false
            }
        },
    };
    if insecure {
        d.warning_at(
            AttributePath::attr(attr::INSECURE),
            "TLS verification is off",
            "`insecure` is set: the provider does not verify the MRS endpoint's certificate, so credentials and requests can be intercepted. Use it only against test endpoints.",
        );
    }
    let max_retries = match m.max_retries {
        Some(n) => match Some(n).filter(|n| n.fract() == 0.0 && (0.0..=100.0).contains(n)) {
            Some(i) => i as u32,
            None => {
                d.error_at(
                    AttributePath::attr(attr::MAX_RETRIES),
                    "Invalid max_retries",
                    "`max_retries` must be a whole number from 0 to 100.",
                );
                DEFAULT_MAX_RETRIES
            }
        },
        None => match env("HW_MAX_RETRIES") {
            Some(s) => match s.trim().parse::<u32>() {
                Ok(i) if i <= 100 => i,
                _ => {
                    d.error_at(
                        AttributePath::attr(attr::MAX_RETRIES),
                        "Invalid HW_MAX_RETRIES",
                        format!("HW_MAX_RETRIES={s:?} must be a whole number from 0 to 100."),
                    );
                    DEFAULT_MAX_RETRIES
                }
            },
            None => DEFAULT_MAX_RETRIES,
        },
    };
    // Tests and benchmarks shorten the backoff and the per-request timeout; these are not
    // documented user settings.
    let retry_base = env("TF_PROVIDER_MRS_RETRY_BASE_MS")
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_millis);
    let request_timeout = env("TF_PROVIDER_MRS_REQUEST_TIMEOUT_MS")
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis);
    let explicit_project = parse_project_id(
        m.project_id.clone().or_else(|| env("HW_PROJECT_ID")),
        "the configuration or HW_PROJECT_ID",
        &mut d,
    );
    if d.has_errors() {
        return d;
    }
    let Some(base) = base_keys(&m, &metadata, &mut d).await else {
        return d;
    };
    let profile = base.profile.as_ref();
    let region = m
        .region
        .clone()
        .or_else(|| env("HW_REGION_NAME"))
        .or_else(|| profile.and_then(|p| p.region.clone()));
    let mut project_id = explicit_project;
    if project_id.is_none() {
        project_id = parse_project_id(
            profile.and_then(|p| p.project_id.clone()),
            &base.label,
            &mut d,
        );
    }
    if region.is_none() && mrs.is_none() {
        d.error_at(
            AttributePath::attr(attr::REGION),
            "Missing region",
            "Set `region` (or HW_REGION_NAME) so the provider knows the MRS endpoint, or set `endpoints = { mrs = \"...\" }` (or HW_MRS_ENDPOINT).",
        );
    }
    let agency = agency_setting(&m, profile, &mut d);
    if d.has_errors() {
        return d;
    }
    let user_agent = format!("terraform-provider-mrs/{}", env!("CARGO_PKG_VERSION"));
    let iam = IamSettings {
        explicit: endpoints.get(attr::IAM).cloned(),
        auth_url: auth_url.clone(),
        cloud: cloud.clone(),
        insecure,
        max_retries,
        retry_base_delay: retry_base.unwrap_or(Duration::from_millis(500)),
        request_timeout: request_timeout.unwrap_or(Duration::from_secs(60)),
        user_agent: user_agent.clone(),
    };
    let Some(SigningKeys {
        source,
        fixed,
        label,
        path: key_path,
    }) = signing_keys(
        base,
        agency,
        || iam.client(region.as_deref()),
        &state.cancel,
        &mut d,
    )
    .await
    else {
        return d;
    };
    let projects = Projects::new(iam, source.clone(), label.clone());
    if project_id.is_none() {
        if let Some(r) = &region {
            match projects.of(r, &state.cancel).await {
                Ok(id) => project_id = Some(id),
                Err(e) => {
                    let (path, summary) = match &e {
                        IamError::Refused { status: 401, .. } if e.is_expired_token() => (
                            AttributePath::attr(attr::SECURITY_TOKEN),
                            "Security token expired",
                        ),
                        IamError::Refused {
                            status: 401 | 403, ..
                        } => (key_path.clone(), "Credentials refused"),
                        _ => (
                            AttributePath::attr(attr::REGION),
                            "Cannot find the project of the region",
                        ),
                    };
                    d.error_at(
                        path,
                        summary,
                        format!("Looking up the project of region {r:?} with {label}: {e}. Set `project_id` (or HW_PROJECT_ID) to skip the lookup, or check `region`, `cloud`, `auth_url` and `endpoints.iam`."),
                    );
                    return d;
                }
            }
        }
    }
    let mut client_cfg = ClientConfig::new(
        mrs.clone().unwrap_or_default(),
        fixed.clone().unwrap_or(Credentials {
            access_key: String::new(),
            secret_key: Secret::new(""),
            security_token: None,
        }),
    );
    if fixed.is_none() {
        client_cfg.credential_source = Some(source);
    }
    client_cfg.insecure = insecure;
    client_cfg.max_retries = max_retries;
    client_cfg.user_agent = user_agent;
    if let Some(b) = retry_base {
        client_cfg.retry_base_delay = b;
    }
    if let Some(t) = request_timeout {
        // Fault tests make a slow answer outlast the per-request timeout without waiting
        // the real minute.
        client_cfg.request_timeout = t;
    }
    state.set(Configured::new(
        region, project_id, projects, mrs, cloud, client_cfg,
    ));
    d
}

/// The project ID `p` set in `from`; one that breaks the rule is an error at `project_id`.
fn parse_project_id(p: Option<String>, from: &str, d: &mut Diagnostics) -> Option<ProjectId> {
    let p = p?;
    match ProjectId::parse(&p) {
        Ok(id) => Some(id),
        Err(e) => {
            d.error_at(
                AttributePath::attr(attr::PROJECT_ID),
                "Invalid project ID",
                format!("The project ID {p:?} (from {from}) must be {}.", e.rule()),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::config::schema::config_with;

    // These tests set every attribute explicitly, so environment variables of the machine
    // running them cannot change the outcome except where noted.
    #[tokio::test]
    async fn half_set_credentials_point_at_the_missing_attribute() {
        let shared = ProviderState::default();
        let d = configure(
            &shared,
            &config_with(&[
                ("region", Value::string("cn-north-4")),
                ("access_key", Value::string("AK")),
                ("secret_key", Value::Null),
            ]),
        )
        .await;
        if std::env::var("HW_SECRET_KEY").is_err() {
            let e = d
                .iter()
                .find(|x| x.summary == "Missing secret key")
                .expect("diagnostic");
            assert_eq!(e.path, Some(AttributePath::attr("secret_key")));
            assert!(shared.configured().is_err());
        }
    }

    #[tokio::test]
    async fn full_configuration_with_endpoint() {
        let shared = ProviderState::default();
        let mut m = std::collections::BTreeMap::new();
        m.insert("mrs".to_string(), Value::string("http://127.0.0.1:1"));
        let d = configure(
            &shared,
            &config_with(&[
                ("region", Value::string("cn-north-4")),
                ("project_id", Value::string("abc123")),
                ("access_key", Value::string("AK")),
                ("secret_key", Value::string("SK")),
                ("endpoints", Value::Map(m)),
                ("insecure", Value::Bool(true)),
                ("max_retries", Value::int(2)),
            ]),
        )
        .await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(d.iter().any(|x| x.summary == "TLS verification is off"));
        let c = shared.configured().expect("configured");
        assert_eq!(c.project_id.as_ref().map(ProjectId::as_str), Some("abc123"));
        assert!(c.client(Some("cn-north-4")).is_ok());
    }

    #[tokio::test]
    async fn bad_values_are_diagnostics() {
        let shared = ProviderState::default();
        let d = configure(
            &shared,
            &config_with(&[
                ("region", Value::string("cn-north-4")),
                ("project_id", Value::string("bad-id")),
                ("access_key", Value::string("AK")),
                ("secret_key", Value::string("SK")),
                ("max_retries", Value::int(-1)),
            ]),
        )
        .await;
        let paths: Vec<_> = d.iter().filter_map(|x| x.path.clone()).collect();
        assert!(paths.contains(&AttributePath::attr("project_id")));
        assert!(paths.contains(&AttributePath::attr("max_retries")));
    }
}
