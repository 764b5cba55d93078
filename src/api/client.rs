//! The MRS IAM-sync client: single signed calls on one cluster (read, status, sync,
//! cancel) over the shared request loop; no wait policy.

use std::sync::Arc;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::error::{snippet, ApiError};
use super::http::{Answer, Deadline, Endpoint, HttpSettings, Keys, Request, Transport};
use super::shown;
use super::types::{CancelSyncRequest, SyncAccepted, SyncStatus, SyncedNames, UpdateSyncRequest};
use super::{ClusterId, Credentials, ProjectId};

pub use super::http::CredentialSource;

/// How to reach MRS and how patiently.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// e.g. `https://mrs.cn-north-4.myhuaweicloud.com` or `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The keys, unless `credential_source` is set.
    pub credentials: Credentials,
    /// When set, asked for the keys before each attempt instead of `credentials`.
    pub credential_source: Option<Arc<dyn CredentialSource>>,
    /// Retries, timeouts, TLS trust, body limit: the shared defaults unless changed.
    pub http: HttpSettings,
}

impl ClientConfig {
    pub fn new(endpoint: impl Into<String>, credentials: Credentials) -> ClientConfig {
        ClientConfig {
            endpoint: endpoint.into(),
            credentials,
            credential_source: None,
            http: HttpSettings::default(),
        }
    }
}

struct Inner {
    transport: Transport,
    cfg: ClientConfig,
}

/// One per configured provider: cloning shares the connection pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// The step this handle serves ends here: see [`Client::until`].
    deadline: Option<Deadline>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint())
            .finish_non_exhaustive()
    }
}

fn config_err(message: impl Into<String>) -> ApiError {
    ApiError::Config {
        message: message.into(),
    }
}

/// The service's name in logs ("retrying the MRS API call").
const SERVICE: &str = "MRS API";

impl Client {
    pub fn new(cfg: ClientConfig) -> Result<Client, ApiError> {
        let endpoint =
            Endpoint::parse(&cfg.endpoint).map_err(|e| config_err(format!("endpoint {e}")))?;
        if cfg.credential_source.is_none() {
            super::check_credentials(&cfg.credentials).map_err(|e| config_err(e.to_string()))?;
        }
        let transport = Transport::new(SERVICE, endpoint, cfg.http.clone()).map_err(config_err)?;
        Ok(Client {
            inner: Arc::new(Inner { transport, cfg }),
            deadline: None,
        })
    }

    /// A handle on the same connections whose every call ends by `deadline`: attempts,
    /// backoff, `Retry-After` and handshakes. A write cut off in flight is not sent again.
    pub fn until(&self, deadline: Deadline) -> Client {
        Client {
            inner: self.inner.clone(),
            deadline: Some(deadline),
        }
    }

    /// The deadline of this handle's step, if it has one.
    pub fn deadline(&self) -> Option<Deadline> {
        self.deadline
    }

    /// A handle without the step's deadline (each call still ends by its own limit): for
    /// the read that records an outcome after the deadline.
    pub fn without_deadline(&self) -> Client {
        Client {
            inner: self.inner.clone(),
            deadline: None,
        }
    }

    /// Starts synchronizing the given users (with their groups) and groups.
    pub async fn update_sync(
        &self,
        project_id: &ProjectId,
        cluster_id: &ClusterId,
        req: &UpdateSyncRequest,
        cancel: &CancellationToken,
    ) -> Result<SyncAccepted, ApiError> {
        self.write(Method::POST, project_id, cluster_id, req, cancel)
            .await
    }

    /// Stops synchronizing exactly the given names.
    pub async fn cancel_sync(
        &self,
        project_id: &ProjectId,
        cluster_id: &ClusterId,
        req: &CancelSyncRequest,
        cancel: &CancellationToken,
    ) -> Result<SyncAccepted, ApiError> {
        self.write(Method::DELETE, project_id, cluster_id, req, cancel)
            .await
    }

    /// The users and groups currently synchronized (including users' implicit groups).
    pub async fn show_sync(
        &self,
        project_id: &ProjectId,
        cluster_id: &ClusterId,
        cancel: &CancellationToken,
    ) -> Result<SyncedNames, ApiError> {
        let a = self
            .call(
                Method::GET,
                project_id,
                cluster_id,
                "iam-sync-user",
                None,
                cancel,
            )
            .await?;
        decode(&a)
    }

    /// Whether a synchronization is running on the cluster.
    pub async fn sync_status(
        &self,
        project_id: &ProjectId,
        cluster_id: &ClusterId,
        cancel: &CancellationToken,
    ) -> Result<bool, ApiError> {
        let a = self
            .call(
                Method::GET,
                project_id,
                cluster_id,
                "iam-sync",
                None,
                cancel,
            )
            .await?;
        decode::<SyncStatus>(&a).map(|s| s.is_synchronizing)
    }

    /// A POST or DELETE of `iam-sync-user` with `body`; an empty 202 counts as accepted.
    async fn write<B: Serialize>(
        &self,
        method: Method,
        project_id: &ProjectId,
        cluster_id: &ClusterId,
        body: &B,
        cancel: &CancellationToken,
    ) -> Result<SyncAccepted, ApiError> {
        let body = serde_json::to_vec(body)
            .map_err(|e| config_err(format!("cannot encode the request: {e}")))?;
        let a = self
            .call(
                method,
                project_id,
                cluster_id,
                "iam-sync-user",
                Some(&body),
                cancel,
            )
            .await?;
        decode_accepted(a)
    }

    /// The endpoint as configured, which with the project and cluster names one cluster.
    pub fn endpoint(&self) -> &str {
        self.inner.transport.endpoint().as_str()
    }

    /// The path of `suffix` under the cluster; the IDs' types admit only characters that
    /// need no escaping in a path.
    fn path_for(project_id: &ProjectId, cluster_id: &ClusterId, suffix: &str) -> String {
        format!("/v2/{project_id}/clusters/{cluster_id}/{suffix}")
    }

    /// One call through the shared request loop, signed with the configured keys.
    async fn call(
        &self,
        method: Method,
        project_id: &ProjectId,
        cluster_id: &ClusterId,
        suffix: &str,
        body: Option<&[u8]>,
        cancel: &CancellationToken,
    ) -> Result<Answer, ApiError> {
        let path = Self::path_for(project_id, cluster_id, suffix);
        let headers = [("X-Project-Id", project_id.as_str().to_string())];
        let req = Request {
            method,
            path: &path,
            query: &[],
            headers: &headers,
            body: body.map(|b| (b, "application/json")),
        };
        let cfg = &self.inner.cfg;
        let keys = match &cfg.credential_source {
            Some(source) => Keys::Source(source.as_ref()),
            None => Keys::Fixed(&cfg.credentials),
        };
        self.inner
            .transport
            .call(&req, keys, self.deadline, cancel)
            .await
            .map_err(ApiError::from)
    }
}

fn decode<T: DeserializeOwned>(a: &Answer) -> Result<T, ApiError> {
    serde_json::from_slice(&a.body).map_err(|e| ApiError::Decode {
        status: a.status,
        // serde_json's message quotes the offending value, which may be megabytes long.
        message: format!(
            "{}; body starts with {:?}",
            shown::text(&e.to_string(), shown::TEXT),
            snippet(&a.body)
        ),
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
    use crate::api::UpdateSyncRequest;

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
            c.map(|c| c.inner.transport.endpoint().host().to_string())
                .ok()
                .as_deref(),
            Some("127.0.0.1:8080")
        );
        let c = Client::new(ClientConfig::new("https://mrs.x.com:443", creds()));
        assert_eq!(
            c.map(|c| c.inner.transport.endpoint().host().to_string())
                .ok()
                .as_deref(),
            Some("mrs.x.com")
        );
    }

    #[test]
    fn bad_config_is_an_error() {
        for ep in ["", "mrs.x.com", "ftp://x", "https://x?q=1", "http://u:pw@x"] {
            let r = Client::new(ClientConfig::new(ep, creds()));
            assert!(matches!(r, Err(ApiError::Config { .. })), "{ep}");
        }
        let mut c = creds();
        c.secret_key = Secret::new("");
        assert!(Client::new(ClientConfig::new("https://x", c)).is_err());
    }

    /// A loopback peer answering every request with `answer` (written `every` per byte
    /// when set); its URL and how many requests it read.
    async fn peer(
        answer: &'static [u8],
        every: Option<std::time::Duration>,
    ) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Ok(listener) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
            unreachable!("a loopback port")
        };
        let url = listener
            .local_addr()
            .map(|a| format!("http://{a}"))
            .unwrap_or_default();
        let seen = Arc::new(AtomicUsize::new(0));
        let count = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let count = count.clone();
                tokio::spawn(async move {
                    let mut head = [0u8; 8192];
                    if s.read(&mut head).await.unwrap_or(0) > 0 {
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    match every {
                        None => {
                            let _ = s.write_all(answer).await;
                        }
                        Some(d) => {
                            for b in answer {
                                if s.write_all(&[*b]).await.is_err() {
                                    return;
                                }
                                tokio::time::sleep(d).await;
                            }
                        }
                    }
                });
            }
        });
        (url, seen)
    }

    fn ids() -> (ProjectId, ClusterId) {
        let (Ok(p), Ok(c)) = (ProjectId::parse("p1"), ClusterId::parse("c1")) else {
            unreachable!("valid IDs")
        };
        (p, c)
    }

    fn fast_retries(endpoint: &str) -> Client {
        let mut cfg = ClientConfig::new(endpoint, creds());
        cfg.http.retry_base_delay = std::time::Duration::from_millis(10);
        let Ok(c) = Client::new(cfg) else {
            unreachable!("a valid configuration")
        };
        c
    }

    #[tokio::test]
    async fn a_trickled_write_ends_at_the_deadline_sent_once() {
        let (url, seen) = peer(
            b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}",
            Some(std::time::Duration::from_millis(500)),
        )
        .await;
        let client = fast_retries(&url).until(Deadline::after(std::time::Duration::from_secs(1)));
        let (p, c) = ids();
        let started = std::time::Instant::now();
        let r = client
            .update_sync(
                &p,
                &c,
                &UpdateSyncRequest::default(),
                &CancellationToken::new(),
            )
            .await;
        let took = started.elapsed();
        assert!(took < std::time::Duration::from_millis(1300), "{took:?}");
        let Err(e) = r else {
            unreachable!("cut off: {r:?}")
        };
        assert!(e.may_have_landed(), "{e:?}");
        let text = e.to_string();
        assert!(text.contains("when the 1s timeout ran out"), "{text}");
        assert!(text.contains("not sent again"), "{text}");
        assert_eq!(
            seen.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "sent again"
        );
    }

    #[tokio::test]
    async fn throttling_that_would_outlast_the_deadline_is_the_answer() {
        let (url, seen) = peer(
            b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 20\r\nContent-Length: 57\r\n\r\n{\"error_code\":\"APIGW.0308\",\"error_msg\":\"throttled, wait\"}",
            None,
        )
        .await;
        let client = fast_retries(&url).until(Deadline::after(std::time::Duration::from_secs(2)));
        let (p, c) = ids();
        let started = std::time::Instant::now();
        let r = client.show_sync(&p, &c, &CancellationToken::new()).await;
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(
            r.err()
                .and_then(|e| e.code().map(str::to_string))
                .as_deref(),
            Some("APIGW.0308")
        );
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_malformed_head_is_one_attempt_said_to_be_malformed() {
        for answer in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n{}"[..],
            b"{\"user_names\": []}",
            b"HTTP/1.1 2000 OK\r\n\r\n",
        ] {
            let (url, seen) = peer(answer, None).await;
            let (p, c) = ids();
            let r = fast_retries(&url)
                .show_sync(&p, &c, &CancellationToken::new())
                .await;
            let text = r.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(text.contains("malformed HTTP response"), "{text}");
            assert!(!text.contains("Nothing answered"), "{text}");
            assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1, "{text}");
        }
    }

    #[tokio::test]
    async fn a_huge_string_where_a_list_belongs_is_a_short_error() {
        static BODY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        let body = BODY.get_or_init(|| {
            let json = format!(
                "{{\"user_names\": \"{}\", \"group_names\": []}}",
                "x".repeat(3 << 20)
            );
            let mut b =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", json.len()).into_bytes();
            b.extend_from_slice(json.as_bytes());
            b
        });
        let (url, _) = peer(body, None).await;
        let (p, c) = ids();
        let r = fast_retries(&url)
            .show_sync(&p, &c, &CancellationToken::new())
            .await;
        let text = r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("could not be read"), "{text}");
        assert!(text.len() < 1000, "{} bytes", text.len());
    }

    #[test]
    fn urls_and_id_validation() {
        let Ok(c) = Client::new(ClientConfig::new("https://x/prefix/", creds())) else {
            unreachable!("valid config")
        };
        let (Ok(p), Ok(cl)) = (ProjectId::parse("p1"), ClusterId::parse("c_1-a")) else {
            unreachable!("valid IDs")
        };
        let u = c
            .inner
            .transport
            .endpoint()
            .url(&Client::path_for(&p, &cl, "iam-sync"), &[])
            .to_string();
        assert_eq!(u, "https://x/prefix/v2/p1/clusters/c_1-a/iam-sync");
        // What could escape the path never becomes an ID.
        assert!(ProjectId::parse("p/1").is_err());
        assert!(ClusterId::parse("c/../d").is_err());
        assert!(ClusterId::parse(&"c".repeat(65)).is_err());
    }
}
