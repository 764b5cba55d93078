//! The one request loop every outside HTTP call goes through (MRS, IAM, the ECS metadata
//! service): sign, send, read a bounded body, classify, retry what can heal, answer. Its
//! defaults, its TLS trust and its limits live here and nowhere else.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use tokio_util::sync::CancellationToken;

use super::retry::{describe_transport, is_retryable_status, sleep_or_cancel, Backoff};
use super::shown::{shorten, without_userinfo};
use super::{signer, ApiError, Credentials};

/// The defaults every client starts from; the provider's configuration changes some.
pub mod defaults {
    use std::time::Duration;

    /// Attempts after the first for failures that can heal.
    pub const MAX_RETRIES: u32 = 5;
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
    pub const RETRY_BASE_DELAY: Duration = Duration::from_millis(500);
    pub const RETRY_MAX_DELAY: Duration = Duration::from_secs(30);
    /// The largest body read from an MRS or IAM answer. The largest legitimate one, a GET
    /// that lists 1,000 users and 1,000 groups of 64 characters, is about 150 KB (under
    /// 1 MB even if every character came escaped); a peer that sends more is refused
    /// instead of being held in memory.
    pub const MAX_BODY: usize = 4 << 20;
    /// The metadata service answers one small JSON object.
    pub const MAX_METADATA_BODY: usize = 64 << 10;
    /// How long the metadata service may take: off an instance nothing answers at its
    /// address, and waiting longer only delays the error.
    pub const METADATA_TIMEOUT: Duration = Duration::from_secs(2);
    /// The most one call may take in all (attempts, backoff, `Retry-After`, handshakes)
    /// when no step deadline is tighter: what bounds a refresh, a data source read and an
    /// IAM lookup, which have no `timeouts` of their own.
    pub const MAX_CALL_TIME: Duration = Duration::from_secs(120);

    /// The `User-Agent` of every request.
    pub fn user_agent() -> String {
        format!("terraform-provider-mrs/{}", env!("CARGO_PKG_VERSION"))
    }
}

/// Requests one transport has on the wire at once: Terraform's parallelism, so ten
/// refreshes never queue behind each other. The pool keeps as many idle connections.
const MAX_IN_FLIGHT: usize = 10;

/// Where the keys for each request come from when they can change while a client lives
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

/// Which certificates are trusted and which one this client shows.
#[derive(Clone, Default)]
pub struct Tls {
    /// Skip certificate verification (test endpoints only; the provider warns).
    pub insecure: bool,
    /// PEM certificates of CAs trusted in addition to the usual roots.
    pub ca_pem: Option<Arc<[u8]>>,
    /// PEM client certificate chain followed by its private key.
    pub identity_pem: Option<Arc<[u8]>>,
}

impl std::fmt::Debug for Tls {
    // The identity holds a private key: only whether there is one is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("insecure", &self.insecure)
            .field("custom_ca", &self.ca_pem.is_some())
            .field("client_certificate", &self.identity_pem.is_some())
            .finish()
    }
}

impl Tls {
    /// Checks the PEM texts the way the HTTP client will read them; the error names
    /// what is wrong, never the bytes.
    pub fn check(&self) -> Result<(), String> {
        if let Some(pem) = &self.ca_pem {
            match reqwest::Certificate::from_pem_bundle(pem) {
                Ok(certs) if !certs.is_empty() => {}
                _ => return Err("the CA file holds no PEM certificate".into()),
            }
        }
        if let Some(pem) = &self.identity_pem {
            if reqwest::Identity::from_pem(pem).is_err() {
                return Err(
                    "the client certificate and key are not a PEM certificate with its private key"
                        .into(),
                );
            }
        }
        Ok(())
    }
}

/// Which half of a client certificate pair is unusable, and why (never quoting either).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityError {
    Cert(String),
    /// Also a key that does not belong to the certificate: the key is what to change.
    Key(String),
}

/// The PEM certificate chain `cert` and private key `key` as one identity, checked the
/// way the HTTP client will use them: the chain holds a certificate, the key is a PEM
/// private key, and the key belongs to the certificate (which rustls otherwise reports
/// only as "builder error" when a client is built).
pub fn client_identity(cert: &[u8], key: &[u8]) -> Result<Arc<[u8]>, IdentityError> {
    match reqwest::Certificate::from_pem_bundle(cert) {
        Ok(certs) if !certs.is_empty() => {}
        _ => {
            return Err(IdentityError::Cert(
                "`cert` holds no PEM certificate".into(),
            ))
        }
    }
    let mut pem = cert.to_vec();
    pem.push(b'\n');
    pem.extend_from_slice(key);
    let Ok(identity) = reqwest::Identity::from_pem(&pem) else {
        return Err(IdentityError::Key(
            "`key` holds no PEM private key (PKCS#8, PKCS#1 or SEC1)".into(),
        ));
    };
    // The pair is checked only when a client is built; one without any roots costs little.
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .identity(identity)
        .build()
        .map_err(|_| {
            IdentityError::Key(
                "the private key in `key` does not belong to the certificate in `cert` (or is of a kind TLS cannot use)".into(),
            )
        })?;
    Ok(pem.into())
}

/// How patiently and how carefully one client talks to its service.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    pub tls: Tls,
    /// Attempts after the first for failures that can heal.
    pub max_retries: u32,
    pub connect_timeout: Duration,
    /// The whole request, answer body included.
    pub request_timeout: Duration,
    pub retry_base_delay: Duration,
    pub retry_max_delay: Duration,
    pub user_agent: String,
    /// The largest answer body read; a larger one is refused.
    pub max_body: usize,
    /// Ignore `HTTP_PROXY` and friends (the metadata service answers this host only).
    /// Loopback endpoints never use a proxy, whatever this says.
    pub no_proxy: bool,
    /// The most one call may take in all, when no step deadline is tighter.
    pub max_call_time: Duration,
}

impl Default for HttpSettings {
    fn default() -> HttpSettings {
        HttpSettings {
            tls: Tls::default(),
            max_retries: defaults::MAX_RETRIES,
            connect_timeout: defaults::CONNECT_TIMEOUT,
            request_timeout: defaults::REQUEST_TIMEOUT,
            retry_base_delay: defaults::RETRY_BASE_DELAY,
            retry_max_delay: defaults::RETRY_MAX_DELAY,
            user_agent: defaults::user_agent(),
            max_body: defaults::MAX_BODY,
            no_proxy: false,
            max_call_time: defaults::MAX_CALL_TIME,
        }
    }
}

/// A service's base URL, checked: http or https, a host, no user name or password, no
/// query or fragment. API paths are appended to its path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    base: Url,
    /// `host[:port]` exactly as sent and signed.
    host: String,
}

impl Endpoint {
    /// Parses `s`; the error quotes it shortened and without any password.
    pub fn parse(s: &str) -> Result<Endpoint, String> {
        let trimmed = s.trim().trim_end_matches('/');
        let shown = shorten(&without_userinfo(trimmed));
        let base = Url::parse(trimmed).map_err(|e| format!("{shown} is not a URL ({e})"))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(format!("{shown} must start with https:// or http://"));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(format!(
                "{shown} must not hold a user name or password: requests are signed with the provider's keys"
            ));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(format!("{shown} must not have a query or fragment"));
        }
        let Some(host_name) = base.host_str() else {
            return Err(format!("{shown} has no host"));
        };
        // `port()` is None for the scheme's default port, which must then stay out of Host.
        let host = match base.port() {
            Some(p) => format!("{host_name}:{p}"),
            None => host_name.to_string(),
        };
        Ok(Endpoint { base, host })
    }

    /// The URL as people see it: no trailing `/`.
    pub fn as_str(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// `host[:port]`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The host is this machine: a loopback address or `localhost`.
    pub fn is_loopback(&self) -> bool {
        let host = self.base.host_str().unwrap_or_default();
        match self.ip() {
            Some(ip) => ip.is_loopback(),
            None => {
                host.eq_ignore_ascii_case("localhost")
                    || host.to_ascii_lowercase().ends_with(".localhost")
            }
        }
    }

    /// The host is a link-local address (`169.254.0.0/16`, `fe80::/10`): on the instance's
    /// own network segment, where the ECS metadata service answers.
    pub fn is_link_local(&self) -> bool {
        match self.ip() {
            Some(std::net::IpAddr::V4(v4)) => v4.is_link_local(),
            Some(std::net::IpAddr::V6(v6)) => (v6.segments()[0] & 0xffc0) == 0xfe80,
            None => false,
        }
    }

    fn ip(&self) -> Option<std::net::IpAddr> {
        let host = self.base.host_str().unwrap_or_default();
        host.trim_matches(['[', ']']).parse().ok()
    }

    /// Plain `http://` to a host other than this machine: what is sent can be read on the
    /// way.
    pub fn is_plain_http_to_another_host(&self) -> bool {
        self.base.scheme() == "http" && !self.is_loopback()
    }

    /// `path` (starting with `/`) below the endpoint's own path, with `query` encoded as
    /// it is signed: a space is `%20`, as the SDKs send it, never a form's `+` (which a
    /// gateway reads as a plus, so the signature would not match).
    pub fn url(&self, path: &str, query: &[(String, String)]) -> Url {
        let mut url = self.base.clone();
        let prefix = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{prefix}{path}"));
        if !query.is_empty() {
            let encoded: Vec<String> = query
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        signer::percent_encode(k),
                        signer::percent_encode(v)
                    )
                })
                .collect();
            url.set_query(Some(&encoded.join("&")));
        }
        url
    }
}

/// The HTTP client of a transport: its timeouts, proxies and the roots it trusts.
fn build_client(endpoint: &Endpoint, settings: &HttpSettings) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .danger_accept_invalid_certs(settings.tls.insecure)
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.request_timeout)
        .tcp_nodelay(true)
        .pool_max_idle_per_host(MAX_IN_FLIGHT)
        // A redirect would carry the signed request, security token included, to
        // wherever the answer points: refused, and reported.
        .redirect(reqwest::redirect::Policy::none())
        // The signed Host header must reach the gateway verbatim, as with the official
        // SDKs; HTTP/2 would turn it into :authority.
        .http1_only();
    // As Go's ProxyFromEnvironment: a proxy never carries requests to this machine,
    // which would let a "local" plain-http endpoint leave it.
    if settings.no_proxy || endpoint.is_loopback() {
        b = b.no_proxy();
    }
    // Trusted: Mozilla's roots (built in), the machine's (as Go programs find them),
    // and `cacert_file`'s. Only `insecure` turns verification off.
    // Plain http to this machine never makes a TLS connection (no proxy, no redirect).
    let tls_ever = !(endpoint.base.scheme() == "http" && endpoint.is_loopback());
    if !settings.tls.insecure && tls_ever {
        for c in super::trust::machine_roots() {
            b = b.add_root_certificate(c.clone());
        }
    }
    if let Some(pem) = &settings.tls.ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|_| "the CA file holds no PEM certificate".to_string())?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    if let Some(pem) = &settings.tls.identity_pem {
        let id = reqwest::Identity::from_pem(pem).map_err(|_| {
            "the client certificate and key are not a PEM certificate with its private key"
                .to_string()
        })?;
        b = b.identity(id);
    }
    b.build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// Whose keys sign a request.
#[derive(Clone, Copy)]
pub enum Keys<'a> {
    /// Not signed (the metadata service).
    Unsigned,
    Fixed(&'a Credentials),
    /// Asked before each attempt; renewed once when the answer is 401.
    Source(&'a dyn CredentialSource),
}

/// The end of a resource's step (its `timeouts` value from when the step began): no
/// attempt, backoff, `Retry-After` or handshake of any call in the step goes past it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline {
    pub at: Instant,
    /// The configured timeout, which messages name: the time left is not what a person
    /// can raise.
    pub timeout: Duration,
}

impl Deadline {
    pub fn after(timeout: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + timeout,
            timeout,
        }
    }

    pub fn left(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }
}

/// One request: the path below the endpoint, its query, extra signed headers and body.
pub struct Request<'a> {
    pub method: Method,
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub headers: &'a [(&'static str, String)],
    /// The body and its content type.
    pub body: Option<(&'a [u8], &'static str)>,
}

/// A whole answer: status, `X-Request-Id`, headers and body (at most `max_body` bytes).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub request_id: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Why a call gave no 2xx answer. Each client turns this into its own error.
#[derive(Debug)]
pub enum Failure {
    /// An answer that is not a success, after the retries it deserved.
    Answered(Answer),
    /// No answer after `attempts` attempts.
    Unreachable {
        endpoint: String,
        message: String,
        attempts: u32,
    },
    /// Something no retry can change (a certificate refused, a value that cannot be a
    /// header, a redirect, an answer too large); the message names the cause and the fix.
    Permanent {
        message: String,
    },
    /// The credential source had no keys.
    Keys(ApiError),
    Cancelled,
    /// The step's deadline, or the call's own limit, came first. `in_flight`: an attempt
    /// was cut off after its request may have reached the server (so a write may have
    /// been accepted); it is never sent again.
    OutOfTime {
        message: String,
        in_flight: bool,
    },
}

impl From<super::retry::Cancelled> for Failure {
    fn from(_: super::retry::Cancelled) -> Failure {
        Failure::Cancelled
    }
}

/// Why one attempt failed.
enum AttemptError {
    /// May heal: sent again while retries are left.
    Transient(String),
    Permanent(String),
}

/// Whether a transport error is hyper refusing the answer's head: a status line, header or
/// Content-Length that is not HTTP/1.1, HTTP/0.9, or a head over hyper's size limit. The
/// peer answered; sending again gets the same answer.
fn is_malformed_answer(e: &reqwest::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            return h.is_parse() || h.is_parse_too_large() || h.is_parse_status();
        }
        source = s.source();
    }
    false
}

/// The shared request loop of one service at one endpoint; cloning a client that holds it
/// shares its connection pool.
pub struct Transport {
    /// Names the service in logs, e.g. "MRS API".
    name: &'static str,
    /// Built at the first request: a walk that sends none (a plan without refresh, a
    /// validate) never reads the machine's CA certificates, which costs more instructions
    /// than 300 plans (`make bench`, docs/benchmarks.md).
    http: std::sync::OnceLock<Result<reqwest::Client, String>>,
    endpoint: Endpoint,
    settings: HttpSettings,
    /// At most `MAX_IN_FLIGHT` attempts between sending and reading the whole body.
    in_flight: tokio::sync::Semaphore,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub fn new(
        name: &'static str,
        endpoint: Endpoint,
        settings: HttpSettings,
    ) -> Result<Transport, String> {
        if HeaderValue::from_str(settings.user_agent.trim()).is_err() {
            return Err("the user agent is not a valid header value".into());
        }
        settings.tls.check()?;
        Ok(Transport {
            name,
            http: std::sync::OnceLock::new(),
            endpoint,
            settings,
            in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
        })
    }

    /// The HTTP client, built the first time a request needs it.
    fn http(&self) -> Result<&reqwest::Client, String> {
        self.http
            .get_or_init(|| build_client(&self.endpoint, &self.settings))
            .as_ref()
            .map_err(Clone::clone)
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    fn backoff(&self) -> Backoff {
        Backoff {
            base: self.settings.retry_base_delay,
            max: self.settings.retry_max_delay,
        }
    }

    /// One call with retries: the answer on 2xx, otherwise why not. Retried: transport
    /// errors, timeouts, 429 and 5xx; a 401 with keys from a source renews them once.
    /// Everything, attempts, backoff, `Retry-After` and TLS handshakes included, ends by
    /// `deadline` (a step's), and by the call's own `max_call_time` in any case.
    /// Every line logged inside carries the call's span (service, method, path, attempt,
    /// status, request ID); never headers or bodies, which hold the signature, the token
    /// and the names being synced.
    pub async fn call(
        &self,
        req: &Request<'_>,
        keys: Keys<'_>,
        deadline: Option<Deadline>,
        cancel: &CancellationToken,
    ) -> Result<Answer, Failure> {
        let url = self.endpoint.url(req.path, req.query);
        let span = tracing::error_span!(
            "api_call",
            service = self.name,
            method = %req.method,
            path = %url.path(),
            attempt = tracing::field::Empty,
            status = tracing::field::Empty,
            request_id = tracing::field::Empty,
        );
        let own = Deadline::after(self.settings.max_call_time);
        // The earlier of the two; a message names the one that ended the call.
        let (limit, step) = match deadline {
            Some(d) if d.at <= own.at => (d, true),
            _ => (own, false),
        };
        tracing::Instrument::instrument(
            self.call_in_span(req, &url, keys, limit, step, cancel),
            span,
        )
        .await
    }

    async fn call_in_span(
        &self,
        req: &Request<'_>,
        url: &Url,
        keys: Keys<'_>,
        limit: Deadline,
        step: bool,
        cancel: &CancellationToken,
    ) -> Result<Answer, Failure> {
        let mut attempt: u32 = 0;
        // Temporary keys refused with a 401 are renewed and the call sent again, once.
        let mut renewed = false;
        let out_of_time = |in_flight: bool, last: Option<&str>| {
            let what = format!("{} {}", req.method, url.path());
            let bound = if step {
                format!("the {} timeout", human_duration(limit.timeout))
            } else {
                format!(
                    "the {} a call may take in all",
                    human_duration(limit.timeout)
                )
            };
            let last = last
                .map(|l| format!(" (last attempt: {l})"))
                .unwrap_or_default();
            Failure::OutOfTime {
                message: if in_flight {
                    format!("{what} to {} at {} was still waiting for its answer when {bound} ran out; it is not sent again{last}", self.name, self.endpoint.as_str())
                } else {
                    format!(
                        "{bound} ran out before {what} to {} at {} could be sent{}{last}",
                        self.name,
                        self.endpoint.as_str(),
                        if last.is_empty() { "" } else { " again" }
                    )
                },
                in_flight,
            }
        };
        loop {
            if cancel.is_cancelled() {
                return Err(Failure::Cancelled);
            }
            let left = limit.left();
            if left.is_zero() {
                return Err(out_of_time(false, None));
            }
            let credentials = match keys {
                Keys::Unsigned => None,
                Keys::Fixed(c) => Some(c.clone()),
                Keys::Source(s) => Some(s.credentials().await.map_err(Failure::Keys)?),
            };
            let started = Instant::now();
            let outcome = tokio::select! {
                _ = cancel.cancelled() => return Err(Failure::Cancelled),
                r = tokio::time::timeout(limit.left(), self.attempt(req, url, credentials.as_ref())) => match r {
                    Ok(r) => r,
                    Err(_) => return Err(out_of_time(true, None)),
                },
            };
            self.log_attempt(req, url, attempt, started, &outcome);
            let retries_left = attempt < self.settings.max_retries;
            let (delay, reason) = match outcome {
                Ok(a) if (200..300).contains(&a.status) => return Ok(a),
                Ok(a) if (300..400).contains(&a.status) => {
                    return Err(Failure::Permanent {
                        message: self.redirect_message(&a),
                    })
                }
                Ok(a) if a.status == 401 && !renewed => match (keys, &credentials) {
                    (Keys::Source(source), Some(used)) if source.refused(used).await => {
                        renewed = true;
                        (
                            Duration::ZERO,
                            "HTTP 401: renewing the temporary keys".to_string(),
                        )
                    }
                    _ => return Err(Failure::Answered(a)),
                },
                Ok(a) if retries_left && is_retryable_status(a.status) => {
                    let delay = self.backoff().after_answer(attempt, &a.headers);
                    // Throttled or failing past the deadline: the answer is the outcome.
                    if delay >= limit.left() {
                        return Err(Failure::Answered(a));
                    }
                    (delay, format!("HTTP {}", a.status))
                }
                Ok(a) => return Err(Failure::Answered(a)),
                Err(AttemptError::Permanent(message)) => {
                    return Err(Failure::Permanent { message })
                }
                Err(AttemptError::Transient(message)) if retries_left => {
                    let delay = self.backoff().delay(attempt);
                    if delay >= limit.left() {
                        return Err(out_of_time(false, Some(&message)));
                    }
                    (delay, message)
                }
                Err(AttemptError::Transient(message)) => {
                    return Err(Failure::Unreachable {
                        endpoint: self.endpoint.as_str().to_string(),
                        message,
                        attempts: attempt + 1,
                    })
                }
            };
            crate::log_warn!(
                format!("retrying the {} call", self.name),
                method = req.method,
                path = url.path(),
                attempt = attempt + 1,
                reason = reason,
                delay_ms = delay.as_millis()
            );
            sleep_or_cancel(delay, cancel).await?;
            attempt += 1;
        }
    }

    /// A single request, signed when there are keys.
    async fn attempt(
        &self,
        req: &Request<'_>,
        url: &Url,
        credentials: Option<&Credentials>,
    ) -> Result<Answer, AttemptError> {
        // Never closed, so acquiring only waits; sign after it so the date is fresh.
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|e| AttemptError::Transient(e.to_string()))?;
        let mut headers: Vec<(String, String)> = vec![(
            "User-Agent".into(),
            self.settings.user_agent.trim().to_string(),
        )];
        for (k, v) in req.headers {
            headers.push((k.to_string(), v.clone()));
        }
        if let Some((_, content_type)) = req.body {
            headers.push(("Content-Type".into(), content_type.to_string()));
        }
        if let Some(credentials) = credentials {
            let sdk_date = signer::format_sdk_date(SystemTime::now());
            headers.push(("Host".into(), self.endpoint.host.clone()));
            headers.push(("X-Sdk-Date".into(), sdk_date.clone()));
            // The query as the URL encodes it, decoded again: what the server will see.
            let query: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            signer::sign_headers(
                &mut headers,
                req.method.as_str(),
                url.path(),
                &query,
                req.body.map(|(b, _)| b).unwrap_or_default(),
                credentials,
                &sdk_date,
            );
        }
        let mut map = HeaderMap::new();
        for (k, v) in &headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| AttemptError::Permanent(e.to_string()))?;
            // Never quotes the value: it may be the token or hold the access key.
            let value =
                HeaderValue::from_str(v).map_err(|_| AttemptError::Permanent(invalid_header(k)))?;
            map.insert(name, value);
        }
        let mut rb = self
            .http()
            .map_err(AttemptError::Permanent)?
            .request(req.method.clone(), url.clone())
            .headers(map);
        if let Some((b, _)) = req.body {
            rb = rb.body(b.to_vec());
        }
        let mut resp = rb.send().await.map_err(|e| self.classify(&e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let request_id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(|s| super::shown::text(s, 128))
            .filter(|s| !s.is_empty());
        let limit = self.settings.max_body;
        let too_large = || {
            AttemptError::Permanent(format!(
                "{} at {} answered {} {} (HTTP {status}) with a body larger than {}, the most the provider reads: check that the endpoint is the real service",
                self.name,
                self.endpoint.as_str(),
                req.method,
                url.path(),
                human_size(limit)
            ))
        };
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.classify(&e))? {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            request_id,
            headers,
            body,
        })
    }

    /// A transport error that can heal (refused, reset, timed out) or not (the TLS
    /// certificate or handshake).
    fn classify(&self, e: &reqwest::Error) -> AttemptError {
        let text = describe_transport(e);
        if is_malformed_answer(e) {
            return AttemptError::Permanent(format!(
                "{} at {} answered with a malformed HTTP response ({}): the status line or headers are not HTTP/1.1, or larger than the provider reads. Something other than the service answers there: check `region`, `cloud` and `endpoints`, and any proxy between",
                self.name,
                self.endpoint.as_str(),
                crate::shown::text(&text, crate::shown::TEXT)
            ));
        }
        let lower = text.to_ascii_lowercase();
        if lower.contains("certificate") || lower.contains("handshake") || lower.contains("alert") {
            return AttemptError::Permanent(format!(
                "TLS with {} failed ({text}). If a private CA signed the endpoint's certificate, set `cacert_file` (or HW_CACERT_FILE) to that CA's PEM file; if the server asks for a client certificate, set `cert` and `key` (or HW_CERT and HW_KEY); `insecure = true` (or HW_INSECURE) skips the check, for test endpoints only",
                self.endpoint.as_str()
            ));
        }
        AttemptError::Transient(text)
    }

    fn redirect_message(&self, a: &Answer) -> String {
        let to = a
            .headers
            .get(reqwest::header::LOCATION)
            .map(|v| shorten(&without_userinfo(&String::from_utf8_lossy(v.as_bytes()))))
            .unwrap_or_else(|| "nowhere".into());
        format!(
            "{} at {} answered HTTP {} with a redirect to {to}. The provider follows no redirect, which would carry the signed request elsewhere: set the endpoint to the address that answers (`endpoints`, `cloud`, `auth_url`)",
            self.name,
            self.endpoint.as_str(),
            a.status
        )
    }

    /// Puts the attempt's number, status and request ID on the call's span (so later
    /// lines, such as the retry warning, carry them; `-` when there was no answer), and
    /// writes one debug line per attempt.
    fn log_attempt(
        &self,
        req: &Request<'_>,
        url: &Url,
        attempt: u32,
        started: Instant,
        outcome: &Result<Answer, AttemptError>,
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
                format!("{} call", self.name),
                method = req.method,
                path = url.path(),
                status = a.status,
                attempt = attempt,
                request_id = a.request_id.as_deref().unwrap_or("-"),
                elapsed_ms = elapsed_ms
            ),
            Err(AttemptError::Transient(message) | AttemptError::Permanent(message)) => {
                crate::log_debug!(
                    format!("{} call failed", self.name),
                    method = req.method,
                    path = url.path(),
                    error = message,
                    attempt = attempt,
                    elapsed_ms = elapsed_ms
                )
            }
        }
    }
}

/// Which setting a header that cannot be sent comes from, and what to do.
fn invalid_header(name: &str) -> String {
    let from = match name {
        "X-Security-Token" => "the security token (`security_token`, HW_SECURITY_TOKEN, or the source of temporary keys)",
        "Authorization" => "the access key (`access_key`, HW_ACCESS_KEY, or the profile's accessKeyId)",
        "X-Project-Id" => "the project ID (`project_id` or HW_PROJECT_ID)",
        _ => "a setting",
    };
    format!("the {name} header cannot be sent: {from} holds characters that are not allowed in an HTTP header (a line break, a control character); set it again without them")
}

/// "5s", "2m0s", "1h0m0s": durations as Terraform users write `timeouts`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.subsec_millis();
    let secs = d.as_secs();
    match (secs / 3600, (secs % 3600) / 60, secs % 60) {
        (0, 0, s) if ms > 0 => format!("{s}.{ms:03}s").replace(".000s", "s"),
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

/// 4 MiB, 64 KiB.
pub fn human_size(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked_and_never_quote_a_password() {
        let e = Endpoint::parse("http://127.0.0.1:8080/").map_err(|e| e.to_string());
        assert_eq!(e.as_ref().map(Endpoint::host), Ok("127.0.0.1:8080"));
        let e = Endpoint::parse("https://mrs.x.com:443");
        assert_eq!(e.as_ref().map(Endpoint::host).ok(), Some("mrs.x.com"));
        for bad in [
            "",
            "mrs.x.com",
            "ftp://x",
            "https://x?q=1",
            "https://x#f",
            "http://admin:pw-s3cr3t@host",
        ] {
            let e = Endpoint::parse(bad);
            let Err(msg) = e else {
                unreachable!("{bad} is no endpoint")
            };
            assert!(!msg.contains("pw-s3cr3t"), "{msg}");
        }
        let long = format!("https://{}.com", "a".repeat(10_000));
        let msg = Endpoint::parse(&format!("{long}?x"))
            .err()
            .unwrap_or_default();
        assert!(msg.len() < 300, "{msg}");
    }

    #[test]
    fn plain_http_is_flagged_unless_loopback() {
        let plain = |s: &str| {
            Endpoint::parse(s)
                .map(|e| e.is_plain_http_to_another_host())
                .ok()
        };
        assert_eq!(plain("http://127.0.0.1:1"), Some(false));
        assert_eq!(plain("http://localhost:1"), Some(false));
        assert_eq!(plain("http://[::1]:1"), Some(false));
        assert_eq!(plain("https://iam.example.com"), Some(false));
        assert_eq!(plain("http://iam.example.com"), Some(true));
        assert_eq!(plain("http://10.0.0.1"), Some(true));
    }

    #[test]
    fn urls_keep_the_endpoint_path_and_encode_the_query() {
        let Ok(e) = Endpoint::parse("https://x/prefix/") else {
            unreachable!("valid")
        };
        let q = vec![("name".to_string(), "a#b?c d+e".to_string())];
        assert_eq!(
            e.url("/v3/projects", &q).as_str(),
            "https://x/prefix/v3/projects?name=a%23b%3Fc%20d%2Be"
        );
    }

    #[test]
    fn bad_pem_is_refused_without_quoting_it() {
        let tls = Tls {
            ca_pem: Some(Arc::from(&b"not a certificate SECRET"[..])),
            ..Tls::default()
        };
        let e = tls.check().err().unwrap_or_default();
        assert!(
            e.contains("no PEM certificate") && !e.contains("SECRET"),
            "{e}"
        );
        let tls = Tls {
            identity_pem: Some(Arc::from(&b"-----BEGIN NOTHING-----"[..])),
            ..Tls::default()
        };
        assert!(tls.check().is_err());
        assert!(format!("{tls:?}").contains("client_certificate: true"));
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(defaults::MAX_BODY), "4 MiB");
        assert_eq!(human_size(defaults::MAX_METADATA_BODY), "64 KiB");
        assert_eq!(human_size(1000), "1000 bytes");
    }
}
