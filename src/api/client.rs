//! The MRS IAM-sync HTTP client: signing, timeouts, retries with backoff, polling until a
//! sync ends, writes refused during a sync sent again.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use super::error::{snippet, ApiError};
use super::retry::{describe_transport, is_retryable_status, sleep_or_cancel, Backoff};
use super::signer;
use super::types::{CancelSyncRequest, SyncAccepted, SyncStatus, SyncedNames, UpdateSyncRequest};
use super::{ClusterId, Credentials, ProjectId};

/// Where the keys for each request come from when they can change while the client lives
/// (temporary keys renewed before they expire). Asked before every attempt.
#[async_trait::async_trait]
pub trait CredentialSource: Send + Sync + std::fmt::Debug {
    async fn credentials(&self) -> Result<Credentials, ApiError>;

    /// The API refused the keys `used` (HTTP 401) before they were due to expire: sessions
    /// ended early, or this machine's clock is behind. A source of temporary keys forgets
    /// them, if they are still the ones it holds, so the next `credentials` obtains new
    /// ones, and says true; a source of fixed keys has nothing better to offer.
    async fn refused(&self, _used: &Credentials) -> bool {
        false
    }
}

/// How to reach MRS and how patiently.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// e.g. `https://mrs.cn-north-4.myhuaweicloud.com` or `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The keys, unless `credential_source` is set.
    pub credentials: Credentials,
    /// When set, asked for the keys before each attempt instead of `credentials`.
    pub credential_source: Option<Arc<dyn CredentialSource>>,
    /// Skip TLS certificate verification (private clouds with self-signed certificates).
    pub insecure: bool,
    /// Attempts after the first for retryable failures.
    pub max_retries: u32,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub retry_base_delay: Duration,
    pub retry_max_delay: Duration,
    pub user_agent: String,
}

impl ClientConfig {
    pub fn new(endpoint: impl Into<String>, credentials: Credentials) -> ClientConfig {
        ClientConfig {
            endpoint: endpoint.into(),
            credentials,
            credential_source: None,
            insecure: false,
            max_retries: 5,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            retry_base_delay: Duration::from_millis(500),
            retry_max_delay: Duration::from_secs(30),
            user_agent: format!("terraform-provider-mrs/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// Requests one client has on the wire at once: Terraform's parallelism, so ten refreshes
/// never queue behind each other. The pool keeps as many idle connections, so a burst
/// reuses them instead of opening more.
const MAX_IN_FLIGHT: usize = 10;

struct Inner {
    http: reqwest::Client,
    /// The endpoint with any trailing `/` removed; API paths are appended to it.
    base: Url,
    /// `host[:port]` exactly as sent and signed.
    host: String,
    cfg: ClientConfig,
    /// At most `MAX_IN_FLIGHT` attempts between sending and reading the whole body.
    in_flight: tokio::sync::Semaphore,
}

/// One per configured provider: cloning shares the connection pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.cfg.endpoint)
            .finish_non_exhaustive()
    }
}

/// A raw answer: status, `X-Request-Id`, headers and body.
struct Answer {
    status: u16,
    request_id: Option<String>,
    headers: HeaderMap,
    body: Vec<u8>,
}

fn config_err(message: impl Into<String>) -> ApiError {
    ApiError::Config {
        message: message.into(),
    }
}

impl Client {
    pub fn new(cfg: ClientConfig) -> Result<Client, ApiError> {
        let trimmed = cfg.endpoint.trim().trim_end_matches('/');
        let base = Url::parse(trimmed)
            .map_err(|e| config_err(format!("endpoint {trimmed:?} is not a URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(config_err(format!(
                "endpoint {trimmed:?} must start with https:// or http://"
            )));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(config_err(format!(
                "endpoint {trimmed:?} must not have a query or fragment"
            )));
        }
        let Some(host_name) = base.host_str() else {
            return Err(config_err(format!("endpoint {trimmed:?} has no host")));
        };
        // `port()` is None for the scheme's default port, which must then stay out of Host.
        let host = match base.port() {
            Some(p) => format!("{host_name}:{p}"),
            None => host_name.to_string(),
        };
        if cfg.credential_source.is_none() && cfg.credentials.access_key.trim().is_empty() {
            return Err(config_err("the access key is empty"));
        }
        if cfg.credential_source.is_none() && cfg.credentials.secret_key.is_empty() {
            return Err(config_err("the secret key is empty"));
        }
        if HeaderValue::from_str(&cfg.user_agent).is_err() {
            return Err(config_err("the user agent is not a valid header value"));
        }
        if let Some(tok) = &cfg.credentials.security_token {
            if HeaderValue::from_str(tok.expose().trim()).is_err() {
                return Err(config_err("the security token is not a valid header value"));
            }
        }
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .danger_accept_invalid_certs(cfg.insecure)
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.request_timeout)
            .tcp_nodelay(true)
            .pool_max_idle_per_host(MAX_IN_FLIGHT)
            // The signed Host header must reach the gateway verbatim, as with the official
            // SDKs; HTTP/2 would turn it into :authority.
            .http1_only()
            .build()
            .map_err(|e| config_err(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                host,
                cfg,
                in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
            }),
        })
    }

    /// Starts synchronizing the given users (with their groups) and groups.
    pub async fn update_sync(
        &self,
        project_id: &ProjectId,
        cluster_id: &ClusterId,
        req: &UpdateSyncRequest,
        cancel: &CancellationToken,
    ) -> Result<SyncAccepted, ApiError> {
        let body = serde_json::to_vec(req)
            .map_err(|e| config_err(format!("cannot encode the request: {e}")))?;
        let a = self
            .call(
                Method::POST,
                project_id,
                cluster_id,
                "iam-sync-user",
                Some(body),
                cancel,
            )
            .await?;
        decode_accepted(a)
    }

    /// Stops synchronizing exactly the given names.
    pub async fn cancel_sync(
        &self,
        project_id: &ProjectId,
        cluster_id: &ClusterId,
        req: &CancelSyncRequest,
        cancel: &CancellationToken,
    ) -> Result<SyncAccepted, ApiError> {
        let body = serde_json::to_vec(req)
            .map_err(|e| config_err(format!("cannot encode the request: {e}")))?;
        let a = self
            .call(
                Method::DELETE,
                project_id,
                cluster_id,
                "iam-sync-user",
                Some(body),
                cancel,
            )
            .await?;
        decode_accepted(a)
    }

    /// The users and groups currently synchronized (including users' implicit groups).
    pub async fn show_sync(
        &self,
        project_id: &ProjectId,
        cluster_id: &ClusterId,
        cancel: &CancellationToken,
    ) -> Result<SyncedNames, ApiError> {
        self.get(project_id, cluster_id, "iam-sync-user", cancel)
            .await
    }

    /// Whether a synchronization is running on the cluster.
    pub async fn sync_status(
        &self,
        project_id: &ProjectId,
        cluster_id: &ClusterId,
        cancel: &CancellationToken,
    ) -> Result<bool, ApiError> {
        self.get::<SyncStatus>(project_id, cluster_id, "iam-sync", cancel)
            .await
            .map(|s| s.is_synchronizing)
    }

    /// A GET of `suffix` under the cluster, its JSON answer decoded.
    async fn get<T: DeserializeOwned>(
        &self,
        project_id: &ProjectId,
        cluster_id: &ClusterId,
        suffix: &str,
        cancel: &CancellationToken,
    ) -> Result<T, ApiError> {
        let a = self
            .call(Method::GET, project_id, cluster_id, suffix, None, cancel)
            .await?;
        decode(&a)
    }

    /// The endpoint as configured, which with the project and cluster names one cluster.
    pub fn endpoint(&self) -> &str {
        self.inner.cfg.endpoint.trim().trim_end_matches('/')
    }

    /// The IDs' types admit only characters that need no escaping in a path.
    fn url_for(&self, project_id: &ProjectId, cluster_id: &ClusterId, suffix: &str) -> Url {
        let mut url = self.inner.base.clone();
        let prefix = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!(
            "{prefix}/v2/{project_id}/clusters/{cluster_id}/{suffix}"
        ));
        url
    }

    /// One API call with retries. Returns the answer on 2xx, otherwise the classified error.
    /// Every line logged inside says which call (see [`log_attempt`] for the rest).
    #[tracing::instrument(name = "mrs_api_call", level = "error", skip_all, fields(
        method = %method,
        path = %self.url_for(project_id, cluster_id, suffix).path(),
        attempt = tracing::field::Empty,
        status = tracing::field::Empty,
        request_id = tracing::field::Empty,
    ))]
    async fn call(
        &self,
        method: Method,
        project_id: &ProjectId,
        cluster_id: &ClusterId,
        suffix: &str,
        body: Option<Vec<u8>>,
        cancel: &CancellationToken,
    ) -> Result<Answer, ApiError> {
        let url = self.url_for(project_id, cluster_id, suffix);
        let cfg = &self.inner.cfg;
        let mut attempt: u32 = 0;
        // Temporary keys refused with a 401 are renewed and the call sent again, once.
        let mut renewed = false;
        loop {
            if cancel.is_cancelled() {
                return Err(ApiError::Cancelled);
            }
            let credentials = match &cfg.credential_source {
                Some(source) => source.credentials().await?,
                None => cfg.credentials.clone(),
            };
            let started = std::time::Instant::now();
            let outcome = tokio::select! {
                _ = cancel.cancelled() => return Err(ApiError::Cancelled),
                r = self.attempt(&method, &url, project_id, body.as_deref(), &credentials) => r,
            };
            log_attempt(&method, &url, attempt, started, &outcome);
            let retries_left = attempt < cfg.max_retries;
            let (delay, reason) = match outcome {
                Ok(a) if (200..300).contains(&a.status) => return Ok(a),
                Ok(a) if a.status == 401 && !renewed => match &cfg.credential_source {
                    Some(source) if source.refused(&credentials).await => {
                        renewed = true;
                        (
                            Duration::ZERO,
                            "HTTP 401: renewing the temporary keys".to_string(),
                        )
                    }
                    _ => return Err(ApiError::from_response(a.status, &a.body, a.request_id)),
                },
                Ok(a) if retries_left && is_retryable_status(a.status) => (
                    self.backoff().after_answer(attempt, &a.headers),
                    format!("HTTP {}", a.status),
                ),
                Ok(a) => return Err(ApiError::from_response(a.status, &a.body, a.request_id)),
                Err(message) if retries_left => (self.backoff().delay(attempt), message),
                Err(message) => {
                    // No answer, so no request ID: say where we tried and what decides it.
                    return Err(ApiError::Transport {
                        message: format!(
                            "{message} (after {} attempts). Nothing answered at {}: check `region`, `cloud` and `endpoints`, which decide this endpoint",
                            attempt + 1,
                            cfg.endpoint.trim().trim_end_matches('/'),
                        ),
                    });
                }
            };
            crate::log_warn!(
                "retrying the MRS API call",
                method = method,
                path = url.path(),
                attempt = attempt + 1,
                reason = reason,
                delay_ms = delay.as_millis()
            );
            sleep_or_cancel(delay, cancel).await?;
            attempt += 1;
        }
    }

    fn backoff(&self) -> Backoff {
        Backoff {
            base: self.inner.cfg.retry_base_delay,
            max: self.inner.cfg.retry_max_delay,
        }
    }

    /// A single signed request. `Err` carries a transport error description.
    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        project_id: &ProjectId,
        body: Option<&[u8]>,
        credentials: &Credentials,
    ) -> Result<Answer, String> {
        // Never closed, so acquiring only waits; sign after it so the date is fresh.
        let _permit = self
            .inner
            .in_flight
            .acquire()
            .await
            .map_err(|e| e.to_string())?;
        let cfg = &self.inner.cfg;
        let sdk_date = signer::format_sdk_date(SystemTime::now());
        let mut headers: Vec<(String, String)> = vec![
            ("Host".into(), self.inner.host.clone()),
            ("X-Sdk-Date".into(), sdk_date.clone()),
            ("X-Project-Id".into(), project_id.as_str().to_string()),
            ("User-Agent".into(), cfg.user_agent.trim().to_string()),
        ];
        if body.is_some() {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        signer::sign_headers(
            &mut headers,
            method.as_str(),
            url.path(),
            &[],
            body.unwrap_or_default(),
            credentials,
            &sdk_date,
        );
        let mut map = HeaderMap::new();
        for (k, v) in &headers {
            // Static values were validated in `Client::new`; a renewed token is checked
            // here, and the error never quotes the value.
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| e.to_string())?;
            let value =
                HeaderValue::from_str(v).map_err(|_| format!("the {k} header is not valid"))?;
            map.insert(name, value);
        }
        let mut rb = self
            .inner
            .http
            .request(method.clone(), url.clone())
            .headers(map);
        if let Some(b) = body {
            rb = rb.body(b.to_vec());
        }
        let resp = rb.send().await.map_err(|e| describe_transport(&e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let request_id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty());
        let body = resp
            .bytes()
            .await
            .map_err(|e| describe_transport(&e))?
            .to_vec();
        Ok(Answer {
            status,
            request_id,
            headers,
            body,
        })
    }
}

/// Puts the attempt's number, status and request ID on the call's span (so later lines,
/// such as the retry warning, carry them; `-` when there was no answer), and writes one
/// debug line per HTTP attempt: method, path, status (or the transport error), attempt
/// number and request ID. Never headers or bodies: they carry the signature, the
/// security token and the names being synced.
fn log_attempt(
    method: &Method,
    url: &Url,
    attempt: u32,
    started: std::time::Instant,
    outcome: &Result<Answer, String>,
) {
    if !crate::log::enabled(crate::log::Level::Error) {
        return;
    }
    let attempt = attempt + 1;
    let span = tracing::Span::current();
    span.record("attempt", attempt);
    match outcome {
        Ok(a) => span
            .record("status", a.status)
            .record("request_id", a.request_id.as_deref().unwrap_or("-")),
        Err(_) => span.record("status", "-").record("request_id", "-"),
    };
    if !crate::log::enabled(crate::log::Level::Debug) {
        return;
    }
    let elapsed_ms = format!("{:.3}", started.elapsed().as_secs_f64() * 1e3);
    match outcome {
        Ok(a) => crate::log_debug!(
            "MRS API call",
            method = method,
            path = url.path(),
            status = a.status,
            attempt = attempt,
            request_id = a.request_id.as_deref().unwrap_or("-"),
            elapsed_ms = elapsed_ms
        ),
        Err(message) => crate::log_debug!(
            "MRS API call failed",
            method = method,
            path = url.path(),
            error = message,
            attempt = attempt,
            elapsed_ms = elapsed_ms
        ),
    }
}

fn decode<T: DeserializeOwned>(a: &Answer) -> Result<T, ApiError> {
    serde_json::from_slice(&a.body).map_err(|e| ApiError::Decode {
        status: a.status,
        message: format!("{e}; body starts with {:?}", snippet(&a.body)),
        request_id: a.request_id.clone(),
    })
}

fn decode_accepted(a: Answer) -> Result<SyncAccepted, ApiError> {
    // The 202 is what matters; an empty body still means "accepted".
    if a.body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(SyncAccepted::default());
    }
    decode(&a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Secret;

    fn creds() -> Credentials {
        Credentials {
            access_key: "AK".into(),
            secret_key: Secret::new("SK"),
            security_token: None,
        }
    }

    #[test]
    fn host_keeps_non_default_port_only() {
        let c = Client::new(ClientConfig::new("http://127.0.0.1:8080/", creds()));
        assert_eq!(
            c.map(|c| c.inner.host.clone()).ok().as_deref(),
            Some("127.0.0.1:8080")
        );
        let c = Client::new(ClientConfig::new("https://mrs.x.com:443", creds()));
        assert_eq!(
            c.map(|c| c.inner.host.clone()).ok().as_deref(),
            Some("mrs.x.com")
        );
    }

    #[test]
    fn bad_config_is_an_error() {
        for ep in ["", "mrs.x.com", "ftp://x", "https://x?q=1"] {
            let r = Client::new(ClientConfig::new(ep, creds()));
            assert!(matches!(r, Err(ApiError::Config { .. })), "{ep}");
        }
        let mut c = creds();
        c.secret_key = Secret::new("");
        assert!(Client::new(ClientConfig::new("https://x", c)).is_err());
    }

    #[test]
    fn urls_and_id_validation() {
        let Ok(c) = Client::new(ClientConfig::new("https://x/prefix/", creds())) else {
            unreachable!("valid config")
        };
        let (Ok(p), Ok(cl)) = (ProjectId::parse("p1"), ClusterId::parse("c_1-a")) else {
            unreachable!("valid IDs")
        };
        let u = c.url_for(&p, &cl, "iam-sync").to_string();
        assert_eq!(u, "https://x/prefix/v2/p1/clusters/c_1-a/iam-sync");
        // What could escape the path never becomes an ID.
        assert!(ProjectId::parse("p/1").is_err());
        assert!(ClusterId::parse("c/../d").is_err());
        assert!(ClusterId::parse(&"c".repeat(65)).is_err());
    }
}
