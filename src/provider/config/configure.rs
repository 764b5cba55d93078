//! Configuring the provider, as named steps: the settings (each argument or its
//! environment fallback, checked), the keys, the region and project, the agency, and the
//! `Configured` that resources use.

use std::sync::Arc;
use std::time::Duration;

use crate::api::http::{defaults, IdentityError};
use crate::api::iam::{self, IamError};
use crate::api::ids::Cloud;
use crate::api::shown::shorten;
use crate::api::{
    ClientConfig, Credentials, Endpoint, HttpSettings, ProjectId, Region, Secret, Tls,
};
use crate::framework::{AttributePath, Diagnostics, Value};

use super::env::{env, env_bool};
use super::keys::{agency_setting, base_keys, signing_keys, BaseKeys, SigningKeys};
use super::model::ProviderModel;
use super::projects::{IamSettings, Projects};
use super::schema::attr;
use super::state::{Configured, ProviderState};
use super::user_groups::UserGroups;

pub const DEFAULT_MAX_RETRIES: u32 = defaults::MAX_RETRIES;

/// Resolves the configuration with environment fallbacks, obtains the first keys of a
/// temporary source, looks up the project of the region when none is set, and stores the
/// result in `state`. Nothing is written to any API.
pub async fn configure(state: &ProviderState, config: &Value) -> Diagnostics {
    let m = match ProviderModel::read(config) {
        Ok(m) => m,
        Err(d) => return d,
    };
    let mut d = Diagnostics::new();
    // 1. Every setting and its environment fallback, checked.
    let settings = read_settings(&m, &state.cancel, &mut d).await;
    if d.has_errors() {
        return d;
    }
    // 2. The keys before any agency: static, a profile, or the metadata service.
    let Some(base) = base_keys(
        &m,
        &settings.metadata,
        &settings.http.tls,
        &state.cancel,
        &mut d,
    )
    .await
    else {
        return d;
    };
    // 3. The region and project, the profile's when the configuration sets none.
    let Some((region, project_id)) = region_and_project(&settings, &base, &mut d) else {
        return d;
    };
    // 4. The agency to assume, if any, and its first keys.
    let agency = agency_setting(&m, base.profile.as_ref(), &mut d);
    if d.has_errors() {
        return d;
    }
    let iam = IamSettings {
        explicit: settings.iam.clone(),
        auth_url: settings.auth_url.clone(),
        cloud: settings.cloud.clone(),
        http: settings.http.clone(),
    };
    let Some(keys) = signing_keys(
        base,
        agency,
        || iam.client(region.as_ref()),
        &state.cancel,
        &mut d,
    )
    .await
    else {
        return d;
    };
    // 5. The project IAM names after the region, when none is set.
    let user_groups = UserGroups::new(iam.clone(), keys.source.clone(), keys.label.clone());
    let projects = Projects::new(iam, keys.source.clone(), keys.label.clone());
    let project_id = match project_id {
        Some(p) => Some(p),
        None => match &region {
            Some(r) => match project_of_region(&projects, r, &keys, state, &mut d).await {
                Some(p) => Some(p),
                None => return d,
            },
            None => None,
        },
    };
    // 6. What resources use: the MRS client's settings and the rest.
    let client = client_config(&settings, keys);
    state.set(Configured::new(
        region,
        project_id,
        projects,
        user_groups,
        settings.mrs,
        settings.cloud,
        client,
    ));
    d
}

/// What the provider block and the environment say, each value checked, before any call.
struct Settings {
    /// `endpoints.mrs` or HW_MRS_ENDPOINT: wins over every region's endpoint.
    mrs: Option<String>,
    /// `endpoints.iam`.
    iam: Option<String>,
    auth_url: Option<String>,
    metadata: String,
    cloud: Option<Cloud>,
    /// `region` or HW_REGION_NAME (a profile's comes with the keys).
    region: Option<Region>,
    /// `project_id` or HW_PROJECT_ID.
    project_id: Option<ProjectId>,
    /// Retries, timeouts and TLS trust, for MRS and IAM alike.
    http: HttpSettings,
}

/// Step 1: every setting with its environment fallback, checked; problems are
/// diagnostics at their attributes.
async fn read_settings(
    m: &ProviderModel,
    cancel: &tokio_util::sync::CancellationToken,
    d: &mut Diagnostics,
) -> Settings {
    let endpoints = &m.endpoints;
    let mrs = endpoint_setting(
        endpoints.get(attr::MRS).cloned(),
        "HW_MRS_ENDPOINT",
        AttributePath::attr(attr::ENDPOINTS).then_key(attr::MRS),
        "the mrs endpoint",
        Plain::Warn,
        d,
    );
    let iam_endpoint = endpoint_setting(
        endpoints.get(attr::IAM).cloned(),
        "-",
        AttributePath::attr(attr::ENDPOINTS).then_key(attr::IAM),
        "the iam endpoint",
        Plain::Warn,
        d,
    );
    let metadata = endpoint_setting(
        endpoints.get(attr::METADATA).cloned(),
        "HW_METADATA_ENDPOINT",
        AttributePath::attr(attr::ENDPOINTS).then_key(attr::METADATA),
        "the metadata endpoint",
        // Link-local plain http is what the metadata service speaks; anywhere else,
        // temporary keys would come back readable on the way.
        Plain::WarnOffLinkLocal,
        d,
    )
    .unwrap_or_else(|| iam::DEFAULT_METADATA_ENDPOINT.to_string());
    let auth_url = endpoint_setting(
        m.auth_url.clone(),
        "HW_AUTH_URL",
        AttributePath::attr(attr::AUTH_URL),
        "auth_url",
        Plain::Warn,
        d,
    );
    for (key, value) in endpoints {
        if ![attr::MRS, attr::IAM, attr::METADATA].contains(&key.as_str()) {
            d.warning_at(
                AttributePath::attr(attr::ENDPOINTS).then_key(key),
                "Unused endpoint",
                format!(
                    "The provider uses only the `mrs`, `iam` and `metadata` endpoints; {key} = {} is ignored.",
                    shorten(&crate::api::shown::without_userinfo(value))
                ),
            );
        }
    }
    let cloud = checked(
        m.cloud.clone(),
        "HW_CLOUD",
        attr::CLOUD,
        "Invalid cloud",
        Cloud::parse,
        d,
    );
    let region = checked(
        m.region.clone(),
        "HW_REGION_NAME",
        attr::REGION,
        "Invalid region",
        Region::parse,
        d,
    );
    let project_id = checked(
        m.project_id.clone(),
        "HW_PROJECT_ID",
        attr::PROJECT_ID,
        "Invalid project ID",
        ProjectId::parse,
        d,
    );
    let http = http_settings(m, cancel, d).await;
    Settings {
        mrs,
        iam: iam_endpoint,
        auth_url,
        metadata,
        cloud,
        region,
        project_id,
        http,
    }
}

/// When plain `http://` to an endpoint draws a warning.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Plain {
    /// To any host but this machine.
    Warn,
    /// To any host but this machine and the link-local network (the metadata service).
    WarnOffLinkLocal,
}

/// An endpoint from the configuration or `env_name` ("-": none), parsed; `plain` says
/// when plain http warns. Shown without any password, shortened.
fn endpoint_setting(
    configured: Option<String>,
    env_name: &str,
    at: AttributePath,
    what: &str,
    plain: Plain,
    d: &mut Diagnostics,
) -> Option<String> {
    let from_env = configured.is_none() && env_name != "-";
    let value = configured.or_else(|| (env_name != "-").then(|| env(env_name)).flatten())?;
    let from = if from_env {
        format!(" (from {env_name})")
    } else {
        String::new()
    };
    match Endpoint::parse(&value) {
        Ok(e) => {
            let warn = e.is_plain_http_to_another_host()
                && !(plain == Plain::WarnOffLinkLocal && e.is_link_local());
            if warn {
                let travels = match plain {
                    Plain::Warn => "requests, the security token and IAM's temporary keys travel",
                    Plain::WarnOffLinkLocal => "the temporary keys it hands out travel",
                };
                d.warning_at(
                    at,
                    "Plain http:// endpoint",
                    format!(
                        "{what}{from} is {}: {travels} unencrypted to a host other than this machine. Use https://.",
                        crate::shown::url(e.as_str())
                    ),
                );
            }
            Some(e.as_str().to_string())
        }
        Err(why) => {
            d.error_at(
                at,
                "Invalid endpoint",
                format!("{what}{from}: {why}. It must be an https:// URL (or http:// for a local simulator)."),
            );
            None
        }
    }
}

/// A value from the configuration or `env_name`, parsed by `parse`; one that breaks the
/// rule is an error at `attribute`, quoted shortened.
fn checked<T>(
    configured: Option<String>,
    env_name: &str,
    attribute: &str,
    summary: &str,
    parse: fn(&str) -> Result<T, crate::api::IdError>,
    d: &mut Diagnostics,
) -> Option<T> {
    match configured {
        Some(v) => check_value(&v, "", attribute, summary, parse, d),
        None => {
            let v = env(env_name)?;
            check_value(
                &v,
                &format!(" (from {env_name})"),
                attribute,
                summary,
                parse,
                d,
            )
        }
    }
}

/// `value` (from where `from` says) parsed by `parse`, or an error at `attribute`.
fn check_value<T>(
    value: &str,
    from: &str,
    attribute: &str,
    summary: &str,
    parse: fn(&str) -> Result<T, crate::api::IdError>,
    d: &mut Diagnostics,
) -> Option<T> {
    match parse(value) {
        Ok(t) => Some(t),
        Err(e) => {
            d.error_at(
                AttributePath::attr(attribute),
                summary,
                format!("{}{from} must be {}.", shorten(value), e.rule()),
            );
            None
        }
    }
}

/// Retries, timeouts, TLS verification and trust.
async fn http_settings(
    m: &ProviderModel,
    cancel: &tokio_util::sync::CancellationToken,
    d: &mut Diagnostics,
) -> HttpSettings {
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
                        format!(
                            "HW_MAX_RETRIES={} must be a whole number from 0 to 100.",
                            shorten(&s)
                        ),
                    );
                    DEFAULT_MAX_RETRIES
                }
            },
            None => DEFAULT_MAX_RETRIES,
        },
    };
    let tls = Tls {
        insecure,
        ca_pem: match pem_setting(
            m.cacert_file.clone(),
            "HW_CACERT_FILE",
            attr::CACERT_FILE,
            false,
            cancel,
            d,
        )
        .await
        {
            Pem::Given(pem) => Some(pem),
            Pem::Unset | Pem::Unusable => None,
        },
        identity_pem: identity(m, cancel, d).await,
    };
    // The client pair was checked by `identity`, at the attribute at fault.
    if let Err(why) = tls.check() {
        d.error_at(
            AttributePath::attr(attr::CACERT_FILE),
            "Unusable certificate",
            format!("{why}."),
        );
    }
    let mut http = HttpSettings {
        tls,
        max_retries,
        ..HttpSettings::default()
    };
    // Tests and benchmarks shorten the backoff and the per-request timeout; these are not
    // documented user settings.
    if let Some(b) = env("TF_PROVIDER_MRS_RETRY_BASE_MS").and_then(|s| s.parse::<u64>().ok()) {
        http.retry_base_delay = Duration::from_millis(b);
    }
    if let Some(t) = env("TF_PROVIDER_MRS_REQUEST_TIMEOUT_MS")
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
    {
        // Fault tests make a slow answer outlast the per-request timeout without waiting
        // the real minute.
        http.request_timeout = Duration::from_millis(t);
    }
    http
}

/// `cert` and `key` (or HW_CERT and HW_KEY) as one PEM text; both or neither, and a key
/// that belongs to the certificate (an error at `key` otherwise).
async fn identity(
    m: &ProviderModel,
    cancel: &tokio_util::sync::CancellationToken,
    d: &mut Diagnostics,
) -> Option<Arc<[u8]>> {
    let cert = pem_setting(m.cert.clone(), "HW_CERT", attr::CERT, false, cancel, d).await;
    let key = pem_setting(
        m.key.as_ref().map(|k| k.expose().to_string()),
        "HW_KEY",
        attr::KEY,
        true,
        cancel,
        d,
    )
    .await;
    match (cert, key) {
        (Pem::Given(c), Pem::Given(k)) => match crate::api::http::client_identity(&c, &k) {
            Ok(pem) => Some(pem),
            Err(e) => {
                let (at, why) = match e {
                    IdentityError::Cert(why) => (attr::CERT, why),
                    IdentityError::Key(why) => (attr::KEY, why),
                };
                d.error_at(
                    AttributePath::attr(at),
                    "Unusable client certificate",
                    format!("{why}. `cert` (or HW_CERT) must be the client certificate chain and `key` (or HW_KEY) its private key, each PEM text or the path of a PEM file."),
                );
                None
            }
        },
        (Pem::Unset, Pem::Unset) => None,
        // Already an error at the attribute; a second one would say something false.
        (Pem::Unusable, _) | (_, Pem::Unusable) => None,
        (Pem::Given(_), Pem::Unset) => {
            d.error_at(
                AttributePath::attr(attr::KEY),
                "Missing key",
                "`cert` (or HW_CERT) is set but `key` (or HW_KEY) is not: a client certificate needs its private key.",
            );
            None
        }
        (Pem::Unset, Pem::Given(_)) => {
            d.error_at(
                AttributePath::attr(attr::CERT),
                "Missing cert",
                "`key` (or HW_KEY) is set but `cert` (or HW_CERT) is not.",
            );
            None
        }
    }
}

/// A PEM setting: not set, set but unusable (already an error), or its text.
enum Pem {
    Unset,
    Unusable,
    Given(Arc<[u8]>),
}

/// A PEM text given inline or as a file path (read bounded, ending on stop). A value of a
/// `sensitive` attribute is never quoted, whatever it turns out to be: a private key
/// pasted without its `-----BEGIN` line reads as a path that cannot be opened.
async fn pem_setting(
    configured: Option<String>,
    env_name: &str,
    attribute: &str,
    sensitive: bool,
    cancel: &tokio_util::sync::CancellationToken,
    d: &mut Diagnostics,
) -> Pem {
    let from_env = configured.is_none();
    let Some(value) = configured.or_else(|| env(env_name)) else {
        return Pem::Unset;
    };
    if value.trim_start().starts_with("-----BEGIN") {
        return Pem::Given(Arc::from(value.as_bytes()));
    }
    let path = crate::provider::credentials::expand_home(value.trim());
    match crate::provider::credentials::read_bounded(path.clone(), 1 << 20, cancel).await {
        Ok(bytes) => Pem::Given(bytes.into()),
        Err(why) => {
            let name = if from_env {
                env_name.to_string()
            } else {
                format!("`{attribute}`")
            };
            let detail = if sensitive {
                format!("{name} is neither PEM text (starting with -----BEGIN) nor the path of a file that can be read ({why}). Its value is not shown, as it may be a private key: give the whole PEM text, armour lines included, or the path of a PEM file.")
            } else {
                format!(
                    "{name} is neither PEM text (starting with -----BEGIN) nor the path of a file that can be read: the file {} cannot be read ({why}).",
                    crate::shown::path(&path.display().to_string())
                )
            };
            d.error_at(
                AttributePath::attr(attribute),
                "Cannot read the PEM file",
                detail,
            );
            Pem::Unusable
        }
    }
}

/// Step 3: the region (configured, else the profile's) and the project (configured, else
/// the profile's); a region, or else an MRS endpoint, is needed.
fn region_and_project(
    settings: &Settings,
    base: &BaseKeys,
    d: &mut Diagnostics,
) -> Option<(Option<Region>, Option<ProjectId>)> {
    let profile = base.profile.as_ref();
    let region = match &settings.region {
        Some(r) => Some(r.clone()),
        None => profile.and_then(|p| p.region.as_deref()).and_then(|r| {
            check_value(
                r,
                &format!(" (the region of {})", base.label),
                attr::REGION,
                "Invalid region",
                Region::parse,
                d,
            )
        }),
    };
    let project_id = match &settings.project_id {
        Some(p) => Some(p.clone()),
        None => profile.and_then(|p| p.project_id.as_deref()).and_then(|p| {
            check_value(
                p,
                &format!(" (the projectId of {})", base.label),
                attr::PROJECT_ID,
                "Invalid project ID",
                ProjectId::parse,
                d,
            )
        }),
    };
    if region.is_none() && settings.mrs.is_none() && !d.has_errors() {
        d.error_at(
            AttributePath::attr(attr::REGION),
            "Missing region",
            "Set `region` (or HW_REGION_NAME) so the provider knows the MRS endpoint, or set `endpoints = { mrs = \"...\" }` (or HW_MRS_ENDPOINT).",
        );
    }
    (!d.has_errors()).then_some((region, project_id))
}

/// Step 5: the project IAM names after the provider's region, when none is set.
async fn project_of_region(
    projects: &Projects,
    region: &Region,
    keys: &SigningKeys,
    state: &ProviderState,
    d: &mut Diagnostics,
) -> Option<ProjectId> {
    match projects.of(region, &state.cancel).await {
        Ok(id) => Some(id),
        Err(e) => {
            let (path, summary) = match &e {
                IamError::Refused { status: 401, .. } if e.is_expired_token() => (
                    AttributePath::attr(attr::SECURITY_TOKEN),
                    "Security token expired",
                ),
                IamError::Refused {
                    status: 401 | 403, ..
                } => (keys.path.clone(), "Credentials refused"),
                _ => (
                    AttributePath::attr(attr::REGION),
                    "Cannot find the project of the region",
                ),
            };
            d.error_at(
                path,
                summary,
                format!("Looking up the project of region {:?} with {}: {e}. Set `project_id` (or HW_PROJECT_ID) to skip the lookup, or check `region`, `cloud`, `auth_url` and `endpoints.iam`.", region.as_str(), keys.label),
            );
            None
        }
    }
}

/// Step 6: the MRS client's settings: fixed keys, or the source that renews them.
fn client_config(settings: &Settings, keys: SigningKeys) -> ClientConfig {
    let SigningKeys { source, fixed, .. } = keys;
    let mut cfg = ClientConfig::new(
        settings.mrs.clone().unwrap_or_default(),
        fixed.clone().unwrap_or(Credentials {
            access_key: String::new(),
            secret_key: Secret::new(""),
            security_token: None,
        }),
    );
    if fixed.is_none() {
        cfg.credential_source = Some(source);
    }
    cfg.http = settings.http.clone();
    cfg
}

/// A provider configured with `settings` as a real run would configure it, for the
/// crate's unit tests (outside a runtime); an error is the calling test's failure.
#[cfg(test)]
pub fn configured_for_tests(settings: Vec<(&str, Value)>) -> Arc<ProviderState> {
    let state = Arc::new(ProviderState::new(
        tokio_util::sync::CancellationToken::new(),
    ));
    let cfg = Value::object(settings).conform(&super::schema().object_type());
    let d = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(configure(&state, &cfg)),
        Err(e) => panic!("a runtime for configure: {e}"),
    };
    assert!(!d.has_errors(), "{d:?}");
    state
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
