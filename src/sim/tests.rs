//! Unit tests of the simulator's HTTP behaviour, driven through `app()` without a socket.

use super::*;
use axum::body::Body;
use axum::http::Request as HttpRequest;
use tower::ServiceExt;

const AK: &str = "AKSIM";
const SK: &str = "sksim";

fn state(cfg: SimConfig) -> SimState {
    match SimState::new(cfg) {
        Ok(s) => s,
        Err(e) => unreachable!("state: {e}"),
    }
}

fn signed(method: &str, path: &str, body: &str, sk: &str, date: SystemTime) -> HttpRequest<Body> {
    let sdk_date = signer::format_sdk_date(date);
    let mut headers = vec![
        ("Host".to_string(), "sim.local:8080".to_string()),
        ("X-Sdk-Date".to_string(), sdk_date.clone()),
    ];
    if !body.is_empty() {
        headers.push(("Content-Type".to_string(), "application/json".to_string()));
    }
    // A query in `path` is signed as the client signs it: decoded, apart from the path.
    let (bare, query) = match path.split_once('?') {
        Some((p, q)) => (p, parse_query(Some(q))),
        None => (path, Vec::new()),
    };
    let auth = signer::authorization(
        &SignableRequest {
            method,
            path: bare,
            query: &query,
            headers: &headers,
            body: body.as_bytes(),
        },
        AK,
        sk,
        &sdk_date,
    );
    let mut b = HttpRequest::builder().method(method).uri(path);
    for (k, v) in &headers {
        b = b.header(k, v);
    }
    b.header("Authorization", auth)
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

async fn send(app: &Router, req: HttpRequest<Body>) -> (u16, Value, HeaderMap) {
    let resp = match app.clone().oneshot(req).await {
        Ok(r) => r,
        Err(e) => match e {},
    };
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), MAX_BODY)
        .await
        .unwrap_or_default();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        headers,
    )
}

async fn call(app: &Router, method: &str, path: &str, body: &str) -> (u16, Value) {
    let (s, v, _) = send(app, signed(method, path, body, SK, SystemTime::now())).await;
    (s, v)
}

async fn admin(app: &Router, method: &str, path: &str, body: &str) -> (u16, Value) {
    let req = HttpRequest::builder()
        .method(method)
        .uri(path)
        .body(Body::from(body.to_string()))
        .unwrap_or_default();
    let (s, v, _) = send(app, req).await;
    (s, v)
}

const USERS: &str = "/v2/proj1/clusters/c-1/iam-sync-user";
const STATUS: &str = "/v2/proj1/clusters/c-1/iam-sync";

fn dir_cfg() -> SimConfig {
    let mut cfg = SimConfig::new(AK, SK);
    cfg.directory = Directory::from_json(
        r#"{"users": {"alice": ["admins","dev"], "bob": []}, "groups": ["admins","dev","ops"]}"#,
    )
    .unwrap_or_default();
    cfg
}

#[tokio::test]
async fn documented_calls_and_implicit_groups() {
    let app = app(state(dir_cfg()));
    let (st, v) = call(
        &app,
        "POST",
        USERS,
        r#"{"user_names":["alice","ghost"],"group_names":["ops"]}"#,
    )
    .await;
    assert_eq!((st, v), (202, json!({"state": "synchronizing"})));
    let (st, v) = call(&app, "GET", USERS, "").await;
    assert_eq!(st, 200);
    assert_eq!(
        v,
        json!({"user_names": ["alice"], "group_names": ["admins", "dev", "ops"]})
    );
    let (st, v) = call(
        &app,
        "DELETE",
        USERS,
        r#"{"user_names":["alice"],"group_names":["ops"]}"#,
    )
    .await;
    assert_eq!(st, 202, "{v}");
    let (_, v) = call(&app, "GET", USERS, "").await;
    assert_eq!(
        v,
        json!({"user_names": [], "group_names": ["admins", "dev"]})
    );
    let (st, v) = call(&app, "GET", STATUS, "").await;
    assert_eq!((st, v), (200, json!({"is_synchronizing": false})));
    let (st, v) = call(
        &app,
        "GET",
        "/v2/proj1/clusters/c-1/iam-sync/is-synchronous",
        "",
    )
    .await;
    assert_eq!((st, v), (200, json!({"is_synchronous": true})));
}

#[tokio::test]
async fn signature_and_date_are_checked() {
    let app = app(state(SimConfig::new(AK, SK)));
    let (st, v, h) = send(&app, signed("GET", USERS, "", "wrong", SystemTime::now())).await;
    assert_eq!(st, 401);
    assert_eq!(v["error_code"], "APIGW.0301");
    assert!(h.contains_key("x-request-id"));
    let old = SystemTime::now() - Duration::from_secs(16 * 60);
    let (st, _, _) = send(&app, signed("GET", USERS, "", SK, old)).await;
    assert_eq!(st, 401);
    let (st, _) = admin(&app, "GET", USERS, "").await;
    assert_eq!(st, 401, "unsigned request");
    // Body tampering after signing.
    let mut req = signed(
        "POST",
        USERS,
        r#"{"user_names":["a"]}"#,
        SK,
        SystemTime::now(),
    );
    *req.body_mut() = Body::from(r#"{"user_names":["b"]}"#);
    let (st, _, _) = send(&app, req).await;
    assert_eq!(st, 401);
    let (_, v) = admin(&app, "GET", "/_sim/state", "").await;
    assert_eq!(v["counters"]["auth_failures"], 4);
}

#[tokio::test]
async fn validation_errors() {
    let mut cfg = SimConfig::new(AK, SK);
    cfg.clusters = Some(vec!["c-1".into()]);
    let app = app(state(cfg));
    let (st, v) = call(&app, "GET", "/v2/proj1/clusters/other/iam-sync", "").await;
    assert_eq!((st, v["error_code"].as_str()), (400, Some("12000003")));
    let (st, v) = call(&app, "GET", "/v2/proj1/clusters/bad.id/iam-sync", "").await;
    assert_eq!((st, v["error_code"].as_str()), (400, Some("MRS.SIM.400")));
    let (st, _) = call(&app, "GET", "/v2/proj_1/clusters/c-1/iam-sync", "").await;
    assert_eq!(st, 400);
    let (st, _) = call(&app, "POST", USERS, "{not json").await;
    assert_eq!(st, 400);
    let many: Vec<String> = (0..1001).map(|i| format!("u{i}")).collect();
    let body = json!({"user_names": many, "group_names": []}).to_string();
    let (st, _) = call(&app, "DELETE", USERS, &body).await;
    assert_eq!(st, 400);
    let (st, v) = call(&app, "GET", "/v2/proj1/clusters/c-1/nope", "").await;
    assert_eq!((st, v["error_code"].as_str()), (404, Some("APIGW.0101")));
    let (st, _) = call(&app, "PUT", USERS, "{}").await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn delayed_sync_and_overlap_are_tracked() {
    let mut cfg = SimConfig::new(AK, SK);
    cfg.sync_delay = Duration::from_millis(300);
    let app = app(state(cfg));
    let (st, _) = call(&app, "POST", USERS, r#"{"user_names":["a"]}"#).await;
    assert_eq!(st, 202);
    let (_, v) = call(&app, "GET", STATUS, "").await;
    assert_eq!(v["is_synchronizing"], true);
    let (_, v) = call(&app, "GET", USERS, "").await;
    assert_eq!(v["user_names"], json!([]), "old names during the sync");
    let (st, v) = call(&app, "DELETE", USERS, r#"{"user_names":["a"]}"#).await;
    assert_eq!((st, v["error_code"].as_str()), (409, Some("MRS.SIM.409")));
    tokio::time::sleep(Duration::from_millis(350)).await;
    let (_, v) = call(&app, "GET", USERS, "").await;
    assert_eq!(v["user_names"], json!(["a"]));
    let (_, v) = admin(&app, "GET", "/_sim/state", "").await;
    assert_eq!(v["counters"]["overlapping_requests"], 1);
    assert_eq!(v["clusters"][0]["is_synchronizing"], false);
}

#[tokio::test]
async fn faults_log_reset_and_drift() {
    let app = app(state(SimConfig::new(AK, SK)));
    let fault = r#"{"method":"GET","path_contains":"iam-sync-user","count":2,"kind":"status","status":503,"error_code":"X.1","error_msg":"busy","retry_after":3}"#;
    let (st, v) = admin(&app, "POST", "/_sim/faults", fault).await;
    assert_eq!((st, v["queued"].as_u64()), (201, Some(1)));
    let (st, _) = call(&app, "GET", STATUS, "").await;
    assert_eq!(st, 200, "path filter");
    let (st, v, h) = send(&app, signed("GET", USERS, "", SK, SystemTime::now())).await;
    assert_eq!((st, v["error_code"].as_str()), (503, Some("X.1")));
    assert_eq!(
        h.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("3")
    );
    let (st, _) = call(&app, "GET", USERS, "").await;
    assert_eq!(st, 503);
    let (st, _) = call(&app, "GET", USERS, "").await;
    assert_eq!(st, 200, "fault used up");
    let (_, v) = admin(
        &app,
        "POST",
        "/_sim/faults",
        r#"{"kind":"malformed","status":202}"#,
    )
    .await;
    assert_eq!(v["queued"], 1);
    let (st, v) = call(&app, "POST", USERS, r#"{"user_names":["z"]}"#).await;
    assert_eq!((st, v), (202, Value::Null));
    let (_, v) = admin(&app, "POST", "/_sim/faults", r#"{"kind":"drop"}"#).await;
    assert_eq!(v["queued"], 1);
    let (st, v) = call(&app, "GET", USERS, "").await;
    assert_eq!((st, v["error_code"].as_str()), (502, Some("MRS.SIM.DROP")));
    let (st, _) = admin(&app, "POST", "/_sim/faults", r#"{"kind":"bogus"}"#).await;
    assert_eq!(st, 400);

    let (_, log) = admin(&app, "GET", "/_sim/requests", "").await;
    let statuses: Vec<Value> = log
        .as_array()
        .map(|a| a.iter().map(|e| e["status"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(
        statuses,
        vec![
            json!(200),
            json!(503),
            json!(503),
            json!(200),
            json!(202),
            json!(502)
        ]
    );
    assert_eq!(log[4]["body"], json!({"user_names": ["z"]}));
    assert_eq!(log[1]["fault"], "status");

    let (st, _) = admin(
        &app,
        "PUT",
        "/_sim/clusters/proj1/c-1",
        r#"{"user_names":["x"],"group_names":["g"]}"#,
    )
    .await;
    assert_eq!(st, 204);
    let (_, v) = call(&app, "GET", USERS, "").await;
    assert_eq!(v, json!({"user_names": ["x"], "group_names": ["g"]}));

    let (st, _) = admin(&app, "POST", "/_sim/reset", "").await;
    assert_eq!(st, 204);
    let (_, v) = admin(&app, "GET", "/_sim/state", "").await;
    assert_eq!(v["clusters"], json!([]));
    assert_eq!(v["counters"]["requests_total"], 0);
}

#[tokio::test]
async fn state_file_survives_restart() {
    let path = std::env::temp_dir().join(format!("mrs-sim-state-{}.json", new_request_id()));
    let mut cfg = SimConfig::new(AK, SK);
    cfg.state_file = Some(path.clone());
    let app1 = app(state(cfg.clone()));
    let (st, _) = call(&app1, "POST", USERS, r#"{"user_names":["keep"]}"#).await;
    assert_eq!(st, 202);
    let app2 = app(state(cfg));
    let (_, v) = call(&app2, "GET", USERS, "").await;
    assert_eq!(v["user_names"], json!(["keep"]));
    let _ = std::fs::remove_file(&path);
    std::fs::write(&path, "garbage").unwrap_or_default();
    let mut bad = SimConfig::new(AK, SK);
    bad.state_file = Some(path.clone());
    assert!(SimState::new(bad).is_err());
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn keep_names_fault_accepts_a_delete_and_keeps_the_names() {
    let app = app(state(dir_cfg()));
    let (st, _) = call(&app, "POST", USERS, r#"{"user_names":["bob"]}"#).await;
    assert_eq!(st, 202);
    let fault = r#"{"method":"DELETE","kind":"keep_names"}"#;
    let (st, _) = admin(&app, "POST", "/_sim/faults", fault).await;
    assert_eq!(st, 201);
    let (st, v) = call(&app, "DELETE", USERS, r#"{"user_names":["bob"]}"#).await;
    assert_eq!((st, v), (202, json!({"state": "synchronizing"})));
    let (_, v) = call(&app, "GET", USERS, "").await;
    assert_eq!(v, json!({"user_names": ["bob"], "group_names": []}));
    let (_, log) = admin(&app, "GET", "/_sim/requests", "").await;
    assert_eq!(log[1]["fault"], "keep_names");
    // Used up: the next DELETE cancels.
    call(&app, "DELETE", USERS, r#"{"user_names":["bob"]}"#).await;
    let (_, v) = call(&app, "GET", USERS, "").await;
    assert_eq!(v, json!({"user_names": [], "group_names": []}));
}

/// What a directory says of users, as IAM's two calls answer it.
fn iam_dir_cfg() -> SimConfig {
    let mut cfg = SimConfig::new(AK, SK);
    cfg.directory = Directory::from_json(r#"{"users": {"alice": ["ops","data-eng"], "bob": []}}"#)
        .unwrap_or_default();
    cfg
}

/// The `name` fields of a Keystone list.
fn names_in(v: &Value, list: &str) -> Vec<String> {
    v[list]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn iam_user_calls_answer_what_the_directory_says() {
    let app = app(state(iam_dir_cfg()));
    let (st, v) = call(&app, "GET", "/v3/users?name=alice", "").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(names_in(&v, "users"), ["alice"]);
    let id = v["users"][0]["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(id, iam::id_of("alice"));
    let (st, v) = call(&app, "GET", &format!("/v3/users/{id}/groups"), "").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(names_in(&v, "groups"), ["ops", "data-eng"]);
    assert!(v["groups"][0]["id"].is_string() && v["links"].is_object());

    let (_, v) = call(&app, "GET", "/v3/users?name=bob", "").await;
    let bob = v["users"][0]["id"].as_str().unwrap_or_default().to_string();
    let (st, v) = call(&app, "GET", &format!("/v3/users/{bob}/groups"), "").await;
    assert_eq!((st, v["groups"].clone()), (200, json!([])));

    // A fixed directory knows no one else; without a name it lists everyone.
    let (st, v) = call(&app, "GET", "/v3/users?name=mallory", "").await;
    assert_eq!((st, v["users"].clone()), (200, json!([])));
    let (_, v) = call(&app, "GET", "/v3/users", "").await;
    assert_eq!(names_in(&v, "users"), ["alice", "bob"]);

    // An ID no user has, or none the simulator could have made: IAM's v3 404.
    for unknown in [iam::id_of("mallory"), "zz".into(), "%2e%2e".into()] {
        let (st, v) = call(&app, "GET", &format!("/v3/users/{unknown}/groups"), "").await;
        assert_eq!(
            (st, v["error"]["code"].as_u64()),
            (404, Some(404)),
            "{unknown}"
        );
    }
    // Unsigned or badly signed: the gateway's 401, as for every other call.
    let (st, v) = admin(&app, "GET", "/v3/users?name=alice", "").await;
    assert_eq!((st, v["error_code"].as_str()), (401, Some("APIGW.0301")));
    let path = format!("/v3/users/{id}/groups");
    let (st, _, _) = send(&app, signed("GET", &path, "", "wrong", SystemTime::now())).await;
    assert_eq!(st, 401);

    let (_, log) = admin(&app, "GET", "/_sim/requests", "").await;
    assert_eq!(log[0]["path"], "/v3/users");
    assert_eq!(log[0]["query"], "name=alice");
    assert_eq!(log[0]["credential"], "permanent");
    assert_eq!(log[1]["path"], path);
}

#[tokio::test]
async fn open_directory_users_exist_in_no_group() {
    let app = app(state(SimConfig::new(AK, SK)));
    let (st, v) = call(&app, "GET", "/v3/users?name=anyone%20at%20all", "").await;
    assert_eq!(
        (st, names_in(&v, "users")),
        (200, vec!["anyone at all".to_string()])
    );
    let id = v["users"][0]["id"].as_str().unwrap_or_default().to_string();
    let (st, v) = call(&app, "GET", &format!("/v3/users/{id}/groups"), "").await;
    assert_eq!((st, v["groups"].clone()), (200, json!([])));
    // A name IAM could never have, and no list without a name.
    let (_, v) = call(&app, "GET", "/v3/users?name=%20", "").await;
    assert_eq!(v["users"], json!([]));
    let (_, v) = call(&app, "GET", "/v3/users", "").await;
    assert_eq!(v["users"], json!([]));
}

#[tokio::test]
async fn iam_user_calls_take_faults_by_path() {
    let app = app(state(iam_dir_cfg()));
    let groups = format!("/v3/users/{}/groups", iam::id_of("alice"));
    let fault = r#"{"method":"GET","path_contains":"/groups","kind":"status","status":403,"error_code":"IAM.0002","error_msg":"denied"}"#;
    let (st, _) = admin(&app, "POST", "/_sim/faults", fault).await;
    assert_eq!(st, 201);
    let (st, _) = call(&app, "GET", "/v3/users?name=alice", "").await;
    assert_eq!(st, 200, "the list is not /groups");
    let (st, v) = call(&app, "GET", &groups, "").await;
    assert_eq!((st, v["error_code"].as_str()), (403, Some("IAM.0002")));
    let fault = r#"{"path_contains":"/v3/users","kind":"status","status":500}"#;
    admin(&app, "POST", "/_sim/faults", fault).await;
    let (st, _) = call(&app, "GET", "/v3/users?name=alice", "").await;
    assert_eq!(st, 500);
    let (st, _) = call(&app, "GET", &groups, "").await;
    assert_eq!(st, 200, "faults used up");
    let (_, log) = admin(&app, "GET", "/_sim/requests", "").await;
    assert_eq!(log[1]["fault"], "status");
    assert_eq!(log[2]["fault"], "status");
    assert_eq!(log[3]["fault"], Value::Null);
}
