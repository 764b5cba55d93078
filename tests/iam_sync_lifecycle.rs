//! `mrs_iam_sync` and `mrs_iam_sync_users` through real Terraform 1.0.3, the real provider
//! binary and the real `mrs-sim`, each test a list of steps of the shared step runner: the
//! lifecycle create → update → drift repaired → import → destroy, validation with the
//! offending line, unknown-until-apply values, parallel applies on one cluster, retries,
//! failures that leave nothing false in state, the data source, a vanished cluster and
//! full sync.

mod common;

use common::terraform::v;

use common::sim::{Sim, PROJECT};
use common::steps::{self, Step};
use common::terraform::{names_of, null_provider_dir, sorted_strings, MRS_HEADER, NULL_SOURCE};
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

#[test]
fn create_plan_update_drift_import_destroy() {
    let sim = Sim::start(&["--sync-delay-ms", "150"]);
    let tf = sim.workdir();
    // After the drift repair the cluster holds zed (synced outside Terraform) and alice's
    // implicit groups too: an import adopts them all, so its config lists them.
    let all_users = ["alice", "carol", "zed"];
    let all_groups = ["admins", "analysts", "dev", "ops"];
    steps::run(
        &tf,
        &sim,
        vec![
            // Create: one POST with the desired names; alice's groups arrive implicitly.
            // (The runner's plan afterwards shows no changes and sends nothing.)
            Step::apply(config(&sync("x", "c1", &["alice", "bob"], &["ops"]))).check(|r| {
                let writes = r.writes();
                assert_eq!(writes.len(), 1, "{writes:?}");
                assert_eq!(writes[0].0, "POST");
                assert_eq!(names_of(&writes[0].1), (v(&["alice", "bob"]), v(&["ops"])));
                assert_eq!(
                    r.sim().names("c1"),
                    (v(&["alice", "bob"]), v(&["admins", "dev", "ops"]))
                );
                let x = r.attrs("mrs_iam_sync.x");
                assert!(x.get("id").is_none(), "{x}");
                assert_eq!(x["project_id"], PROJECT);
                assert_eq!(x["region"], "cn-north-4");
                assert_eq!(
                    sorted_strings(&x["group_names"]),
                    v(&["ops"]),
                    "implicit groups are not managed"
                );
                assert_eq!(r.sim().counter("overlapping_requests"), 0);
            }),
            // Update: add carol and analysts, remove bob: a POST of the additions, a
            // DELETE of bob.
            Step::apply(config(&sync(
                "x",
                "c1",
                &["alice", "carol"],
                &["ops", "analysts"],
            )))
            .check(|r| {
                let writes = r.writes();
                assert_eq!(writes.len(), 2, "{writes:?}");
                assert_eq!(writes[0].0, "POST");
                assert_eq!(names_of(&writes[0].1), (v(&["carol"]), v(&["analysts"])));
                assert_eq!(writes[1].0, "DELETE");
                assert_eq!(names_of(&writes[1].1), (v(&["bob"]), v(&[])));
                assert_eq!(
                    r.sim().names("c1"),
                    (
                        v(&["alice", "carol"]),
                        v(&["admins", "analysts", "dev", "ops"])
                    )
                );
            }),
            // Drift: someone cancels carol and ops outside Terraform, and syncs zed's way
            // in; the plan sees it, the apply puts back exactly what is missing.
            Step::reapply()
                .setup(|env| {
                    env.sim()
                        .set_names("c1", &["alice", "zed"], &["admins", "analysts", "dev"])
                })
                .pre_apply_plan(|plan| assert_eq!(plan.code(), 2, "the drift shows"))
                .check(|r| {
                    let writes = r.writes();
                    assert_eq!(writes.len(), 1, "{writes:?}");
                    assert_eq!(names_of(&writes[0].1), (v(&["carol"]), v(&["ops"])));
                    assert_eq!(
                        r.sim().names("c1"),
                        (v(&all_users), v(&all_groups)),
                        "the import below lists exactly these"
                    );
                }),
            // Import into a fresh workdir adopts everything synced, implicit names
            // included; everything else equals what was applied, but `is_all_sync`, which
            // the import leaves unset for the hand-over's change to record. Its ID is x's
            // location, `cn-north-4/proj0001/c1`.
            Step::import("mrs_iam_sync.y")
                .verify_against("mrs_iam_sync.x")
                .config(config(&sync("y", "c1", &all_users, &all_groups)))
                .verify_ignore(&["user_names", "group_names", "is_all_sync"])
                .hand_over()
                .check(|r| {
                    let y = r.attrs("mrs_iam_sync.y");
                    assert_eq!(y["is_all_sync"], Value::Null);
                    assert_eq!(sorted_strings(&y["user_names"]), v(&all_users));
                    assert_eq!(sorted_strings(&y["group_names"]), v(&all_groups));
                    assert_eq!(y["region"], "cn-north-4");
                }),
            Step::import("mrs_iam_sync.y")
                .config(config(&sync("y", "c1", &all_users, &all_groups)))
                .id("not/a/valid/id")
                .no_verify()
                .expect_error("Invalid import ID"),
            // Destroy cancels exactly the managed names; zed and the implicit groups stay.
            Step::destroy().check(|r| {
                let writes = r.writes();
                assert_eq!(writes.len(), 1, "{writes:?}");
                assert_eq!(writes[0].0, "DELETE");
                assert_eq!(
                    names_of(&writes[0].1),
                    (v(&["alice", "carol"]), v(&["analysts", "ops"]))
                );
                assert_eq!(r.sim().names("c1"), (v(&["zed"]), v(&["admins", "dev"])));
                assert_eq!(r.sim().counter("overlapping_requests"), 0);
            }),
        ],
    );
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
    let steps = cases
        .into_iter()
        .map(|(body, line, message)| {
            Step::validate(config(&format!(
                "resource \"mrs_iam_sync\" \"v\" {{\n{body}}}\n"
            )))
            .expect_error(r"on main\.tf line")
            .check(move |r| {
                let text = r.text();
                assert!(
                    text.contains(line),
                    "expected the line {line:?} in:\n{text}"
                );
                assert!(text.contains(message), "expected {message:?} in:\n{text}");
            })
        })
        .collect();
    steps::run(&tf, &sim, steps);
    assert_eq!(sim.request_count(), 0, "validation makes no API call");
}

#[test]
fn cluster_id_unknown_until_apply() {
    let sim = Sim::start(&[]);
    let mut tf = sim.workdir();
    tf.add_override(NULL_SOURCE, &null_provider_dir());
    let cfg = MRS_HEADER.replace(
        "    mrs = {",
        "    null = {\n      source = \"registry.terraform.io/hashicorp/null\"\n    }\n    mrs = {",
    ) + r#"
resource "null_resource" "cluster" {}

resource "mrs_iam_sync" "late" {
  cluster_id = "c-${null_resource.cluster.id}"
  user_names = ["dave"]
}
"#;
    steps::run(
        &tf,
        &sim,
        vec![Step::apply(cfg)
            .pre_apply_plan(|plan| {
                assert_eq!(plan.code(), 2);
                assert!(
                    plan.stdout.contains("(known after apply)"),
                    "{}",
                    plan.stdout
                );
            })
            .check(|r| {
                let cluster = r.attrs("mrs_iam_sync.late")["cluster_id"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                assert!(cluster.starts_with("c-"), "{cluster}");
                assert_eq!(r.sim().names(&cluster).0, v(&["dave"]));
            })],
    );
}

#[test]
fn parallel_resources_on_one_cluster_never_overlap_a_sync() {
    let sim = Sim::start(&["--sync-delay-ms", "100"]);
    let tf = sim.workdir();
    let users = ["alice", "bob", "carol", "dave", "erin"];
    let body: String = users.iter().map(|u| sync(u, "shared", &[u], &[])).collect();
    steps::run(
        &tf,
        &sim,
        vec![
            Step::apply(config(&body))
                .args(&["-parallelism=10"])
                .check(|r| {
                    assert_eq!(r.sim().counter("overlapping_requests"), 0);
                    assert_eq!(r.sim().names("shared").0, v(&users));
                }),
            Step::destroy().args(&["-parallelism=10"]).check(|r| {
                assert_eq!(r.sim().counter("overlapping_requests"), 0);
                assert!(r.sim().names("shared").0.is_empty());
            }),
        ],
    );
}

#[test]
fn transient_errors_are_retried() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    steps::run(
        &tf,
        &sim,
        vec![Step::apply(config(&sync("r", "c1", &["bob"], &[])))
            .setup(|env| {
                env.sim().fault(json!({"method": "POST", "count": 2, "kind": "status", "status": 503, "error_code": "MRS.5030", "error_msg": "busy"}));
                env.sim().fault(json!({"method": "GET", "count": 1, "kind": "status", "status": 429, "error_code": "APIGW.0308", "error_msg": "throttled", "retry_after": 1}));
            })
            .check(|r| {
                let posts: Vec<Value> = r
                    .requests()
                    .into_iter()
                    .filter(|q| q["method"] == "POST")
                    .collect();
                let statuses: Vec<u64> =
                    posts.iter().filter_map(|q| q["status"].as_u64()).collect();
                assert_eq!(statuses, vec![503, 503, 202], "{posts:?}");
                assert!(r.requests().iter().any(|q| q["status"] == 429));
                assert_eq!(r.sim().names("c1").0, v(&["bob"]));
            })],
    );
}

#[test]
fn persistent_errors_fail_with_code_and_request_id_and_state_stays_true() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir().env("HW_MAX_RETRIES", "2");
    steps::run(
        &tf,
        &sim,
        vec![
            // A create whose POST always fails records nothing.
            Step::apply(config(&sync("p", "c1", &["bob"], &[])))
                .setup(|env| env.sim().fault(json!({"method": "POST", "count": 100, "kind": "status", "status": 500, "error_code": "MRS.0500", "error_msg": "internal error"})))
                .expect_error("MRS\\.0500")
                .check(|r| {
                    assert!(r.text().to_lowercase().contains("request id"), "{}", r.text());
                    let posts = r.requests().iter().filter(|q| q["method"] == "POST").count();
                    assert_eq!(posts, 3, "one try and max_retries=2 retries");
                    assert!(r.resource("mrs_iam_sync.p").is_none());
                    assert!(r.sim().names("c1").0.is_empty());
                }),
            // Once the API recovers, the same apply succeeds.
            Step::reapply()
                .setup(|env| env.sim().reset())
                .check(|r| assert_eq!(r.sim().names("c1").0, v(&["bob"]))),
            // An update whose POST succeeds but whose DELETE fails records the POST's
            // effect and keeps the name it could not cancel.
            Step::apply(config(&sync("p", "c1", &["carol"], &[])))
                .setup(|env| env.sim().fault(json!({"method": "DELETE", "count": 100, "kind": "status", "status": 500, "error_code": "MRS.0500", "error_msg": "internal error"})))
                .expect_error("MRS\\.0500")
                .check(|r| {
                    assert_eq!(
                        sorted_strings(&r.attrs("mrs_iam_sync.p")["user_names"]),
                        v(&["bob", "carol"])
                    );
                    assert_eq!(r.sim().names("c1").0, v(&["bob", "carol"]));
                }),
            Step::reapply()
                .setup(|env| {
                    env.sim().reset();
                    env.sim().set_names("c1", &["bob", "carol"], &["dev"]);
                })
                .check(|r| assert_eq!(r.sim().names("c1").0, v(&["carol"]))),
            // A name that does not exist in IAM is an error naming it; state keeps the rest.
            Step::apply(config(&sync("p", "c1", &["carol", "ghost"], &[])))
                .expect_error("\"ghost\"")
                .check(|r| {
                    assert_eq!(
                        sorted_strings(&r.attrs("mrs_iam_sync.p")["user_names"]),
                        v(&["carol"])
                    );
                }),
        ],
    );
}

#[test]
fn data_source_reads_what_the_cluster_holds() {
    let sim = Sim::start(&[]);
    sim.set_names("c9", &["alice"], &["admins", "dev"]);
    let tf = sim.workdir();
    let cfg = config(
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
    );
    steps::run(
        &tf,
        &sim,
        vec![Step::apply(cfg).check(|r| {
            let out = r.tf.ok(&["output", "-json"]);
            let o: Value = serde_json::from_str(&out.stdout).expect("output json");
            assert_eq!(sorted_strings(&o["users"]["value"]), v(&["alice"]));
            assert_eq!(sorted_strings(&o["groups"]["value"]), v(&["admins", "dev"]));
            assert_eq!(o["busy"]["value"], false);
        })],
    );
}

#[test]
fn missing_cluster_fails_create_and_a_vanished_one_leaves_state() {
    let sim = Sim::start(&["--clusters", "c1"]);
    let tf = sim.workdir();
    steps::run(
        &tf,
        &sim,
        vec![
            Step::apply(config(
                &(sync("g", "c1", &["bob"], &[]) + &sync("h", "nope", &["bob"], &[])),
            ))
            .expect_error("12000003")
            .check(|r| {
                assert!(r.resource("mrs_iam_sync.g").is_some());
                assert!(r.resource("mrs_iam_sync.h").is_none());
            }),
            // The cluster of g disappears: the refresh drops g, so the plan creates it again.
            Step::plan_only(config(&sync("g", "c1", &["bob"], &[])))
                .setup(|env| env.sim().fault(json!({"method": "GET", "path_contains": "iam-sync-user", "count": 1, "kind": "status", "status": 400, "error_code": "12000003", "error_msg": "The cluster does not exist"})))
                .expect_non_empty_plan()
                .check(|r| assert!(r.out.stdout.contains("will be created"), "{}", r.out.stdout)),
        ],
    );
}

#[test]
fn full_sync_syncs_the_directory_and_destroy_cancels_everything() {
    let sim = Sim::start(&["--sync-delay-ms", "50"]);
    let tf = sim.workdir();
    steps::run(
        &tf,
        &sim,
        vec![
            Step::apply(config(
                "resource \"mrs_iam_sync\" \"all\" {\n  cluster_id  = \"c1\"\n  is_all_sync = true\n}\n",
            ))
            .check(|r| {
                let writes = r.writes();
                assert_eq!(writes.len(), 1, "{writes:?}");
                assert_eq!(writes[0].1["is_all_sync"], true);
                assert_eq!(
                    r.sim().names("c1"),
                    (
                        v(&["alice", "bob", "carol", "dave", "erin"]),
                        v(&["admins", "analysts", "dev", "ops"])
                    )
                );
                let all = r.attrs("mrs_iam_sync.all");
                assert!(all["user_names"].is_null() && all["group_names"].is_null());
            }),
            // Switching to a name list is an in-place update (issue 14): it cancels
            // nothing, and from then on the resource manages only the listed names.
            Step::plan_only(config(&sync("all", "c1", &["bob"], &[])))
                .expect_non_empty_plan()
                .check(|r| {
                    assert!(r.out.stdout.contains("update in-place"), "{}", r.out.stdout);
                    assert!(!r.out.stdout.contains("must be replaced"), "{}", r.out.stdout);
                }),
            Step::destroy().check(|r| assert_eq!(r.sim().names("c1"), (v(&[]), v(&[])))),
        ],
    );
}

#[test]
fn a_full_sync_mrs_refused_is_asked_for_again_by_the_next_apply() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    let all =
        "resource \"mrs_iam_sync\" \"x\" {\n  cluster_id  = \"c1\"\n  is_all_sync = true\n}\n";
    steps::run(
        &tf,
        &sim,
        vec![
            Step::apply(config(&sync("x", "c1", &["alice"], &[]))),
            // MRS refuses the full sync: the state keeps the object as it was.
            Step::apply(config(all))
                .setup(|env| {
                    env.sim().fault(json!({
                        "method": "POST", "kind": "status", "status": 400,
                        "error_code": "MRS.0001", "error_msg": "refused for the test"
                    }))
                })
                .expect_error("refused for the test")
                .check(|r| {
                    let x = r.attrs("mrs_iam_sync.x");
                    assert_eq!(x["is_all_sync"], false, "{x}");
                    assert_eq!(sorted_strings(&x["user_names"]), v(&["alice"]));
                }),
            // So the next apply asks for it again.
            Step::reapply().check(|r| {
                let writes = r.writes();
                assert_eq!(writes.len(), 1, "{writes:?}");
                assert_eq!(writes[0].1["is_all_sync"], true);
            }),
        ],
    );
}
