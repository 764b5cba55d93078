//! Real Terraform 1.0.3 against the real provider binary and the real `mrs-sim`: the
//! acceptance sequence create → empty plan → update → drift repaired → import → destroy,
//! validation with the offending line, unknown-until-apply values, parallel applies on one
//! cluster, retries, and failures that leave nothing false in state.

mod common;

use common::sim::{Sim, PROJECT};
use common::terraform::{
    null_provider_dir, sorted_strings, state_resource, MRS_HEADER, NULL_SOURCE,
};
use serde_json::{json, Value};

fn config(body: &str) -> String {
    format!("{MRS_HEADER}\n{body}")
}

fn sync(name: &str, cluster: &str, users: &[&str], groups: &[&str]) -> String {
    format!(
        "resource \"mrs_iam_sync\" \"{name}\" {{\n  cluster_id  = \"{cluster}\"\n  user_names  = {}\n  group_names = {}\n}}\n",
        json!(users),
        json!(groups)
    )
}

fn attrs<'a>(state: &'a Value, addr: &str) -> &'a Value {
    &state_resource(state, addr).unwrap_or_else(|| panic!("{addr} not in state: {state}"))["values"]
}

fn names_of(body: &Value) -> (Vec<String>, Vec<String>) {
    (
        sorted_strings(&body["user_names"]),
        sorted_strings(&body["group_names"]),
    )
}

fn v(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

#[test]
fn create_plan_update_drift_import_destroy() {
    let sim = Sim::start(&["--sync-delay-ms", "150"]);
    let tf = sim.workdir();

    // Create: one POST with the desired names; alice's groups arrive implicitly.
    tf.write_main_tf(&config(&sync("x", "c1", &["alice", "bob"], &["ops"])));
    tf.ok(&["apply", "-auto-approve"]);
    let writes = sim.writes_since(0);
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].0, "POST");
    assert_eq!(names_of(&writes[0].1), (v(&["alice", "bob"]), v(&["ops"])));
    assert_eq!(
        sim.names("c1"),
        (v(&["alice", "bob"]), v(&["admins", "dev", "ops"]))
    );
    let state = tf.state_json();
    let x = attrs(&state, "mrs_iam_sync.x");
    assert_eq!(x["id"], format!("{PROJECT}/c1"));
    assert_eq!(x["project_id"], PROJECT);
    assert_eq!(x["region"], "cn-north-4");
    assert_eq!(
        sorted_strings(&x["group_names"]),
        v(&["ops"]),
        "implicit groups are not managed"
    );
    assert_eq!(sim.counter("overlapping_requests"), 0);

    // A second plan shows no changes, and sends nothing.
    let before = sim.request_count();
    assert_eq!(tf.plan_exit_code(), 0);
    assert!(sim.writes_since(before).is_empty());

    // Update: add carol and analysts, remove bob: a POST of the additions, a DELETE of bob.
    let before = sim.request_count();
    tf.write_main_tf(&config(&sync(
        "x",
        "c1",
        &["alice", "carol"],
        &["ops", "analysts"],
    )));
    tf.ok(&["apply", "-auto-approve"]);
    let writes = sim.writes_since(before);
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert_eq!(writes[0].0, "POST");
    assert_eq!(names_of(&writes[0].1), (v(&["carol"]), v(&["analysts"])));
    assert_eq!(writes[1].0, "DELETE");
    assert_eq!(names_of(&writes[1].1), (v(&["bob"]), v(&[])));
    assert_eq!(
        sim.names("c1"),
        (
            v(&["alice", "carol"]),
            v(&["admins", "analysts", "dev", "ops"])
        )
    );
    assert_eq!(tf.plan_exit_code(), 0);

    // Drift: someone cancels carol and ops outside Terraform, and syncs zed's way in.
    sim.set_names("c1", &["alice", "zed"], &["admins", "analysts", "dev"]);
    assert_eq!(tf.plan_exit_code(), 2);
    let before = sim.request_count();
    tf.ok(&["apply", "-auto-approve"]);
    let writes = sim.writes_since(before);
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(names_of(&writes[0].1), (v(&["carol"]), v(&["ops"])));
    assert_eq!(tf.plan_exit_code(), 0);

    // Import into a fresh workdir adopts everything synced, implicit names included.
    let (users, groups) = sim.names("c1");
    let users: Vec<&str> = users.iter().map(String::as_str).collect();
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    let imp = sim.workdir();
    imp.write_main_tf(&config(&sync("y", "c1", &users, &groups)));
    imp.ok(&["import", "mrs_iam_sync.y", &format!("{PROJECT}/c1")]);
    let st = imp.state_json();
    let y = attrs(&st, "mrs_iam_sync.y");
    assert_eq!(sorted_strings(&y["user_names"]), v(&users));
    assert_eq!(sorted_strings(&y["group_names"]), v(&groups));
    assert_eq!(y["region"], "cn-north-4");
    assert_eq!(imp.plan_exit_code(), 0, "no diff after import");
    let bad = imp.fail(&["import", "mrs_iam_sync.y", "not/a/valid/id"]);
    assert!(
        bad.combined().contains("Invalid import ID"),
        "{}",
        bad.combined()
    );

    // Destroy cancels exactly the managed names; zed and the implicit groups stay.
    let before = sim.request_count();
    tf.ok(&["destroy", "-auto-approve"]);
    let writes = sim.writes_since(before);
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].0, "DELETE");
    assert_eq!(
        names_of(&writes[0].1),
        (v(&["alice", "carol"]), v(&["analysts", "ops"]))
    );
    assert_eq!(sim.names("c1"), (v(&["zed"]), v(&["admins", "dev"])));
    assert_eq!(sim.counter("overlapping_requests"), 0);
}

#[test]
fn validation_errors_point_at_the_attribute_line() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    let many: Vec<String> = (0..1001).map(|i| format!("u{i}")).collect();
    let cases: Vec<(String, &str, &str)> = vec![
        (
            "  cluster_id = \"bad cluster!\"\n  user_names = [\"a\"]\n".into(),
            "cluster_id = \"bad cluster!\"",
            "must be 1 to 64 letters, digits",
        ),
        (
            "  cluster_id = \"c1\"\n  project_id = \"has-dash\"\n  user_names = [\"a\"]\n".into(),
            "project_id = \"has-dash\"",
            "1 to 64 letters or digits",
        ),
        (
            format!("  cluster_id = \"c1\"\n  user_names = {}\n", json!(many)),
            "user_names = [",
            "at most 1000",
        ),
        (
            "  cluster_id = \"c1\"\n  group_names = [\"ops\", \"\"]\n".into(),
            "group_names = [\"ops\", \"\"]",
            "must not be an empty string",
        ),
        (
            "  cluster_id = \"c1\"\n  is_all_sync = true\n  user_names = [\"a\"]\n".into(),
            "is_all_sync = true",
            "cannot be set together with user_names",
        ),
        (
            "  cluster_id = \"c1\"\n  user_names = [\"a\"]\n  timeouts {\n    create = \"ten minutes\"\n  }\n".into(),
            "create = \"ten minutes\"",
            "is not a duration",
        ),
        (
            "  cluster_id = \"c1\"\n".into(),
            "resource \"mrs_iam_sync\" \"v\"",
            "Set user_names, group_names, or is_all_sync = true",
        ),
    ];
    for (body, line, message) in cases {
        tf.write_main_tf(&config(&format!(
            "resource \"mrs_iam_sync\" \"v\" {{\n{body}}}\n"
        )));
        let out = tf.fail(&["validate"]);
        let text = out.combined();
        assert!(text.contains("on main.tf line"), "{text}");
        assert!(
            text.contains(line),
            "expected the line {line:?} in:\n{text}"
        );
        assert!(text.contains(message), "expected {message:?} in:\n{text}");
    }
    assert_eq!(sim.request_count(), 0, "validation makes no API call");
}

#[test]
fn cluster_id_unknown_until_apply() {
    let sim = Sim::start(&[]);
    let mut tf = sim.workdir();
    tf.add_override(NULL_SOURCE, &null_provider_dir());
    tf.write_main_tf(
        &(MRS_HEADER.replace(
            "    mrs = {",
            "    null = {\n      source = \"registry.terraform.io/hashicorp/null\"\n    }\n    mrs = {",
        ) + r#"
resource "null_resource" "cluster" {}

resource "mrs_iam_sync" "late" {
  cluster_id = "c-${null_resource.cluster.id}"
  user_names = ["dave"]
}
"#),
    );
    let plan = tf.ok(&["plan"]);
    assert!(
        plan.stdout.contains("(known after apply)"),
        "{}",
        plan.stdout
    );
    tf.ok(&["apply", "-auto-approve"]);
    let st = tf.state_json();
    let cluster = attrs(&st, "mrs_iam_sync.late")["cluster_id"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(cluster.starts_with("c-"), "{cluster}");
    assert_eq!(sim.names(&cluster).0, v(&["dave"]));
    assert_eq!(tf.plan_exit_code(), 0);
}

#[test]
fn parallel_resources_on_one_cluster_never_overlap_a_sync() {
    let sim = Sim::start(&["--sync-delay-ms", "100"]);
    let tf = sim.workdir();
    let users = ["alice", "bob", "carol", "dave", "erin"];
    let body: String = users.iter().map(|u| sync(u, "shared", &[u], &[])).collect();
    tf.write_main_tf(&config(&body));
    tf.ok(&["apply", "-auto-approve", "-parallelism=10"]);
    assert_eq!(sim.counter("overlapping_requests"), 0);
    assert_eq!(sim.names("shared").0, v(&users));
    tf.ok(&["destroy", "-auto-approve", "-parallelism=10"]);
    assert_eq!(sim.counter("overlapping_requests"), 0);
    assert!(sim.names("shared").0.is_empty());
}

#[test]
fn transient_errors_are_retried() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    sim.fault(json!({"method": "POST", "count": 2, "kind": "status", "status": 503, "error_code": "MRS.5030", "error_msg": "busy"}));
    sim.fault(json!({"method": "GET", "count": 1, "kind": "status", "status": 429, "error_code": "APIGW.0308", "error_msg": "throttled", "retry_after": 1}));
    tf.write_main_tf(&config(&sync("r", "c1", &["bob"], &[])));
    tf.ok(&["apply", "-auto-approve"]);
    let posts: Vec<Value> = sim
        .requests()
        .into_iter()
        .filter(|r| r["method"] == "POST")
        .collect();
    let statuses: Vec<u64> = posts.iter().filter_map(|r| r["status"].as_u64()).collect();
    assert_eq!(statuses, vec![503, 503, 202], "{posts:?}");
    assert!(sim.requests().iter().any(|r| r["status"] == 429));
    assert_eq!(sim.names("c1").0, v(&["bob"]));
    assert_eq!(tf.plan_exit_code(), 0);
}

#[test]
fn persistent_errors_fail_with_code_and_request_id_and_state_stays_true() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir().env("HW_MAX_RETRIES", "2");

    // A create whose POST always fails records nothing.
    sim.fault(json!({"method": "POST", "count": 100, "kind": "status", "status": 500, "error_code": "MRS.0500", "error_msg": "internal error"}));
    tf.write_main_tf(&config(&sync("p", "c1", &["bob"], &[])));
    let out = tf.fail(&["apply", "-auto-approve"]);
    let text = out.combined();
    assert!(text.contains("MRS.0500"), "{text}");
    assert!(text.to_lowercase().contains("request id"), "{text}");
    let posts = sim
        .requests()
        .iter()
        .filter(|r| r["method"] == "POST")
        .count();
    assert_eq!(posts, 3, "one try and max_retries=2 retries");
    assert!(state_resource(&tf.state_json(), "mrs_iam_sync.p").is_none());
    assert!(sim.names("c1").0.is_empty());

    // Once the API recovers, the same apply succeeds.
    sim.reset();
    tf.ok(&["apply", "-auto-approve"]);
    assert_eq!(sim.names("c1").0, v(&["bob"]));

    // An update whose POST succeeds but whose DELETE fails records the POST's effect
    // and keeps the name it could not cancel.
    sim.fault(json!({"method": "DELETE", "count": 100, "kind": "status", "status": 500, "error_code": "MRS.0500", "error_msg": "internal error"}));
    tf.write_main_tf(&config(&sync("p", "c1", &["carol"], &[])));
    tf.fail(&["apply", "-auto-approve"]);
    let st = tf.state_json();
    assert_eq!(
        sorted_strings(&attrs(&st, "mrs_iam_sync.p")["user_names"]),
        v(&["bob", "carol"])
    );
    assert_eq!(sim.names("c1").0, v(&["bob", "carol"]));
    sim.reset();
    sim.set_names("c1", &["bob", "carol"], &["dev"]);
    tf.ok(&["apply", "-auto-approve"]);
    assert_eq!(sim.names("c1").0, v(&["carol"]));

    // A name that does not exist in IAM is an error naming it; state keeps the rest.
    tf.write_main_tf(&config(&sync("p", "c1", &["carol", "ghost"], &[])));
    let out = tf.fail(&["apply", "-auto-approve"]);
    assert!(out.combined().contains("\"ghost\""), "{}", out.combined());
    let st = tf.state_json();
    assert_eq!(
        sorted_strings(&attrs(&st, "mrs_iam_sync.p")["user_names"]),
        v(&["carol"])
    );
}

#[test]
fn data_source_reads_what_the_cluster_holds() {
    let sim = Sim::start(&[]);
    sim.set_names("c9", &["alice"], &["admins", "dev"]);
    let tf = sim.workdir();
    tf.write_main_tf(&config(
        r#"
data "mrs_iam_sync_users" "c" {
  cluster_id = "c9"
}

output "users" {
  value = data.mrs_iam_sync_users.c.user_names
}

output "groups" {
  value = data.mrs_iam_sync_users.c.group_names
}

output "busy" {
  value = data.mrs_iam_sync_users.c.is_synchronizing
}
"#,
    ));
    tf.ok(&["apply", "-auto-approve"]);
    let out = tf.ok(&["output", "-json"]);
    let o: Value = serde_json::from_str(&out.stdout).expect("output json");
    assert_eq!(sorted_strings(&o["users"]["value"]), v(&["alice"]));
    assert_eq!(sorted_strings(&o["groups"]["value"]), v(&["admins", "dev"]));
    assert_eq!(o["busy"]["value"], false);
}

#[test]
fn missing_cluster_fails_create_and_a_vanished_one_leaves_state() {
    let sim = Sim::start(&["--clusters", "c1"]);
    let tf = sim.workdir();
    tf.write_main_tf(&config(
        &(sync("g", "c1", &["bob"], &[]) + &sync("h", "nope", &["bob"], &[])),
    ));
    let out = tf.fail(&["apply", "-auto-approve"]);
    assert!(out.combined().contains("12000003"), "{}", out.combined());
    let st = tf.state_json();
    assert!(state_resource(&st, "mrs_iam_sync.g").is_some());
    assert!(state_resource(&st, "mrs_iam_sync.h").is_none());

    // The cluster of g disappears: the refresh drops g, so the plan creates it again.
    tf.write_main_tf(&config(&sync("g", "c1", &["bob"], &[])));
    sim.fault(json!({"method": "GET", "path_contains": "iam-sync-user", "count": 1, "kind": "status", "status": 400, "error_code": "12000003", "error_msg": "The cluster does not exist"}));
    let plan = tf.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(plan.code(), 2, "{}", plan.combined());
    assert!(plan.stdout.contains("will be created"), "{}", plan.stdout);
}

#[test]
fn full_sync_syncs_the_directory_and_destroy_cancels_everything() {
    let sim = Sim::start(&["--sync-delay-ms", "50"]);
    let tf = sim.workdir();
    tf.write_main_tf(&config(
        "resource \"mrs_iam_sync\" \"all\" {\n  cluster_id  = \"c1\"\n  is_all_sync = true\n}\n",
    ));
    tf.ok(&["apply", "-auto-approve"]);
    let writes = sim.writes_since(0);
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].1["is_all_sync"], true);
    assert_eq!(
        sim.names("c1"),
        (
            v(&["alice", "bob", "carol", "dave", "erin"]),
            v(&["admins", "analysts", "dev", "ops"])
        )
    );
    let st = tf.state_json();
    let all = attrs(&st, "mrs_iam_sync.all");
    assert!(all["user_names"].is_null() && all["group_names"].is_null());
    assert_eq!(tf.plan_exit_code(), 0);

    // Switching to a name list replaces the resource: the full sync is cancelled first.
    tf.write_main_tf(&config(&sync("all", "c1", &["bob"], &[])));
    let plan = tf.ok(&["plan"]);
    assert!(plan.stdout.contains("must be replaced"), "{}", plan.stdout);
    tf.ok(&["destroy", "-auto-approve"]);
    assert_eq!(sim.names("c1"), (v(&[]), v(&[])));
}
