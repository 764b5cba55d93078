//! Which keys sign requests: static keys, the shared config file or the ECS metadata
//! service, and an agency assumed on top of them.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::api::iam::{IamClient, IamError};
use crate::api::shown::shorten;
use crate::api::{check_credentials, CredentialSource, Credentials, KeysError, Secret, Tls};
use crate::framework::{AttributePath, Diagnostics};
use crate::provider::credentials::{self, FixedKeys, RenewingKeys};

use super::env::env;
use super::model::ProviderModel;
use super::schema::attr;

/// IAM's default and bounds for an agency's temporary keys, in seconds.
pub const DEFAULT_ASSUME_ROLE_DURATION: i64 = 900;
const ASSUME_ROLE_DURATION_RANGE: std::ops::RangeInclusive<i64> = 900..=86_400;

/// The keys found before any agency is assumed, and what to call their source.
pub(super) struct BaseKeys {
    pub source: Arc<dyn CredentialSource>,
    /// Fixed keys, when they are (a static client needs no source).
    pub fixed: Option<Credentials>,
    pub label: String,
    /// Where a problem with these keys is reported.
    pub path: AttributePath,
    /// Defaults from a profile.
    pub profile: Option<credentials::Profile>,
}

/// Static keys (configuration, then environment, per attribute), else the shared config
/// file, else the ECS metadata service, whose first keys are fetched now.
pub(super) async fn base_keys(
    m: &ProviderModel,
    metadata: &str,
    tls: &Tls,
    cancel: &CancellationToken,
    d: &mut Diagnostics,
) -> Option<BaseKeys> {
    let (ak_conf, sk_conf) = (m.access_key.is_some(), m.secret_key.is_some());
    let access_key = m.access_key.clone().or_else(|| env("HW_ACCESS_KEY"));
    let secret_key = m
        .secret_key
        .clone()
        .or_else(|| env("HW_SECRET_KEY").map(Secret::new));
    let security_token = m
        .security_token
        .clone()
        .or_else(|| env("HW_SECURITY_TOKEN").map(Secret::new));
    match (&access_key, &secret_key) {
        (Some(ak), Some(sk)) => {
            let label = match (ak_conf, sk_conf) {
                (true, true) => "the provider's `access_key` and `secret_key`",
                (false, false) => "HW_ACCESS_KEY and HW_SECRET_KEY",
                _ => "`access_key`/HW_ACCESS_KEY and `secret_key`/HW_SECRET_KEY",
            };
            let token_conf = m.security_token.is_some();
            let creds = Credentials {
                access_key: ak.clone(),
                secret_key: sk.clone(),
                security_token,
            };
            let from = |configured: bool, attribute: &str, var: &str| {
                if configured {
                    format!("`{attribute}`")
                } else {
                    var.to_string()
                }
            };
            let sources = Sources {
                access_key: from(ak_conf, attr::ACCESS_KEY, "HW_ACCESS_KEY"),
                secret_key: from(sk_conf, attr::SECRET_KEY, "HW_SECRET_KEY"),
                token: from(token_conf, attr::SECURITY_TOKEN, "HW_SECURITY_TOKEN"),
            };
            if !keys_fit_headers(&creds, &sources, d) {
                return None;
            }
            return Some(BaseKeys {
                source: Arc::new(FixedKeys(creds.clone())),
                fixed: Some(creds),
                label: label.to_string(),
                path: AttributePath::attr(attr::ACCESS_KEY),
                profile: None,
            });
        }
        (Some(_), None) => {
            d.error_at(
                AttributePath::attr(attr::SECRET_KEY),
                "Missing secret key",
                "`access_key` is set but `secret_key` is not (nor HW_SECRET_KEY): both are needed to sign requests.",
            );
            return None;
        }
        (None, Some(_)) => {
            d.error_at(
                AttributePath::attr(attr::ACCESS_KEY),
                "Missing access key",
                "`secret_key` is set but `access_key` is not (nor HW_ACCESS_KEY): both are needed to sign requests.",
            );
            return None;
        }
        (None, None) => {}
    }
    if security_token.is_some() {
        d.error_at(
            AttributePath::attr(attr::SECURITY_TOKEN),
            "Security token without keys",
            "A security token belongs to temporary credentials: set `access_key` and `secret_key` too.",
        );
        return None;
    }
    let file = m
        .shared_config_file
        .clone()
        .or_else(|| env("HW_SHARED_CONFIG_FILE"));
    let profile = m.profile.clone().or_else(|| env("HW_PROFILE"));
    if file.is_some() || profile.is_some() {
        let path = file
            .clone()
            .unwrap_or_else(|| credentials::DEFAULT_SHARED_CONFIG_FILE.to_string());
        return match credentials::read_profile(&path, profile.as_deref(), cancel).await {
            Ok(p)
                if !keys_fit_headers(
                    &p.credentials,
                    &Sources {
                        access_key: format!("the accessKeyId of profile {}", shorten(&p.name)),
                        secret_key: format!("the secretAccessKey of profile {}", shorten(&p.name)),
                        token: format!("the securityToken of profile {}", shorten(&p.name)),
                    },
                    d,
                ) =>
            {
                None
            }
            Ok(p) => Some(BaseKeys {
                source: Arc::new(FixedKeys(p.credentials.clone())),
                fixed: Some(p.credentials.clone()),
                label: format!(
                    "profile {} of the shared config file {}",
                    shorten(&p.name),
                    crate::shown::path(&credentials::expand_home(&path).display().to_string())
                ),
                path: AttributePath::attr(attr::PROFILE),
                profile: Some(p),
            }),
            Err(e) => {
                let at = match e {
                    credentials::ProfileError::NoSuchProfile { .. }
                    | credentials::ProfileError::NoKeys { .. } => attr::PROFILE,
                    _ if file.is_none() => attr::PROFILE,
                    _ => attr::SHARED_CONFIG_FILE,
                };
                d.error_at(
                    AttributePath::attr(at),
                    "Cannot use the shared config file",
                    format!("{e} The file is `shared_config_file` (or HW_SHARED_CONFIG_FILE), the profile `profile` (or HW_PROFILE)."),
                );
                None
            }
        };
    }
    let keys = RenewingKeys::metadata(metadata, tls.clone());
    match keys.current().await {
        Ok(_) => Some(BaseKeys {
            label: keys.label().to_string(),
            source: Arc::new(keys),
            fixed: None,
            path: AttributePath::root(),
            profile: None,
        }),
        Err(e) => {
            // At `access_key`, the first source in the order: the one most people set.
            d.error_at(
                AttributePath::attr(attr::ACCESS_KEY),
                "No credentials",
                format!("No `access_key` and `secret_key` (nor HW_ACCESS_KEY and HW_SECRET_KEY), no shared config file (`shared_config_file`, `profile`, HW_SHARED_CONFIG_FILE, HW_PROFILE), and {e}. Off an ECS instance, set one of the others; the metadata endpoint is `endpoints.metadata` or HW_METADATA_ENDPOINT."),
            );
            None
        }
    }
}

/// Where each part of a pair of keys came from, as messages name it.
struct Sources {
    access_key: String,
    secret_key: String,
    token: String,
}

/// Keys whose access key or token cannot travel in a header (visible ASCII only) are an
/// error at that attribute now, not a 401 at the first request of some resource; the
/// message names where the faulty value came from, never the value.
fn keys_fit_headers(c: &Credentials, from: &Sources, d: &mut Diagnostics) -> bool {
    let Err(e) = check_credentials(c) else {
        return true;
    };
    let (at, source) = match e {
        KeysError::EmptyAccessKey | KeysError::AccessKeyNotHeader => {
            (attr::ACCESS_KEY, &from.access_key)
        }
        KeysError::EmptySecretKey => (attr::SECRET_KEY, &from.secret_key),
        KeysError::TokenNotHeader => (attr::SECURITY_TOKEN, &from.token),
    };
    d.error_at(
        AttributePath::attr(at),
        "Unusable credentials",
        format!("In {source}, {e}. Set it again as issued."),
    );
    false
}

/// The agency to assume, from the block, the environment or the profile: (domain, agency,
/// duration). Half a setting is an error at the missing attribute.
pub(super) fn agency_setting(
    m: &ProviderModel,
    profile: Option<&credentials::Profile>,
    d: &mut Diagnostics,
) -> Option<(String, String, Duration)> {
    let block = m.assume_role.clone().unwrap_or_default();
    let at = |name: &str| AttributePath::attr(attr::ASSUME_ROLE).then_attr(name);
    let mut agency = block
        .agency_name
        .or_else(|| env("HW_ASSUME_ROLE_AGENCY_NAME"));
    let mut domain = block
        .domain_name
        .or_else(|| env("HW_ASSUME_ROLE_DOMAIN_NAME"));
    if agency.is_none() && domain.is_none() {
        if let Some((dn, an)) = profile.and_then(|p| p.agency.clone()) {
            domain = Some(dn);
            agency = Some(an);
        }
    }
    let duration = match block.duration {
        Some(n) => Some((n, "`duration`".to_string())),
        None => match env("HW_ASSUME_ROLE_DURATION") {
            Some(s) => match s.trim().parse::<f64>() {
                Ok(n) => Some((n, "HW_ASSUME_ROLE_DURATION".to_string())),
                Err(_) => Some((f64::NAN, "HW_ASSUME_ROLE_DURATION".to_string())),
            },
            None => None,
        },
    };
    let secs = match duration {
        None => DEFAULT_ASSUME_ROLE_DURATION,
        Some((n, _)) if n.fract() == 0.0 && ASSUME_ROLE_DURATION_RANGE.contains(&(n as i64)) => {
            n as i64
        }
        Some((_, from)) => {
            d.error_at(
                at(attr::DURATION),
                "Invalid assume_role duration",
                format!("The duration (from {from}) must be a whole number of seconds from 900 to 86400."),
            );
            DEFAULT_ASSUME_ROLE_DURATION
        }
    };
    match (domain, agency) {
        (None, None) if m.assume_role.is_none() => None,
        (Some(domain), Some(agency)) => Some((domain, agency, Duration::from_secs(secs as u64))),
        (_, None) => {
            d.error_at(
                at(attr::AGENCY_NAME),
                "Missing agency name",
                "assume_role needs `agency_name` (or HW_ASSUME_ROLE_AGENCY_NAME).",
            );
            None
        }
        (None, Some(_)) => {
            d.error_at(
                at(attr::DOMAIN_NAME),
                "Missing domain name",
                "assume_role needs `domain_name` (or HW_ASSUME_ROLE_DOMAIN_NAME), the account that created the agency.",
            );
            None
        }
    }
}

/// The keys requests are signed with, what to call them, and where a problem with them is
/// reported.
pub(super) struct SigningKeys {
    pub source: Arc<dyn CredentialSource>,
    /// Fixed keys, when they are (a static client needs no source).
    pub fixed: Option<Credentials>,
    pub label: String,
    pub path: AttributePath,
}

/// The base keys, or an agency's on top of them (from `agency_setting`), whose first keys
/// are fetched now so that a refusal shows at `assume_role` rather than at the first call.
pub(super) async fn signing_keys(
    base: BaseKeys,
    agency: Option<(String, String, Duration)>,
    iam_client: impl FnOnce() -> Result<IamClient, IamError>,
    cancel: &CancellationToken,
    d: &mut Diagnostics,
) -> Option<SigningKeys> {
    let Some((domain, agency_name, duration)) = agency else {
        return Some(SigningKeys {
            source: base.source,
            fixed: base.fixed,
            label: base.label,
            path: base.path,
        });
    };
    let at = AttributePath::attr(attr::ASSUME_ROLE);
    let iam = match iam_client() {
        Ok(c) => c,
        Err(e) => {
            d.error_at(at, "Cannot assume the agency", e.to_string());
            return None;
        }
    };
    let keys = RenewingKeys::agency(
        iam,
        base.source,
        &domain,
        &agency_name,
        duration,
        cancel.clone(),
    );
    if let Err(e) = keys.current().await {
        let why = match &e {
            credentials::SourceError::Iam(IamError::Refused { status: 403, .. }) => "IAM does not let these keys assume it: check the agency's name, its domain, and that it trusts the account (or user) of the keys.".to_string(),
            credentials::SourceError::Iam(e) if e.is_expired_token() => format!("the security token of {} has expired.", base.label),
            _ => "check `assume_role`, `auth_url` and `endpoints.iam`.".to_string(),
        };
        d.error_at(
            at,
            "Cannot assume the agency",
            format!(
                "Assuming agency {} of domain {} with {} failed: {e}. {why}",
                shorten(&agency_name),
                shorten(&domain),
                base.label
            ),
        );
        return None;
    }
    Some(SigningKeys {
        source: Arc::new(keys),
        fixed: None,
        label: format!("{} assumed with {}", "the agency", base.label),
        path: at,
    })
}
