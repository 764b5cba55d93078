//! Hostile input and hostile peers, with real Terraform, the real provider and mrs-sim (or
//! a small server of the test's own playing the peer): endless answers and endless files
//! fail clearly while the provider's peak RSS stays small; a region that would change the
//! host fails at plan; errors no retry can heal fail at once naming the fix; a private CA
//! and client certificates work; no password or metadata secret reaches any output.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::procs::Proc;
use common::sim::Sim;
use common::terraform::TfWorkdir;
use common::tls::{tls_front, TestCa};

/// The ceiling the provider's peak RSS must stay under, whatever a peer sends.
const RSS_LIMIT_KIB: u64 = 256 * 1024;

const RESOURCE: &str = r#"
resource "mrs_iam_sync" "s" {
  cluster_id = "c1"
  user_names = ["bob"]
}
"#;

fn main_tf(provider_body: &str, resources: &str) -> String {
    format!(
        "terraform {{\n  required_providers {{\n    mrs = {{\n      source = \"terraform.local/mrs/mrs\"\n    }}\n  }}\n}}\n\nprovider \"mrs\" {{\n{provider_body}\n}}\n{resources}"
    )
}

/// Terraform wraps long lines: runs of whitespace made one space.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The keys of the sim, the rest of the environment left to each test.
fn keyed_workdir() -> TfWorkdir {
    TfWorkdir::new()
        .env("HW_ACCESS_KEY", common::sim::AK)
        .env("HW_SECRET_KEY", common::sim::SK)
        .env("HW_PROJECT_ID", common::sim::PROJECT)
}

/// Samples, until stopped, the peak RSS (`VmHWM`) of every provider process in
/// terraform's process group.
struct PeakRss {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<(u64, usize)>>,
}

impl PeakRss {
    fn watch(pgid: u32) -> PeakRss {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = 0u64;
            let mut seen = std::collections::HashSet::new();
            while !flag.load(Ordering::Relaxed) {
                for (pid, hwm) in providers_in_group(pgid) {
                    seen.insert(pid);
                    peak = peak.max(hwm);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            (peak, seen.len())
        });
        PeakRss {
            stop,
            thread: Some(thread),
        }
    }

    /// (peak VmHWM in KiB, number of provider processes seen).
    fn finish(mut self) -> (u64, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or((0, 0))
    }
}

/// (pid, VmHWM KiB) of each `terraform-provider-mrs` process in process group `pgid`.
fn providers_in_group(pgid: u32) -> Vec<(u32, u64)> {
    Proc::all()
        .into_iter()
        .filter(|p| p.pgrp == pgid && p.is_provider())
        .filter_map(|p| Some((p.pid, p.peak_rss_kib()?)))
        .collect()
}

/// Runs `terraform args` in `tf`, expecting failure, while watching the providers' peak
/// RSS. Returns (combined output, peak KiB).
fn fail_watching_rss(tf: &TfWorkdir, args: &[&str]) -> (String, u64) {
    let child = tf.spawn(args);
    let watch = PeakRss::watch(child.id());
    let out = child.wait(Duration::from_secs(120));
    let (peak, providers) = watch.finish();
    let text = out.combined();
    assert!(!out.status.success(), "expected a failure:\n{text}");
    assert!(providers > 0, "no provider process was seen:\n{text}");
    (text, peak)
}

/// Reads one HTTP request head (and its body, by Content-Length) from `s`.
fn read_request(s: &mut TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") && buf.len() < 64 * 1024 {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => break,
        }
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    let _ = s.read_exact(&mut body);
    head
}

/// What a peer saw: how many connections, and each request line.
#[derive(Clone, Default)]
struct Seen {
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Seen {
    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Request lines ("GET /path HTTP/1.1") sent more than once: retries.
    fn repeated(&self) -> Vec<String> {
        let all = self.requests.lock().map(|v| v.clone()).unwrap_or_default();
        let mut repeated: Vec<String> = all
            .iter()
            .filter(|r| all.iter().filter(|x| x == r).count() > 1)
            .cloned()
            .collect();
        repeated.dedup();
        repeated
    }
}

/// A peer on a free loopback port: each connection gets `answer(request head, stream)`.
fn peer(answer: impl Fn(&str, &mut TcpStream) + Send + Sync + 'static) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let seen = Seen::default();
    let record = seen.clone();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            record.connections.fetch_add(1, Ordering::SeqCst);
            let answer = answer.clone();
            let requests = record.requests.clone();
            std::thread::spawn(move || {
                let head = read_request(&mut s);
                if let Ok(mut r) = requests.lock() {
                    r.push(head.lines().next().unwrap_or_default().to_string());
                }
                answer(&head, &mut s);
            });
        }
    });
    (addr, seen)
}

#[test]
fn an_endless_api_answer_fails_clearly_and_the_provider_stays_small() {
    // Every answer is a 200 whose JSON never ends, as fast as the socket takes it.
    let (addr, connections) = peer(|_, s| {
        let _ = s.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"user_names\":[",
        );
        let chunk =
            "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",".repeat(1024);
        while s.write_all(chunk.as_bytes()).is_ok() {}
    });
    let tf = keyed_workdir()
        .env("HW_MRS_ENDPOINT", &format!("http://{addr}"))
        .env("HW_REGION_NAME", common::sim::REGION);
    tf.write_main_tf(&main_tf("", RESOURCE));
    let (text, peak) = fail_watching_rss(&tf, &["apply", "-auto-approve"]);
    let f = flat(&text);
    assert!(f.contains("with a body larger than 4 MiB"), "{text}");
    assert!(f.contains(&format!("at http://{addr} answered")), "{text}");
    // Refused at once: no request is sent twice (the apply's follow-up read of the
    // cluster is another request).
    assert!(connections.connections() >= 1, "{text}");
    assert!(
        connections.repeated().is_empty(),
        "retried: {:?}",
        connections.repeated()
    );
    eprintln!("peak RSS of the provider under an endless answer: {peak} KiB");
    assert!(peak < RSS_LIMIT_KIB, "peak RSS {peak} KiB");
}

#[test]
fn dev_zero_as_the_shared_config_file_fails_clearly_and_the_provider_stays_small() {
    let tf = TfWorkdir::new()
        .env("HW_SHARED_CONFIG_FILE", "/dev/zero")
        .env("HW_MRS_ENDPOINT", "http://127.0.0.1:9")
        .env("HW_REGION_NAME", common::sim::REGION);
    tf.write_main_tf(&main_tf("", RESOURCE));
    let (text, peak) = fail_watching_rss(&tf, &["plan"]);
    let f = flat(&text);
    assert!(f.contains("Cannot use the shared config file"), "{text}");
    assert!(
        f.contains("\"/dev/zero\" cannot be read: it is larger than 1024 KiB"),
        "{text}"
    );
    eprintln!("peak RSS of the provider reading /dev/zero: {peak} KiB");
    assert!(peak < RSS_LIMIT_KIB, "peak RSS {peak} KiB");
}

#[test]
fn a_region_that_would_change_the_host_fails_at_plan_and_nothing_connects() {
    let (addr, connections) = peer(|_, s| {
        let _ = s.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
    });
    let hostile = format!("x@{addr}/");
    let rule = "lower-case words and digits joined by `-`";

    // The provider's `region`, no project: the IAM lookup would go to the region's host.
    let tf = TfWorkdir::new()
        .env("HW_ACCESS_KEY", common::sim::AK)
        .env("HW_SECRET_KEY", common::sim::SK)
        .env("HW_SECURITY_TOKEN", "STS-token-that-must-not-travel");
    tf.write_main_tf(&main_tf(&format!("  region = \"{hostile}\""), RESOURCE));
    let out = tf.fail(&["plan"]);
    let f = flat(&out.combined());
    assert!(f.contains(rule), "{}", out.combined());
    assert!(f.contains("region"), "{}", out.combined());

    // HW_REGION_NAME: refused at configure, naming the variable.
    let tf = tf.fresh_like().env("HW_REGION_NAME", &hostile);
    tf.write_main_tf(&main_tf("", RESOURCE));
    let out = tf.fail(&["plan"]);
    let f = flat(&out.combined());
    assert!(
        f.contains("(from HW_REGION_NAME)") && f.contains(rule),
        "{f}"
    );

    // A resource's and a data source's `region`, and other shapes the issue listed.
    for bad in [hostile.as_str(), "cn north", "../../x", "cn-north-4#x"] {
        let tf = TfWorkdir::new()
            .env("HW_ACCESS_KEY", common::sim::AK)
            .env("HW_SECRET_KEY", common::sim::SK)
            .env("HW_PROJECT_ID", common::sim::PROJECT)
            .env("HW_REGION_NAME", common::sim::REGION);
        tf.write_main_tf(&main_tf(
            "",
            &format!(
                "resource \"mrs_iam_sync\" \"s\" {{\n  region = \"{bad}\"\n  cluster_id = \"c1\"\n  user_names = [\"bob\"]\n}}\n\ndata \"mrs_iam_sync_users\" \"d\" {{\n  region = \"{bad}\"\n  cluster_id = \"c1\"\n}}\n"
            ),
        ));
        let out = tf.fail(&["plan"]);
        let text = out.combined();
        let f = flat(&text);
        assert!(f.contains(rule), "{text}");
        assert!(
            f.contains("mrs_iam_sync.s") && f.contains("mrs_iam_sync_users.d"),
            "both blocks are refused: {text}"
        );
    }
    // A 10 KB region is quoted by its start and its length.
    let tf = keyed_workdir().env("HW_REGION_NAME", &"x".repeat(10_000));
    tf.write_main_tf(&main_tf("", RESOURCE));
    let text = tf.fail(&["plan"]).combined();
    assert!(text.contains("(10000 characters)"), "{text}");
    assert!(!text.contains(&"x".repeat(200)), "quoted whole");

    assert_eq!(
        connections.connections(),
        0,
        "something connected to the host a region named"
    );
}

#[test]
fn a_private_ca_and_client_certificates_work_and_a_refused_certificate_fails_at_once() {
    let sim = Sim::start(&[]);
    let target = sim.url.trim_start_matches("http://").to_string();
    let ca = TestCa::new("mrs test CA");
    let (https, arrivals) = tls_front(target.clone(), &ca, None);
    // The sim's environment but the TLS front as endpoint, and the real backoff (no
    // shortened retry delay), so retries would show in the time taken.
    let tf = keyed_workdir()
        .env("HW_MRS_ENDPOINT", &https)
        .env("HW_REGION_NAME", common::sim::REGION);
    tf.write_file("ca.pem", &ca.pem);
    tf.write_main_tf(&main_tf("", RESOURCE));

    // Not trusted: one connection, a failure in under 2 s naming `cacert_file`.
    let child = tf.spawn(&["apply", "-auto-approve"]);
    let out = child.wait(Duration::from_secs(60));
    let ended = Instant::now();
    let text = out.combined();
    assert!(!out.status.success(), "{text}");
    let f = flat(&text);
    assert!(
        f.contains("cacert_file") && f.contains("insecure"),
        "{text}"
    );
    assert!(f.to_lowercase().contains("certificate"), "{text}");
    // One connection for the failed call and at most one for the apply's follow-up
    // read of the cluster; each retry would add one per attempt.
    let times = arrivals.lock().map(|v| v.clone()).unwrap_or_default();
    assert!(
        (1..=2).contains(&times.len()),
        "retried a certificate error: {} connections\n{text}",
        times.len()
    );
    let took = ended.duration_since(times[0]);
    eprintln!("certificate error: from the connection to terraform's exit {took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(sim.writes_since(0).is_empty(), "a request got through");

    // `cacert_file` trusts the CA (in addition to the usual roots): the apply works.
    tf.write_main_tf(&main_tf(
        &format!("  cacert_file = \"{}\"", tf.path().join("ca.pem").display()),
        RESOURCE,
    ));
    let out = tf.ok(&["apply", "-auto-approve"]);
    assert!(
        !out.combined().contains("TLS verification is off"),
        "{}",
        out.combined()
    );
    assert_eq!(sim.names("c1").0, vec!["bob".to_string()]);
    tf.ok(&["destroy", "-auto-approve"]);
    assert!(sim.names("c1").0.is_empty());

    // A server that demands a client certificate: without one it fails at once naming
    // `cert`; with HW_CERT and HW_KEY it works.
    let clients = TestCa::new("mrs client CA");
    let (mtls, _) = tls_front(target, &ca, Some(&clients));
    let (_, _, cert_pem, key_pem) = clients.leaf(&["terraform"]);
    let tf = keyed_workdir()
        .env("HW_MRS_ENDPOINT", &mtls)
        .env("HW_REGION_NAME", common::sim::REGION)
        .env("HW_CACERT_FILE", &ca.pem);
    tf.write_main_tf(&main_tf("", RESOURCE));
    let text = tf.fail(&["apply", "-auto-approve"]).combined();
    assert!(flat(&text).contains("set `cert` and `key`"), "{text}");
    tf.write_file("client.pem", &cert_pem);
    tf.write_file("client.key", &key_pem);
    let cert_path = tf.path().join("client.pem").display().to_string();
    let key_path = tf.path().join("client.key").display().to_string();
    let tf = tf.env("HW_CERT", &cert_path).env("HW_KEY", &key_path);
    tf.ok(&["apply", "-auto-approve"]);
    assert_eq!(sim.names("c1").0, vec!["bob".to_string()]);
    let text = tf.ok(&["destroy", "-auto-approve"]).combined();
    assert!(!text.contains("PRIVATE KEY"), "{text}");
}

#[test]
fn passwords_in_urls_and_metadata_answers_never_reach_output_at_any_log_level() {
    const PW: &str = "pw-ADMIN-SECRET-77";
    const META_SECRET: &str = "META-SK-SECRET-55";
    const META_TOKEN: &str = "META-TOKEN-SECRET-66";
    // A metadata service that refuses with a body holding keys.
    let (meta, _) = peer(|_, s| {
        let body = format!(
            "{{\"credential\":{{\"access\":\"AKMETA\",\"secret\":\"{META_SECRET}\",\"securitytoken\":\"{META_TOKEN}\",\"expires_at\":\"2030-01-01T00:00:00Z\"}}}}"
        );
        let _ = write!(
            s,
            "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    });
    let mut seen = String::new();
    for level in ["trace", "debug", "info", "warn", "error", "off"] {
        // Userinfo in the MRS endpoint and in IAM's `auth_url`, both from the environment
        // (in main.tf Terraform would show the line itself under the error).
        let tf = keyed_workdir()
            .env("HW_MRS_ENDPOINT", &format!("http://admin:{PW}@127.0.0.1:9"))
            .env("HW_AUTH_URL", &format!("https://u:{PW}@iam.example.com/v3"))
            .env("HW_REGION_NAME", common::sim::REGION)
            .env("TF_LOG", level);
        tf.write_main_tf(&main_tf("", RESOURCE));
        let text = tf.fail(&["plan"]).combined();
        assert!(
            flat(&text).contains("must not hold a user name or password"),
            "{text}"
        );
        assert!(flat(&text).contains("http://***@127.0.0.1:9"), "{text}");
        assert!(
            flat(&text).contains("https://***@iam.example.com/v3"),
            "{text}"
        );
        seen.push_str(&text);

        // Keys from a metadata service that refuses: only the status is shown.
        let tf = TfWorkdir::new()
            .env("HW_METADATA_ENDPOINT", &format!("http://{meta}"))
            .env("HW_MRS_ENDPOINT", "http://127.0.0.1:9")
            .env("HW_PROJECT_ID", common::sim::PROJECT)
            .env("HW_REGION_NAME", common::sim::REGION)
            .env("TF_LOG", level);
        tf.write_main_tf(&main_tf("", RESOURCE));
        let text = tf.fail(&["plan"]).combined();
        assert!(flat(&text).contains("answered HTTP 403"), "{text}");
        seen.push_str(&text);
    }
    assert!(
        seen.contains("[TRACE]"),
        "a trace level run is in the output"
    );
    for secret in [PW, META_SECRET, META_TOKEN, "AKMETA"] {
        assert!(!seen.contains(secret), "{secret} leaked");
    }
}

#[test]
fn redirects_and_unsendable_tokens_fail_at_once_and_plain_http_warns() {
    // An API that redirects every call elsewhere: not followed, not retried.
    let (addr, connections) = peer(|_, s| {
        let _ = s.write_all(
            b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://user:pw-REDIRECT@evil.example/x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    });
    let tf = keyed_workdir()
        .env("HW_MRS_ENDPOINT", &format!("http://{addr}"))
        .env("HW_REGION_NAME", common::sim::REGION);
    tf.write_main_tf(&main_tf("", RESOURCE));
    let text = tf.fail(&["apply", "-auto-approve"]).combined();
    let f = flat(&text);
    assert!(f.contains("answered HTTP 307 with a redirect to"), "{text}");
    assert!(f.contains("http://***@evil.example/x"), "{text}");
    assert!(!text.contains("pw-REDIRECT"), "{text}");
    assert!(connections.connections() >= 1, "{text}");
    assert!(
        connections.repeated().is_empty(),
        "retried: {:?}",
        connections.repeated()
    );

    // A security token that cannot be a header value fails on the provider block, before
    // any request.
    let sim = Sim::start(&[]);
    let tf = sim
        .workdir()
        .env("HW_SECURITY_TOKEN", "tok\nen-NOT-A-HEADER");
    tf.write_main_tf(&main_tf("", RESOURCE));
    let text = tf.fail(&["plan"]).combined();
    let f = flat(&text);
    assert!(f.contains("Unusable credentials"), "{text}");
    assert!(f.contains("security token holds characters"), "{text}");
    assert!(!text.contains("en-NOT-A-HEADER"), "{text}");
    assert_eq!(sim.request_count(), 0, "a request was sent");
    assert!(sim.writes_since(0).is_empty());

    // Plain http:// to another host: a warning naming the endpoint; loopback is quiet.
    let tf = sim.workdir();
    tf.write_main_tf(&main_tf(
        "  endpoints = { iam = \"http://iam.example.com\" }",
        RESOURCE,
    ));
    let text = tf.ok(&["plan"]).combined();
    let f = flat(&text);
    assert!(f.contains("Warning: Plain http:// endpoint"), "{text}");
    assert!(f.contains("is \"http://iam.example.com\""), "{text}");
    // The sim's loopback endpoint draws none.
    assert!(!f.contains(&format!("is \"{}\"", sim.url)), "{text}");
}

#[test]
fn a_fifo_nobody_writes_as_the_shared_config_file_ends_on_ctrl_c() {
    let tf = TfWorkdir::new()
        .env("HW_MRS_ENDPOINT", "http://127.0.0.1:9")
        .env("HW_REGION_NAME", common::sim::REGION);
    let fifo = tf.path().join("config.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(made, "mkfifo {}", fifo.display());
    let tf = tf.env("HW_SHARED_CONFIG_FILE", &fifo.display().to_string());
    tf.write_main_tf(&main_tf("", RESOURCE));
    let child = tf.spawn(&["plan"]);
    let pgid = child.id();
    // Wait until the provider is up (and so blocked on the FIFO), then a moment more.
    let t0 = Instant::now();
    while providers_in_group(pgid).is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no provider started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(1500));
    child.signal("INT");
    let interrupted = Instant::now();
    let out = child.wait(Duration::from_secs(20));
    let took = interrupted.elapsed();
    let text = out.combined();
    assert!(!out.status.success(), "{text}");
    eprintln!("Ctrl-C while the provider reads a FIFO: Terraform exited after {took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}\n{text}");
    // No provider of that run is left reading.
    let t1 = Instant::now();
    while !providers_in_group(pgid).is_empty() {
        assert!(
            t1.elapsed() < Duration::from_secs(5),
            "a provider still runs 5 s after Terraform exited"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The provider's diagnostics in the output of a `-json` plan or apply: (severity,
/// summary, detail).
fn json_diagnostics(stdout: &str) -> Vec<(String, String, String)> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "diagnostic")
        .map(|v| {
            let d = &v["diagnostic"];
            let s = |k: &str| d[k].as_str().unwrap_or_default().to_string();
            (s("severity"), s("summary"), s("detail"))
        })
        .collect()
}

/// Every diagnostic of `stdout` (a `-json` run) is under 2 KB; returns them, and asserts
/// there is at least one.
fn small_diagnostics(stdout: &str, what: &str) -> Vec<(String, String, String)> {
    let diags = json_diagnostics(stdout);
    assert!(
        !diags.is_empty(),
        "{what}: no diagnostic in\n{}",
        &stdout[..stdout.len().min(4000)]
    );
    for (severity, summary, detail) in &diags {
        let size = summary.len() + detail.len();
        eprintln!("{what}: {severity} diagnostic of {size} bytes: {summary}");
        assert!(
            size < 2048,
            "{what}: a {size}-byte {severity}: {summary}\n{}",
            &detail[..detail.len().min(3000)]
        );
    }
    diags
}

#[test]
fn a_trickled_answer_to_a_create_ends_by_its_timeout_with_one_post_and_a_true_state() {
    let sim = Sim::start(&[]);
    // The POST takes effect at once, but its answer comes one byte a second.
    sim.fault(serde_json::json!({"method": "POST", "kind": "trickle", "interval_ms": 1000}));
    let tf = sim.workdir();
    tf.write_main_tf(&main_tf(
        "",
        "resource \"mrs_iam_sync\" \"s\" {\n  cluster_id = \"c1\"\n  user_names = [\"bob\"]\n  timeouts {\n    create = \"5s\"\n  }\n}\n",
    ));
    let child = tf.spawn(&["apply", "-auto-approve"]);
    sim.wait_for_request("POST", Duration::from_secs(60));
    let posted = Instant::now();
    let out = child.wait(Duration::from_secs(60));
    let took = posted.elapsed();
    let text = out.combined();
    eprintln!("from the POST's arrival to Terraform's exit: {took:?}");
    assert!(
        took < Duration::from_secs(6) + Duration::from_millis(500),
        "{took:?}\n{text}"
    );
    let f = flat(&text);
    assert!(f.contains("when the 5s timeout ran out"), "{text}");
    assert!(f.contains("not sent again"), "{text}");
    let posts = sim
        .requests()
        .iter()
        .filter(|r| r["method"] == "POST")
        .count();
    assert_eq!(posts, 1, "the POST was sent again");
    // The state says what the cluster holds: bob, whose POST MRS took.
    assert_eq!(sim.names("c1").0, vec!["bob".to_string()]);
    let state = tf.state_json();
    let r = common::terraform::state_resource(&state, "mrs_iam_sync.s")
        .unwrap_or_else(|| panic!("no resource in the state:\n{text}"));
    assert_eq!(
        common::terraform::sorted_strings(&r["values"]["user_names"]),
        vec!["bob".to_string()]
    );
    assert_eq!(tf.plan_exit_code(), 0, "the next plan has changes");
}

#[test]
fn key_text_without_its_armour_is_never_quoted_and_is_named_as_such() {
    let ca = TestCa::new("mrs client CA");
    let (_, _, cert_pem, key_pem) = ca.leaf(&["terraform"]);
    // The key's base64 lines, without the -----BEGIN/END lines around them.
    let bare: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(bare.len() > 100, "{bare}");
    let tf = keyed_workdir()
        .env("HW_MRS_ENDPOINT", "http://127.0.0.1:9")
        .env("HW_REGION_NAME", common::sim::REGION)
        .env("HW_KEY", &bare)
        .env("TF_LOG", "trace");
    tf.write_file("client.pem", &cert_pem);
    let cert = tf.path().join("client.pem").display().to_string();
    let tf = tf.env("HW_CERT", &cert);
    tf.write_main_tf(&main_tf("", RESOURCE));
    let out = tf.fail(&["plan"]);
    let text = out.combined();
    let f = flat(&text);
    assert!(f.contains("HW_KEY is neither PEM text"), "{text}");
    assert!(f.contains("Its value is not shown"), "{text}");
    assert!(
        !f.contains("is set but `key`"),
        "a false second error: {text}"
    );
    // Not the key, nor any 16 characters of it.
    for start in (0..bare.len() - 16).step_by(8) {
        assert!(
            !text.contains(&bare[start..start + 16]),
            "key text at {start} leaked"
        );
    }
}

#[test]
fn a_cert_and_key_that_are_not_a_pair_are_one_error_on_key() {
    let ca = TestCa::new("mrs client CA");
    let (_, _, cert_pem, _) = ca.leaf(&["terraform"]);
    let (_, _, _, other_key) = ca.leaf(&["someone else"]);
    let tf = keyed_workdir()
        .env("HW_MRS_ENDPOINT", "http://127.0.0.1:9")
        .env("HW_REGION_NAME", common::sim::REGION);
    tf.write_file("client.pem", &cert_pem);
    tf.write_file("other.key", &other_key);
    tf.write_main_tf(&main_tf(
        &format!(
            "  cert = \"{}\"\n  key  = \"{}\"",
            tf.path().join("client.pem").display(),
            tf.path().join("other.key").display()
        ),
        RESOURCE,
    ));
    let out = tf.fail(&["plan", "-json"]);
    let diags = small_diagnostics(&out.stdout, "cert/key mismatch");
    let errors: Vec<_> = diags.iter().filter(|d| d.0 == "error").collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].2.contains("does not belong to the certificate"),
        "{errors:#?}"
    );
    // The error sits on the provider block's `key` line.
    assert!(out.stdout.contains("key  = "), "{}", out.stdout);
    assert!(
        !out.combined().contains("builder error"),
        "{}",
        out.combined()
    );
}

#[test]
fn a_non_ascii_security_token_is_refused_at_configure_naming_its_source() {
    let sim = Sim::start(&[]);
    let tf = sim
        .workdir()
        .env("HW_SECURITY_TOKEN", "tok\u{e9}n-NONASCII");
    tf.write_main_tf(&main_tf("", RESOURCE));
    let text = tf.fail(&["plan"]).combined();
    let f = flat(&text);
    assert!(f.contains("Unusable credentials"), "{text}");
    assert!(
        f.contains("In HW_SECURITY_TOKEN, the security token holds characters"),
        "{text}"
    );
    assert!(!f.contains("HW_ACCESS_KEY and HW_SECRET_KEY"), "{text}");
    assert!(!text.contains("NONASCII"), "{text}");
    assert_eq!(sim.request_count(), 0, "a request was sent");
}

#[test]
fn malformed_answer_heads_are_one_attempt_and_said_to_be_malformed() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    tf.write_main_tf(&main_tf(
        "",
        "data \"mrs_iam_sync_users\" \"d\" {\n  cluster_id = \"c1\"\n}\n",
    ));
    for head in [
        "many_headers",
        "huge_header",
        "huge_status_line",
        "bad_content_length",
        "http09",
    ] {
        sim.reset();
        sim.fault(serde_json::json!({"path_contains": "iam-sync-user", "count": 10, "kind": "malformed_head", "head": head}));
        let child = tf.spawn(&["plan"]);
        let watch = PeakRss::watch(child.id());
        let out = child.wait(Duration::from_secs(120));
        let (peak, _) = watch.finish();
        let text = out.combined();
        assert!(!out.status.success(), "{head}: {text}");
        let f = flat(&text);
        assert!(
            f.contains("answered with a malformed HTTP response"),
            "{head}: {text}"
        );
        assert!(!f.contains("Nothing answered"), "{head}: {text}");
        let reads = sim
            .requests()
            .iter()
            .filter(|r| {
                r["path"]
                    .as_str()
                    .unwrap_or_default()
                    .ends_with("iam-sync-user")
            })
            .count();
        assert_eq!(reads, 1, "{head}: retried");
        eprintln!("{head}: one attempt, peak RSS {peak} KiB");
        assert!(peak < RSS_LIMIT_KIB, "{head}: peak RSS {peak} KiB");
    }
}

#[test]
fn loopback_endpoints_are_never_proxied_and_plain_http_metadata_warns() {
    let (proxy, seen) = peer(|_, s| {
        let _ = s.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
    });
    let sim = Sim::start(&[]);
    let port = sim.url.rsplit(':').next().unwrap_or_default().to_string();
    for endpoint in [sim.url.clone(), format!("http://localhost:{port}")] {
        let tf = sim
            .workdir()
            .env("HW_MRS_ENDPOINT", &endpoint)
            .env("HTTP_PROXY", &format!("http://{proxy}"))
            .env("http_proxy", &format!("http://{proxy}"))
            .env("HTTPS_PROXY", &format!("http://{proxy}"))
            .env("ALL_PROXY", &format!("http://{proxy}"));
        tf.write_main_tf(&main_tf("", RESOURCE));
        tf.ok(&["apply", "-auto-approve"]);
        assert_eq!(sim.names("c1").0, vec!["bob".to_string()], "{endpoint}");
        tf.ok(&["destroy", "-auto-approve"]);
        assert_eq!(seen.connections(), 0, "{endpoint} went through the proxy");
    }

    // Temporary keys over plain http from a host that is not link-local: a warning.
    let tf = sim.workdir();
    tf.write_main_tf(&main_tf(
        "  endpoints = { metadata = \"http://metadata.example.com\" }",
        RESOURCE,
    ));
    let text = tf.ok(&["plan"]).combined();
    let f = flat(&text);
    assert!(f.contains("Warning: Plain http:// endpoint"), "{text}");
    assert!(
        f.contains("the metadata endpoint is \"http://metadata.example.com\""),
        "{text}"
    );
    // The real metadata address is link-local: no warning.
    tf.write_main_tf(&main_tf(
        "  endpoints = { metadata = \"http://169.254.169.254\" }",
        RESOURCE,
    ));
    let text = tf.ok(&["plan"]).combined();
    assert!(!flat(&text).contains("Plain http://"), "{text}");
}

#[test]
fn a_ca_given_only_by_ssl_cert_file_ssl_cert_dir_or_the_system_store_is_trusted() {
    let sim = Sim::start(&[]);
    let target = sim.url.trim_start_matches("http://").to_string();
    let ca = TestCa::new("mrs machine CA");
    let (https, _) = tls_front(target, &ca, None);
    let base = || {
        keyed_workdir()
            .env("HW_MRS_ENDPOINT", &https)
            .env("HW_REGION_NAME", common::sim::REGION)
    };
    let apply_and_destroy = |tf: &TfWorkdir, how: &str| {
        tf.write_main_tf(&main_tf("", RESOURCE));
        let out = tf.run(&["apply", "-auto-approve"]);
        assert!(out.status.success(), "{}", out.describe(how));
        assert_eq!(sim.names("c1").0, vec!["bob".to_string()], "{how}");
        tf.ok(&["destroy", "-auto-approve"]);
    };

    // Not trusted without one of them.
    let tf = base();
    tf.write_main_tf(&main_tf("", RESOURCE));
    let text = tf.fail(&["apply", "-auto-approve"]).combined();
    assert!(flat(&text).contains("cacert_file"), "{text}");

    let tf = base();
    tf.write_file("machine-ca.pem", &ca.pem);
    let file = tf.path().join("machine-ca.pem").display().to_string();
    let tf = tf.env("SSL_CERT_FILE", &file);
    apply_and_destroy(&tf, "SSL_CERT_FILE");

    let tf = base();
    tf.write_file("certs/machine-ca.pem", &ca.pem);
    let dir = tf.path().join("certs").display().to_string();
    let tf = tf.env("SSL_CERT_DIR", &dir);
    apply_and_destroy(&tf, "SSL_CERT_DIR");

    // The system store: where this test may write one (as root, in a container).
    let system = std::path::Path::new("/etc/ssl/certs")
        .join(format!("mrs-test-ca-{}.pem", std::process::id()));
    if std::fs::write(&system, &ca.pem).is_ok() {
        struct Remove(std::path::PathBuf);
        impl Drop for Remove {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
        let _installed = Remove(system.clone());
        apply_and_destroy(&base(), "the system store");
    } else {
        eprintln!(
            "{} is not writable here: the system store's case is not run",
            system.display()
        );
    }
}

#[test]
fn multi_megabyte_values_give_diagnostics_under_2_kb() {
    let huge = "x".repeat(3 << 20);
    let sim = Sim::start(&[]);

    // 1. A 200 with a 3 MiB string where a list belongs, read by twenty data sources.
    let body = format!("{{\"user_names\": \"{huge}\", \"group_names\": []}}");
    sim.fault(serde_json::json!({"path_contains": "iam-sync-user", "count": 20, "kind": "malformed", "status": 200, "body": body}));
    let tf = sim.workdir();
    let data: String = (0..20)
        .map(|i| format!("data \"mrs_iam_sync_users\" \"d{i}\" {{\n  cluster_id = \"c{i}\"\n}}\n"))
        .collect();
    tf.write_main_tf(&main_tf("", &data));
    let out = tf.fail(&["plan", "-json"]);
    let diags = small_diagnostics(&out.stdout, "a 3 MiB answer");
    let errors = diags.iter().filter(|d| d.0 == "error").count();
    assert_eq!(errors, 20, "{diags:#?}");
    let total = out.stdout.len() + out.stderr.len();
    eprintln!("twenty data sources reading a 3 MiB answer: {total} bytes of output");
    assert!(total < 200_000, "{total} bytes of output");

    // 2. A remote name of 3 MiB, adopted at import and released by the next plan.
    sim.reset();
    sim.set_names("c1", &["bob", huge.as_str()], &[]);
    let tf = sim.workdir();
    tf.write_main_tf(&main_tf("", RESOURCE));
    tf.ok(&["import", "mrs_iam_sync.s", "c1"]);
    let out = tf.run(&["plan", "-json"]);
    let diags = small_diagnostics(&out.stdout, "a 3 MiB remote name");
    assert!(
        diags.iter().any(|d| d.2.contains("characters)")),
        "{diags:#?}"
    );

    // 3. Private state holding 3 MiB where names belong.
    sim.reset();
    let tf = sim.workdir();
    tf.write_main_tf(&main_tf("", RESOURCE));
    tf.ok(&["apply", "-auto-approve"]);
    let path = tf.path().join("terraform.tfstate");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("state")).expect("state JSON");
    let private = format!("{{\"pending\": \"{huge}\"}}");
    state["resources"][0]["instances"][0]["private"] =
        serde_json::Value::String(base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            private.as_bytes(),
        ));
    std::fs::write(&path, state.to_string()).expect("write state");
    let out = tf.fail(&["plan", "-json"]);
    let diags = small_diagnostics(&out.stdout, "3 MiB of private state");
    assert!(
        diags
            .iter()
            .any(|d| d.1.contains("Unreadable private state")),
        "{diags:#?}"
    );

    // 4. A shared config path of 3 MiB (from a file, so no line of main.tf holds it).
    let tf = TfWorkdir::new()
        .env("HW_MRS_ENDPOINT", &sim.url)
        .env("HW_REGION_NAME", common::sim::REGION);
    tf.write_file("path.txt", &format!("/tmp/\u{1b}[2J{huge}"));
    tf.write_main_tf(&main_tf(
        "  shared_config_file = file(\"${path.module}/path.txt\")",
        RESOURCE,
    ));
    let out = tf.fail(&["plan", "-json"]);
    let diags = small_diagnostics(&out.stdout, "a 3 MiB config path");
    assert!(
        diags.iter().any(|d| d.1.contains("shared config file")),
        "{diags:#?}"
    );
    assert!(
        !out.combined().contains('\u{1b}'),
        "a raw ESC reached the output"
    );
}
