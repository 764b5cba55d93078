//! The provider configuration: schema, environment fallbacks, credentials, and the MRS
//! endpoint per region. Configuring makes no network call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::api::{Client, ClientConfig, Credentials, Secret};
use crate::framework::validate::{not_empty, regex_matches};
use crate::framework::{Attribute, AttributePath, Block, Diagnostics, Schema, Value};

pub const PROJECT_ID_PATTERN: &str = "^[A-Za-z0-9]{1,64}$";
pub const PROJECT_ID_RULE: &str = "1 to 64 letters or digits";
pub const DEFAULT_MAX_RETRIES: u32 = 5;

/// Regions whose MRS endpoint is not under myhuaweicloud.com (from the SDK's region table).
const CN_DOMAIN_REGIONS: &[&str] = &["ap-southeast-1", "ap-southeast-4", "ru-northwest-2"];
const EU_DOMAIN_REGIONS: &[&str] = &["eu-west-101"];

/// The MRS endpoint of a region.
pub fn endpoint_for_region(region: &str) -> String {
    let domain = if CN_DOMAIN_REGIONS.contains(&region) {
        "myhuaweicloud.cn"
    } else if EU_DOMAIN_REGIONS.contains(&region) {
        "myhuaweicloud.eu"
    } else {
        "myhuaweicloud.com"
    };
    format!("https://mrs.{region}.{domain}")
}

pub fn schema() -> Schema {
    Schema::new(
        0,
        Block::new(
            "The mrs provider manages which Huawei Cloud IAM users and groups are synchronized to the Manager of an MRS (MapReduce Service) cluster. Every argument can also come from an environment variable, named in its description; an argument in the configuration wins.",
        )
        .attribute(
            Attribute::string("region")
                .optional()
                .validator(not_empty())
                .description("The region of the MRS clusters, e.g. `cn-north-4`. Also `HW_REGION_NAME`. Resources default to it, and it selects the endpoint `https://mrs.{region}.myhuaweicloud.com` unless `endpoints.mrs` is set."),
        )
        .attribute(
            Attribute::string("project_id")
                .optional()
                .validator(regex_matches(PROJECT_ID_PATTERN, PROJECT_ID_RULE))
                .description("The project ID that resources use by default. Also `HW_PROJECT_ID`."),
        )
        .attribute(
            Attribute::string("access_key")
                .optional()
                .sensitive()
                .description("The access key (AK) used to sign requests. Also `HW_ACCESS_KEY`."),
        )
        .attribute(
            Attribute::string("secret_key")
                .optional()
                .sensitive()
                .description("The secret key (SK) used to sign requests. Also `HW_SECRET_KEY`."),
        )
        .attribute(
            Attribute::string("security_token")
                .optional()
                .sensitive()
                .description("The security token of temporary credentials; sent as `X-Security-Token`. Also `HW_SECURITY_TOKEN`."),
        )
        .attribute(
            Attribute::string_map("endpoints")
                .optional()
                .description("Custom endpoints by service. Only `mrs` is used, e.g. `{ mrs = \"http://127.0.0.1:8080\" }` for the local simulator `mrs-sim`. Also `HW_MRS_ENDPOINT`."),
        )
        .attribute(
            Attribute::bool("insecure")
                .optional()
                .description("Skip TLS certificate verification. Only for test endpoints; a warning is shown when set. Also `HW_INSECURE`."),
        )
        .attribute(
            Attribute::number("max_retries")
                .optional()
                .description("How many times a request is retried after throttling (429), a server error (500, 502, 503, 504) or a connection failure. Defaults to 5. Also `HW_MAX_RETRIES`."),
        ),
    )
}

/// Reads an attribute, falling back to an environment variable; unknown counts as unset.
fn string_setting(config: &Value, attr: &str, env: &str) -> Option<String> {
    match config.get(attr).as_str() {
        Some(s) => Some(s.to_string()),
        None => std::env::var(env).ok().filter(|s| !s.is_empty()),
    }
}

/// What the provider knows after ConfigureProvider.
pub struct Configured {
    pub region: Option<String>,
    pub project_id: Option<String>,
    endpoint: Option<String>,
    base: ClientConfig,
    /// One API client per endpoint: normally exactly one, for the provider's region.
    clients: Mutex<HashMap<String, Client>>,
}

impl Configured {
    /// The API client for a region (the explicit endpoint wins over the region's).
    pub fn client(&self, region: Option<&str>) -> Result<Client, Diagnostics> {
        let endpoint = match (&self.endpoint, region) {
            (Some(e), _) => e.clone(),
            (None, Some(r)) => endpoint_for_region(r),
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

/// State shared by the provider and its resources.
#[derive(Default)]
pub struct Shared {
    configured: RwLock<Option<Arc<Configured>>>,
    pub cancel: CancellationToken,
}

impl Shared {
    pub fn new(cancel: CancellationToken) -> Self {
        Shared {
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

    fn set(&self, c: Configured) {
        let mut guard = match self.configured.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Some(Arc::new(c));
    }
}

fn env_bool(name: &str) -> Result<Option<bool>, String> {
    match std::env::var(name) {
        Err(_) => Ok(None),
        Ok(s) => match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "1" | "true" | "yes" => Ok(Some(true)),
            "0" | "false" | "no" => Ok(Some(false)),
            _ => Err(format!("{name}={s:?} is not a boolean (use true or false)")),
        },
    }
}

/// Resolves the configuration with environment fallbacks and stores the result in `shared`.
pub fn configure(shared: &Shared, config: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    let region = string_setting(config, "region", "HW_REGION_NAME");
    let project_id = string_setting(config, "project_id", "HW_PROJECT_ID");
    if let Some(p) = &project_id {
        if !regex::Regex::new(PROJECT_ID_PATTERN).is_ok_and(|re| re.is_match(p)) {
            d.error_at(
                AttributePath::attr("project_id"),
                "Invalid project ID",
                format!("The project ID {p:?} (from the configuration or HW_PROJECT_ID) must be {PROJECT_ID_RULE}."),
            );
        }
    }
    let endpoint = match config.get("endpoints").get_map_string("mrs") {
        Some(e) => Some(e),
        None => std::env::var("HW_MRS_ENDPOINT")
            .ok()
            .filter(|s| !s.is_empty()),
    };
    if let Some(e) = &endpoint {
        if !(e.starts_with("https://") || e.starts_with("http://")) {
            d.error_at(
                AttributePath::attr("endpoints").then_key("mrs"),
                "Invalid endpoint",
                format!("The MRS endpoint {e:?} must start with https:// (or http:// for a local simulator)."),
            );
        }
    }
    if region.is_none() && endpoint.is_none() {
        d.error_at(
            AttributePath::attr("region"),
            "Missing region",
            "Set `region` (or HW_REGION_NAME) so the provider knows the MRS endpoint, or set `endpoints = { mrs = \"...\" }` (or HW_MRS_ENDPOINT).",
        );
    }
    let access_key = string_setting(config, "access_key", "HW_ACCESS_KEY");
    let secret_key = string_setting(config, "secret_key", "HW_SECRET_KEY");
    let security_token = string_setting(config, "security_token", "HW_SECURITY_TOKEN");
    match (&access_key, &secret_key) {
        (Some(_), Some(_)) => {}
        (None, None) => d.error_at(
            AttributePath::attr("access_key"),
            "Missing credentials",
            "Set `access_key` and `secret_key` (or HW_ACCESS_KEY and HW_SECRET_KEY).",
        ),
        (Some(_), None) => d.error_at(
            AttributePath::attr("secret_key"),
            "Missing secret key",
            "`access_key` is set but `secret_key` is not (nor HW_SECRET_KEY): both are needed to sign requests.",
        ),
        (None, Some(_)) => d.error_at(
            AttributePath::attr("access_key"),
            "Missing access key",
            "`secret_key` is set but `access_key` is not (nor HW_ACCESS_KEY): both are needed to sign requests.",
        ),
    }
    if security_token.is_some() && access_key.is_none() {
        d.error_at(
            AttributePath::attr("security_token"),
            "Security token without keys",
            "A security token belongs to temporary credentials: set `access_key` and `secret_key` too.",
        );
    }
    let insecure = match config.get("insecure").as_bool() {
        Some(b) => b,
        None => match env_bool("HW_INSECURE") {
            Ok(b) => b.unwrap_or(false),
            Err(msg) => {
                d.error_at(AttributePath::attr("insecure"), "Invalid HW_INSECURE", msg);
                false
            }
        },
    };
    if insecure {
        d.warning_at(
            AttributePath::attr("insecure"),
            "TLS verification is off",
            "`insecure` is set: the provider does not verify the MRS endpoint's certificate, so credentials and requests can be intercepted. Use it only against test endpoints.",
        );
    }
    let max_retries = match config.get("max_retries") {
        Value::Number(n) => match n.as_i64().filter(|i| (0..=100).contains(i)) {
            Some(i) => i as u32,
            None => {
                d.error_at(
                    AttributePath::attr("max_retries"),
                    "Invalid max_retries",
                    "`max_retries` must be a whole number from 0 to 100.",
                );
                DEFAULT_MAX_RETRIES
            }
        },
        _ => match std::env::var("HW_MAX_RETRIES") {
            Ok(s) if !s.is_empty() => match s.trim().parse::<u32>() {
                Ok(i) if i <= 100 => i,
                _ => {
                    d.error_at(
                        AttributePath::attr("max_retries"),
                        "Invalid HW_MAX_RETRIES",
                        format!("HW_MAX_RETRIES={s:?} must be a whole number from 0 to 100."),
                    );
                    DEFAULT_MAX_RETRIES
                }
            },
            _ => DEFAULT_MAX_RETRIES,
        },
    };
    if d.has_errors() {
        return d;
    }
    let (Some(access_key), Some(secret_key)) = (access_key, secret_key) else {
        return d;
    };
    let credentials = Credentials {
        access_key,
        secret_key: Secret::new(secret_key),
        security_token: security_token.map(Secret::new),
    };
    let mut base = ClientConfig::new(endpoint.clone().unwrap_or_default(), credentials);
    base.insecure = insecure;
    base.max_retries = max_retries;
    base.user_agent = format!("terraform-provider-mrs/{}", env!("CARGO_PKG_VERSION"));
    if let Some(ms) = std::env::var("TF_PROVIDER_MRS_RETRY_BASE_MS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        // Tests and benchmarks shorten the backoff; not a documented user setting.
        base.retry_base_delay = Duration::from_millis(ms);
    }
    if let Some(ms) = std::env::var("TF_PROVIDER_MRS_REQUEST_TIMEOUT_MS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
    {
        // Fault tests make a slow answer outlast the per-request timeout without waiting
        // the real minute; not a documented user setting.
        base.request_timeout = Duration::from_millis(ms);
    }
    shared.set(Configured {
        region,
        project_id,
        endpoint,
        base,
        clients: Mutex::new(HashMap::new()),
    });
    d
}

trait MapGet {
    fn get_map_string(&self, key: &str) -> Option<String>;
}

impl MapGet for Value {
    fn get_map_string(&self, key: &str) -> Option<String> {
        match self {
            Value::Map(m) => m.get(key).and_then(Value::as_str).map(str::to_string),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_per_region() {
        assert_eq!(
            endpoint_for_region("cn-north-4"),
            "https://mrs.cn-north-4.myhuaweicloud.com"
        );
        assert_eq!(
            endpoint_for_region("ap-southeast-1"),
            "https://mrs.ap-southeast-1.myhuaweicloud.cn"
        );
        assert_eq!(
            endpoint_for_region("eu-west-101"),
            "https://mrs.eu-west-101.myhuaweicloud.eu"
        );
    }

    fn config(pairs: &[(&str, Value)]) -> Value {
        let mut v = Value::object(
            schema()
                .block
                .attributes
                .iter()
                .map(|a| (a.name.clone(), Value::Null)),
        );
        for (k, x) in pairs {
            v.set_attr(k, x.clone());
        }
        v
    }

    // These tests set every attribute explicitly, so environment variables of the machine
    // running them cannot change the outcome except where noted.
    #[test]
    fn half_set_credentials_point_at_the_missing_attribute() {
        let shared = Shared::default();
        let d = configure(
            &shared,
            &config(&[
                ("region", Value::string("cn-north-4")),
                ("access_key", Value::string("AK")),
                ("secret_key", Value::Null),
            ]),
        );
        if std::env::var("HW_SECRET_KEY").is_err() {
            let e = d
                .iter()
                .find(|x| x.summary == "Missing secret key")
                .expect("diagnostic");
            assert_eq!(e.path, Some(AttributePath::attr("secret_key")));
            assert!(shared.configured().is_err());
        }
    }

    #[test]
    fn full_configuration_with_endpoint() {
        let shared = Shared::default();
        let mut m = std::collections::BTreeMap::new();
        m.insert("mrs".to_string(), Value::string("http://127.0.0.1:1"));
        let d = configure(
            &shared,
            &config(&[
                ("region", Value::string("cn-north-4")),
                ("project_id", Value::string("abc123")),
                ("access_key", Value::string("AK")),
                ("secret_key", Value::string("SK")),
                ("endpoints", Value::Map(m)),
                ("insecure", Value::Bool(true)),
                ("max_retries", Value::int(2)),
            ]),
        );
        assert!(!d.has_errors(), "{d:?}");
        assert!(d.iter().any(|x| x.summary == "TLS verification is off"));
        let c = shared.configured().expect("configured");
        assert_eq!(c.project_id.as_deref(), Some("abc123"));
        assert!(c.client(Some("cn-north-4")).is_ok());
    }

    #[test]
    fn bad_values_are_diagnostics() {
        let shared = Shared::default();
        let d = configure(
            &shared,
            &config(&[
                ("region", Value::string("cn-north-4")),
                ("project_id", Value::string("bad-id")),
                ("access_key", Value::string("AK")),
                ("secret_key", Value::string("SK")),
                ("max_retries", Value::int(-1)),
            ]),
        );
        let paths: Vec<_> = d.iter().filter_map(|x| x.path.clone()).collect();
        assert!(paths.contains(&AttributePath::attr("project_id")));
        assert!(paths.contains(&AttributePath::attr("max_retries")));
    }
}
