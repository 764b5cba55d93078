//! Runs the real `mrs-sim` binary on a free loopback port for a test, and reads and steers
//! it through its unsigned `/_sim/` admin endpoints.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use super::terraform::{sorted_strings, TfWorkdir};

pub const AK: &str = "TESTACCESSKEY0001";
pub const SK: &str = "test-secret-key-do-not-use";
pub const PROJECT: &str = "proj0001";
pub const REGION: &str = "cn-north-4";

/// alice is in admins and dev, carol in dev; the groups exist on their own too.
pub const DIRECTORY: &str = r#"{
  "users": {"alice": ["admins", "dev"], "bob": [], "carol": ["dev"], "dave": [], "erin": []},
  "groups": ["admins", "dev", "ops", "analysts"]
}"#;

pub struct Sim {
    child: Child,
    pub url: String,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    _dir: TempFile,
}

struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Sim {
    /// Starts mrs-sim with the test directory and extra flags (e.g. `--sync-delay-ms 200`).
    pub fn start(extra: &[&str]) -> Sim {
        let dir = std::env::temp_dir().join(format!(
            "mrs-sim-dir-{}-{}.json",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::write(&dir, DIRECTORY).expect("write directory file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_mrs-sim"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--access-key",
                AK,
                "--secret-key",
                SK,
            ])
            .arg("--directory")
            .arg(&dir)
            .args(["--projects", &format!("{REGION}={PROJECT}")])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start mrs-sim");
        let stdout = child.stdout.take().expect("mrs-sim stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read mrs-sim first line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected mrs-sim first line {line:?}"))
            .to_string();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Sim {
            child,
            url,
            rt,
            http: reqwest::Client::new(),
            _dir: TempFile(dir),
        }
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.url);
        self.rt.block_on(async {
            let mut req = self.http.request(method, &url);
            if let Some(b) = body {
                req = req
                    .header("content-type", "application/json")
                    .body(b.to_string());
            }
            let resp = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            assert!(status.is_success(), "{url}: {status} {text}");
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            }
        })
    }

    pub fn state(&self) -> Value {
        self.call(reqwest::Method::GET, "/_sim/state", None)
    }

    pub fn requests(&self) -> Vec<Value> {
        match self.call(reqwest::Method::GET, "/_sim/requests", None) {
            Value::Array(a) => a,
            other => panic!("requests: {other}"),
        }
    }

    /// Polls the request log until a `method` request shows up; panics after `limit`.
    pub fn wait_for_request(&self, method: &str, limit: std::time::Duration) {
        let t0 = std::time::Instant::now();
        while t0.elapsed() < limit {
            if self.requests().iter().any(|r| r["method"] == method) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("no {method} reached the sim within {limit:?}");
    }

    /// Polls until no cluster runs a sync; panics after `limit`.
    pub fn wait_until_idle(&self, limit: std::time::Duration) {
        let t0 = std::time::Instant::now();
        while t0.elapsed() < limit {
            let busy = self.state()["clusters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["is_synchronizing"] == true);
            if !busy {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the sync did not end within {limit:?}");
    }

    /// The API calls (method, body) received since `since` requests, ignoring GETs.
    pub fn writes_since(&self, since: usize) -> Vec<(String, Value)> {
        self.requests()
            .into_iter()
            .skip(since)
            .filter(|r| r["method"] != "GET")
            .map(|r| {
                (
                    r["method"].as_str().unwrap_or("").to_string(),
                    r["body"].clone(),
                )
            })
            .collect()
    }

    pub fn request_count(&self) -> usize {
        self.requests().len()
    }

    pub fn fault(&self, spec: Value) {
        self.call(reqwest::Method::POST, "/_sim/faults", Some(spec));
    }

    /// Drops the faults still queued.
    pub fn clear_faults(&self) {
        self.call(reqwest::Method::DELETE, "/_sim/faults", None);
    }

    pub fn reset(&self) {
        self.call(reqwest::Method::POST, "/_sim/reset", None);
    }

    pub fn set_names(&self, cluster: &str, users: &[&str], groups: &[&str]) {
        self.call(
            reqwest::Method::PUT,
            &format!("/_sim/clusters/{PROJECT}/{cluster}"),
            Some(json!({"user_names": users, "group_names": groups})),
        );
    }

    /// The synced (users, groups) of a cluster of PROJECT, sorted; empty when it has none.
    pub fn names(&self, cluster: &str) -> (Vec<String>, Vec<String>) {
        self.names_in(PROJECT, cluster)
    }

    /// The synced (users, groups) of a cluster of `project`, sorted.
    pub fn names_in(&self, project: &str, cluster: &str) -> (Vec<String>, Vec<String>) {
        let state = self.state();
        let empty = vec![];
        let c = state["clusters"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .find(|c| c["cluster_id"] == cluster && c["project_id"] == project)
            .cloned()
            .unwrap_or(Value::Null);
        (
            sorted_strings(&c["user_names"]),
            sorted_strings(&c["group_names"]),
        )
    }

    /// Every temporary key the sim issued, secrets included.
    pub fn temporary_credentials(&self) -> Vec<Value> {
        match self.call(reqwest::Method::GET, "/_sim/temporary-credentials", None) {
            Value::Array(a) => a,
            other => panic!("temporary credentials: {other}"),
        }
    }

    /// Revokes every temporary key issued so far: each is expired from now on.
    pub fn revoke_temporary(&self) {
        self.call(reqwest::Method::DELETE, "/_sim/temporary-credentials", None);
    }

    /// Issues a temporary key that lives `ttl_ms` (0: already expired): `{"access", ..}`.
    pub fn issue_temporary(&self, ttl_ms: u64) -> Value {
        self.call(
            reqwest::Method::POST,
            "/_sim/temporary-credentials",
            Some(json!({ "ttl_ms": ttl_ms })),
        )["credential"]
            .clone()
    }

    pub fn counter(&self, name: &str) -> u64 {
        self.state()["counters"][name]
            .as_u64()
            .unwrap_or_else(|| panic!("no counter {name}"))
    }

    /// The environment that points the provider at this simulator.
    pub fn provider_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("HW_ACCESS_KEY", AK.to_string()),
            ("HW_SECRET_KEY", SK.to_string()),
            ("HW_MRS_ENDPOINT", self.url.clone()),
            ("HW_PROJECT_ID", PROJECT.to_string()),
            ("HW_REGION_NAME", REGION.to_string()),
            ("TF_PROVIDER_MRS_RETRY_BASE_MS", "20".to_string()),
        ]
    }

    /// A Terraform working directory whose provider talks to this simulator.
    pub fn workdir(&self) -> TfWorkdir {
        let mut w = TfWorkdir::new();
        for (k, v) in self.provider_env() {
            w.set_env(k, &v);
        }
        w
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The bodies of the DELETEs the simulator received after request number `since`.
pub fn deletes_since(sim: &Sim, since: usize) -> Vec<serde_json::Value> {
    sim.writes_since(since)
        .into_iter()
        .filter(|(m, _)| m == "DELETE")
        .map(|(_, body)| body)
        .collect()
}
