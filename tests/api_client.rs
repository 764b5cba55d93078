//! Black-box tests of the MRS client against an in-process `mrs-sim` on a real socket.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use terraform_provider_mrs::api::{
    ApiError, CancelSyncRequest, Client, ClientConfig, ClusterId, Credentials, ProjectId, Secret,
    UpdateSyncRequest,
};
use terraform_provider_mrs::sim::{self, Directory, SimConfig, SimState};
use tokio_util::sync::CancellationToken;

const AK: &str = "AKTEST";
const SK: &str = "sk-test-secret";
const P: &ProjectId = &ProjectId::from_static("proj0123").unwrap();
const C: &ClusterId = &ClusterId::from_static("cluster-1").unwrap();

struct Sim {
    endpoint: String,
    admin: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Sim {
    async fn start(cfg: SimConfig) -> Sim {
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("bind: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => panic!("local_addr: {e}"),
        };
        let state = match SimState::new(cfg) {
            Ok(s) => s,
            Err(e) => panic!("sim state: {e}"),
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(sim::run(listener, state, async {
            let _ = rx.await;
        }));
        Sim {
            endpoint: format!("http://{addr}"),
            admin: reqwest::Client::new(),
            _stop: tx,
        }
    }

    async fn plain() -> Sim {
        Sim::start(SimConfig::new(AK, SK)).await
    }

    fn client_with(&self, f: impl FnOnce(&mut ClientConfig)) -> Client {
        let mut cfg = ClientConfig::new(
            self.endpoint.clone(),
            Credentials {
                access_key: AK.into(),
                secret_key: Secret::new(SK),
                security_token: None,
            },
        );
        cfg.http.max_retries = 3;
        cfg.http.retry_base_delay = Duration::from_millis(10);
        cfg.http.retry_max_delay = Duration::from_secs(30);
        cfg.http.request_timeout = Duration::from_secs(5);
        f(&mut cfg);
        match Client::new(cfg) {
            Ok(c) => c,
            Err(e) => panic!("client: {e}"),
        }
    }

    fn client(&self) -> Client {
        self.client_with(|_| {})
    }

    async fn admin_json(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut rb = self
            .admin
            .request(method, format!("{}{path}", self.endpoint));
        if let Some(b) = body {
            rb = rb
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) => panic!("admin call {path}: {e}"),
        };
        let bytes = resp.bytes().await.unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    async fn fault(&self, spec: Value) {
        let v = self
            .admin_json(reqwest::Method::POST, "/_sim/faults", Some(spec))
            .await;
        assert!(v["queued"].as_u64().unwrap_or(0) >= 1, "fault queued: {v}");
    }

    async fn log(&self) -> Vec<Value> {
        let v = self
            .admin_json(reqwest::Method::GET, "/_sim/requests", None)
            .await;
        v.as_array().cloned().unwrap_or_default()
    }

    async fn statuses(&self) -> Vec<Value> {
        self.log()
            .await
            .iter()
            .map(|e| e["status"].clone())
            .collect()
    }

    async fn state(&self) -> Value {
        self.admin_json(reqwest::Method::GET, "/_sim/state", None)
            .await
    }
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn update(users: &[&str], groups: &[&str]) -> UpdateSyncRequest {
    UpdateSyncRequest {
        is_all_sync: false,
        user_names: names(users),
        group_names: names(groups),
    }
}

fn directory() -> Directory {
    Directory::from_json(
        r#"{"users": {"alice": ["admins","dev"], "bob": []}, "groups": ["admins","dev","ops"]}"#,
    )
    .unwrap_or_default()
}

#[tokio::test]
async fn every_call_round_trips_with_implicit_groups() {
    let mut cfg = SimConfig::new(AK, SK);
    cfg.directory = directory();
    let sim = Sim::start(cfg).await;
    let client = sim.client();
    let cancel = CancellationToken::new();

    let acc = client
        .update_sync(P, C, &update(&["alice", "nobody"], &["ops"]), &cancel)
        .await;
    assert_eq!(acc.map(|a| a.state).ok().as_deref(), Some("synchronizing"));
    assert_eq!(client.sync_status(P, C, &cancel).await.ok(), Some(false));
    let shown = client.show_sync(P, C, &cancel).await;
    let Ok(shown) = shown else {
        panic!("show: {shown:?}")
    };
    assert_eq!(shown.user_names, names(&["alice"]));
    // "admins" and "dev" come with alice although nobody asked for them.
    assert_eq!(shown.group_names, names(&["admins", "dev", "ops"]));

    let req = CancelSyncRequest {
        user_names: names(&["alice"]),
        group_names: names(&["ops"]),
    };
    let acc = client.cancel_sync(P, C, &req, &cancel).await;
    assert!(acc.is_ok(), "{acc:?}");
    let shown = client.show_sync(P, C, &cancel).await.unwrap_or_default();
    assert!(shown.user_names.is_empty());
    assert_eq!(shown.group_names, names(&["admins", "dev"]));
    assert_eq!(client.sync_status(P, C, &cancel).await.ok(), Some(false));

    // All six calls on one kept-alive connection; the second is this admin query's own.
    assert_eq!(sim.state().await["counters"]["connections_accepted"], 2);
    let methods: Vec<Value> = sim
        .log()
        .await
        .iter()
        .map(|e| e["method"].clone())
        .collect();
    assert_eq!(
        methods,
        vec![
            json!("POST"),
            json!("GET"),
            json!("GET"),
            json!("DELETE"),
            json!("GET"),
            json!("GET")
        ]
    );
}

#[tokio::test]
async fn temporary_credentials_are_signed_and_accepted() {
    let sim = Sim::plain().await;
    let client = sim.client_with(|c| {
        c.credentials.security_token = Some(Secret::new("temp-token-value"));
    });
    let r = client
        .update_sync(P, C, &update(&["u1"], &[]), &CancellationToken::new())
        .await;
    assert!(r.is_ok(), "{r:?}");
}

#[tokio::test]
async fn bad_signature_is_an_auth_error_with_request_id_and_no_retry() {
    let sim = Sim::plain().await;
    let client = sim.client_with(|c| c.credentials.secret_key = Secret::new("wrong"));
    let r = client.show_sync(P, C, &CancellationToken::new()).await;
    let Err(e) = r else {
        panic!("accepted a bad signature")
    };
    assert!(e.is_auth(), "{e:?}");
    assert_eq!(e.code(), Some("APIGW.0301"));
    let rid = e.request_id().map(str::to_string);
    assert!(rid.as_deref().is_some_and(|r| r.len() == 32), "{e:?}");
    assert!(e.to_string().contains(rid.as_deref().unwrap_or("?")));
    assert!(!e.to_string().contains("wrong"), "no secret in the message");
    assert_eq!(sim.statuses().await, vec![json!(401)]);
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let sim = Sim::plain().await;
    sim.fault(
        json!({"method": "GET", "count": 2, "kind": "status", "status": 503,
                     "error_code": "APIGW.0503", "error_msg": "busy"}),
    )
    .await;
    let r = sim
        .client()
        .show_sync(P, C, &CancellationToken::new())
        .await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(
        sim.statuses().await,
        vec![json!(503), json!(503), json!(200)]
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let sim = Sim::plain().await;
    sim.fault(
        json!({"kind": "status", "status": 429, "error_code": "APIGW.0308",
                     "error_msg": "throttled", "retry_after": 1}),
    )
    .await;
    let start = Instant::now();
    let r = sim
        .client()
        .update_sync(P, C, &update(&["a"], &[]), &CancellationToken::new())
        .await;
    let elapsed = start.elapsed();
    assert!(r.is_ok(), "{r:?}");
    assert!(
        elapsed >= Duration::from_millis(900),
        "waited only {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "waited {elapsed:?}");
    assert_eq!(sim.statuses().await, vec![json!(429), json!(202)]);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let sim = Sim::plain().await;
    let client = sim.client();
    let cancel = CancellationToken::new();
    sim.fault(
        json!({"count": 5, "kind": "status", "status": 401, "error_code": "APIGW.0301",
                     "error_msg": "no"}),
    )
    .await;
    let e = client.sync_status(P, C, &cancel).await.err();
    assert!(e.as_ref().is_some_and(ApiError::is_auth), "{e:?}");
    assert_eq!(sim.statuses().await, vec![json!(401)]);
    // A real 400 from the simulator: malformed ids never reach it, so use a bad JSON fault.
    sim.admin_json(reqwest::Method::POST, "/_sim/reset", None)
        .await;
    sim.fault(
        json!({"count": 5, "kind": "status", "status": 400, "error_code": "MRS.0001",
                     "error_msg": "bad"}),
    )
    .await;
    let e = client.sync_status(P, C, &cancel).await.err();
    assert!(
        matches!(e, Some(ApiError::Api { status: 400, .. })),
        "{e:?}"
    );
    assert_eq!(sim.statuses().await, vec![json!(400)]);
}

#[tokio::test]
async fn exhausted_retries_keep_code_and_request_id() {
    let sim = Sim::plain().await;
    sim.fault(
        json!({"count": 10, "kind": "status", "status": 502, "error_code": "APIGW.0502",
                     "error_msg": "bad gateway"}),
    )
    .await;
    let client = sim.client_with(|c| c.http.max_retries = 2);
    let e = client
        .show_sync(P, C, &CancellationToken::new())
        .await
        .err();
    let Some(ApiError::Api {
        status,
        code,
        request_id,
        ..
    }) = e
    else {
        panic!("expected an API error, got {e:?}")
    };
    assert_eq!((status, code.as_str()), (502, "APIGW.0502"));
    assert!(request_id.is_some());
    assert_eq!(sim.statuses().await.len(), 3, "first attempt + 2 retries");
}

#[tokio::test]
async fn dropped_connections_are_retried_then_reported_as_transport() {
    let sim = Sim::plain().await;
    sim.fault(json!({"kind": "drop"})).await;
    let client = sim.client_with(|c| c.http.max_retries = 1);
    let r = client.show_sync(P, C, &CancellationToken::new()).await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(sim.statuses().await, vec![Value::Null, json!(200)]);
    sim.fault(json!({"count": 5, "kind": "drop"})).await;
    let e = client
        .show_sync(P, C, &CancellationToken::new())
        .await
        .err();
    assert!(matches!(e, Some(ApiError::Transport { .. })), "{e:?}");
    assert!(e.is_some_and(|e| e.to_string().contains("2 attempts")));
}

#[tokio::test]
async fn unknown_cluster_is_cluster_not_found() {
    let mut cfg = SimConfig::new(AK, SK);
    cfg.clusters = Some(vec![C.to_string()]);
    let sim = Sim::start(cfg).await;
    let client = sim.client();
    let e = client
        .show_sync(
            P,
            &ClusterId::from_static("gone-cluster").unwrap(),
            &CancellationToken::new(),
        )
        .await
        .err();
    assert!(
        matches!(
            e,
            Some(ApiError::ClusterNotFound {
                request_id: Some(_),
                ..
            })
        ),
        "{e:?}"
    );
    assert!(client
        .show_sync(P, C, &CancellationToken::new())
        .await
        .is_ok());
}

#[tokio::test]
async fn gateway_404_is_not_cluster_not_found() {
    let sim = Sim::plain().await;
    let client = match Client::new({
        let mut cfg = ClientConfig::new(
            format!("{}/wrong-prefix", sim.endpoint),
            Credentials {
                access_key: AK.into(),
                secret_key: Secret::new(SK),
                security_token: None,
            },
        );
        cfg.http.retry_base_delay = Duration::from_millis(10);
        cfg
    }) {
        Ok(c) => c,
        Err(e) => panic!("client: {e}"),
    };
    let e = client
        .show_sync(P, C, &CancellationToken::new())
        .await
        .err();
    let Some(e) = e else {
        panic!("wrong URL succeeded")
    };
    assert!(!e.is_cluster_not_found());
    assert_eq!((e.status(), e.code()), (Some(404), Some("APIGW.0101")));
    assert!(e.to_string().contains("endpoint"), "{e}");
    assert_eq!(sim.statuses().await, vec![json!(404)], "no retry");
}

#[tokio::test]
async fn malformed_success_body_is_a_decode_error() {
    let sim = Sim::plain().await;
    sim.fault(json!({"kind": "malformed", "status": 200, "body": "{\"user_names\": [1"}))
        .await;
    let e = sim
        .client()
        .show_sync(P, C, &CancellationToken::new())
        .await
        .err();
    let Some(ApiError::Decode {
        status, request_id, ..
    }) = e
    else {
        panic!("expected Decode, got {e:?}")
    };
    assert_eq!(status, 200);
    assert!(request_id.is_some());
}

#[tokio::test]
async fn cancellation_ends_a_retry_wait_promptly() {
    let sim = Sim::plain().await;
    sim.fault(json!({"kind": "status", "status": 503, "retry_after": 30, "count": 3}))
        .await;
    let client = sim.client();
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        trigger.cancel();
    });
    let start = Instant::now();
    let r = client.show_sync(P, C, &cancel).await;
    assert!(matches!(r, Err(ApiError::Cancelled)), "{r:?}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(sim.statuses().await, vec![json!(503)]);
}
