//! Fault scenarios with real Terraform 1.0.3, the real provider and `mrs-sim`: throttling
//! and server-error bursts, dropped connections, answers slower than the request timeout,
//! malformed success bodies, a sync that never ends, failed cancellations, and Ctrl-C in
//! the middle of an apply. After each, the state must say what the cluster really holds
//! and a plan must show exactly what is left to do.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::sim::Sim;
use common::steps::{self, Step};
use common::terraform::{sorted_strings, state_resource, TfWorkdir, MRS_HEADER};
use serde_json::{json, Value};

const ADDR: &str = "mrs_iam_sync.r";

/// `mrs_iam_sync.r` on `cluster` with the given names and an optional `timeouts` body.
fn config(cluster: &str, users: &[&str], groups: &[&str], timeouts: &str) -> String {
    let timeouts = if timeouts.is_empty() {
        String::new()
    } else {
        format!("  timeouts {{\n    {timeouts}\n  }}\n")
    };
    format!(
        "{MRS_HEADER}\nresource \"mrs_iam_sync\" \"r\" {{\n  cluster_id  = \"{cluster}\"\n  user_names  = {}\n  group_names = {}\n{timeouts}}}\n",
        json!(users),
        json!(groups)
    )
}

fn set_of(v: &Value) -> BTreeSet<String> {
    sorted_strings(v).into_iter().collect()
}

fn set(s: &[&str]) -> BTreeSet<String> {
    s.iter().map(|x| x.to_string()).collect()
}

/// The (users, groups) the state records for `mrs_iam_sync.r`, or None when it is absent.
fn state_names(tf: &TfWorkdir) -> Option<(BTreeSet<String>, BTreeSet<String>)> {
    let st = tf.state_json();
    state_resource(&st, ADDR).map(|r| {
        (
            set_of(&r["values"]["user_names"]),
            set_of(&r["values"]["group_names"]),
        )
    })
}

fn remote(sim: &Sim, cluster: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let (u, g) = sim.names(cluster);
    (u.into_iter().collect(), g.into_iter().collect())
}

/// What must hold after any apply, failed or not, once the faults are gone: nothing
/// lost, then a plan that shows the truth, then convergence.
fn assert_truth_and_converge(
    tf: &TfWorkdir,
    sim: &Sim,
    cluster: &str,
    users: &[&str],
    groups: &[&str],
) {
    assert_nothing_lost(tf, sim, cluster, users, groups);
    assert_plan_shows_truth_then_converge(tf, sim, cluster, users, groups);
}

/// Every configured name the cluster holds is in the state; when the resource is not in
/// the state at all (a failed create), the cluster holds none of them.
fn assert_nothing_lost(tf: &TfWorkdir, sim: &Sim, cluster: &str, users: &[&str], groups: &[&str]) {
    let (ru, rg) = remote(sim, cluster);
    let held_u: BTreeSet<String> = set(users).intersection(&ru).cloned().collect();
    let held_g: BTreeSet<String> = set(groups).intersection(&rg).cloned().collect();
    match state_names(tf) {
        Some((su, sg)) => assert!(
            held_u.is_subset(&su) && held_g.is_subset(&sg),
            "synced names missing from state: state {su:?} {sg:?}, cluster {ru:?} {rg:?}"
        ),
        None => assert!(
            held_u.is_empty() && held_g.is_empty(),
            "no state, yet the cluster holds {held_u:?} {held_g:?}"
        ),
    }
}

/// A plan (which refreshes the state to what the cluster holds) shows changes exactly
/// when the refreshed names differ from the configuration, naming each name to add; one
/// clean apply then converges and the next plan is empty.
fn assert_plan_shows_truth_then_converge(
    tf: &TfWorkdir,
    sim: &Sim,
    cluster: &str,
    users: &[&str],
    groups: &[&str],
) {
    let (want_u, want_g) = (set(users), set(groups));
    let (ru, rg) = remote(sim, cluster);
    let recorded = state_names(tf);
    let st = tf.state_json();
    // A failed create that may have synced something is kept, tainted: it is replaced.
    let tainted = state_resource(&st, ADDR).is_some_and(|r| r["tainted"] == true);
    let (su, sg) = recorded.clone().unwrap_or_default();
    let refreshed_u: BTreeSet<String> = su.intersection(&ru).cloned().collect();
    let refreshed_g: BTreeSet<String> = sg.intersection(&rg).cloned().collect();
    let converged =
        recorded.is_some() && !tainted && refreshed_u == want_u && refreshed_g == want_g;
    let plan = tf.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(
        plan.code(),
        if converged { 0 } else { 2 },
        "plan disagrees with the cluster ({ru:?} {rg:?}) and state {recorded:?}:\n{}",
        plan.combined()
    );
    for n in want_u
        .difference(&refreshed_u)
        .chain(want_g.difference(&refreshed_g))
    {
        assert!(
            plan.stdout.contains(&format!("\"{n}\"")),
            "plan does not mention {n}:\n{}",
            plan.stdout
        );
    }
    tf.ok(&["apply", "-auto-approve"]);
    let (ru, rg) = remote(sim, cluster);
    assert!(
        want_u.is_subset(&ru) && want_g.is_subset(&rg),
        "{ru:?} {rg:?}"
    );
    assert_eq!(tf.plan_exit_code(), 0);
    assert_eq!(sim.counter("overlapping_requests"), 0);
}

/// Statuses the sim answered to `method` requests on paths containing `path`, in order
/// (None for a dropped connection).
fn statuses(sim: &Sim, method: &str, path: &str) -> Vec<Option<u64>> {
    sim.requests()
        .iter()
        .filter(|r| r["method"] == method && r["path"].as_str().is_some_and(|p| p.ends_with(path)))
        .map(|r| r["status"].as_u64())
        .collect()
}

#[test]
fn bursts_of_429_and_5xx_on_every_call_are_retried() {
    let sim = Sim::start(&["--sync-delay-ms", "100"]);
    let tf = sim.workdir();
    steps::run(
        &tf,
        &sim,
        vec![
            // Status polls, the names read, the POST and (in the update) the DELETE each
            // get a burst shorter than the 5 retries.
            Step::apply(config("c1", &["bob", "carol"], &["ops"], ""))
                .setup(|env| {
                    let sim = env.sim();
                    sim.fault(json!({"method": "GET", "path_contains": "iam-sync", "count": 2, "kind": "status", "status": 503, "error_code": "MRS.5030", "error_msg": "busy"}));
                    sim.fault(json!({"method": "POST", "count": 3, "kind": "status", "status": 429, "error_code": "APIGW.0308", "error_msg": "throttled"}));
                    sim.fault(json!({"method": "POST", "count": 1, "kind": "status", "status": 502, "error_code": "APIGW.0502", "error_msg": "bad gateway"}));
                })
                .check(|r| {
                    assert_eq!(
                        statuses(r.sim(), "POST", "iam-sync-user"),
                        vec![Some(429), Some(429), Some(429), Some(502), Some(202)]
                    );
                    assert_eq!(
                        state_names(r.tf),
                        Some((set(&["bob", "carol"]), set(&["ops"])))
                    );
                }),
            Step::apply(config("c1", &["carol"], &["ops"], ""))
                .setup(|env| {
                    let sim = env.sim();
                    sim.fault(json!({"method": "DELETE", "count": 2, "kind": "status", "status": 504, "error_code": "APIGW.0504", "error_msg": "timeout"}));
                    sim.fault(json!({"method": "DELETE", "count": 1, "kind": "status", "status": 429, "error_code": "APIGW.0308", "error_msg": "throttled", "retry_after": 1}));
                    sim.fault(json!({"method": "GET", "path_contains": "iam-sync-user", "count": 3, "kind": "status", "status": 500, "error_code": "MRS.0500", "error_msg": "internal"}));
                })
                .check(|r| {
                    assert!(
                        r.elapsed >= Duration::from_secs(1),
                        "Retry-After was not honoured"
                    );
                    assert_eq!(
                        statuses(r.sim(), "DELETE", "iam-sync-user"),
                        vec![Some(504), Some(504), Some(429), Some(202)]
                    );
                    assert_truth_and_converge(r.tf, r.sim(), "c1", &["carol"], &["ops"]);
                }),
        ],
    );
}

#[test]
fn reads_failing_after_a_successful_post_lose_nothing() {
    // The POST is accepted, then every GET fails past the retries: the provider cannot
    // see the result, so the state must keep what it may have synced.
    let sim = Sim::start(&["--sync-delay-ms", "1500"]);
    let tf = sim.workdir().env("HW_MAX_RETRIES", "1");
    tf.write_main_tf(&config("c1", &["bob"], &["ops"], ""));
    let child = tf.spawn(&["apply", "-auto-approve"]);
    sim.wait_for_request("POST", Duration::from_secs(60));
    sim.fault(json!({"method": "GET", "count": 1000, "kind": "status", "status": 503, "error_code": "MRS.5030", "error_msg": "busy"}));
    let out = child.wait(Duration::from_secs(60));
    assert_ne!(out.code(), 0, "{}", out.combined());
    assert!(out.combined().contains("MRS.5030"), "{}", out.combined());
    // Let the accepted sync finish, then check.
    std::thread::sleep(Duration::from_millis(1600));
    clear_faults(&sim, "c1");
    assert_eq!(remote(&sim, "c1").0, set(&["bob"]));
    assert_truth_and_converge(&tf, &sim, "c1", &["bob"], &["ops"]);
}

#[test]
fn dropped_connections_are_retried_and_outlasting_ones_fail_cleanly() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir().env("HW_MAX_RETRIES", "2");
    steps::run(
        &tf,
        &sim,
        vec![
            Step::apply(config("c1", &["bob"], &[], ""))
                .setup(|env| {
                    env.sim()
                        .fault(json!({"method": "POST", "count": 2, "kind": "drop"}));
                    env.sim()
                        .fault(json!({"method": "GET", "count": 1, "kind": "drop"}));
                })
                .check(|r| {
                    assert_eq!(
                        statuses(r.sim(), "POST", "iam-sync-user"),
                        vec![None, None, Some(202)]
                    );
                    assert_truth_and_converge(r.tf, r.sim(), "c1", &["bob"], &[]);
                }),
            // Every DELETE's connection drops: the update adds carol, cannot cancel bob.
            Step::apply(config("c1", &["carol"], &[], ""))
                .setup(|env| {
                    env.sim()
                        .fault(json!({"method": "DELETE", "count": 1000, "kind": "drop"}))
                })
                .expect_error("could not reach the MRS API")
                .check(|r| {
                    assert_eq!(statuses(r.sim(), "DELETE", "iam-sync-user").len(), 3);
                    assert_eq!(state_names(r.tf), Some((set(&["bob", "carol"]), set(&[]))));
                    clear_faults(r.sim(), "c1");
                    assert_truth_and_converge(r.tf, r.sim(), "c1", &["carol"], &[]);
                    assert_eq!(remote(r.sim(), "c1").0, set(&["carol"]));
                }),
            // A destroy whose DELETEs all drop keeps the resource and its names.
            Step::destroy()
                .setup(|env| {
                    env.sim()
                        .fault(json!({"method": "DELETE", "count": 1000, "kind": "drop"}))
                })
                .expect_error("could not reach the MRS API")
                .check(|r| {
                    assert_eq!(state_names(r.tf), Some((set(&["carol"]), set(&[]))));
                    clear_faults(r.sim(), "c1");
                    assert_eq!(r.tf.plan_exit_code(), 0);
                }),
            Step::destroy().check(|r| {
                assert!(remote(r.sim(), "c1").0.is_empty());
                assert_eq!(state_names(r.tf), None);
            }),
        ],
    );
}

#[test]
fn answers_slower_than_the_request_timeout_are_retried_then_fail() {
    let sim = Sim::start(&[]);
    let tf = sim
        .workdir()
        .env("TF_PROVIDER_MRS_REQUEST_TIMEOUT_MS", "400")
        .env("HW_MAX_RETRIES", "1");
    steps::run(
        &tf,
        &sim,
        vec![
            // One slow POST: the client gives up after 400 ms and the retry succeeds.
            Step::apply(config("c1", &["bob"], &[], ""))
                .setup(|env| {
                    env.sim().fault(
                        json!({"method": "POST", "count": 1, "kind": "latency", "latency_ms": 1500}),
                    )
                })
                .check(|r| {
                    let posts = statuses(r.sim(), "POST", "iam-sync-user");
                    // The sim abandons (and so never logs) the slow POST when the client
                    // hangs up.
                    assert_eq!(posts.last(), Some(&Some(202)), "{posts:?}");
                    assert_truth_and_converge(r.tf, r.sim(), "c1", &["bob"], &[]);
                }),
            // Every POST slow: a clear timeout error, and the state says what is synced.
            Step::apply(config("c1", &["bob", "dave"], &[], ""))
                .setup(|env| {
                    env.sim().fault(
                        json!({"method": "POST", "count": 1000, "kind": "latency", "latency_ms": 1500}),
                    )
                })
                .expect_error("request timed out")
                .check(|r| {
                    assert_nothing_lost(r.tf, r.sim(), "c1", &["bob", "dave"], &[]);
                    // A slow POST the server may still complete after the client gave up:
                    // wait it out, so the plan sees the settled cluster.
                    std::thread::sleep(Duration::from_millis(1600));
                    clear_faults(r.sim(), "c1");
                    assert_plan_shows_truth_then_converge(
                        r.tf,
                        r.sim(),
                        "c1",
                        &["bob", "dave"],
                        &[],
                    );
                }),
        ],
    );
}

#[test]
fn malformed_success_bodies_are_errors_and_state_stays_true() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    steps::run(
        &tf,
        &sim,
        vec![
            // A 202 whose body is not JSON: the call is reported, nothing is claimed.
            Step::apply(config("c1", &["bob"], &[], ""))
                .setup(|env| {
                    env.sim().fault(json!({"method": "POST", "count": 1, "kind": "malformed", "status": 202, "body": "{not json"}))
                })
                .expect_error("could not be read")
                .check(|r| assert_truth_and_converge(r.tf, r.sim(), "c1", &["bob"], &[])),
            // A 200 read whose body is truncated JSON: the plan fails, the state is
            // untouched.
            Step::plan_only(config("c1", &["bob"], &[], ""))
                .setup(|env| {
                    env.sim().fault(json!({"method": "GET", "path_contains": "iam-sync-user", "count": 1, "kind": "malformed", "status": 200, "body": "{\"user_names\": ["}))
                })
                .expect_error("could not be read")
                .check(|r| {
                    assert_eq!(r.out.code(), 1, "{}", r.text());
                    assert_eq!(state_names(r.tf), Some((set(&["bob"]), set(&[]))));
                }),
            // A status poll answering 200 with the wrong shape fails the update; bob
            // stays. (-refresh=false makes that poll the first GET, which the fault then
            // hits.)
            Step::apply(config("c1", &["bob", "erin"], &[], ""))
                .args(&["-refresh=false"])
                .setup(|env| {
                    env.sim().fault(json!({"method": "GET", "path_contains": "iam-sync", "count": 1, "kind": "malformed", "status": 200, "body": "{\"is_synchronizing\": \"maybe\"}"}))
                })
                .expect_error("could not be read")
                .check(|r| {
                    assert_truth_and_converge(r.tf, r.sim(), "c1", &["bob", "erin"], &[])
                }),
        ],
    );
}

#[test]
fn a_sync_that_never_finishes_is_bounded_by_the_create_timeout() {
    let sim = Sim::start(&["--sync-delay-ms", "600000"]);
    let tf = sim.workdir();
    steps::run(
        &tf,
        &sim,
        vec![
            Step::apply(config(
                "c1",
                &["bob"],
                &[],
                "create = \"2s\"\n    delete = \"2s\"",
            ))
            .check(|r| {
                // MRS accepted the POST: the create ends with a warning, not an error, so
                // Terraform taints nothing and replaces nothing next time.
                let text = r.text();
                let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
                assert!(
                    words.contains("The sync goes on in MRS cluster \"c1\""),
                    "{text}"
                );
                assert!(
                    words.contains("still synchronizing when the 2s timeout ran out"),
                    "{text}"
                );
                assert!(
                    words.contains("The state records them as pending"),
                    "{text}"
                );
                assert!(!words.contains("tainted"), "{text}");
                assert!(r.elapsed < Duration::from_secs(30), "took {:?}", r.elapsed);
                // The sync is accepted but not finished: nothing is synced yet, but bob
                // may sync, so the state records him, pending, and the plan is empty.
                assert!(r.sim().state()["clusters"][0]["is_synchronizing"] == true);
                assert!(remote(r.sim(), "c1").0.is_empty());
                assert_eq!(state_names(r.tf), Some((set(&["bob"]), set(&[]))));
            }),
            // Applying again while that sync runs has nothing to do and sends nothing.
            Step::reapply().check(|r| {
                assert!(r.writes().is_empty(), "no write during a running sync");
                assert!(r.text().contains("No changes."), "{}", r.text());
                assert_eq!(r.sim().counter("overlapping_requests"), 0);
            }),
        ],
    );
}

#[test]
fn ctrl_c_mid_apply_stops_the_provider_quickly_and_state_stays_true() {
    let sim = Sim::start(&["--sync-delay-ms", "600000"]);
    let tf = sim.workdir();
    // Seed the cluster with a managed name, so the interrupted apply is an update.
    tf.write_main_tf(&config("c1", &["bob"], &[], ""));
    sim.set_names("c1", &["bob"], &[]);
    tf.ok(&["import", ADDR, "c1"]);
    tf.write_main_tf(&config("c1", &["bob", "carol"], &[], ""));

    let child = tf.spawn(&["apply", "-auto-approve"]);
    sim.wait_for_request("POST", Duration::from_secs(60));
    let t0 = Instant::now();
    child.signal("INT");
    let out = child.wait(Duration::from_secs(60));
    let took = t0.elapsed();
    eprintln!("terraform exited {took:?} after SIGINT");
    assert!(
        took < Duration::from_secs(5),
        "terraform took {took:?} to stop"
    );
    assert_ne!(out.code(), 0, "{}", out.combined());
    let text = out.combined();
    assert!(text.contains("Interrupt received"), "{text}");
    assert!(text.contains("interrupted"), "{text}");
    // The POST was accepted and the sync runs on: only bob is synced yet, and the state
    // records carol as pending, so the plan during the sync is empty and sends nothing.
    assert_eq!(remote(&sim, "c1").0, set(&["bob"]));
    let (users, _) = state_names(&tf).unwrap_or_else(|| panic!("resource lost:\n{text}"));
    assert_eq!(users, set(&["bob", "carol"]), "{text}");
    let writes_before = sim.requests().len();
    let plan = tf.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(plan.code(), 0, "{}", plan.combined());
    assert!(
        plan.combined().contains("still pending"),
        "{}",
        plan.combined()
    );
    assert!(sim.requests()[writes_before..]
        .iter()
        .all(|r| r["method"] == "GET"));
    assert_eq!(sim.counter("overlapping_requests"), 0);
}

/// Drops the pending faults but keeps what `cluster` holds: the sim's only way to clear
/// faults (`/_sim/reset`) also forgets clusters, so their names are put back.
fn clear_faults(sim: &Sim, cluster: &str) {
    let (u, g) = sim.names(cluster);
    sim.reset();
    let u: Vec<&str> = u.iter().map(String::as_str).collect();
    let g: Vec<&str> = g.iter().map(String::as_str).collect();
    sim.set_names(cluster, &u, &g);
}
