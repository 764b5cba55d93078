//! IAM calls (the project of a region, an agency's temporary keys) and the ECS metadata
//! service's temporary keys. IAM calls are signed like MRS calls; no Terraform types.

use std::fmt;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::error::snippet;
use super::retry::{describe_transport, is_retryable_status, sleep_or_cancel, Backoff};
use super::signer::{self, TemporaryCredentials};
use super::{Credentials, Secret};

/// The ECS metadata service, as every Huawei Cloud instance sees it.
pub const DEFAULT_METADATA_ENDPOINT: &str = "http://169.254.169.254";
/// Where the metadata service hands out the instance agency's temporary keys.
pub const METADATA_PATH: &str = "/openstack/latest/securitykey";
/// How long the metadata service may take: off an instance nothing answers at its
/// address, and waiting longer only delays the error.
pub const METADATA_TIMEOUT: Duration = Duration::from_secs(2);

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
            IamError::Config { message } => write!(f, "{message}"),
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
        _ => (String::new(), snippet(body)),
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
    Ok(TemporaryCredentials {
        credentials: Credentials {
            access_key: c.access.trim().to_string(),
            secret_key: Secret::new(c.secret),
            security_token: Some(Secret::new(c.securitytoken.trim())),
        },
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

/// How to reach IAM.
#[derive(Debug, Clone)]
pub struct IamConfig {
    /// e.g. `https://iam.cn-north-4.myhuaweicloud.com`; API paths (`/v3/...`) go below it.
    pub endpoint: String,
    pub insecure: bool,
    pub max_retries: u32,
    pub retry_base_delay: Duration,
    pub request_timeout: Duration,
    pub user_agent: String,
}

/// Signed calls to IAM.
#[derive(Debug, Clone)]
pub struct IamClient {
    http: reqwest::Client,
    base: Url,
    host: String,
    cfg: IamConfig,
}

const IAM: &str = "IAM";

fn client_builder(insecure: bool) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .use_rustls_tls()
        .danger_accept_invalid_certs(insecure)
        .tcp_nodelay(true)
        .http1_only()
}

impl IamClient {
    pub fn new(cfg: IamConfig) -> Result<IamClient, IamError> {
        let trimmed = cfg.endpoint.trim().trim_end_matches('/').to_string();
        let bad = |why: &str| IamError::Config {
            message: format!("the IAM endpoint {trimmed:?} {why}"),
        };
        let base = Url::parse(&trimmed).map_err(|_| bad("is not a URL"))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(bad("must start with https:// or http://"));
        }
        let Some(host_name) = base.host_str() else {
            return Err(bad("has no host"));
        };
        let host = match base.port() {
            Some(p) => format!("{host_name}:{p}"),
            None => host_name.to_string(),
        };
        let http = client_builder(cfg.insecure)
            .connect_timeout(Duration::from_secs(10))
            .timeout(cfg.request_timeout)
            .build()
            .map_err(|e| IamError::Config {
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(IamClient {
            http,
            base,
            host,
            cfg,
        })
    }

    pub fn endpoint(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// The ID of the project named after `region`; `Ok(None)` when IAM has none.
    pub async fn project_id(
        &self,
        credentials: &Credentials,
        region: &str,
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
        let list: ProjectList = serde_json::from_slice(&body).map_err(|e| IamError::Malformed {
            service: IAM,
            message: format!("{e}; body starts with {:?}", snippet(&body)),
        })?;
        Ok(list
            .projects
            .into_iter()
            .find(|p| p.name == region)
            .map(|p| p.id))
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
                Some(body),
                credentials,
                cancel,
            )
            .await?;
        temporary_from(IAM, &answer)
    }

    /// One call with retries on throttling, server errors and transport errors; each retry
    /// writes a warning line. Returns the body of a 2xx answer.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<Vec<u8>>,
        credentials: &Credentials,
        cancel: &CancellationToken,
    ) -> Result<Vec<u8>, IamError> {
        let mut url = self.base.clone();
        let prefix = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{prefix}{path}"));
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter());
        }
        let mut attempt: u32 = 0;
        loop {
            let outcome = tokio::select! {
                _ = cancel.cancelled() => return Err(IamError::Cancelled),
                r = self.attempt(&method, &url, query, body.as_deref(), credentials) => r,
            };
            let retries_left = attempt < self.cfg.max_retries;
            let backoff = Backoff {
                base: self.cfg.retry_base_delay,
                max: Duration::from_secs(30),
            };
            let (delay, reason) = match outcome {
                Ok((status, _, _, body)) if (200..300).contains(&status) => return Ok(body),
                Ok((status, headers, _, _)) if retries_left && is_retryable_status(status) => (
                    backoff.after_answer(attempt, &headers),
                    format!("HTTP {status}"),
                ),
                Ok((status, _, request_id, body)) => {
                    let (code, message) = parse_error(&body);
                    return Err(IamError::Refused {
                        service: IAM,
                        status,
                        code,
                        message,
                        request_id,
                    });
                }
                Err(message) if retries_left => (backoff.delay(attempt), message),
                Err(message) => {
                    return Err(IamError::Unreachable {
                        service: IAM,
                        endpoint: self.endpoint().to_string(),
                        message: format!("{message} (after {} attempts)", attempt + 1),
                    })
                }
            };
            crate::log_warn!(
                "retrying an IAM call",
                method = method,
                path = path,
                attempt = attempt + 1,
                reason = reason,
                delay_ms = delay.as_millis()
            );
            sleep_or_cancel(delay, cancel).await?;
            attempt += 1;
        }
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        query: &[(String, String)],
        body: Option<&[u8]>,
        credentials: &Credentials,
    ) -> Result<(u16, HeaderMap, Option<String>, Vec<u8>), String> {
        let sdk_date = signer::format_sdk_date(SystemTime::now());
        let mut headers: Vec<(String, String)> = vec![
            ("Host".into(), self.host.clone()),
            ("X-Sdk-Date".into(), sdk_date.clone()),
            ("User-Agent".into(), self.cfg.user_agent.trim().to_string()),
        ];
        if body.is_some() {
            headers.push((
                "Content-Type".into(),
                "application/json;charset=utf8".into(),
            ));
        }
        signer::sign_headers(
            &mut headers,
            method.as_str(),
            url.path(),
            query,
            body.unwrap_or_default(),
            credentials,
            &sdk_date,
        );
        let mut map = HeaderMap::new();
        for (k, v) in &headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| e.to_string())?;
            // A token that is no header value fails here, without the value in the error.
            let value =
                HeaderValue::from_str(v).map_err(|_| format!("the {k} header is not valid"))?;
            map.insert(name, value);
        }
        let mut rb = self.http.request(method.clone(), url.clone()).headers(map);
        if let Some(b) = body {
            rb = rb.body(b.to_vec());
        }
        let resp = rb.send().await.map_err(|e| describe_transport(&e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let request_id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .filter(|s| !s.is_empty());
        let body = resp
            .bytes()
            .await
            .map_err(|e| describe_transport(&e))?
            .to_vec();
        Ok((status, headers, request_id, body))
    }
}

/// The instance agency's temporary keys from the ECS metadata service at `endpoint`
/// (e.g. [`DEFAULT_METADATA_ENDPOINT`]), waiting at most `timeout` in all.
pub async fn metadata_credentials(
    endpoint: &str,
    timeout: Duration,
) -> Result<TemporaryCredentials, IamError> {
    const SERVICE: &str = "the ECS metadata service";
    let base = endpoint.trim().trim_end_matches('/');
    let url = format!("{base}{METADATA_PATH}");
    let unreachable = |message: String| IamError::Unreachable {
        service: SERVICE,
        endpoint: base.to_string(),
        message,
    };
    // One deadline for connecting and answering, below, so its message is the same.
    let http = client_builder(false)
        // Its answer is for this host only; a proxy would break that.
        .no_proxy()
        .build()
        .map_err(|e| IamError::Config {
            message: format!("cannot build the HTTP client: {e}"),
        })?;
    let fetch = async {
        let resp = http
            .get(&url)
            .send()
            .await
            .map_err(|e| describe_transport(&e))?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| describe_transport(&e))?
            .to_vec();
        Ok::<_, String>((status, body))
    };
    let (status, body) = match tokio::time::timeout(timeout, fetch).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(message)) => return Err(unreachable(message)),
        Err(_) => {
            return Err(unreachable(format!(
                "no answer within {} s",
                timeout.as_secs_f64()
            )))
        }
    };
    if !(200..300).contains(&status) {
        let (code, message) = parse_error(&body);
        return Err(IamError::Refused {
            service: SERVICE,
            status,
            code,
            message,
            request_id: None,
        });
    }
    temporary_from(SERVICE, &body)
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
        assert_eq!((code.as_str(), msg.as_str()), ("", "<html>"));
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
        ] {
            let e = temporary_from(IAM, bad).map(|_| ()).unwrap_err_or_default();
            assert!(!e.contains("s3cr3t") && !e.contains("t0k"), "{e}");
            assert!(!e.is_empty());
        }
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
