//! Where the provider's keys and project come from, with real Terraform 1.0.3 and mrs-sim:
//! AK/SK and a region only (the project looked up once per run), a profile of a shared
//! config file, an assumed agency whose keys are renewed during an apply, the ECS metadata
//! service alone, and each bad input, which fails the plan with nothing sent to MRS.

mod common;

use std::collections::BTreeSet;

use common::sim::{Sim, AK, PROJECT, REGION, SK};
use common::terraform::TfWorkdir;
use serde_json::Value;

/// Three resources and a data source: the project is looked up once however many use it.
const RESOURCES: &str = r#"
resource "mrs_iam_sync" "a" {
  cluster_id = "c1"
  user_names = ["bob"]
}

resource "mrs_iam_sync" "b" {
  cluster_id = "c2"
  group_names = ["ops"]
}

resource "mrs_iam_sync" "c" {
  cluster_id = "c3"
  user_names = ["carol"]
}
"#;

fn main_tf(provider_body: &str) -> String {
    format!(
        "terraform {{\n  required_providers {{\n    mrs = {{\n      source = \"terraform.local/mrs/mrs\"\n    }}\n  }}\n}}\n\nprovider \"mrs\" {{\n{provider_body}\n}}\n{RESOURCES}"
    )
}

/// Endpoints point at the sim (MRS and IAM); no keys and no project are set.
fn bare_workdir(sim: &Sim) -> TfWorkdir {
    TfWorkdir::new()
        .env("HW_MRS_ENDPOINT", &sim.url)
        .env("HW_AUTH_URL", &format!("{}/v3", sim.url))
        .env("TF_PROVIDER_MRS_RETRY_BASE_MS", "20")
}

fn with_keys(w: TfWorkdir) -> TfWorkdir {
    w.env("HW_ACCESS_KEY", AK)
        .env("HW_SECRET_KEY", SK)
        .env("HW_REGION_NAME", REGION)
}

fn is_lookup(r: &Value) -> bool {
    r["path"] == "/v3/projects"
}

fn is_mrs(r: &Value) -> bool {
    r["path"].as_str().is_some_and(|p| p.starts_with("/v2/"))
}

fn lookups_since(sim: &Sim, since: usize) -> Vec<Value> {
    sim.requests()
        .into_iter()
        .skip(since)
        .filter(is_lookup)
        .collect()
}

fn mrs_since(sim: &Sim, since: usize) -> Vec<Value> {
    sim.requests()
        .into_iter()
        .skip(since)
        .filter(is_mrs)
        .collect()
}

fn all_applied(sim: &Sim) {
    assert_eq!(sim.names("c1").0, vec!["bob".to_string()]);
    assert_eq!(sim.names("c2").1, vec!["ops".to_string()]);
    assert_eq!(sim.names("c3").0, vec!["carol".to_string()]);
}

#[test]
fn aksk_and_region_only_look_the_project_up_once_per_run() {
    let sim = Sim::start(&[]);
    let tf = with_keys(bare_workdir(&sim));
    tf.write_main_tf(&main_tf(""));

    // `plan -out` and `apply PLAN` each run one provider process that configures once.
    tf.ok(&["plan", "-out", "tfplan"]);
    let lookups = lookups_since(&sim, 0);
    assert_eq!(lookups.len(), 1, "{lookups:?}");
    assert_eq!(lookups[0]["query"], format!("name={REGION}"));
    assert_eq!(lookups[0]["status"], 200);
    assert_eq!(lookups[0]["access_key"], AK, "the lookup is signed");

    let before = sim.request_count();
    tf.ok(&["apply", "tfplan"]);
    assert_eq!(lookups_since(&sim, before).len(), 1);
    let calls = mrs_since(&sim, before);
    assert!(calls.iter().any(|r| r["method"] == "POST"), "{calls:?}");
    for r in &calls {
        let path = r["path"].as_str().unwrap_or("");
        assert!(path.starts_with(&format!("/v2/{PROJECT}/")), "{path}");
    }
    all_applied(&sim);

    let state = tf.state_json();
    let a = common::terraform::state_resource(&state, "mrs_iam_sync.a").expect("resource a");
    assert_eq!(a["values"]["project_id"], PROJECT);
    assert_eq!(tf.plan_exit_code(), 0);
    tf.ok(&["destroy", "-auto-approve"]);
    assert!(sim.names("c1").0.is_empty());
}

/// The project of the second region in mrs-sim's IAM.
const OTHER_REGION: &str = "eu-west-101";
const OTHER_PROJECT: &str = "proj0000000000000000000000eu101";

#[test]
fn a_resource_in_another_region_gets_that_regions_project_looked_up_once() {
    let sim = Sim::start(&["--projects", &format!("{OTHER_REGION}={OTHER_PROJECT}")]);
    let tf = with_keys(bare_workdir(&sim));
    let other = format!(
        r#"
resource "mrs_iam_sync" "far1" {{
  region      = "{OTHER_REGION}"
  cluster_id  = "c4"
  user_names  = ["dave"]
}}

resource "mrs_iam_sync" "far2" {{
  region      = "{OTHER_REGION}"
  cluster_id  = "c5"
  group_names = ["ops"]
}}

data "mrs_iam_sync_users" "far" {{
  region     = "{OTHER_REGION}"
  cluster_id = "c4"
  depends_on = [mrs_iam_sync.far1]
}}

output "far_users" {{
  value = data.mrs_iam_sync_users.far.user_names
}}
"#
    );
    tf.write_main_tf(&format!("{}{other}", main_tf("")));

    // The plan shows each resource's project: one lookup per region, however many use it.
    let before = sim.request_count();
    let plan = tf.ok(&["plan", "-out", "tfplan"]).combined();
    let mut asked: Vec<String> = lookups_since(&sim, before)
        .iter()
        .map(|r| r["query"].as_str().unwrap_or("").to_string())
        .collect();
    asked.sort();
    assert_eq!(
        asked,
        vec![format!("name={REGION}"), format!("name={OTHER_REGION}")],
        "one lookup per region"
    );
    assert!(
        plan.contains(&format!("= \"{OTHER_PROJECT}\"")),
        "the plan shows the other region's project:\n{plan}"
    );

    let before = sim.request_count();
    tf.ok(&["apply", "tfplan"]);
    for r in mrs_since(&sim, before) {
        let path = r["path"].as_str().unwrap_or("");
        let cluster = path.rsplit('/').nth(1).unwrap_or("");
        let project = if ["c4", "c5"].contains(&cluster) {
            OTHER_PROJECT
        } else {
            PROJECT
        };
        assert!(path.starts_with(&format!("/v2/{project}/")), "{path}");
    }
    all_applied(&sim);
    assert_eq!(
        sim.names_in(OTHER_PROJECT, "c4").0,
        vec!["dave".to_string()]
    );
    assert_eq!(sim.names_in(OTHER_PROJECT, "c5").1, vec!["ops".to_string()]);
    let state = tf.state_json();
    let far = common::terraform::state_resource(&state, "mrs_iam_sync.far2").expect("far2");
    assert_eq!(far["values"]["project_id"], OTHER_PROJECT);
    assert_eq!(far["values"]["cluster_id"], "c5");
    assert_eq!(far["values"]["region"], OTHER_REGION);
    assert_eq!(
        state["values"]["outputs"]["far_users"]["value"],
        serde_json::json!(["dave"])
    );
    assert_eq!(tf.plan_exit_code(), 0, "no diff after apply");

    // A region IAM has no project for is an error at that resource's `region`, before
    // anything is written.
    tf.write_main_tf(&format!(
        "{}\nresource \"mrs_iam_sync\" \"nowhere\" {{\n  region     = \"xx-nowhere-1\"\n  cluster_id = \"c6\"\n  user_names = [\"erin\"]\n}}\n",
        main_tf("")
    ));
    let before = sim.request_count();
    let text = tf.fail(&["plan"]).combined();
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for e in [
        "Error: Cannot find the project of the region",
        "with mrs_iam_sync.nowhere",
        "region = \"xx-nowhere-1\"",
        "no project named \"xx-nowhere-1\"",
    ] {
        assert!(flat.contains(e), "missing {e:?} in:\n{text}");
    }
    assert!(!text.contains(SK), "{text}");
    assert!(mrs_since(&sim, before).iter().all(|r| r["method"] == "GET"));
    assert!(sim.writes_since(before).is_empty());

    tf.write_main_tf(&format!("{}{other}", main_tf("")));
    tf.ok(&["destroy", "-auto-approve"]);
    assert!(
        sim.names_in(OTHER_PROJECT, "c4").0.is_empty()
            && sim.names_in(OTHER_PROJECT, "c5").1.is_empty()
    );
}

#[test]
fn a_profile_of_a_shared_config_file_gives_keys_and_region() {
    let sim = Sim::start(&[]);
    let tf = bare_workdir(&sim);
    let file = serde_json::json!({
        "current": "other",
        "profiles": [
            {"name": "other", "mode": "AKSK", "accessKeyId": "NOTTHISONE", "secretAccessKey": "nope"},
            {"name": "mrs", "mode": "AKSK", "accessKeyId": AK, "secretAccessKey": SK, "region": REGION},
        ]
    });
    tf.write_file("hcloud/config.json", &file.to_string());
    let path = tf.path().join("hcloud/config.json");
    tf.write_main_tf(&main_tf(&format!(
        "  shared_config_file = \"{}\"\n  profile = \"mrs\"",
        path.display()
    )));
    tf.ok(&["apply", "-auto-approve"]);
    all_applied(&sim);
    let calls = mrs_since(&sim, 0);
    assert!(!calls.is_empty());
    assert!(calls.iter().all(|r| r["access_key"] == AK), "{calls:?}");
    assert!(
        !lookups_since(&sim, 0).is_empty(),
        "the region came from the profile"
    );

    // HW_PROFILE alone reads KooCLI's default file in the HOME Terraform runs with.
    let home = tf.path().parent().expect("root").join("home/.hcloud");
    std::fs::create_dir_all(&home).expect("mkdir");
    std::fs::write(home.join("config.json"), file.to_string()).expect("write");
    let tf2 = bare_workdir(&sim).env("HW_PROFILE", "mrs");
    let home2 = tf2.path().parent().expect("root").join("home/.hcloud");
    std::fs::create_dir_all(&home2).expect("mkdir");
    std::fs::write(home2.join("config.json"), file.to_string()).expect("write");
    tf2.write_main_tf(&main_tf(""));
    assert_eq!(tf2.plan_exit_code(), 2);
    tf.ok(&["destroy", "-auto-approve"]);
}

/// The access keys of `calls`, which must all succeed and carry a temporary key of `kind`.
fn temporary_keys(calls: &[Value], kind: &str) -> BTreeSet<String> {
    assert!(!calls.is_empty());
    for r in calls {
        assert_eq!(r["credential"], kind, "{r}");
        assert!(
            r["status"]
                .as_u64()
                .is_some_and(|s| (200..300).contains(&s)),
            "{r}"
        );
    }
    calls
        .iter()
        .filter_map(|r| r["access_key"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn assume_role_signs_with_the_agency_keys_and_renews_them_during_an_apply() {
    // Agency keys live 3 s and each sync 4.5 s: the apply's last poll comes after the keys
    // of its POST have expired, so it succeeds only if the provider renewed them.
    let sim = Sim::start(&[
        "--agencies",
        "corp/mrs_ops",
        "--token-ttl-ms",
        "3000",
        "--sync-delay-ms",
        "4500",
    ]);
    let tf = with_keys(bare_workdir(&sim));
    tf.write_main_tf(&main_tf(
        "  assume_role {\n    agency_name = \"mrs_ops\"\n    domain_name = \"corp\"\n  }",
    ));
    tf.ok(&["apply", "-auto-approve"]);
    all_applied(&sim);

    let requests = sim.requests();
    let tokens: Vec<&Value> = requests
        .iter()
        .filter(|r| r["path"] == "/v3.0/OS-CREDENTIAL/securitytokens")
        .collect();
    assert!(tokens.len() >= 2, "no renewal: {tokens:?}");
    for t in &tokens {
        assert_eq!(
            t["access_key"], AK,
            "the agency is assumed with the base keys"
        );
        assert_eq!(
            t["body"]["auth"]["identity"]["assume_role"]["agency_name"],
            "mrs_ops"
        );
    }
    let calls: Vec<Value> = requests.iter().filter(|r| is_mrs(r)).cloned().collect();
    let keys = temporary_keys(&calls, "agency");
    assert!(
        keys.len() >= 2,
        "the apply used one key throughout: {keys:?}"
    );
    assert!(!keys.contains(AK));
    let lookups = lookups_since(&sim, 0);
    assert!(
        lookups.iter().all(|r| r["credential"] == "agency"),
        "{lookups:?}"
    );
    assert_eq!(sim.counter("auth_failures"), 0);
}

#[test]
fn temporary_keys_refused_before_their_expiry_are_renewed_and_the_call_sent_again() {
    // Keys that live an hour, revoked while the apply waits for its sync: the next poll is
    // refused with a 401, and only a renewal lets the apply finish.
    let sim = Sim::start(&["--metadata", "--sync-delay-ms", "2500"]);
    let tf = bare_workdir(&sim)
        .env("HW_METADATA_ENDPOINT", &sim.url)
        .env("HW_REGION_NAME", REGION)
        .env("TF_LOG", "warn");
    tf.write_main_tf(&main_tf(""));
    let apply = tf.spawn(&["apply", "-auto-approve"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !sim.requests().iter().any(|r| r["method"] == "POST") {
        assert!(std::time::Instant::now() < deadline, "no POST within 60 s");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let revoked_at = sim.request_count();
    sim.revoke_temporary();
    let out = apply.wait(std::time::Duration::from_secs(120));
    assert_eq!(out.code(), 0, "{}", out.combined());
    all_applied(&sim);

    let after = mrs_since(&sim, revoked_at);
    let refused: Vec<&Value> = after.iter().filter(|r| r["status"] == 401).collect();
    assert!(!refused.is_empty(), "no call was refused: {after:?}");
    let old: BTreeSet<&str> = refused
        .iter()
        .filter_map(|r| r["access_key"].as_str())
        .collect();
    // Every call after the first refusal of each old key succeeded with a new key.
    let last_refusal = after
        .iter()
        .rposition(|r| r["status"] == 401)
        .unwrap_or_default();
    let later = &after[last_refusal + 1..];
    assert!(!later.is_empty(), "nothing was sent again: {after:?}");
    for r in later {
        assert_eq!(r["credential"], "metadata", "{r}");
        assert!(
            r["status"]
                .as_u64()
                .is_some_and(|s| (200..300).contains(&s)),
            "{r}"
        );
        assert!(!old.contains(r["access_key"].as_str().unwrap_or("")), "{r}");
    }
    let text = out.combined();
    assert!(
        text.contains("temporary credentials refused before their expiry; renewing them"),
        "{text}"
    );
    assert_eq!(
        text.matches("refused before their expiry").count(),
        1,
        "one renewal for the requests refused together:\n{text}"
    );
    assert!(
        sim.requests()
            .iter()
            .filter(|r| r["path"] == "/openstack/latest/securitykey")
            .count()
            >= 2,
        "the metadata service was not asked again"
    );
    for k in sim.temporary_credentials() {
        let secret = k["secret"].as_str().unwrap_or("-");
        assert!(!text.contains(secret), "a secret key in the log");
    }
    assert_eq!(tf.plan_exit_code(), 0);
}

#[test]
fn metadata_credentials_alone_are_used_and_renewed() {
    let sim = Sim::start(&[
        "--metadata",
        "--token-ttl-ms",
        "3000",
        "--sync-delay-ms",
        "4500",
    ]);
    let tf = bare_workdir(&sim)
        .env("HW_METADATA_ENDPOINT", &sim.url)
        .env("HW_REGION_NAME", REGION);
    tf.write_main_tf(&main_tf(""));
    tf.ok(&["apply", "-auto-approve"]);
    all_applied(&sim);
    let keys = temporary_keys(&mrs_since(&sim, 0), "metadata");
    assert!(
        keys.len() >= 2,
        "the apply used one key throughout: {keys:?}"
    );
    let lookups = lookups_since(&sim, 0);
    assert!(!lookups.is_empty());
    assert!(
        lookups.iter().all(|r| r["credential"] == "metadata"),
        "{lookups:?}"
    );
    assert_eq!(sim.counter("auth_failures"), 0);
}

/// Plans that must fail in the provider block: the summary and source are named, no secret
/// shows, and nothing reaches MRS.
fn fails_before_mrs(sim: &Sim, tf: &TfWorkdir, expect: &[&str], secrets: &[&str]) -> String {
    let before = sim.request_count();
    let out = tf.fail(&["plan"]);
    let text = out.combined();
    assert!(text.contains("Error: "), "{text}");
    assert!(
        text.contains("provider[\"terraform.local/mrs/mrs\"]"),
        "{text}"
    );
    // Terraform wraps long lines: compare with runs of whitespace made one space.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for e in expect {
        assert!(flat.contains(e), "missing {e:?} in:\n{text}");
    }
    for s in secrets {
        assert!(!text.contains(s), "secret {s:?} in:\n{text}");
    }
    assert!(mrs_since(sim, before).is_empty(), "an MRS call was made");
    assert!(sim.writes_since(before).iter().all(|(m, _)| m == "POST"));
    text
}

#[test]
fn each_bad_input_is_an_error_on_the_provider_block_naming_its_source() {
    let sim = Sim::start(&["--agencies", "corp/mrs_ops", "--metadata"]);

    // A profile that is not in the file.
    let tf = bare_workdir(&sim);
    tf.write_file(
        "config.json",
        &serde_json::json!({"current": "a", "profiles": [{"name": "a", "accessKeyId": AK, "secretAccessKey": SK}]}).to_string(),
    );
    let file = tf.path().join("config.json");
    tf.write_main_tf(&main_tf(&format!(
        "  shared_config_file = \"{}\"\n  profile = \"nope\"",
        file.display()
    )));
    fails_before_mrs(
        &sim,
        &tf,
        &[
            "Cannot use the shared config file",
            "no profile \"nope\"",
            "profile = \"nope\"",
            "\"a\"",
        ],
        &[SK],
    );

    // A file that cannot be read, and one that is not KooCLI's JSON.
    tf.write_main_tf(&main_tf(
        "  shared_config_file = \"/nonexistent/dir/config.json\"",
    ));
    fails_before_mrs(
        &sim,
        &tf,
        &[
            "cannot be read",
            "/nonexistent/dir/config.json",
            "shared_config_file =",
        ],
        &[],
    );
    tf.write_file(
        "broken.json",
        "{\"profiles\": [{\"secretAccessKey\": \"SK-in-a-broken-file\",",
    );
    tf.write_main_tf(&main_tf(&format!(
        "  shared_config_file = \"{}\"",
        tf.path().join("broken.json").display()
    )));
    fails_before_mrs(
        &sim,
        &tf,
        &["not a KooCLI configuration", "broken.json"],
        &["SK-in-a-broken-file"],
    );

    // Temporary keys whose token has expired.
    let expired = sim.issue_temporary(0);
    let (ak, sk, token) = (
        expired["access"].as_str().expect("access"),
        expired["secret"].as_str().expect("secret"),
        expired["securitytoken"].as_str().expect("token"),
    );
    let tf = bare_workdir(&sim)
        .env("HW_REGION_NAME", REGION)
        .env("HW_ACCESS_KEY", ak)
        .env("HW_SECRET_KEY", sk)
        .env("HW_SECURITY_TOKEN", token);
    tf.write_main_tf(&main_tf(""));
    fails_before_mrs(
        &sim,
        &tf,
        &[
            "Security token expired",
            "HW_ACCESS_KEY and HW_SECRET_KEY",
            "expired",
        ],
        &[sk, token],
    );

    // An agency these keys may not assume.
    let tf = with_keys(bare_workdir(&sim));
    tf.write_main_tf(&main_tf(
        "  assume_role {\n    agency_name = \"not_mine\"\n    domain_name = \"corp\"\n  }",
    ));
    let text = fails_before_mrs(
        &sim,
        &tf,
        &[
            "Cannot assume the agency",
            "\"not_mine\"",
            "403",
            "assume_role",
        ],
        &[SK],
    );
    // IAM answered, so its request ID is there for support.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("(request id "), "{text}");

    // A region IAM has no project for.
    let tf = bare_workdir(&sim)
        .env("HW_ACCESS_KEY", AK)
        .env("HW_SECRET_KEY", SK)
        .env("HW_REGION_NAME", "xx-nowhere-1");
    tf.write_main_tf(&main_tf(""));
    fails_before_mrs(
        &sim,
        &tf,
        &[
            "Cannot find the project of the region",
            "\"xx-nowhere-1\"",
            "project_id",
        ],
        &[SK],
    );

    // A metadata service that accepts the connection and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_url = format!("http://{}", silent.local_addr().expect("addr"));
    let tf = bare_workdir(&sim)
        .env("HW_REGION_NAME", REGION)
        .env("HW_METADATA_ENDPOINT", &silent_url);
    tf.write_main_tf(&main_tf(""));
    fails_before_mrs(
        &sim,
        &tf,
        &["No credentials", "ECS metadata service", &silent_url, "2 s"],
        &[],
    );
    drop(silent);
}

#[test]
fn an_unreachable_endpoint_names_it_and_what_to_check_and_warns_on_each_retry() {
    let sim = Sim::start(&[]);
    // A port nothing listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let dead = format!("http://127.0.0.1:{port}");
    let tf = with_keys(bare_workdir(&sim))
        .env("HW_MRS_ENDPOINT", &dead)
        .env("HW_MAX_RETRIES", "2")
        .env("TF_LOG", "warn");
    tf.write_main_tf(&main_tf(""));
    let out = tf.fail(&["apply", "-auto-approve"]);
    let text = out.combined();
    // Terraform wraps long lines: compare with runs of whitespace made one space.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(&format!("Nothing answered at {dead}")),
        "{text}"
    );
    assert!(flat.contains("`region`, `cloud` and `endpoints`"), "{text}");
    assert!(!flat.contains("give the request ID"), "{text}");
    let warnings = text
        .lines()
        .filter(|l| l.contains("retrying the MRS API call"))
        .count();
    assert!(warnings >= 2, "{text}");
}
