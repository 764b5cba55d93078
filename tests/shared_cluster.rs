//! Many `mrs_iam_sync` resources, and other Terraform runs, on one cluster, through real
//! Terraform 1.0.3, the real provider and mrs-sim: a name moved between resources, a
//! `create_before_destroy` replacement, the overlap warning, ten resources sent as one
//! POST, and two runs whose writes mrs-sim refuses while the other's sync runs. Each step
//! ends with every state equal to what the cluster holds (the runner adds an empty plan).

mod common;

use common::terraform::v;

use std::cell::RefCell;
use std::time::Duration;

use common::sim::{Sim, PROJECT};
use common::steps::{self, Step, StepResult};
use common::terraform::{sorted_strings, TfChild, MRS_HEADER};
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

fn users_of(body: &Value) -> Vec<String> {
    sorted_strings(&body["user_names"])
}

/// Every resource's state lists only users the cluster holds, and together they list
/// `managed`, each of which the cluster holds.
fn states_match_cluster(r: &StepResult<'_>, cluster: &str, addresses: &[&str], managed: &[&str]) {
    let (synced, _) = r.sim().names(cluster);
    let mut in_state: Vec<String> = Vec::new();
    for a in addresses {
        for u in users_of(r.attrs(a)) {
            assert!(
                synced.contains(&u),
                "{a} lists {u}, the cluster holds {synced:?}"
            );
            in_state.push(u);
        }
    }
    in_state.sort();
    in_state.dedup();
    assert_eq!(in_state, v(managed), "the states together");
    for u in managed {
        assert!(synced.iter().any(|s| s == u), "{u} not synced: {synced:?}");
    }
}

#[test]
fn a_name_moved_between_resources_stays_synced() {
    let sim = Sim::start(&["--sync-delay-ms", "150"]);
    let tf = sim.workdir();
    let before = sync("a", "c1", &["alice", "bob"], &[]) + &sync("b", "c1", &["carol"], &[]);
    let after = sync("a", "c1", &["alice"], &[]) + &sync("b", "c1", &["bob", "carol"], &[]);
    steps::run(
        &tf,
        &sim,
        vec![
            Step::apply(config(&before)).check(|r| {
                states_match_cluster(
                    r,
                    "c1",
                    &["mrs_iam_sync.a", "mrs_iam_sync.b"],
                    &["alice", "bob", "carol"],
                );
            }),
            // bob leaves a and joins b in one apply: b sends bob although the cluster
            // lists it, and a's cancel of bob is dropped because b declares it.
            Step::apply(config(&after)).check(|r| {
                let writes = r.writes();
                assert!(
                    writes.iter().all(|(m, _)| m == "POST"),
                    "nothing is cancelled: {writes:?}"
                );
                assert!(
                    writes
                        .iter()
                        .any(|(_, b)| users_of(b).contains(&"bob".to_string())),
                    "b sends bob: {writes:?}"
                );
                assert_eq!(users_of(r.attrs("mrs_iam_sync.a")), v(&["alice"]));
                assert_eq!(users_of(r.attrs("mrs_iam_sync.b")), v(&["bob", "carol"]));
                states_match_cluster(
                    r,
                    "c1",
                    &["mrs_iam_sync.a", "mrs_iam_sync.b"],
                    &["alice", "bob", "carol"],
                );
                assert_eq!(r.sim().counter("overlapping_requests"), 0);
            }),
            Step::destroy().check(|r| assert!(r.sim().names("c1").0.is_empty())),
        ],
    );
}

#[test]
fn create_before_destroy_replacement_keeps_the_names_synced() {
    let sim = Sim::start(&["--sync-delay-ms", "150"]);
    let tf = sim.workdir();
    let body = sync("x", "c1", &["alice", "bob"], &["ops"]).replace(
        "\n}\n",
        "\n  lifecycle {\n    create_before_destroy = true\n  }\n}\n",
    );
    steps::run(
        &tf,
        &sim,
        vec![
            // One resource alone is no overlap, at plan or apply.
            Step::apply(config(&body))
                .check(|r| assert!(!r.text().contains("more than one"), "{}", r.text())),
            // The new instance sends its names although they are synced; the old
            // instance's destroy then cancels none of them, because the new one declares
            // them.
            // A new region (same endpoint and project, so the same cluster) forces a
            // replacement.
            Step::apply(config(&body.replace(
                "cluster_id  = \"c1\"",
                &format!("cluster_id  = \"c1\"\n  region      = \"cn-north-1\"\n  project_id  = \"{PROJECT}\""),
            )))
            .check(|r| {
                assert!(r.text().contains("replaced"), "{}", r.text());
                assert!(!r.text().contains("more than one"), "{}", r.text());
                let writes = r.writes();
                assert!(
                    writes.iter().all(|(m, _)| m == "POST"),
                    "nothing is cancelled: {writes:?}"
                );
                assert_eq!(writes.len(), 1, "{writes:?}");
                assert_eq!(users_of(&writes[0].1), v(&["alice", "bob"]));
                assert_eq!(users_of(r.attrs("mrs_iam_sync.x")), v(&["alice", "bob"]));
                assert_eq!(
                    sorted_strings(&r.attrs("mrs_iam_sync.x")["group_names"]),
                    v(&["ops"])
                );
                states_match_cluster(r, "c1", &["mrs_iam_sync.x"], &["alice", "bob"]);
                assert!(r.sim().names("c1").1.contains(&"ops".to_string()));
            }),
            // alice's groups were synced with her and stay: only ops was ours.
            Step::destroy()
                .check(|r| assert_eq!(r.sim().names("c1"), (v(&[]), v(&["admins", "dev"])))),
        ],
    );
}

#[test]
fn two_resources_declaring_a_name_on_one_cluster_warn() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    let body = sync("a", "c1", &["alice", "bob"], &[]) + &sync("b", "c1", &["bob", "carol"], &[]);
    let separate =
        sync("a", "c1", &["alice", "bob"], &[]) + &sync("b", "c2", &["bob", "carol"], &[]);
    steps::run(
        &tf,
        &sim,
        vec![
            // Planned alone, a second resource on another cluster is no overlap.
            Step::plan_only(config(&separate))
                .expect_non_empty_plan()
                .check(|r| assert!(!r.text().contains("more than one"), "{}", r.text())),
            Step::apply(config(&body)).check(|r| {
                // Terraform wraps the detail; compare with single spaces.
                let text = r.text().split_whitespace().collect::<Vec<_>>().join(" ");
                assert!(
                    text.contains(
                        "Names declared by more than one mrs_iam_sync on MRS cluster \"c1\""
                    ),
                    "{text}"
                );
                assert!(text.contains("users \"bob\""), "{text}");
                assert!(
                    !text.contains("declares users \"alice"),
                    "only the shared name: {text}"
                );
                assert!(text.contains("one resource per cluster"), "{text}");
                states_match_cluster(
                    r,
                    "c1",
                    &["mrs_iam_sync.a", "mrs_iam_sync.b"],
                    &["alice", "bob", "carol"],
                );
            }),
            Step::destroy().check(|r| assert!(r.sim().names("c1").0.is_empty())),
        ],
    );
}

#[test]
fn ten_resources_on_one_cluster_go_out_as_one_post() {
    let sim = Sim::start(&["--sync-delay-ms", "300"]);
    let tf = sim.workdir();
    // The directory's five users and four groups: ten resources, one name or two each.
    let decl: [(&str, &[&str], &[&str]); 10] = [
        ("r0", &["alice"], &[]),
        ("r1", &["bob"], &[]),
        ("r2", &["carol"], &[]),
        ("r3", &["dave"], &[]),
        ("r4", &["erin"], &[]),
        ("r5", &[], &["admins"]),
        ("r6", &[], &["dev"]),
        ("r7", &[], &["ops"]),
        ("r8", &[], &["analysts"]),
        ("r9", &[], &["ops", "analysts"]),
    ];
    let body: String = decl.iter().map(|(n, u, g)| sync(n, "one", u, g)).collect();
    let addresses: Vec<String> = decl
        .iter()
        .map(|(n, _, _)| format!("mrs_iam_sync.{n}"))
        .collect();
    let addresses: Vec<&str> = addresses.iter().map(String::as_str).collect();
    let users = ["alice", "bob", "carol", "dave", "erin"];
    steps::run(
        &tf,
        &sim,
        vec![
            Step::apply(config(&body))
                .args(&["-parallelism=10"])
                .check(|r| {
                    let writes = r.writes();
                    assert_eq!(writes.len(), 1, "one POST for ten resources: {writes:?}");
                    assert_eq!(writes[0].0, "POST");
                    assert_eq!(users_of(&writes[0].1), v(&users));
                    assert_eq!(
                        sorted_strings(&writes[0].1["group_names"]),
                        v(&["admins", "analysts", "dev", "ops"])
                    );
                    states_match_cluster(r, "one", &addresses, &users);
                    assert_eq!(r.sim().counter("overlapping_requests"), 0);
                }),
            Step::destroy().args(&["-parallelism=10"]).check(|r| {
                let writes = r.writes();
                assert_eq!(writes.len(), 1, "one DELETE for ten resources: {writes:?}");
                assert_eq!(writes[0].0, "DELETE");
                assert_eq!(r.sim().names("one"), (v(&[]), v(&[])));
            }),
        ],
    );
}

#[test]
fn two_terraform_runs_on_one_cluster_take_turns() {
    // Long syncs, so this run reaches the cluster while the other run's sync runs, and
    // mrs-sim refuses any write until it ends.
    let sim = Sim::start(&["--sync-delay-ms", "4000"]);
    let tf = sim.workdir();
    let other = sim.workdir();
    other.write_main_tf(&config(&sync("theirs", "shared", &["dave"], &[])));
    let running: RefCell<Option<TfChild>> = RefCell::new(None);
    steps::run(
        &tf,
        &sim,
        vec![
            Step::apply(config(&sync("ours", "shared", &["alice"], &[])))
                .setup(|env| {
                    // Another Terraform run starts syncing the same cluster...
                    *running.borrow_mut() = Some(other.spawn(&["apply", "-auto-approve"]));
                    // ...and this run starts once that sync is running.
                    while !env.sim().state()["clusters"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|c| c["cluster_id"] == "shared" && c["is_synchronizing"] == true)
                    {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                })
                .check(|r| {
                    let theirs = running
                        .borrow_mut()
                        .take()
                        .expect("the other run was started")
                        .wait(Duration::from_secs(120));
                    assert_eq!(theirs.code(), 0, "{}", theirs.combined());
                    // Every write either went through or was refused and sent again: ours
                    // is accepted exactly once, and mrs-sim never ran two syncs at once.
                    let posts: Vec<_> = r
                        .requests()
                        .into_iter()
                        .filter(|q| q["method"] == "POST" && users_of(&q["body"]) == v(&["alice"]))
                        .collect();
                    let accepted = posts.iter().filter(|q| q["status"] == 202).count();
                    assert_eq!(accepted, 1, "ours was accepted once: {posts:?}");
                    assert!(
                        posts
                            .iter()
                            .all(|q| q["status"] == 202 || q["status"] == 409),
                        "{posts:?}"
                    );
                    assert_eq!(users_of(r.attrs("mrs_iam_sync.ours")), v(&["alice"]));
                    let state = other.state_json();
                    let theirs = common::terraform::state_resource(&state, "mrs_iam_sync.theirs")
                        .expect("the other run's state has its resource");
                    assert_eq!(users_of(&theirs["values"]), v(&["dave"]));
                    assert_eq!(r.sim().names("shared").0, v(&["alice", "dave"]));
                    assert_eq!(
                        other.plan_exit_code(),
                        0,
                        "the other run's plan is empty too"
                    );
                }),
        ],
    );
}
