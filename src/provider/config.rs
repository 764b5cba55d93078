//! The provider configuration: its schema, the typed model read from Terraform's value,
//! environment fallbacks, the MRS and IAM endpoints per region, and configuring: choosing
//! the credential source and finding the project of the region.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::api::iam::{self, IamClient, IamConfig, IamError};
use crate::api::{Client, ClientConfig, CredentialSource, Credentials, Secret};
use crate::framework::validate::{not_empty, regex_matches};
use crate::framework::{
    Attribute, AttributePath, Block, Diagnostics, NestedBlock, Nesting, Schema, Value,
};

use super::credentials::{self, FixedKeys, RenewingKeys};
use super::desk::Desks;

pub const PROJECT_ID_PATTERN: &str = "^[A-Za-z0-9]{1,64}$";
pub const PROJECT_ID_RULE: &str = "1 to 64 letters or digits";
pub const DEFAULT_MAX_RETRIES: u32 = 5;
/// The default domain of Huawei Cloud endpoints.
pub const DEFAULT_CLOUD: &str = "myhuaweicloud.com";
/// IAM's default and bounds for an agency's temporary keys, in seconds.
pub const DEFAULT_ASSUME_ROLE_DURATION: i64 = 900;
const ASSUME_ROLE_DURATION_RANGE: std::ops::RangeInclusive<i64> = 900..=86_400;

/// Regions whose MRS endpoint is not under myhuaweicloud.com (from the SDK's region table).
const CN_DOMAIN_REGIONS: &[&str] = &["ap-southeast-1", "ap-southeast-4", "ru-northwest-2"];
const EU_DOMAIN_REGIONS: &[&str] = &["eu-west-101"];

/// The attribute names, used by the schema, the model and diagnostics' paths alone.
pub mod attr {
    pub const REGION: &str = "region";
    pub const PROJECT_ID: &str = "project_id";
    pub const ACCESS_KEY: &str = "access_key";
    pub const SECRET_KEY: &str = "secret_key";
    pub const SECURITY_TOKEN: &str = "security_token";
    pub const SHARED_CONFIG_FILE: &str = "shared_config_file";
    pub const PROFILE: &str = "profile";
    pub const ASSUME_ROLE: &str = "assume_role";
    pub const AGENCY_NAME: &str = "agency_name";
    pub const DOMAIN_NAME: &str = "domain_name";
    pub const DURATION: &str = "duration";
    pub const CLOUD: &str = "cloud";
    pub const AUTH_URL: &str = "auth_url";
    pub const ENDPOINTS: &str = "endpoints";
    pub const INSECURE: &str = "insecure";
    pub const MAX_RETRIES: &str = "max_retries";
    /// Keys of `endpoints`.
    pub const MRS: &str = "mrs";
    pub const IAM: &str = "iam";
    pub const METADATA: &str = "metadata";
}

/// The domain of a region's endpoints: `cloud` when set, else the region table.
fn domain_for(region: &str, cloud: Option<&str>) -> String {
    match cloud {
        Some(c) => c.to_string(),
        None if CN_DOMAIN_REGIONS.contains(&region) => "myhuaweicloud.cn".into(),
        None if EU_DOMAIN_REGIONS.contains(&region) => "myhuaweicloud.eu".into(),
        None => DEFAULT_CLOUD.into(),
    }
}

/// The MRS endpoint of a region.
pub fn endpoint_for_region(region: &str) -> String {
    mrs_endpoint(region, None)
}

/// The MRS endpoint of a region under `cloud` (default: the region table).
pub fn mrs_endpoint(region: &str, cloud: Option<&str>) -> String {
    format!("https://mrs.{region}.{}", domain_for(region, cloud))
}

/// IAM's endpoint: `endpoints.iam`, else `auth_url` without its `/v3`, else the region's.
pub fn iam_endpoint(
    explicit: Option<&str>,
    auth_url: Option<&str>,
    region: Option<&str>,
    cloud: Option<&str>,
) -> Option<String> {
    if let Some(e) = explicit {
        return Some(e.trim().trim_end_matches('/').to_string());
    }
    if let Some(u) = auth_url {
        let u = u.trim().trim_end_matches('/');
        return Some(u.strip_suffix("/v3").unwrap_or(u).to_string());
    }
    region.map(|r| format!("https://iam.{r}.{}", domain_for(r, cloud)))
}

pub fn schema() -> Schema {
    Schema::new(
        0,
        Block::new(
            "The mrs provider manages which Huawei Cloud IAM users and groups are synchronized to the Manager of an MRS (MapReduce Service) cluster. Every argument can also come from an environment variable, named in its description; an argument in the configuration wins. Credentials are looked for in this order: `access_key` and `secret_key`, the environment, the shared config file, the ECS metadata service; `assume_role` then applies on top of them.",
        )
        .attribute(
            Attribute::string(attr::REGION)
                .optional()
                .validator(not_empty())
                .description("The region of the MRS clusters, e.g. `cn-north-4`. Also `HW_REGION_NAME`, or the profile's `region`. Resources default to it, it selects the endpoints `https://mrs.{region}.{cloud}` and `https://iam.{region}.{cloud}`, and the project ID is looked up from it when `project_id` is not set."),
        )
        .attribute(
            Attribute::string(attr::PROJECT_ID)
                .optional()
                .validator(regex_matches(PROJECT_ID_PATTERN, PROJECT_ID_RULE))
                .description("The project ID that resources use by default. Also `HW_PROJECT_ID`, or the profile's `projectId`. When none is set, the provider asks IAM for the project named after `region` (once per region)."),
        )
        .attribute(
            Attribute::string(attr::ACCESS_KEY)
                .optional()
                .sensitive()
                .description("The access key (AK) used to sign requests. Also `HW_ACCESS_KEY`."),
        )
        .attribute(
            Attribute::string(attr::SECRET_KEY)
                .optional()
                .sensitive()
                .description("The secret key (SK) used to sign requests. Also `HW_SECRET_KEY`."),
        )
        .attribute(
            Attribute::string(attr::SECURITY_TOKEN)
                .optional()
                .sensitive()
                .description("The security token of temporary credentials; sent as `X-Security-Token`. Also `HW_SECURITY_TOKEN`."),
        )
        .attribute(
            Attribute::string(attr::SHARED_CONFIG_FILE)
                .optional()
                .description("The path of a shared config file written by KooCLI (`hcloud`), used when no keys are set. Also `HW_SHARED_CONFIG_FILE`. Defaults to `~/.hcloud/config.json` when `profile` is set."),
        )
        .attribute(
            Attribute::string(attr::PROFILE)
                .optional()
                .description("The profile to use from the shared config file. Also `HW_PROFILE`. Defaults to the file's `current` profile."),
        )
        .attribute(
            Attribute::string(attr::CLOUD)
                .optional()
                .description("The domain of the endpoints. Also `HW_CLOUD`. Defaults to `myhuaweicloud.com` (`myhuaweicloud.cn` or `myhuaweicloud.eu` for the regions served there)."),
        )
        .attribute(
            Attribute::string(attr::AUTH_URL)
                .optional()
                .description("The IAM (Identity) URL. Also `HW_AUTH_URL`. Defaults to `https://iam.{region}.{cloud}/v3`."),
        )
        .attribute(
            Attribute::string_map(attr::ENDPOINTS)
                .optional()
                .description("Custom endpoints by service: `mrs` (also `HW_MRS_ENDPOINT`), `iam` (wins over `auth_url`) and `metadata`, the ECS metadata service (also `HW_METADATA_ENDPOINT`; default `http://169.254.169.254`). E.g. `{ mrs = \"http://127.0.0.1:8080\" }` for the local simulator `mrs-sim`."),
        )
        .attribute(
            Attribute::bool(attr::INSECURE)
                .optional()
                .description("Skip TLS certificate verification. Only for test endpoints; a warning is shown when set. Also `HW_INSECURE`."),
        )
        .attribute(
            Attribute::number(attr::MAX_RETRIES)
                .optional()
                .description("How many times a request is retried after throttling (429), a server error (500, 502, 503, 504) or a connection failure; each retry writes a warning to the log. Defaults to 5. Also `HW_MAX_RETRIES`."),
        )
        .block(NestedBlock {
            type_name: attr::ASSUME_ROLE.to_string(),
            block: Block::new("Assume an IAM agency with the credentials found otherwise: requests are then signed with the agency's temporary keys, renewed before they expire.")
                .attribute(Attribute::string(attr::AGENCY_NAME).optional().description("The agency's name. Also `HW_ASSUME_ROLE_AGENCY_NAME`."))
                .attribute(Attribute::string(attr::DOMAIN_NAME).optional().description("The name of the account (domain) that created the agency. Also `HW_ASSUME_ROLE_DOMAIN_NAME`."))
                .attribute(Attribute::number(attr::DURATION).optional().description("How long each set of temporary keys lives, in seconds, from 900 to 86400. Also `HW_ASSUME_ROLE_DURATION`. Defaults to 900; the provider renews them before they expire.")),
            nesting: Nesting::Single,
            min_items: 0,
            max_items: 0,
        }),
    )
}

/// The provider block as written (unknown counts as unset); environment fallbacks come later.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProviderModel {
    pub region: Option<String>,
    pub project_id: Option<String>,
    pub access_key: Option<String>,
    pub secret_key: Option<Secret>,
    pub security_token: Option<Secret>,
    pub shared_config_file: Option<String>,
    pub profile: Option<String>,
    pub assume_role: Option<AssumeRoleModel>,
    pub cloud: Option<String>,
    pub auth_url: Option<String>,
    pub endpoints: BTreeMap<String, String>,
    pub insecure: Option<bool>,
    pub max_retries: Option<f64>,
}

/// The `assume_role` block.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct AssumeRoleModel {
    pub agency_name: Option<String>,
    pub domain_name: Option<String>,
    pub duration: Option<f64>,
}

/// Reads typed values out of an object, collecting a diagnostic per mismatch at its path.
struct Reader<'a> {
    object: &'a Value,
    base: AttributePath,
    diags: &'a mut Diagnostics,
}

impl Reader<'_> {
    fn mismatch(&mut self, name: &str, want: &str) {
        let path = self.base.clone().then_attr(name);
        self.diags.error_at(
            path.clone(),
            "Unexpected value type",
            format!("{path} should be {want}. This is a bug in the provider or Terraform; please report it."),
        );
    }

    fn string(&mut self, name: &str) -> Option<String> {
        match self.object.get(name) {
            Value::Null | Value::Unknown => None,
            Value::String(s) => Some(s.clone()),
            _ => {
                self.mismatch(name, "a string");
                None
            }
        }
    }

    fn bool(&mut self, name: &str) -> Option<bool> {
        match self.object.get(name) {
            Value::Null | Value::Unknown => None,
            Value::Bool(b) => Some(*b),
            _ => {
                self.mismatch(name, "a boolean");
                None
            }
        }
    }

    fn number(&mut self, name: &str) -> Option<f64> {
        match self.object.get(name) {
            Value::Null | Value::Unknown => None,
            Value::Number(n) => Some(n.as_f64()),
            _ => {
                self.mismatch(name, "a number");
                None
            }
        }
    }

    fn string_map(&mut self, name: &str) -> BTreeMap<String, String> {
        match self.object.get(name) {
            Value::Null | Value::Unknown => BTreeMap::new(),
            Value::Map(m) => {
                let mut out = BTreeMap::new();
                for (k, v) in m {
                    match v {
                        Value::String(s) => {
                            out.insert(k.clone(), s.clone());
                        }
                        Value::Null | Value::Unknown => {}
                        _ => self.mismatch(name, "a map of strings"),
                    }
                }
                out
            }
            _ => {
                self.mismatch(name, "a map of strings");
                BTreeMap::new()
            }
        }
    }
}

impl ProviderModel {
    /// Reads the provider block; a value of the wrong type is an error at its path.
    pub fn from_value(v: &Value) -> Result<ProviderModel, Diagnostics> {
        let mut diags = Diagnostics::new();
        let mut r = Reader {
            object: v,
            base: AttributePath::root(),
            diags: &mut diags,
        };
        let mut m = ProviderModel {
            region: r.string(attr::REGION),
            project_id: r.string(attr::PROJECT_ID),
            access_key: r.string(attr::ACCESS_KEY),
            secret_key: r.string(attr::SECRET_KEY).map(Secret::new),
            security_token: r.string(attr::SECURITY_TOKEN).map(Secret::new),
            shared_config_file: r.string(attr::SHARED_CONFIG_FILE),
            profile: r.string(attr::PROFILE),
            assume_role: None,
            cloud: r.string(attr::CLOUD),
            auth_url: r.string(attr::AUTH_URL),
            endpoints: r.string_map(attr::ENDPOINTS),
            insecure: r.bool(attr::INSECURE),
            max_retries: r.number(attr::MAX_RETRIES),
        };
        let block = v.get(attr::ASSUME_ROLE);
        m.assume_role = match block {
            Value::Object(_) => {
                let mut r = Reader {
                    object: block,
                    base: AttributePath::attr(attr::ASSUME_ROLE),
                    diags: &mut diags,
                };
                Some(AssumeRoleModel {
                    agency_name: r.string(attr::AGENCY_NAME),
                    domain_name: r.string(attr::DOMAIN_NAME),
                    duration: r.number(attr::DURATION),
                })
            }
            Value::Null | Value::Unknown => None,
            _ => {
                diags.error_at(
                    AttributePath::attr(attr::ASSUME_ROLE),
                    "Unexpected value type",
                    "assume_role should be a block. This is a bug in the provider or Terraform; please report it.",
                );
                None
            }
        };
        if diags.has_errors() {
            Err(diags)
        } else {
            Ok(m)
        }
    }
}

/// An environment variable, empty counting as unset.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.trim().is_empty())
}

/// What the provider knows after ConfigureProvider.
pub struct Configured {
    pub region: Option<String>,
    /// The provider's project: configured, from the profile, or looked up for `region`.
    pub project_id: Option<String>,
    endpoint: Option<String>,
    cloud: Option<String>,
    base: ClientConfig,
    /// One API client per endpoint: normally exactly one, for the provider's region.
    clients: Mutex<HashMap<String, Client>>,
}

impl Configured {
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

/// The keys found before any agency is assumed, and what to call their source.
struct BaseKeys {
    source: Arc<dyn CredentialSource>,
    /// Fixed keys, when they are (a static client needs no source).
    fixed: Option<Credentials>,
    label: String,
    /// Where a problem with these keys is reported.
    path: AttributePath,
    /// Defaults from a profile.
    profile: Option<credentials::Profile>,
}

/// Static keys (configuration, then environment, per attribute), else the shared config
/// file, else the ECS metadata service, whose first keys are fetched now.
async fn base_keys(m: &ProviderModel, metadata: &str, d: &mut Diagnostics) -> Option<BaseKeys> {
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
            let creds = Credentials {
                access_key: ak.clone(),
                secret_key: sk.clone(),
                security_token,
            };
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
        return match credentials::read_profile(&path, profile.as_deref()) {
            Ok(p) => Some(BaseKeys {
                source: Arc::new(FixedKeys(p.credentials.clone())),
                fixed: Some(p.credentials.clone()),
                label: format!(
                    "profile {:?} of the shared config file {}",
                    p.name,
                    credentials::expand_home(&path).display()
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
    let keys = RenewingKeys::metadata(metadata);
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

/// The agency to assume, from the block, the environment or the profile: (domain, agency,
/// duration). Half a setting is an error at the missing attribute.
fn agency_setting(
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

/// Resolves the configuration with environment fallbacks, obtains the first keys of a
/// temporary source, looks up the project of the region when none is set, and stores the
/// result in `state`. Nothing is written to any API.
pub async fn configure(state: &ProviderState, config: &Value) -> Diagnostics {
    let m = match ProviderModel::from_value(config) {
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
    let explicit_project = m.project_id.clone().or_else(|| env("HW_PROJECT_ID"));
    check_project_id(
        explicit_project.as_deref(),
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
        project_id = profile.and_then(|p| p.project_id.clone());
        check_project_id(project_id.as_deref(), &base.label, &mut d);
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
    let iam_client = || -> Result<IamClient, IamError> {
        let endpoint = iam_endpoint(
            endpoints.get(attr::IAM).map(String::as_str),
            auth_url.as_deref(),
            region.as_deref(),
            cloud.as_deref(),
        )
        .ok_or_else(|| IamError::Config {
            message: "IAM's endpoint is unknown: set `region`, `auth_url` or `endpoints.iam`"
                .into(),
        })?;
        IamClient::new(IamConfig {
            endpoint,
            insecure,
            max_retries,
            retry_base_delay: retry_base.unwrap_or(Duration::from_millis(500)),
            request_timeout: request_timeout.unwrap_or(Duration::from_secs(60)),
            user_agent: user_agent.clone(),
        })
    };
    // The keys requests are signed with: the base keys, or an agency's on top of them.
    let (source, fixed, label, key_path): (Arc<dyn CredentialSource>, _, String, _) = match agency {
        None => (base.source, base.fixed, base.label, base.path),
        Some((domain, agency_name, duration)) => {
            let at = AttributePath::attr(attr::ASSUME_ROLE);
            let iam = match iam_client() {
                Ok(c) => c,
                Err(e) => {
                    d.error_at(at, "Cannot assume the agency", e.to_string());
                    return d;
                }
            };
            let keys = RenewingKeys::agency(
                iam,
                base.source,
                &domain,
                &agency_name,
                duration,
                state.cancel.clone(),
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
                    format!("Assuming agency {agency_name:?} of domain {domain:?} with {} failed: {e}. {why}", base.label),
                );
                return d;
            }
            (
                Arc::new(keys),
                None,
                format!("{} assumed with {}", "the agency", base.label),
                at,
            )
        }
    };
    if project_id.is_none() {
        if let Some(r) = &region {
            match lookup_project(iam_client(), source.as_ref(), r, &state.cancel).await {
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
    state.set(Configured {
        region,
        project_id,
        endpoint: mrs,
        cloud,
        base: client_cfg,
        clients: Mutex::new(HashMap::new()),
    });
    d
}

fn check_project_id(p: Option<&str>, from: &str, d: &mut Diagnostics) {
    if let Some(p) = p {
        if !regex::Regex::new(PROJECT_ID_PATTERN).is_ok_and(|re| re.is_match(p)) {
            d.error_at(
                AttributePath::attr(attr::PROJECT_ID),
                "Invalid project ID",
                format!("The project ID {p:?} (from {from}) must be {PROJECT_ID_RULE}."),
            );
        }
    }
}

/// The project named after `region`, asked of IAM with the current keys.
async fn lookup_project(
    iam: Result<IamClient, IamError>,
    source: &dyn CredentialSource,
    region: &str,
    cancel: &CancellationToken,
) -> Result<String, IamError> {
    let iam = iam?;
    let keys = source.credentials().await.map_err(|e| IamError::Config {
        message: e.to_string(),
    })?;
    match iam.project_id(&keys, region, cancel).await? {
        Some(id) if regex::Regex::new(PROJECT_ID_PATTERN).is_ok_and(|re| re.is_match(&id)) => {
            crate::log_debug!(
                "found the project of the region",
                region = region,
                project_id = id
            );
            Ok(id)
        }
        Some(id) => Err(IamError::Malformed {
            service: "IAM",
            message: format!("the project ID {id:?} of region {region:?} is not {PROJECT_ID_RULE}"),
        }),
        None => Err(IamError::Config {
            message: format!("IAM at {} has no project named {region:?}", iam.endpoint()),
        }),
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
        assert_eq!(
            mrs_endpoint("eu-west-101", Some("example.org")),
            "https://mrs.eu-west-101.example.org"
        );
    }

    #[test]
    fn iam_endpoint_prefers_endpoints_then_auth_url_then_region() {
        let e = iam_endpoint(Some("http://x/"), Some("https://a/v3"), Some("r"), None);
        assert_eq!(e.as_deref(), Some("http://x"));
        let e = iam_endpoint(None, Some("https://a:443/v3/"), Some("r"), None);
        assert_eq!(e.as_deref(), Some("https://a:443"));
        let e = iam_endpoint(None, None, Some("ap-southeast-1"), None);
        assert_eq!(
            e.as_deref(),
            Some("https://iam.ap-southeast-1.myhuaweicloud.cn")
        );
        let e = iam_endpoint(None, None, Some("cn-north-4"), Some("c.example"));
        assert_eq!(e.as_deref(), Some("https://iam.cn-north-4.c.example"));
        assert_eq!(iam_endpoint(None, None, None, None), None);
    }

    #[test]
    fn the_model_reports_the_path_of_a_mismatched_value() {
        let mut block = std::collections::BTreeMap::new();
        block.insert(attr::AGENCY_NAME.to_string(), Value::Bool(true));
        let v = config(&[
            (attr::REGION, Value::int(4)),
            (attr::ASSUME_ROLE, Value::Object(block)),
            (attr::SECRET_KEY, Value::string("sk")),
        ]);
        let Err(d) = ProviderModel::from_value(&v) else {
            unreachable!("mismatches")
        };
        let paths: Vec<_> = d.iter().filter_map(|x| x.path.clone()).collect();
        assert!(paths.contains(&AttributePath::attr(attr::REGION)));
        assert!(
            paths.contains(&AttributePath::attr(attr::ASSUME_ROLE).then_attr(attr::AGENCY_NAME))
        );
        let ok = config(&[
            (attr::REGION, Value::string("cn-north-4")),
            (attr::SECRET_KEY, Value::string("sk")),
            (attr::MAX_RETRIES, Value::Unknown),
        ]);
        let m = ProviderModel::from_value(&ok);
        let Ok(m) = m else { unreachable!("valid") };
        assert_eq!(m.region.as_deref(), Some("cn-north-4"));
        assert_eq!(m.secret_key.as_ref().map(Secret::expose), Some("sk"));
        assert_eq!(m.max_retries, None);
        assert!(!format!("{m:?}").contains("sk\""));
    }

    fn config(pairs: &[(&str, Value)]) -> Value {
        let mut v = Value::object(
            schema()
                .block
                .attributes
                .iter()
                .map(|a| (a.name.clone(), Value::Null))
                .chain([(attr::ASSUME_ROLE.to_string(), Value::Null)]),
        );
        for (k, x) in pairs {
            v.set_attr(k, x.clone());
        }
        v
    }

    // These tests set every attribute explicitly, so environment variables of the machine
    // running them cannot change the outcome except where noted.
    #[tokio::test]
    async fn half_set_credentials_point_at_the_missing_attribute() {
        let shared = ProviderState::default();
        let d = configure(
            &shared,
            &config(&[
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
            &config(&[
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
        assert_eq!(c.project_id.as_deref(), Some("abc123"));
        assert!(c.client(Some("cn-north-4")).is_ok());
    }

    #[tokio::test]
    async fn bad_values_are_diagnostics() {
        let shared = ProviderState::default();
        let d = configure(
            &shared,
            &config(&[
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
