//! IAM calls (the project of a region, an IAM user's groups, an agency's temporary keys)
//! and the ECS metadata service's temporary keys. IAM calls are signed like MRS calls; no
//! Terraform types.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::error::snippet;
use super::http::{Endpoint, Failure, HttpSettings, Keys, Request, Tls, Transport};
use super::shown::without_userinfo;
use super::signer::{self, TemporaryCredentials};
use super::{Credentials, Region, Secret};

/// The ECS metadata service, as every Huawei Cloud instance sees it.
pub const DEFAULT_METADATA_ENDPOINT: &str = "http://169.254.169.254";
/// Where the metadata service hands out the instance agency's temporary keys.
pub const METADATA_PATH: &str = "/openstack/latest/securitykey";
/// How long the metadata service may take (its home is with the other defaults).
pub const METADATA_TIMEOUT: Duration = super::http::defaults::METADATA_TIMEOUT;

/// What went wrong talking to IAM or the metadata service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IamError {
    /// The service answered with an error.
    Refused {
        service: &'static str,
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    /// No answer (refused, unresolvable, timed out), after any retries.
    Unreachable {
        service: &'static str,
        endpoint: String,
        message: String,
    },
    /// A success whose body is not what the API documents.
    Malformed {
        service: &'static str,
        message: String,
    },
    /// The endpoint or the call's arguments are unusable.
    Config {
        message: String,
    },
    /// Something no retry can change (a certificate refused, a redirect, an answer too
    /// large); the message names the cause and the fix.
    Unusable {
        message: String,
    },
    Cancelled,
}

impl From<super::retry::Cancelled> for IamError {
    fn from(_: super::retry::Cancelled) -> IamError {
        IamError::Cancelled
    }
}

impl IamError {
    /// IAM refused the keys because their token is past its expiry.
    pub fn is_expired_token(&self) -> bool {
        matches!(self, IamError::Refused { status: 401, message, .. }
            if message.to_ascii_lowercase().contains("expire"))
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            IamError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for IamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IamError::Refused {
                service,
                status,
                code,
                message,
                request_id,
            } => {
                let code = if code.is_empty() { "none" } else { code };
                write!(
                    f,
                    "{service} answered HTTP {status}, error code {code}: {message}"
                )?;
                if let Some(id) = request_id {
                    write!(f, " (request id {id})")?;
                }
                Ok(())
            }
            IamError::Unreachable {
                service,
                endpoint,
                message,
            } => write!(f, "could not reach {service} at {endpoint}: {message}"),
            IamError::Malformed { service, message } => {
                write!(
                    f,
                    "{service} answered with a body that could not be read: {message}"
                )
            }
            IamError::Config { message } | IamError::Unusable { message } => {
                write!(f, "{message}")
            }
            IamError::Cancelled => write!(f, "the call was cancelled"),
        }
    }
}

impl std::error::Error for IamError {}

/// IAM's two error shapes: `{"error":{"code","message"}}` (v3) and
/// `{"error_code","error_msg"}` (v3.0 and the gateway).
fn parse_error(body: &[u8]) -> (String, String) {
    #[derive(Deserialize)]
    struct Keystone {
        error: KeystoneError,
    }
    #[derive(Deserialize)]
    struct KeystoneError {
        #[serde(default)]
        code: serde_json::Value,
        #[serde(default)]
        message: Option<String>,
    }
    #[derive(Deserialize)]
    struct V30 {
        #[serde(default, alias = "errorCode")]
        error_code: Option<String>,
        #[serde(default, alias = "errorMsg")]
        error_msg: Option<String>,
    }
    if let Ok(k) = serde_json::from_slice::<Keystone>(body) {
        let code = match k.error.code {
            serde_json::Value::String(s) => s,
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        return (
            snippet(code.as_bytes()),
            snippet(k.error.message.unwrap_or_default().as_bytes()),
        );
    }
    match serde_json::from_slice::<V30>(body) {
        Ok(v) if v.error_code.is_some() || v.error_msg.is_some() => (
            snippet(v.error_code.unwrap_or_default().as_bytes()),
            snippet(v.error_msg.unwrap_or_default().as_bytes()),
        ),
        _ if body.is_empty() => (String::new(), "empty response body".into()),
        // Anything else may be a credential answer with the wrong status: never shown.
        _ => (
            String::new(),
            format!(
                "a body of {} bytes that is no error message (not shown)",
                body.len()
            ),
        ),
    }
}

/// The `credential` object of a security-token or metadata answer.
#[derive(Deserialize)]
struct CredentialBody {
    credential: CredentialFields,
}

#[derive(Deserialize)]
struct CredentialFields {
    access: String,
    secret: String,
    securitytoken: String,
    expires_at: String,
}

fn temporary_from(service: &'static str, body: &[u8]) -> Result<TemporaryCredentials, IamError> {
    // The body holds a secret: never quote it in an error.
    let c: CredentialBody = serde_json::from_slice(body).map_err(|e| IamError::Malformed {
        service,
        message: format!(
            "expected {{\"credential\": {{\"access\", \"secret\", \"securitytoken\", \"expires_at\"}}}} (at line {}, column {})",
            e.line(),
            e.column()
        ),
    })?;
    let c = c.credential;
    let expires_at = signer::parse_iso8601(&c.expires_at).ok_or_else(|| IamError::Malformed {
        service,
        message: format!(
            "expires_at {:?} is not a UTC time",
            snippet(c.expires_at.as_bytes())
        ),
    })?;
    if c.access.trim().is_empty() || c.secret.is_empty() || c.securitytoken.trim().is_empty() {
        return Err(IamError::Malformed {
            service,
            message: "the access key, secret key or security token is empty".into(),
        });
    }
    let credentials = Credentials {
        access_key: c.access.trim().to_string(),
        secret_key: Secret::new(c.secret),
        security_token: Some(Secret::new(c.securitytoken.trim())),
    };
    // Keys that could not be sent are refused here, where their source is known, not at
    // some later request.
    if let Err(e) = super::check_credentials(&credentials) {
        return Err(IamError::Malformed {
            service,
            message: format!("its keys cannot be used: {e}"),
        });
    }
    Ok(TemporaryCredentials {
        credentials,
        expires_at,
    })
}

#[derive(Deserialize)]
struct ProjectList {
    #[serde(default)]
    projects: Vec<Project>,
}

#[derive(Deserialize)]
struct Project {
    id: String,
    name: String,
}

// `users` and `groups` are required, unlike `projects`: an answer without the list must
// not read as "no such user" or "in no group", which a caller would act on.
#[derive(Deserialize)]
struct UserList {
    users: Vec<User>,
}

#[derive(Deserialize)]
struct User {
    id: String,
    name: String,
}

#[derive(Deserialize)]
struct GroupList {
    groups: Vec<Group>,
}

#[derive(Deserialize)]
struct Group {
    name: String,
}

/// IAM's user IDs are 32 hex digits; anything far longer is no ID and would only make a
/// huge URL.
const MAX_USER_ID: usize = 128;

/// Whether a user ID from IAM's answer can go into a path segment as it is meant: one
/// segment, no query or fragment, no dot segment that the URL parser would resolve to
/// another path.
fn is_path_safe_id(id: &str) -> bool {
    super::is_visible_ascii(id)
        && id.len() <= MAX_USER_ID
        && !id.contains(['/', '\\', '?', '#'])
        && id != "."
        && !id.contains("..")
}

/// A success body that is not the JSON documented: serde's message and the body's start,
/// both shortened.
fn malformed_json(e: &serde_json::Error, body: &[u8]) -> IamError {
    IamError::Malformed {
        service: IAM,
        // serde_json's message quotes the offending value, which may be megabytes long.
        message: format!(
            "{}; body starts with {:?}",
            super::shown::text(&e.to_string(), super::shown::TEXT),
            snippet(body)
        ),
    }
}

/// How to reach IAM.
#[derive(Debug, Clone)]
pub struct IamConfig {
    /// e.g. `https://iam.cn-north-4.myhuaweicloud.com`; API paths (`/v3/...`) go below it.
    pub endpoint: String,
    /// Retries, timeouts, TLS trust, body limit: shared with the MRS client.
    pub http: HttpSettings,
}

/// Signed calls to IAM, through the shared request loop.
#[derive(Debug, Clone)]
pub struct IamClient {
    transport: Arc<Transport>,
}

const IAM: &str = "IAM";

impl IamClient {
    pub fn new(cfg: IamConfig) -> Result<IamClient, IamError> {
        let config = |message: String| IamError::Config { message };
        let endpoint =
            Endpoint::parse(&cfg.endpoint).map_err(|e| config(format!("the IAM endpoint {e}")))?;
        let transport = Transport::new(IAM, endpoint, cfg.http).map_err(config)?;
        Ok(IamClient {
            transport: Arc::new(transport),
        })
    }

    pub fn endpoint(&self) -> &str {
        self.transport.endpoint().as_str()
    }

    /// The ID of the project named after `region`; `Ok(None)` when IAM has none.
    pub async fn project_id(
        &self,
        credentials: &Credentials,
        region: &Region,
        cancel: &CancellationToken,
    ) -> Result<Option<String>, IamError> {
        let query = vec![("name".to_string(), region.to_string())];
        let body = self
            .send(
                Method::GET,
                "/v3/projects",
                &query,
                None,
                credentials,
                cancel,
            )
            .await?;
        let list: ProjectList =
            serde_json::from_slice(&body).map_err(|e| malformed_json(&e, &body))?;
        Ok(list
            .projects
            .into_iter()
            .find(|p| p.name == region.as_str())
            .map(|p| p.id))
    }

    /// The names of the groups the IAM user `user_name` belongs to, sorted and without
    /// repeats; `Ok(None)` when IAM has no user of exactly that name.
    pub async fn user_groups(
        &self,
        credentials: &Credentials,
        user_name: &str,
        cancel: &CancellationToken,
    ) -> Result<Option<Vec<String>>, IamError> {
        let query = vec![("name".to_string(), user_name.to_string())];
        let body = self
            .send(Method::GET, "/v3/users", &query, None, credentials, cancel)
            .await?;
        let list: UserList =
            serde_json::from_slice(&body).map_err(|e| malformed_json(&e, &body))?;
        // IAM may match the name loosely; only the user of exactly this name counts.
        let Some(user) = list.users.into_iter().find(|u| u.name == user_name) else {
            return Ok(None);
        };
        // The ID comes from the answer and goes into a path: a hostile or broken IAM must
        // not be able to point the next, signed call at another API.
        if !is_path_safe_id(&user.id) {
            return Err(IamError::Malformed {
                service: IAM,
                message: format!(
                    "the ID {} of user {} cannot be a path segment (it must be 1 to {MAX_USER_ID} visible ASCII characters without '/', '\\', '?', '#' or '..')",
                    super::shown::shorten(&user.id),
                    super::shown::shorten(user_name)
                ),
            });
        }
        let path = format!("/v3/users/{}/groups", signer::percent_encode(&user.id));
        let body = self
            .send(Method::GET, &path, &[], None, credentials, cancel)
            .await?;
        let list: GroupList =
            serde_json::from_slice(&body).map_err(|e| malformed_json(&e, &body))?;
        let mut names: Vec<String> = list.groups.into_iter().map(|g| g.name).collect();
        names.sort_unstable();
        names.dedup();
        Ok(Some(names))
    }

    /// Temporary keys of `agency_name` in `domain_name`, for `duration`.
    pub async fn assume_agency(
        &self,
        credentials: &Credentials,
        domain_name: &str,
        agency_name: &str,
        duration: Duration,
        cancel: &CancellationToken,
    ) -> Result<TemporaryCredentials, IamError> {
        let body = json!({"auth": {"identity": {
            "methods": ["assume_role"],
            "assume_role": {
                "domain_name": domain_name,
                "agency_name": agency_name,
                "duration_seconds": duration.as_secs(),
            }
        }}});
        let body = serde_json::to_vec(&body).map_err(|e| IamError::Config {
            message: format!("cannot encode the request: {e}"),
        })?;
        let answer = self
            .send(
                Method::POST,
                "/v3.0/OS-CREDENTIAL/securitytokens",
                &[],
                Some(&body),
                credentials,
                cancel,
            )
            .await?;
        temporary_from(IAM, &answer)
    }

    /// One signed call through the shared request loop; the body of a 2xx answer.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&[u8]>,
        credentials: &Credentials,
        cancel: &CancellationToken,
    ) -> Result<Vec<u8>, IamError> {
        let req = Request {
            method,
            path,
            query,
            headers: &[],
            body: body.map(|b| (b, "application/json;charset=utf8")),
        };
        self.transport
            .call(&req, Keys::Fixed(credentials), None, cancel)
            .await
            .map(|a| a.body)
            .map_err(|f| IamError::from_failure(IAM, f))
    }
}

impl IamError {
    /// A failure of the shared request loop, told as `service`'s. An error answer shows
    /// only its status, code and message fields: these services' bodies can hold keys.
    fn from_failure(service: &'static str, f: Failure) -> IamError {
        match f {
            Failure::Answered(a) => {
                let (code, message) = parse_error(&a.body);
                IamError::Refused {
                    service,
                    status: a.status,
                    code,
                    message,
                    request_id: a.request_id,
                }
            }
            Failure::Unreachable {
                endpoint,
                message,
                attempts,
            } => IamError::Unreachable {
                service,
                endpoint,
                message: format!("{message} (after {attempts} attempts)"),
            },
            Failure::Permanent { message } => IamError::Unusable { message },
            Failure::Keys(e) => IamError::Config {
                message: e.to_string(),
            },
            Failure::Cancelled => IamError::Cancelled,
            // The message names the service, the endpoint and the limit.
            Failure::OutOfTime { message, .. } => IamError::Unusable { message },
        }
    }
}

/// The instance agency's temporary keys from the ECS metadata service at `endpoint`
/// (e.g. [`DEFAULT_METADATA_ENDPOINT`]), waiting at most `timeout` in all; `settings`
/// bring the TLS trust of an https endpoint.
pub async fn metadata_credentials(
    endpoint: &str,
    timeout: Duration,
    tls: &Tls,
) -> Result<TemporaryCredentials, IamError> {
    const SERVICE: &str = "the ECS metadata service";
    let shown = without_userinfo(endpoint.trim().trim_end_matches('/'));
    let unreachable = |message: String| IamError::Unreachable {
        service: SERVICE,
        endpoint: shown.clone(),
        message,
    };
    let settings = HttpSettings {
        tls: tls.clone(),
        // Off an instance nothing answers; waiting or retrying only delays the error.
        max_retries: 0,
        connect_timeout: timeout,
        // The deadline below ends the call first, with its own message.
        request_timeout: timeout + Duration::from_secs(1),
        max_body: super::http::defaults::MAX_METADATA_BODY,
        // Its answer is for this host only; a proxy would break that.
        no_proxy: true,
        ..HttpSettings::default()
    };
    let endpoint = Endpoint::parse(endpoint).map_err(|e| IamError::Config {
        message: format!("the metadata endpoint {e}"),
    })?;
    let transport = Transport::new("ECS metadata service", endpoint, settings)
        .map_err(|message| IamError::Config { message })?;
    let req = Request {
        method: Method::GET,
        path: METADATA_PATH,
        query: &[],
        headers: &[],
        body: None,
    };
    // Never cancelled: the deadline bounds it.
    let never = CancellationToken::new();
    let answer =
        match tokio::time::timeout(timeout, transport.call(&req, Keys::Unsigned, None, &never))
            .await
        {
            Ok(Ok(a)) => a,
            Ok(Err(Failure::Unreachable { message, .. })) => return Err(unreachable(message)),
            Ok(Err(f)) => return Err(IamError::from_failure(SERVICE, f)),
            Err(_) => {
                return Err(unreachable(format!(
                    "no answer within {} s",
                    timeout.as_secs_f64()
                )))
            }
        };
    temporary_from(SERVICE, &answer.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_iam_error_shapes_are_read() {
        let (code, msg) = parse_error(
            br#"{"error":{"code":401,"message":"The security token has expired.","title":"Unauthorized"}}"#,
        );
        assert_eq!(
            (code.as_str(), msg.as_str()),
            ("401", "The security token has expired.")
        );
        let (code, msg) = parse_error(br#"{"error_code":"IAM.0003","error_msg":"denied"}"#);
        assert_eq!((code.as_str(), msg.as_str()), ("IAM.0003", "denied"));
        let (code, msg) = parse_error(b"<html>");
        assert_eq!(
            (code.as_str(), msg.as_str()),
            ("", "a body of 6 bytes that is no error message (not shown)")
        );
        // A credential answer with an error status: not a byte of it is shown.
        let (code, msg) = parse_error(
            br#"{"credential":{"access":"AK1","secret":"s3cr3t","securitytoken":"t0k"}}"#,
        );
        assert!(
            code.is_empty() && !msg.contains("s3cr3t") && !msg.contains("AK1"),
            "{msg}"
        );
        let e = IamError::Refused {
            service: IAM,
            status: 401,
            code: "401".into(),
            message: "The security token has expired.".into(),
            request_id: None,
        };
        assert!(e.is_expired_token());
        assert!(!e.to_string().contains("request id"));
    }

    #[test]
    fn credential_bodies_are_checked_without_quoting_secrets() {
        let ok = br#"{"credential":{"access":"AK1","secret":"s3cr3t","securitytoken":"t0k","expires_at":"2026-01-15T08:30:05.000000Z"}}"#;
        let t = temporary_from(IAM, ok);
        let Ok(t) = t else {
            unreachable!("valid body: {t:?}")
        };
        assert_eq!(t.credentials.access_key, "AK1");
        assert_eq!(t.credentials.secret_key.expose(), "s3cr3t");
        for bad in [
            &br#"{"credential":{"access":"AK1","secret":"s3cr3t","securitytoken":"t0k","expires_at":"tomorrow"}}"#[..],
            br#"{"credential":{"access":"AK1","secret":"s3cr3t"}}"#,
            br#"{"credential":{"access":"","secret":"s3cr3t","securitytoken":"t0k","expires_at":"2026-01-15T08:30:05Z"}}"#,
            br#"{"credential":{"access":"AK1","secret":"s3cr3t","securitytoken":"t0\nk","expires_at":"2026-01-15T08:30:05Z"}}"#,
            br#"{"credential":{"access":"AK1","secret":"s3cr3t","securitytoken":"t0k\u0001x","expires_at":"2026-01-15T08:30:05Z"}}"#,
        ] {
            let e = temporary_from(IAM, bad).map(|_| ()).unwrap_err_or_default();
            assert!(!e.contains("s3cr3t") && !e.contains("t0k"), "{e}");
            assert!(!e.is_empty());
        }
    }

    /// A peer on a loopback port that answers every request with a 200 whose body never
    /// ends. Its URL.
    async fn endless_peer() -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Ok(listener) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
            unreachable!("a loopback port")
        };
        let url = listener
            .local_addr()
            .map(|a| format!("http://{a}"))
            .unwrap_or_default();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut head = [0u8; 4096];
                    let _ = s.read(&mut head).await;
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"projects\":[")
                        .await;
                    let chunk = vec![b' '; 64 << 10];
                    while s.write_all(&chunk).await.is_ok() {}
                });
            }
        });
        url
    }

    #[tokio::test]
    async fn endless_iam_and_metadata_answers_are_refused_at_their_limits() {
        let url = endless_peer().await;
        let iam = IamClient::new(IamConfig {
            endpoint: url.clone(),
            http: HttpSettings::default(),
        });
        let Ok(iam) = iam else {
            unreachable!("a valid endpoint")
        };
        let keys = Credentials {
            access_key: "AK".into(),
            secret_key: Secret::new("SK"),
            security_token: None,
        };
        let Ok(region) = Region::parse("cn-north-4") else {
            unreachable!("a valid region")
        };
        let e = iam
            .project_id(&keys, &region, &CancellationToken::new())
            .await
            .map(|_| ())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("with a body larger than 4 MiB"), "{e}");
        assert!(
            e.contains(&format!("IAM at {url} answered GET /v3/projects")),
            "{e}"
        );

        let t0 = std::time::Instant::now();
        let e = metadata_credentials(&url, METADATA_TIMEOUT, &Tls::default())
            .await
            .map(|_| ())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("with a body larger than 64 KiB"), "{e}");
        assert!(t0.elapsed() < METADATA_TIMEOUT, "{:?}", t0.elapsed());
    }

    #[test]
    fn only_ids_that_stay_one_path_segment_are_used() {
        for good in ["0a1b2c3d4e5f", "u-1_2.3~4", "a:b@c", "a%2Fb"] {
            assert!(is_path_safe_id(good), "{good:?}");
        }
        let long = "a".repeat(MAX_USER_ID + 1);
        for bad in [
            "", ".", "..", "a/..", "a/b", "a\\b", "a?b", "a#b", "x..y", "a b", "a\nb", "é", &long,
        ] {
            assert!(!is_path_safe_id(bad), "{bad:?}");
        }
    }

    const AK: &str = "AKIAM";
    const SK: &str = "sk-iam-secret";

    fn sim_client(endpoint: &str) -> (IamClient, Credentials) {
        let client = IamClient::new(IamConfig {
            endpoint: endpoint.to_string(),
            // Refusals are what these tests inject; retrying would only slow them.
            http: HttpSettings {
                max_retries: 0,
                ..HttpSettings::default()
            },
        });
        let Ok(client) = client else {
            unreachable!("a valid endpoint")
        };
        let keys = Credentials {
            access_key: AK.into(),
            secret_key: Secret::new(SK),
            security_token: None,
        };
        (client, keys)
    }

    /// Queues one of the simulator's faults (`/_sim/faults`).
    async fn fault(endpoint: &str, spec: serde_json::Value) {
        let queued = reqwest::Client::new()
            .post(format!("{endpoint}/_sim/faults"))
            .body(spec.to_string())
            .send()
            .await
            .map(|r| r.status().as_u16());
        assert_eq!(queued.ok(), Some(201), "{spec}");
    }

    /// The (path, query) of every call the simulator saw.
    async fn calls(endpoint: &str) -> Vec<(String, String)> {
        let log = match reqwest::get(format!("{endpoint}/_sim/requests")).await {
            Ok(r) => {
                serde_json::from_slice::<serde_json::Value>(&r.bytes().await.unwrap_or_default())
                    .unwrap_or_default()
            }
            Err(e) => unreachable!("the simulator's log: {e}"),
        };
        log.as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
                        (s("path"), s("query"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn groups(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| s.to_string()).collect())
    }

    #[tokio::test]
    async fn user_groups_come_from_the_sims_directory() {
        let mut cfg = crate::sim::SimConfig::new(AK, SK);
        cfg.directory = crate::sim::Directory::from_json(
            r#"{"users": {"alice": ["ops", "data-eng", "ops"], "alice2": ["x"]}}"#,
        )
        .unwrap_or_default();
        let (endpoint, _stop) = crate::sim::spawn_for_tests(cfg).await;
        let (iam, keys) = sim_client(&endpoint);
        let never = CancellationToken::new();
        let r = iam.user_groups(&keys, "alice", &never).await;
        assert_eq!(r, Ok(groups(&["data-eng", "ops"])));
        assert_eq!(iam.user_groups(&keys, "mallory", &never).await, Ok(None));
        assert_eq!(iam.user_groups(&keys, "ali", &never).await, Ok(None));
        let log = calls(&endpoint).await;
        assert_eq!(log[0], ("/v3/users".into(), "name=alice".into()));
        assert_eq!(
            log[1].0,
            format!("/v3/users/{}/groups", hex::encode("alice"))
        );
        assert_eq!(log.len(), 4, "an unknown user costs one call: {log:?}");

        // Refusals of either call are IAM's, with its code.
        fault(
            &endpoint,
            json!({"path_contains": "/groups", "kind": "status",
            "status": 403, "error_code": "IAM.0002", "error_msg": "denied"}),
        )
        .await;
        let r = iam.user_groups(&keys, "alice", &never).await;
        assert_eq!(
            r.as_ref().map_err(IamError::status),
            Err(Some(403)),
            "{r:?}"
        );
        fault(
            &endpoint,
            json!({"path_contains": "/v3/users", "kind": "status",
            "status": 500}),
        )
        .await;
        let r = iam.user_groups(&keys, "alice", &never).await;
        assert_eq!(
            r.as_ref().map_err(IamError::status),
            Err(Some(500)),
            "{r:?}"
        );
    }

    #[tokio::test]
    async fn open_directory_users_are_in_no_group() {
        let (endpoint, _stop) =
            crate::sim::spawn_for_tests(crate::sim::SimConfig::new(AK, SK)).await;
        let (iam, keys) = sim_client(&endpoint);
        // A space is sent as signed (`%20`): the signature holds.
        for name in ["any-one", "any one"] {
            let r = iam
                .user_groups(&keys, name, &CancellationToken::new())
                .await;
            assert_eq!(r, Ok(groups(&[])), "{name:?}");
        }
    }

    #[tokio::test]
    async fn hostile_user_answers_are_malformed_and_never_reach_a_path() {
        let (endpoint, _stop) =
            crate::sim::spawn_for_tests(crate::sim::SimConfig::new(AK, SK)).await;
        let (iam, keys) = sim_client(&endpoint);
        let never = CancellationToken::new();
        let huge = "\u{1b}[31m".repeat(100_000);
        for (id, shown) in [
            (
                "../../v2/p/clusters/c/iam-sync-user",
                "\"../../v2/p/clusters/c/iam-sync-user\"",
            ),
            ("a/b", "\"a/b\""),
            ("x?y=1", "\"x?y=1\""),
            ("x#y", "\"x#y\""),
            (".", "\".\""),
            ("", "\"\""),
            (huge.as_str(), "(500000 characters)"),
        ] {
            let body = json!({"users": [{"id": id, "name": "alice"}], "links": {}});
            fault(
                &endpoint,
                json!({"path_contains": "/v3/users", "kind": "malformed",
                "status": 200, "body": body.to_string()}),
            )
            .await;
            let r = iam.user_groups(&keys, "alice", &never).await;
            let Err(e @ IamError::Malformed { .. }) = &r else {
                unreachable!("a malformed answer for {:?}: {r:?}", id.get(..40))
            };
            let e = e.to_string();
            assert!(e.contains(shown) && e.len() < 400, "{e}");
            assert!(!e.contains('\u{1b}'), "{e}");
        }
        // Bodies that are not the documented lists: serde's message and the body, short.
        for body in [
            format!("{{\"users\": \"{}\"}}", "\u{1b}".repeat(1 << 20)),
            r#"{"links": {}}"#.to_string(),
            r#"{"users": [{"name": "alice"}]}"#.to_string(),
        ] {
            fault(
                &endpoint,
                json!({"path_contains": "/v3/users", "kind": "malformed",
                "status": 200, "body": body}),
            )
            .await;
            let r = iam.user_groups(&keys, "alice", &never).await;
            let Err(e @ IamError::Malformed { .. }) = &r else {
                unreachable!("a malformed answer: {:?}", r.map(|_| ()))
            };
            let e = e.to_string();
            assert!(e.contains("body starts with") && e.len() < 1200, "{e}");
            assert!(!e.contains('\u{1b}'), "{e}");
        }
        fault(
            &endpoint,
            json!({"path_contains": "/groups", "kind": "malformed",
            "status": 200, "body": r#"{"groups": [{"id": "g"}]}"#}),
        )
        .await;
        let r = iam.user_groups(&keys, "alice", &never).await;
        assert!(matches!(r, Err(IamError::Malformed { .. })), "{r:?}");
        // None of the hostile IDs became a call: only the lists were asked, then the one
        // groups call of the last case.
        let log = calls(&endpoint).await;
        let paths: Vec<&str> = log.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths.iter().filter(|p| **p != "/v3/users").count(),
            1,
            "{paths:?}"
        );
    }

    #[tokio::test]
    async fn a_user_id_is_percent_encoded_in_its_path_segment() {
        let (endpoint, _stop) =
            crate::sim::spawn_for_tests(crate::sim::SimConfig::new(AK, SK)).await;
        let (iam, keys) = sim_client(&endpoint);
        let body = json!({"users": [{"id": "u:1@x%2F", "name": "alice"}]});
        fault(
            &endpoint,
            json!({"path_contains": "/v3/users", "kind": "malformed",
            "status": 200, "body": body.to_string()}),
        )
        .await;
        // The sim made no such ID: its 404, after a request it could check the signature of.
        let r = iam
            .user_groups(&keys, "alice", &CancellationToken::new())
            .await;
        assert_eq!(
            r.as_ref().map_err(IamError::status),
            Err(Some(404)),
            "{r:?}"
        );
        let log = calls(&endpoint).await;
        assert_eq!(log[1].0, "/v3/users/u%3A1%40x%252F/groups");
    }

    trait ErrText {
        fn unwrap_err_or_default(self) -> String;
    }

    impl ErrText for Result<(), IamError> {
        fn unwrap_err_or_default(self) -> String {
            self.err().map(|e| e.to_string()).unwrap_or_default()
        }
    }
}
