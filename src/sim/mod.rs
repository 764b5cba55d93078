//! `mrs-sim`: a local MRS IAM-synchronization API (axum) for the demo and the tests, with
//! the parts of IAM and the ECS metadata service that the provider's credential sources use.
//!
//! # API calls (signed with SDK-HMAC-SHA256, like the real gateway)
//! - `POST /v2/{project_id}/clusters/{cluster_id}/iam-sync-user` `{"is_all_sync", "user_names",
//!   "group_names"}` → 202 `{"state":"synchronizing"}`
//! - `DELETE` same path `{"user_names", "group_names"}` (at most 1,000 of each) → 202
//! - `GET` same path → 200 `{"user_names":[..],"group_names":[..]}` (sorted)
//! - `GET /v2/{project_id}/clusters/{cluster_id}/iam-sync` → 200 `{"is_synchronizing": bool}`
//! - `GET /v2/{project_id}/clusters/{cluster_id}/iam-sync/is-synchronous` → 200
//!   `{"is_synchronous": true}`
//!
//! Errors are `{"error_code","error_msg"}`: 401 `APIGW.0301` (bad or missing signature,
//! wrong access key, `X-Sdk-Date` more than 15 minutes off), 404 `APIGW.0101` (unknown
//! path or method), 400 `MRS.SIM.400` (bad ids, bad JSON, over 1,000 names), 400 `12000003`
//! (cluster not in `--clusters`), 409 `MRS.SIM.409` (POST/DELETE while a sync runs; counted
//! in `overlapping_requests`). Every response has an `X-Request-Id` header.
//!
//! A POST/DELETE makes the cluster synchronize for `sync_delay`; the new names show in
//! the GET only when the sync ends. Syncing a user also syncs the user's groups
//! (from the directory); names not in the directory are accepted but never synced.
//!
//! # IAM and ECS metadata (see `iam.rs`)
//! - `GET /v3/projects?name={region}` (signed) → 200 `{"projects":[{"id","name",..}]}` from
//!   `--projects region=id,..`; an unknown name gives an empty list, as IAM does.
//! - `GET /v3/users?name={name}` (signed) → 200 `{"users":[{"id","name","domain_id",
//!   "enabled"}],"links"}`: the user of that name in `--directory` (without one, every
//!   well-formed name is a user), else an empty list. A user's ID is the hex of its name.
//! - `GET /v3/users/{user_id}/groups` (signed) → 200 `{"groups":[{"id","name","domain_id",
//!   "description"}],"links"}`: the user's groups in the directory (without one, none);
//!   404 `{"error":{"code":404,..}}` for an ID no user has.
//! - `POST /v3.0/OS-CREDENTIAL/securitytokens` (signed) `{"auth":{"identity":{"methods":
//!   ["assume_role"],"assume_role":{"agency_name","domain_name","duration_seconds"}}}}` →
//!   201 `{"credential":{"access","secret","securitytoken","expires_at"}}` for an agency in
//!   `--agencies domain/agency,..`; 403 `IAM.0003` for any other.
//! - `GET /openstack/latest/securitykey` (unsigned, only with `--metadata`) → 200
//!   `{"credential":{..}}`, fresh keys each time.
//!
//! Temporary keys are accepted like the permanent pair when the request carries their
//! `X-Security-Token`; they live for the requested duration (metadata: an hour), or for
//! `--token-ttl-ms` when given. A call signed with an expired key gets IAM's 401
//! `{"error":{"code":401,"message":"The security token has expired.","title":"Unauthorized"}}`.
//!
//! # Test knobs (unsigned, under `/_sim/`)
//! - `GET /_sim/state` → `{"clusters":[{"project_id","cluster_id","user_names",
//!   "group_names","is_synchronizing"}], "counters":{"requests_total","requests_by_method":
//!   {"GET":n,..}, "overlapping_requests","auth_failures","connections_accepted"}}`
//! - `GET /_sim/requests` → `[{"method","path","query","body": JSON or null,"status": u16 or
//!   null (dropped),"request_id","fault": null or the fault kind,"access_key": the signing key
//!   or null,"credential": "permanent" | "agency" | "metadata" | "admin" | null}]`, oldest
//!   first (last 10,000).
//! - `GET /_sim/temporary-credentials` → every temporary key issued, secrets included (so a
//!   test can check that none leaks); `POST` with `{"ttl_ms": N}` issues one (0: already
//!   expired); `DELETE` → 204 revokes every key issued so far (each now expired, though the
//!   holder was told a later expiry: IAM ending sessions early, or a clock that ran ahead).
//! - `POST /_sim/faults` with `{"method": "POST" | "*" (default), "path_contains": optional,
//!   "count": N (default 1), "kind": ...}` → 201 `{"queued": <faults pending>}`. Kinds:
//!   `{"kind":"status","status":503,"error_code":"..","error_msg":"..","retry_after":1}`,
//!   `{"kind":"latency","latency_ms":300}` (then answered normally),
//!   `{"kind":"drop"}` (connection closed without an answer; without a socket, e.g. in
//!   `Router::oneshot`, it answers 502 `MRS.SIM.DROP` instead),
//!   `{"kind":"malformed","status":200,"body":"{not json"}`,
//!   `{"kind":"keep_names"}` (answered normally, a sync runs, but the cluster's names stay
//!   as they were: an API that accepts a DELETE and keeps listing the names),
//!   `{"kind":"trickle","interval_ms":1000}` (answered normally, the call takes effect, but
//!   the answer, head included, is written one byte per interval, then the connection
//!   closes), `{"kind":"malformed_head","head":"many_headers"}` (no effect; in place of an
//!   answer, bytes no HTTP/1.1 server writes: `many_headers` (100,000 headers),
//!   `huge_header` (one of 64 MiB), `huge_status_line`, `bad_content_length`, `http09`
//!   (a body without a status line); then the connection closes).
//!   Faults hit API calls only (IAM's and the metadata service's included:
//!   `"path_contains": "/v3/users"` hits both user calls, `"/groups"` the second), before
//!   the signature check, first registered first.
//! - `DELETE /_sim/faults` → 204: drops the faults still queued.
//! - `POST /_sim/reset` → 204: forgets clusters, faults, the request log and counters
//!   (except `connections_accepted`, a property of the process).
//! - `PUT /_sim/clusters/{project_id}/{cluster_id}` `{"user_names":[..],"group_names":[..]}`
//!   → 204: sets the synced names out of band (drift), ending any running sync.

mod iam;
mod model;
mod net;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::api::signer::{self, SignableRequest};
use crate::api::types::{CancelSyncRequest, UpdateSyncRequest};
use crate::api::Secret;

pub use model::{Directory, Names};
pub use net::ConnHandle;

use model::Cluster;

/// How far `X-Sdk-Date` may be from the simulator's clock.
const CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);
const MAX_NAMES: usize = 1000;
const MAX_BODY: usize = 4 * 1024 * 1024;
const MAX_LOG: usize = 10_000;

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub access_key: String,
    pub secret_key: Secret,
    pub sync_delay: Duration,
    /// When set, only these cluster ids exist; others answer 400 `12000003`.
    pub clusters: Option<Vec<String>>,
    pub directory: Directory,
    pub state_file: Option<PathBuf>,
    /// IAM's projects: region name → project id.
    pub projects: BTreeMap<String, String>,
    /// Agencies the permanent key may assume: (domain name, agency name).
    pub agencies: Vec<(String, String)>,
    /// When set, every temporary key lives this long, whatever was asked for.
    pub token_ttl: Option<Duration>,
    /// Serve `/openstack/latest/securitykey`.
    pub metadata: bool,
}

impl SimConfig {
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> SimConfig {
        SimConfig {
            access_key: access_key.into(),
            secret_key: Secret::new(secret_key.into()),
            sync_delay: Duration::ZERO,
            clusters: None,
            directory: Directory::Open,
            state_file: None,
            projects: BTreeMap::new(),
            agencies: Vec::new(),
            token_ttl: None,
            metadata: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum FaultKind {
    Status {
        status: u16,
        #[serde(default)]
        error_code: Option<String>,
        #[serde(default)]
        error_msg: Option<String>,
        #[serde(default)]
        retry_after: Option<u64>,
    },
    Latency {
        latency_ms: u64,
    },
    Drop,
    Malformed {
        #[serde(default)]
        status: Option<u16>,
        #[serde(default)]
        body: Option<String>,
    },
    KeepNames,
    /// Answered as usual (the call takes effect), the answer written one byte per
    /// `interval_ms` (default 1,000), on a connection that then closes.
    Trickle {
        #[serde(default)]
        interval_ms: Option<u64>,
    },
    /// Bytes no HTTP/1.1 server writes in place of the answer, then the connection
    /// closes; the call has no effect. `head`: one of [`MALFORMED_HEADS`].
    MalformedHead {
        head: String,
    },
}

/// The heads of the `malformed_head` fault.
pub const MALFORMED_HEADS: &[&str] = &[
    "many_headers",
    "huge_header",
    "huge_status_line",
    "bad_content_length",
    "http09",
];

/// The bytes of a `malformed_head` fault; None for a name not in [`MALFORMED_HEADS`].
fn malformed_head(head: &str) -> Option<Vec<u8>> {
    let body = b"{\"user_names\": [], \"group_names\": []}";
    Some(match head {
        // Far over any client's header count (hyper's is 100).
        "many_headers" => {
            let mut h = b"HTTP/1.1 200 OK\r\n".to_vec();
            for i in 0..100_000 {
                h.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
            }
            h.extend_from_slice(b"\r\n");
            h
        }
        // 64 MiB in one header line: a client that read it all would hold it in memory.
        "huge_header" => {
            let mut h = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
            h.resize(h.len() + (64 << 20), b'a');
            h.extend_from_slice(b"\r\n\r\n");
            h
        }
        "huge_status_line" => {
            let mut h = b"HTTP/1.1 200 ".to_vec();
            h.resize(h.len() + (64 << 20), b'O');
            h.extend_from_slice(b"\r\n\r\n");
            h
        }
        "bad_content_length" => {
            let mut h = b"HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n".to_vec();
            h.extend_from_slice(body);
            h
        }
        // HTTP/0.9: the body alone, no status line.
        "http09" => body.to_vec(),
        _ => return None,
    })
}

impl FaultKind {
    fn name(&self) -> &'static str {
        match self {
            FaultKind::Status { .. } => "status",
            FaultKind::Latency { .. } => "latency",
            FaultKind::Drop => "drop",
            FaultKind::Malformed { .. } => "malformed",
            FaultKind::KeepNames => "keep_names",
            FaultKind::Trickle { .. } => "trickle",
            FaultKind::MalformedHead { .. } => "malformed_head",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
struct FaultSpec {
    #[serde(default = "star")]
    method: String,
    #[serde(default)]
    path_contains: Option<String>,
    #[serde(default = "one")]
    count: u32,
    #[serde(flatten)]
    kind: FaultKind,
}

fn star() -> String {
    "*".to_string()
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Serialize)]
struct LogEntry {
    method: String,
    path: String,
    query: Option<String>,
    body: Value,
    status: Option<u16>,
    request_id: String,
    fault: Option<&'static str>,
    access_key: Option<String>,
    credential: Option<&'static str>,
}

#[derive(Debug, Default)]
struct Counters {
    by_method: BTreeMap<String, u64>,
    total: u64,
    overlapping: u64,
    auth_failures: u64,
}

#[derive(Debug, Default)]
struct Data {
    clusters: BTreeMap<(String, String), Cluster>,
    faults: VecDeque<FaultSpec>,
    log: VecDeque<LogEntry>,
    counters: Counters,
    /// Temporary keys issued, by access key.
    issued: BTreeMap<String, iam::Issued>,
    /// Set when the synced names changed and the state file must be rewritten.
    dirty: bool,
}

/// One running simulator: its configuration, its data and its connection count.
struct Simulator {
    cfg: SimConfig,
    data: Mutex<Data>,
    connections: Arc<AtomicU64>,
}

/// The simulator's state; cheap to clone (shared).
#[derive(Clone)]
pub struct SimState {
    sim: Arc<Simulator>,
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    clusters: Vec<StateFileCluster>,
}

#[derive(Serialize, Deserialize)]
struct StateFileCluster {
    project_id: String,
    cluster_id: String,
    #[serde(default)]
    user_names: BTreeSet<String>,
    #[serde(default)]
    group_names: BTreeSet<String>,
}

impl SimState {
    /// Builds the state, loading `state_file` when it exists.
    pub fn new(cfg: SimConfig) -> std::io::Result<SimState> {
        let mut data = Data::default();
        if let Some(path) = &cfg.state_file {
            match std::fs::read(path) {
                Ok(bytes) => {
                    let f: StateFile = serde_json::from_slice(&bytes).map_err(|e| {
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!("state file {}: {e}", path.display()),
                        )
                    })?;
                    for c in f.clusters {
                        data.clusters.insert(
                            (c.project_id, c.cluster_id),
                            Cluster::with_names(Names {
                                user_names: c.user_names,
                                group_names: c.group_names,
                            }),
                        );
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(SimState {
            sim: Arc::new(Simulator {
                cfg,
                data: Mutex::new(data),
                connections: Arc::new(AtomicU64::new(0)),
            }),
        })
    }

    /// Issues and remembers a temporary key.
    fn issue(&self, by: iam::IssuedBy, ttl: Duration) -> iam::Issued {
        let issued = iam::Issued::new(by, ttl);
        self.lock()
            .issued
            .insert(issued.access.clone(), issued.clone());
        issued
    }

    /// Connections accepted by [`run`] so far.
    pub fn connections_accepted(&self) -> u64 {
        self.sim.connections.load(Ordering::SeqCst)
    }

    fn lock(&self) -> MutexGuard<'_, Data> {
        // Handlers never panic while holding the lock; if one did, the data is still usable.
        self.sim
            .data
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on settled data, then persists if the synced names changed.
    fn with_data<R>(&self, f: impl FnOnce(&mut Data, Instant) -> R) -> R {
        let now = Instant::now();
        let mut guard = self.lock();
        let data = &mut *guard;
        for c in data.clusters.values_mut() {
            if c.settle(now) {
                data.dirty = true;
            }
        }
        let r = f(data, now);
        if data.dirty {
            data.dirty = false;
            self.persist(data);
        }
        r
    }

    fn persist(&self, data: &Data) {
        let Some(path) = &self.sim.cfg.state_file else {
            return;
        };
        let file = StateFile {
            clusters: data
                .clusters
                .iter()
                .map(|((p, c), cl)| StateFileCluster {
                    project_id: p.clone(),
                    cluster_id: c.clone(),
                    user_names: cl.names.user_names.clone(),
                    group_names: cl.names.group_names.clone(),
                })
                .collect(),
        };
        let result = serde_json::to_vec_pretty(&file)
            .map_err(std::io::Error::other)
            .and_then(|bytes| {
                // Write-then-rename so a crash never leaves a half-written state file.
                let mut tmp = path.clone().into_os_string();
                tmp.push(".tmp");
                std::fs::write(&tmp, bytes)?;
                std::fs::rename(&tmp, path)
            });
        if let Err(e) = result {
            eprintln!("mrs-sim: cannot write state file {}: {e}", path.display());
        }
    }

    fn state_view(&self) -> Value {
        let connections = self.connections_accepted();
        self.with_data(|d, now| {
            let clusters: Vec<Value> = d
                .clusters
                .iter()
                .map(|((p, c), cl)| {
                    json!({
                        "project_id": p,
                        "cluster_id": c,
                        "user_names": cl.names.user_names,
                        "group_names": cl.names.group_names,
                        "is_synchronizing": cl.is_synchronizing(now),
                    })
                })
                .collect();
            json!({
                "clusters": clusters,
                "counters": {
                    "requests_total": d.counters.total,
                    "requests_by_method": d.counters.by_method,
                    "overlapping_requests": d.counters.overlapping,
                    "auth_failures": d.counters.auth_failures,
                    "connections_accepted": connections,
                }
            })
        })
    }
}

/// The simulator's routes; usable without a socket (`tower::ServiceExt::oneshot`).
pub fn app(state: SimState) -> Router {
    Router::new()
        .route("/_sim/state", get(admin_state))
        .route("/_sim/requests", get(admin_requests))
        // A fault may carry a body as large as an answer may be (and more, to test the
        // provider's limit); axum's default would refuse it at 2 MiB.
        .route(
            "/_sim/faults",
            post(admin_faults)
                .delete(admin_clear_faults)
                .layer(axum::extract::DefaultBodyLimit::max(2 * MAX_BODY)),
        )
        .route("/_sim/reset", post(admin_reset))
        .route(
            "/_sim/temporary-credentials",
            get(admin_list_temporary)
                .post(admin_issue_temporary)
                .delete(admin_revoke_temporary),
        )
        .route(
            "/_sim/clusters/{project_id}/{cluster_id}",
            put(admin_set_cluster).layer(axum::extract::DefaultBodyLimit::max(2 * MAX_BODY)),
        )
        .fallback(api)
        .with_state(state)
        .layer(axum::middleware::map_response(ensure_request_id))
}

/// Serves until `shutdown` completes, counting connections and setting TCP_NODELAY.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: SimState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = net::SimListener::new(listener, state.sim.connections.clone());
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<ConnHandle>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

fn new_request_id() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

async fn ensure_request_id(mut resp: Response) -> Response {
    if !resp.headers().contains_key("x-request-id") {
        if let Ok(v) = HeaderValue::from_str(&new_request_id()) {
            resp.headers_mut().insert("x-request-id", v);
        }
    }
    resp
}

fn error_response(status: StatusCode, code: &str, msg: &str) -> Response {
    (status, Json(json!({"error_code": code, "error_msg": msg}))).into_response()
}

fn bad_request(msg: &str) -> Response {
    error_response(StatusCode::BAD_REQUEST, "MRS.SIM.400", msg)
}

async fn admin_state(State(s): State<SimState>) -> Response {
    Json(s.state_view()).into_response()
}

async fn admin_requests(State(s): State<SimState>) -> Response {
    let log: Vec<LogEntry> = s.lock().log.iter().cloned().collect();
    Json(log).into_response()
}

async fn admin_faults(State(s): State<SimState>, body: Bytes) -> Response {
    let spec: FaultSpec = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => return bad_request(&format!("invalid fault: {e}")),
    };
    match &spec.kind {
        FaultKind::Status { status, .. } if StatusCode::from_u16(*status).is_err() => {
            return bad_request("status must be an HTTP status code");
        }
        FaultKind::Malformed {
            status: Some(st), ..
        } if StatusCode::from_u16(*st).is_err() => {
            return bad_request("status must be an HTTP status code");
        }
        FaultKind::MalformedHead { head } if !MALFORMED_HEADS.contains(&head.as_str()) => {
            return bad_request(&format!("head must be one of {MALFORMED_HEADS:?}"));
        }
        _ => {}
    }
    if spec.count == 0 {
        return bad_request("count must be at least 1");
    }
    let mut d = s.lock();
    d.faults.push_back(spec);
    let queued = d.faults.len();
    drop(d);
    (StatusCode::CREATED, Json(json!({ "queued": queued }))).into_response()
}

async fn admin_list_temporary(State(s): State<SimState>) -> Response {
    let issued: Vec<iam::Issued> = s.lock().issued.values().cloned().collect();
    Json(issued).into_response()
}

#[derive(Deserialize)]
struct IssueSpec {
    ttl_ms: u64,
}

async fn admin_issue_temporary(State(s): State<SimState>, body: Bytes) -> Response {
    let spec: IssueSpec = match serde_json::from_slice(&body) {
        Ok(x) => x,
        Err(e) => return bad_request(&format!("invalid request: {e}")),
    };
    let issued = s.issue(iam::IssuedBy::Admin, Duration::from_millis(spec.ttl_ms));
    (
        StatusCode::CREATED,
        Json(json!({ "credential": issued.credential_json() })),
    )
        .into_response()
}

async fn admin_revoke_temporary(State(s): State<SimState>) -> Response {
    let now = SystemTime::now();
    s.with_data(|d, _| {
        for k in d.issued.values_mut() {
            k.expires_at = k.expires_at.min(now);
        }
    });
    StatusCode::NO_CONTENT.into_response()
}

/// Drops the faults still queued, keeping everything else.
async fn admin_clear_faults(State(s): State<SimState>) -> Response {
    s.lock().faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_reset(State(s): State<SimState>) -> Response {
    s.with_data(|d, _| {
        d.clusters.clear();
        d.faults.clear();
        d.log.clear();
        d.counters = Counters::default();
        d.issued.clear();
        d.dirty = true;
    });
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_set_cluster(
    State(s): State<SimState>,
    Path((project_id, cluster_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Err(why) = validate_ids(&project_id, &cluster_id) {
        return bad_request(why);
    }
    let names: Names = match serde_json::from_slice(&body) {
        Ok(n) => n,
        Err(e) => return bad_request(&format!("invalid names: {e}")),
    };
    s.with_data(|d, _| {
        d.clusters
            .entry((project_id, cluster_id))
            .or_default()
            .set_names(names);
        d.dirty = true;
    });
    StatusCode::NO_CONTENT.into_response()
}

fn validate_ids(project_id: &str, cluster_id: &str) -> Result<(), &'static str> {
    if project_id.is_empty()
        || project_id.len() > 64
        || !project_id.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err("project_id must be 1 to 64 letters or digits");
    }
    if cluster_id.is_empty()
        || cluster_id.len() > 64
        || !cluster_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err("cluster_id must be 1 to 64 letters, digits, '_' or '-'");
    }
    Ok(())
}

/// Which documented MRS call a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MrsCall {
    Update,
    Cancel,
    Show,
    Status,
    Supported,
}

/// Which API (and call) a request is for.
enum Endpoint {
    Mrs(MrsCall, String, String),
    ProjectList,
    UserList,
    /// The user ID, decoded.
    UserGroups(String),
    SecurityToken,
    Metadata,
}

fn route_any(method: &Method, path: &str) -> Option<Endpoint> {
    match (method.as_str(), path.trim_end_matches('/')) {
        ("GET", "/v3/projects") => Some(Endpoint::ProjectList),
        ("GET", "/v3/users") => Some(Endpoint::UserList),
        ("POST", "/v3.0/OS-CREDENTIAL/securitytokens") => Some(Endpoint::SecurityToken),
        ("GET", "/openstack/latest/securitykey") => Some(Endpoint::Metadata),
        _ => user_groups_route(method, path)
            .or_else(|| route(method, path).map(|(c, p, cl)| Endpoint::Mrs(c, p, cl))),
    }
}

/// `GET /v3/users/{user_id}/groups`, the ID decoded as the signer decodes path segments.
fn user_groups_route(method: &Method, path: &str) -> Option<Endpoint> {
    if method != Method::GET {
        return None;
    }
    match path
        .trim_end_matches('/')
        .split('/')
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["", "v3", "users", id, "groups"] => Some(Endpoint::UserGroups(signer::percent_decode(id))),
        _ => None,
    }
}

fn route(method: &Method, path: &str) -> Option<(MrsCall, String, String)> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let (p, c, rest) = match segs.as_slice() {
        ["", "v2", p, "clusters", c, rest @ ..] => (*p, *c, rest),
        _ => return None,
    };
    let call = match (method.as_str(), rest) {
        ("POST", ["iam-sync-user"]) => MrsCall::Update,
        ("DELETE", ["iam-sync-user"]) => MrsCall::Cancel,
        ("GET", ["iam-sync-user"]) => MrsCall::Show,
        ("GET", ["iam-sync"]) => MrsCall::Status,
        ("GET", ["iam-sync", "is-synchronous"]) => MrsCall::Supported,
        _ => return None,
    };
    Some((call, signer::percent_decode(p), signer::percent_decode(c)))
}

fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    q.unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (signer::percent_decode(k), signer::percent_decode(v))
        })
        .collect()
}

/// Who signed a request.
#[derive(Debug, Clone)]
struct Caller {
    access_key: String,
    /// "permanent", or who issued the temporary key.
    credential: &'static str,
}

/// Why a signature was refused.
enum Refusal {
    /// The gateway's 401 `APIGW.0301`.
    Signature(&'static str),
    /// IAM's 401: a temporary key past its expiry.
    Expired,
}

impl From<&'static str> for Refusal {
    fn from(why: &'static str) -> Refusal {
        Refusal::Signature(why)
    }
}

impl Refusal {
    fn response(&self) -> Response {
        match self {
            Refusal::Signature(why) => error_response(
                StatusCode::UNAUTHORIZED,
                "APIGW.0301",
                &format!("Incorrect IAM authentication information: {why}"),
            ),
            Refusal::Expired => {
                iam::iam_error(StatusCode::UNAUTHORIZED, "The security token has expired.")
            }
        }
    }
}

/// Checks the SDK-HMAC-SHA256 signature and the date window, with the permanent key or a
/// temporary one (whose token must come along, and which must not have expired).
fn check_signature(
    s: &SimState,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Caller, Refusal> {
    let cfg = &s.sim.cfg;
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or("missing Authorization header")?;
    let parsed = signer::parse_authorization(auth).ok_or("malformed Authorization header")?;
    let (secret, caller) = if parsed.access_key == cfg.access_key {
        (
            cfg.secret_key.expose().to_string(),
            Caller {
                access_key: parsed.access_key.clone(),
                credential: "permanent",
            },
        )
    } else {
        let issued = s.lock().issued.get(&parsed.access_key).cloned();
        let Some(issued) = issued else {
            return Err("unknown access key".into());
        };
        let token = headers
            .get("x-security-token")
            .and_then(|v| v.to_str().ok())
            .ok_or("a temporary access key needs its X-Security-Token")?;
        if token.trim() != issued.securitytoken {
            return Err("the security token does not belong to the access key".into());
        }
        if !parsed
            .signed_headers
            .iter()
            .any(|h| h == "x-security-token")
        {
            return Err("X-Security-Token must be signed".into());
        }
        if issued.is_expired(SystemTime::now()) {
            return Err(Refusal::Expired);
        }
        (
            issued.secret.clone(),
            Caller {
                access_key: parsed.access_key.clone(),
                credential: issued.issued_by.label(),
            },
        )
    };
    let date = headers
        .get("x-sdk-date")
        .and_then(|v| v.to_str().ok())
        .ok_or("missing X-Sdk-Date header")?;
    let t = signer::parse_sdk_date(date).ok_or("malformed X-Sdk-Date header")?;
    let date = date.to_string();
    let now = SystemTime::now();
    let skew = now
        .duration_since(t)
        .or_else(|_| t.duration_since(now))
        .unwrap_or(Duration::MAX);
    if skew > CLOCK_SKEW {
        return Err("X-Sdk-Date is more than 15 minutes off".into());
    }
    // Without these signed, a captured request could be replayed later or elsewhere.
    for required in ["x-sdk-date", "host"] {
        if !parsed.signed_headers.iter().any(|h| h == required) {
            return Err("X-Sdk-Date and Host must be signed".into());
        }
    }
    let mut pairs = Vec::new();
    for name in &parsed.signed_headers {
        let values: Vec<String> = headers
            .get_all(name.as_str())
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        if values.is_empty() {
            return Err("a signed header is missing".into());
        }
        pairs.push((name.clone(), values.join(",")));
    }
    let query = parse_query(query);
    let req = SignableRequest {
        method: method.as_str(),
        path,
        query: &query,
        headers: &pairs,
        body,
    };
    if signer::verify(&req, &parsed, &secret, &date) {
        Ok(caller)
    } else {
        Err("signature mismatch".into())
    }
}

/// Every request that is not an admin route: faults, routing, auth, validation, the model.
async fn api(State(s): State<SimState>, req: Request) -> Response {
    let request_id = new_request_id();
    let (parts, body) = req.into_parts();
    let conn = parts
        .extensions
        .get::<ConnectInfo<ConnHandle>>()
        .map(|c| c.0.clone());
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    let method = parts.method.clone();
    let body = axum::body::to_bytes(body, MAX_BODY).await;
    let mut caller = None;
    let (resp, status, fault, logged_body) = match body {
        Err(_) => (
            error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "MRS.SIM.413",
                "request body too large or unreadable",
            ),
            Some(413),
            None,
            Value::Null,
        ),
        Ok(body) => {
            let logged_body = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let fault = take_fault(&s, &method, &path);
            let (resp, status) = match &fault {
                Some(FaultKind::Latency { latency_ms }) => {
                    tokio::time::sleep(Duration::from_millis(*latency_ms)).await;
                    answer(&s, &parts, &body, &mut caller, Effect::Real)
                }
                Some(FaultKind::KeepNames) => {
                    answer(&s, &parts, &body, &mut caller, Effect::KeepNames)
                }
                Some(FaultKind::Status {
                    status,
                    error_code,
                    error_msg,
                    retry_after,
                }) => {
                    let st =
                        StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                    let mut r = error_response(
                        st,
                        error_code.as_deref().unwrap_or("MRS.SIM.FAULT"),
                        error_msg.as_deref().unwrap_or("injected fault"),
                    );
                    if let Some(secs) = retry_after {
                        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                            r.headers_mut().insert("retry-after", v);
                        }
                    }
                    (r, Some(st.as_u16()))
                }
                Some(FaultKind::Drop) => match &conn {
                    Some(c) => {
                        c.drop_connection();
                        (StatusCode::BAD_GATEWAY.into_response(), None)
                    }
                    None => (
                        error_response(
                            StatusCode::BAD_GATEWAY,
                            "MRS.SIM.DROP",
                            "connection would have been dropped",
                        ),
                        Some(502),
                    ),
                },
                Some(FaultKind::Malformed { status, body }) => {
                    let st = status
                        .and_then(|st| StatusCode::from_u16(st).ok())
                        .unwrap_or(StatusCode::OK);
                    let mut r = (
                        st,
                        body.clone().unwrap_or_else(|| "{\"user_names\": [".into()),
                    )
                        .into_response();
                    r.headers_mut()
                        .insert("content-type", HeaderValue::from_static("application/json"));
                    (r, Some(st.as_u16()))
                }
                Some(FaultKind::Trickle { interval_ms }) => {
                    let (mut r, st) = answer(&s, &parts, &body, &mut caller, Effect::Real);
                    if let Some(c) = &conn {
                        c.trickle(Duration::from_millis(interval_ms.unwrap_or(1000)));
                        // Later answers must not trickle on this connection.
                        r.headers_mut()
                            .insert("connection", HeaderValue::from_static("close"));
                    }
                    (r, st)
                }
                Some(FaultKind::MalformedHead { head }) => match (&conn, malformed_head(head)) {
                    (Some(c), Some(bytes)) => {
                        c.answer_raw(bytes);
                        (StatusCode::OK.into_response(), None)
                    }
                    // Without a socket there is no head to break.
                    _ => (
                        error_response(
                            StatusCode::BAD_GATEWAY,
                            "MRS.SIM.MALFORMED",
                            "a malformed head would have been sent",
                        ),
                        Some(502),
                    ),
                },
                None => answer(&s, &parts, &body, &mut caller, Effect::Real),
            };
            (
                resp,
                status,
                fault.as_ref().map(FaultKind::name),
                logged_body,
            )
        }
    };
    let mut resp = resp;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    let mut d = s.lock();
    *d.counters.by_method.entry(method.to_string()).or_default() += 1;
    d.counters.total += 1;
    if status == Some(401) {
        d.counters.auth_failures += 1;
    }
    let (access_key, credential) = match caller {
        Some(c) => (Some(c.access_key), Some(c.credential)),
        None => (None, None),
    };
    d.log.push_back(LogEntry {
        method: method.to_string(),
        path,
        query,
        body: logged_body,
        status,
        request_id,
        fault,
        access_key,
        credential,
    });
    while d.log.len() > MAX_LOG {
        d.log.pop_front();
    }
    resp
}

fn take_fault(s: &SimState, method: &Method, path: &str) -> Option<FaultKind> {
    let mut d = s.lock();
    let idx = d.faults.iter().position(|f| {
        (f.method == "*" || f.method.eq_ignore_ascii_case(method.as_str()))
            && f.path_contains.as_deref().is_none_or(|p| path.contains(p))
    })?;
    let f = d.faults.get_mut(idx)?;
    f.count = f.count.saturating_sub(1);
    let kind = f.kind.clone();
    if f.count == 0 {
        d.faults.remove(idx);
    }
    Some(kind)
}

/// What a POST or DELETE does to the cluster's names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Effect {
    Real,
    /// The `keep_names` fault: the call is answered as usual but changes nothing.
    KeepNames,
}

/// The real answer to an API call (no fault, or one that changes only the effect).
fn answer(
    s: &SimState,
    parts: &axum::http::request::Parts,
    body: &[u8],
    caller: &mut Option<Caller>,
    effect: Effect,
) -> (Response, Option<u16>) {
    let r = answer_inner(s, parts, body, caller, effect);
    let st = r.status().as_u16();
    (r, Some(st))
}

fn answer_inner(
    s: &SimState,
    parts: &axum::http::request::Parts,
    body: &[u8],
    caller: &mut Option<Caller>,
    effect: Effect,
) -> Response {
    let cfg = &s.sim.cfg;
    let path = parts.uri.path();
    let not_found = || {
        error_response(
            StatusCode::NOT_FOUND,
            "APIGW.0101",
            "The API does not exist",
        )
    };
    let Some(endpoint) = route_any(&parts.method, path) else {
        return not_found();
    };
    if let Endpoint::Metadata = endpoint {
        // The metadata service is reached from inside the instance and is not signed.
        if !cfg.metadata {
            return not_found();
        }
        let ttl = cfg.token_ttl.unwrap_or(iam::METADATA_TTL);
        let issued = s.issue(iam::IssuedBy::Metadata, ttl);
        return Json(json!({ "credential": issued.credential_json() })).into_response();
    }
    match check_signature(
        s,
        &parts.method,
        path,
        parts.uri.query(),
        &parts.headers,
        body,
    ) {
        Ok(c) => *caller = Some(c),
        Err(refusal) => return refusal.response(),
    }
    let (call, project_id, cluster_id) = match endpoint {
        Endpoint::Mrs(call, p, c) => (call, p, c),
        Endpoint::ProjectList => {
            return iam::list_projects(&cfg.projects, &parse_query(parts.uri.query()))
        }
        Endpoint::UserList => {
            return iam::list_users(&cfg.directory, &parse_query(parts.uri.query()))
        }
        Endpoint::UserGroups(id) => return iam::list_user_groups(&cfg.directory, &id),
        Endpoint::SecurityToken => return assume_agency(s, body, caller.as_ref()),
        Endpoint::Metadata => return not_found(),
    };
    if let Err(why) = validate_ids(&project_id, &cluster_id) {
        return bad_request(why);
    }
    if let Some(allowed) = &cfg.clusters {
        if !allowed.iter().any(|c| c == &cluster_id) {
            return error_response(
                StatusCode::BAD_REQUEST,
                "12000003",
                "The cluster does not exist",
            );
        }
    }
    let key = (project_id, cluster_id);
    match call {
        MrsCall::Show => s.with_data(|d, _| {
            let names = d
                .clusters
                .get(&key)
                .map(|c| c.names.clone())
                .unwrap_or_default();
            Json(json!({"user_names": names.user_names, "group_names": names.group_names}))
                .into_response()
        }),
        MrsCall::Status => s.with_data(|d, now| {
            let busy = d
                .clusters
                .get(&key)
                .is_some_and(|c| c.is_synchronizing(now));
            Json(json!({ "is_synchronizing": busy })).into_response()
        }),
        MrsCall::Supported => Json(json!({ "is_synchronous": true })).into_response(),
        MrsCall::Update => {
            let req: UpdateSyncRequest = match serde_json::from_slice(body) {
                Ok(r) => r,
                Err(e) => return bad_request(&format!("invalid request body: {e}")),
            };
            start_sync(s, key, |dir, names| match effect {
                Effect::Real => model::after_update(dir, names, &req),
                Effect::KeepNames => names.clone(),
            })
        }
        MrsCall::Cancel => {
            let req: CancelSyncRequest = match serde_json::from_slice(body) {
                Ok(r) => r,
                Err(e) => return bad_request(&format!("invalid request body: {e}")),
            };
            if req.user_names.len() > MAX_NAMES || req.group_names.len() > MAX_NAMES {
                return bad_request("at most 1000 user names and 1000 group names per request");
            }
            start_sync(s, key, |_, names| match effect {
                Effect::Real => model::after_cancel(names, &req),
                Effect::KeepNames => names.clone(),
            })
        }
    }
}

/// IAM's `assume_role`: only the permanent key may assume, and only a listed agency.
fn assume_agency(s: &SimState, body: &[u8], caller: Option<&Caller>) -> Response {
    let req = match iam::parse_token_request(body) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let cfg = &s.sim.cfg;
    let allowed = cfg
        .agencies
        .iter()
        .any(|(d, a)| d == &req.domain_name && a == &req.agency_name);
    if caller.is_none_or(|c| c.credential != "permanent") || !allowed {
        return iam::iam3_error(
            StatusCode::FORBIDDEN,
            "IAM.0003",
            "Policy doesn't allow assume_role to be performed.",
        );
    }
    let ttl = cfg.token_ttl.unwrap_or(req.duration);
    let issued = s.issue(
        iam::IssuedBy::Agency {
            domain_name: req.domain_name,
            agency_name: req.agency_name,
        },
        ttl,
    );
    (
        StatusCode::CREATED,
        Json(json!({ "credential": issued.credential_json() })),
    )
        .into_response()
}

fn start_sync(
    s: &SimState,
    key: (String, String),
    next: impl FnOnce(&Directory, &Names) -> Names,
) -> Response {
    let delay = s.sim.cfg.sync_delay;
    let accepted = s.with_data(|d, now| {
        let cluster = d.clusters.entry(key).or_default();
        if cluster.is_synchronizing(now) {
            d.counters.overlapping += 1;
            return false;
        }
        let result = next(&s.sim.cfg.directory, &cluster.names);
        if cluster.start_sync(result, now, delay) {
            d.dirty = true;
        }
        true
    });
    if !accepted {
        return error_response(
            StatusCode::CONFLICT,
            "MRS.SIM.409",
            "a synchronization is already running on this cluster",
        );
    }
    if !delay.is_zero() {
        // Settle (and persist) when the sync ends even if nobody asks in the meantime.
        let s = s.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            s.with_data(|_, _| ());
        });
    }
    (
        StatusCode::ACCEPTED,
        Json(json!({"state": "synchronizing"})),
    )
        .into_response()
}

/// The simulator on a free loopback port, for the crate's own unit tests: its endpoint,
/// and the sender whose drop stops it.
#[cfg(test)]
pub async fn spawn_for_tests(cfg: SimConfig) -> (String, tokio::sync::oneshot::Sender<()>) {
    let (Ok(listener), Ok(state)) = (
        tokio::net::TcpListener::bind("127.0.0.1:0").await,
        SimState::new(cfg),
    ) else {
        unreachable!("a loopback port and a valid sim configuration")
    };
    let Ok(addr) = listener.local_addr() else {
        unreachable!("a bound listener has an address")
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(run(listener, state, async {
        let _ = stopped.await;
    }));
    (format!("http://{addr}"), stop)
}

#[cfg(test)]
mod tests;
