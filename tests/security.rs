//! Security checks with real Terraform 1.0.3: secrets never reach logs or error messages
//! (even at TF_LOG=trace, with h2 and rustls logging too; static keys from the environment
//! or the configuration, a shared config file's, temporary keys and tokens
//! from an agency or the metadata service), the plugin socket lives in a private directory and speaks only
//! TLS (AutoMTLS), and the MRS endpoint's certificate is verified unless `insecure = true`,
//! which warns.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::sim::Sim;
use common::terraform::TfWorkdir;
use serde_json::json;

/// Distinctive values that would stand out in any log line.
const SECRET: &str = "SK-zz9-plural-z-alpha-SECRET";
const TOKEN: &str = "STS-TOKEN-kx81-qqvv-NEVER-LOG";

const RESOURCE: &str = r#"
resource "mrs_iam_sync" "s" {
  cluster_id = "c1"
  user_names = ["bob"]
}
"#;

fn main_tf(provider_body: &str) -> String {
    format!(
        "terraform {{\n  required_providers {{\n    mrs = {{\n      source = \"terraform.local/mrs/mrs\"\n    }}\n  }}\n}}\n\nprovider \"mrs\" {{\n{provider_body}\n}}\n{RESOURCE}"
    )
}

fn workdir(sim: &Sim) -> TfWorkdir {
    let mut w = sim.workdir();
    w.set_env("HW_SECRET_KEY", SECRET)
        .set_env("HW_SECURITY_TOKEN", TOKEN);
    w
}

fn assert_no_secret(what: &str, text: &str) {
    for s in [SECRET, TOKEN] {
        assert!(!text.contains(s), "{what} contains a secret:\n{text}");
    }
}

#[test]
fn trace_logs_and_error_messages_never_contain_the_secret_key_or_token() {
    let sim = Sim::start(&["--secret-key", SECRET]);
    let tf = workdir(&sim).env("TF_LOG", "trace");
    tf.write_main_tf(&main_tf(""));

    let mut seen = String::new();
    for args in [
        &["apply", "-auto-approve"][..],
        &["plan"][..],
        &["destroy", "-auto-approve"][..],
    ] {
        let out = tf.ok(args);
        seen.push_str(&out.combined());
    }
    // The trace really holds the provider's own logs and its requests.
    assert!(seen.contains("terraform-provider-mrs"), "no provider logs");
    assert!(seen.contains("[TRACE]"), "not a trace log");
    assert!(
        sim.writes_since(0).len() >= 2,
        "apply and destroy reached the sim"
    );
    assert_no_secret("a trace-level apply/plan/destroy", &seen);

    // Errors: a rejected signature, throttling past the retries, a server error.
    let tf = workdir(&sim).env("HW_MAX_RETRIES", "0");
    tf.write_main_tf(&main_tf(""));
    for fault in [
        json!({"method": "*", "count": 1, "kind": "status", "status": 401, "error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication information"}),
        json!({"method": "*", "count": 1, "kind": "status", "status": 429, "error_code": "APIGW.0308", "error_msg": "throttled"}),
        json!({"method": "*", "count": 1, "kind": "malformed", "status": 200, "body": "<html>"}),
    ] {
        sim.fault(fault);
        let out = tf.fail(&["apply", "-auto-approve"]);
        assert!(out.combined().contains("Error:"), "{}", out.combined());
        assert_no_secret("an error message", &out.combined());
    }
    // Keys the sim does not accept: the sim's own 401 answer.
    let wrong = workdir(&sim).env("HW_SECRET_KEY", "SK-wrong-but-also-SECRET-123");
    wrong.write_main_tf(&main_tf(""));
    let out = wrong.fail(&["apply", "-auto-approve"]);
    assert!(out.combined().contains("401"), "{}", out.combined());
    assert!(!out.combined().contains("SK-wrong-but-also-SECRET-123"));
    assert_no_secret("an authentication error", &out.combined());
}

#[test]
fn trace_logs_carry_rpc_fields_and_transport_events_but_no_configured_secret() {
    let sim = Sim::start(&["--secret-key", SECRET]);
    // The keys travel inside the gRPC configuration this time, through the h2 and rustls
    // code that logs at trace.
    let tf = sim.workdir().env("TF_LOG", "trace");
    tf.write_main_tf(&main_tf(&format!(
        "  secret_key     = \"{SECRET}\"\n  security_token = \"{TOKEN}\""
    )));
    let mut seen = String::new();
    for args in [
        &["apply", "-auto-approve"][..],
        &["plan"][..],
        &["destroy", "-auto-approve"][..],
    ] {
        seen.push_str(&tf.ok(args).combined());
    }
    assert!(
        sim.writes_since(0).len() >= 2,
        "apply and destroy reached the sim, signed with the configured key"
    );
    let lines: Vec<&str> = seen
        .lines()
        .filter(|l| l.contains("provider.terraform-provider-mrs"))
        .collect();
    let find = |what: &str, pred: &dyn Fn(&str) -> bool| -> String {
        lines
            .iter()
            .find(|l| pred(l))
            .map(|l| l.to_string())
            .unwrap_or_else(|| panic!("no provider line with {what}:\n{}", lines.join("\n")))
    };
    // Each RPC's lines say which RPC, which request, which provider and which type.
    let plan = find("tf_rpc=PlanResourceChange", &|l| {
        l.contains("RPC served") && l.contains("tf_rpc=PlanResourceChange")
    });
    for field in [
        "tf_req_id=",
        "tf_provider_addr=terraform.local/mrs/mrs",
        "tf_resource_type=mrs_iam_sync",
    ] {
        assert!(plan.contains(field), "{field} missing: {plan}");
    }
    let req_ids: std::collections::HashSet<&str> = lines
        .iter()
        .filter(|l| l.contains("RPC served"))
        .filter_map(|l| l.split("tf_req_id=").nth(1)?.split_whitespace().next())
        .collect();
    assert!(req_ids.len() >= 5, "one request ID per RPC: {req_ids:?}");
    // An API call's lines carry its own span and the RPC's it serves.
    let api = find("an MRS API call inside an RPC", &|l| {
        l.contains("MRS API call") && l.contains("tf_rpc=") && l.contains("tf_req_id=")
    });
    assert!(
        api.contains("method=") && api.contains("path=/v2/"),
        "{api}"
    );
    // The transport's own events: h2 (tracing) under the gRPC server, rustls (log) in
    // the AutoMTLS handshake.
    find("an h2 event", &|l| l.contains("@module=provider.h2"));
    find("a rustls event", &|l| l.contains("@module=provider.rustls"));
    assert_no_secret("a trace-level run with keys in the configuration", &seen);
}

#[test]
fn plugin_socket_is_in_a_private_directory_and_speaks_only_tls() {
    let sim = Sim::start(&["--sync-delay-ms", "600000", "--secret-key", SECRET]);
    let log = std::env::temp_dir().join(format!(
        "mrs-security-tf-{}-{}.log",
        std::process::id(),
        fastrand::u32(..)
    ));
    let tf = workdir(&sim)
        .env("TF_LOG", "trace")
        .env("TF_LOG_PATH", &log.to_string_lossy());
    tf.write_main_tf(&main_tf("").replace(
        "user_names = [\"bob\"]",
        "user_names = [\"bob\"]\n  timeouts {\n    create = \"60s\"\n  }",
    ));
    let child = tf.spawn(&["apply", "-auto-approve"]);
    // While the apply waits for the sync, the provider that serves it is running.
    let t0 = Instant::now();
    while !sim.requests().iter().any(|r| r["method"] == "POST") {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no POST reached the sim"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    // The provider logs each start (re-emitted by go-plugin under
    // provider.terraform-provider-mrs): "provider serving: network=unix
    // address=/tmp/pluginX/plugin.sock tls=true"; the last is the running apply's provider.
    let serving: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("provider serving:") && l.contains("network=unix"))
        .collect();
    let last = serving
        .last()
        .unwrap_or_else(|| panic!("no \"provider serving\" line in the trace log:\n{text}"));
    // AutoMTLS: Terraform sent its client certificate, so every start served TLS.
    assert!(
        serving.iter().all(|l| l.contains("tls=true")),
        "{serving:?}"
    );
    let socket: PathBuf = last
        .split("address=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no address in {last:?}"));
    let dir = socket
        .parent()
        .unwrap_or_else(|| panic!("{} has no parent", socket.display()));
    let meta = std::fs::metadata(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o700,
        "{} is not private",
        dir.display()
    );
    let uid = std::fs::metadata(&socket).map(|m| m.uid()).ok();
    assert_eq!(
        uid,
        Some(meta.uid()),
        "socket and directory have different owners"
    );
    // A plaintext HTTP/2 client gets no HTTP/2 answer: the socket serves only TLS.
    let mut s = UnixStream::connect(&socket)
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", socket.display()));
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .ok();
    let mut buf = [0u8; 16];
    let n = s.read(&mut buf).unwrap_or(0);
    let is_h2_settings = n >= 4 && buf[3] == 0x04;
    assert!(
        !is_h2_settings,
        "the plugin answered plaintext HTTP/2: {:?}",
        &buf[..n]
    );
    assert!(
        n == 0 || buf[0] == 0x15,
        "expected a TLS alert or a closed connection, got {:?}",
        &buf[..n]
    );
    drop(child);
}

#[test]
fn tls_is_verified_unless_insecure_which_warns() {
    let sim = Sim::start(&["--secret-key", SECRET]);
    let target = sim.url.trim_start_matches("http://").to_string();
    // A certificate signed by a CA the provider was never told of.
    let (https, _) = common::tls::tls_front(target, &common::tls::TestCa::new("unknown CA"), None);
    let tf = workdir(&sim).env("HW_MRS_ENDPOINT", &https);

    // A self-signed certificate is refused, with a message that says why.
    tf.write_main_tf(&main_tf(""));
    let out = tf.fail(&["apply", "-auto-approve"]);
    let text = out.combined();
    assert!(text.to_lowercase().contains("certificate"), "{text}");
    assert!(sim.writes_since(0).is_empty(), "a request got through");
    assert_no_secret("a TLS error", &text);

    // insecure = true: the same endpoint works, with a warning on every run.
    tf.write_main_tf(&main_tf("  insecure = true"));
    let out = tf.ok(&["apply", "-auto-approve"]);
    let text = out.combined();
    assert!(text.contains("Warning: TLS verification is off"), "{text}");
    assert_eq!(sim.names("c1").0, vec!["bob".to_string()]);
    tf.ok(&["destroy", "-auto-approve"]);
    assert!(sim.names("c1").0.is_empty());
}

/// Every secret of the new credential sources: a profile's secret key, the agency's and the
/// metadata service's temporary keys and tokens (which the sim lists), and the keys of an
/// expired token, in trace logs and in errors.
#[test]
fn temporary_keys_and_shared_config_secrets_never_reach_logs_or_errors() {
    let sim = Sim::start(&[
        "--secret-key",
        SECRET,
        "--agencies",
        "corp/mrs_ops",
        "--metadata",
        "--token-ttl-ms",
        "2000",
        "--sync-delay-ms",
        "2500",
    ]);
    let bare = || {
        TfWorkdir::new()
            .env("HW_MRS_ENDPOINT", &sim.url)
            .env("HW_AUTH_URL", &format!("{}/v3", sim.url))
            .env("HW_REGION_NAME", common::sim::REGION)
            .env("TF_PROVIDER_MRS_RETRY_BASE_MS", "20")
            .env("TF_LOG", "trace")
    };
    let mut seen = String::new();

    // An agency assumed with keys from a profile of a shared config file.
    let tf = bare();
    let file = json!({"current": "p", "profiles": [{"name": "p", "accessKeyId": common::sim::AK, "secretAccessKey": SECRET}]});
    tf.write_file("config.json", &file.to_string());
    tf.write_main_tf(&main_tf(&format!(
        "  shared_config_file = \"{}\"\n  assume_role {{\n    agency_name = \"mrs_ops\"\n    domain_name = \"corp\"\n  }}",
        tf.path().join("config.json").display()
    )));
    seen.push_str(&tf.ok(&["apply", "-auto-approve"]).combined());
    seen.push_str(&tf.ok(&["destroy", "-auto-approve"]).combined());

    // Metadata keys alone.
    let tf = bare().env("HW_METADATA_ENDPOINT", &sim.url);
    tf.write_main_tf(&main_tf(""));
    seen.push_str(&tf.ok(&["apply", "-auto-approve"]).combined());

    // Errors: an agency that cannot be assumed, an expired token, a malformed file.
    let tf = bare()
        .env("HW_ACCESS_KEY", common::sim::AK)
        .env("HW_SECRET_KEY", SECRET);
    tf.write_main_tf(&main_tf(
        "  assume_role {\n    agency_name = \"other\"\n    domain_name = \"corp\"\n  }",
    ));
    seen.push_str(&tf.fail(&["plan"]).combined());
    let expired = sim.issue_temporary(0);
    let tf = bare()
        .env("HW_ACCESS_KEY", expired["access"].as_str().unwrap_or(""))
        .env("HW_SECRET_KEY", expired["secret"].as_str().unwrap_or(""))
        .env(
            "HW_SECURITY_TOKEN",
            expired["securitytoken"].as_str().unwrap_or(""),
        );
    tf.write_main_tf(&main_tf(""));
    seen.push_str(&tf.fail(&["plan"]).combined());
    let tf = bare();
    tf.write_file(
        "bad.json",
        &format!("{{\"profiles\": [{{\"secretAccessKey\": \"{SECRET}\""),
    );
    tf.write_main_tf(&main_tf(&format!(
        "  shared_config_file = \"{}\"",
        tf.path().join("bad.json").display()
    )));
    seen.push_str(&tf.fail(&["plan"]).combined());

    assert!(seen.contains("[TRACE]"), "not a trace log");
    assert!(seen.contains("Cannot assume the agency"), "{seen}");
    assert!(seen.contains("Security token expired"), "{seen}");
    assert!(seen.contains("Cannot use the shared config file"), "{seen}");
    assert_no_secret("trace logs and errors of the new sources", &seen);
    let issued = sim.temporary_credentials();
    let kinds: Vec<&str> = issued
        .iter()
        .filter_map(|c| c["issued_by"]["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"agency") && kinds.contains(&"metadata"),
        "{kinds:?}"
    );
    for c in &issued {
        for field in ["secret", "securitytoken"] {
            let s = c[field].as_str().unwrap_or_default();
            assert!(s.len() >= 16, "{c}");
            assert!(
                !seen.contains(s),
                "{field} of a {} key leaked",
                c["issued_by"]
            );
        }
    }
}
