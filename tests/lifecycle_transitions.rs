//! The corners of Terraform's lifecycle, through the real Terraform, the real provider and
//! mrs-sim: a `create_before_destroy` replacement of an unchanged resource (`-replace`,
//! `taint`), Ctrl-C after the POST of a create, a create that outlasts its timeout, the
//! hand-over of names adopted at import, one warning for many released names, the import
//! of a cluster with nothing synced, and Terraform killed with SIGKILL. Each ends with the
//! state saying what the cluster holds and the next apply cancelling nothing declared.

mod common;

use common::sim::deletes_since;
use common::terraform::v;
use common::terraform::words;

use std::time::{Duration, Instant};

use common::procs::Proc;
use common::sim::Sim;
use common::steps::{self, Step};
use common::terraform::{sorted_strings, TfWorkdir, MRS_HEADER};
use serde_json::{json, Value};

const ADDR: &str = "mrs_iam_sync.x";

/// `mrs_iam_sync.x` on cluster c1 listing `users`, with extra lines inside the block.
fn config(users: &[&str], extra: &str) -> String {
    format!(
        "{MRS_HEADER}\nresource \"mrs_iam_sync\" \"x\" {{\n  cluster_id = \"c1\"\n  user_names = {}\n{extra}}}\n",
        json!(users)
    )
}

const CBD: &str = "  lifecycle {\n    create_before_destroy = true\n  }\n";

fn state_users(tf: &TfWorkdir) -> Vec<String> {
    let state = tf.state_json();
    common::terraform::state_resource(&state, ADDR)
        .map(|r| sorted_strings(&r["values"]["user_names"]))
        .unwrap_or_default()
}

#[test]
fn replacing_an_unchanged_create_before_destroy_resource_cancels_nothing() {
    let sim = Sim::start(&["--sync-delay-ms", "150"]);
    let tf = sim.workdir();
    let cfg = config(&["alice", "bob"], CBD);
    let kept = |r: &steps::StepResult<'_>| {
        assert!(r.text().contains("replaced"), "{}", r.text());
        let writes = r.writes();
        assert!(
            writes.iter().all(|(m, _)| m != "DELETE"),
            "the deposed object cancelled: {writes:?}"
        );
        assert_eq!(r.sim().names("c1").0, v(&["alice", "bob"]));
        assert_eq!(
            sorted_strings(&r.attrs(ADDR)["user_names"]),
            v(&["alice", "bob"])
        );
    };
    steps::run(
        &tf,
        &sim,
        vec![
            Step::apply(cfg.clone()),
            // The new object's values are the old one's: only their IDs differ.
            Step::apply(cfg.clone())
                .args(&[&format!("-replace={ADDR}")])
                .check(kept),
            Step::apply(cfg.clone())
                .setup(|env| {
                    env.tf.ok(&["taint", ADDR]);
                })
                .check(kept),
            Step::destroy().check(|r| assert!(r.sim().names("c1").0.is_empty())),
        ],
    );
}

#[test]
fn ctrl_c_after_the_post_of_a_create_records_the_names_and_the_next_apply_cancels_nothing() {
    let sim = Sim::start(&["--sync-delay-ms", "4000"]);
    let tf = sim.workdir();
    tf.write_main_tf(&config(&["alice", "bob"], ""));
    let child = tf.spawn(&["apply", "-auto-approve"]);
    sim.wait_for_request("POST", Duration::from_secs(60));
    child.signal("INT");
    let out = child.wait(Duration::from_secs(60));
    let text = words(&out.combined());
    assert!(text.contains("Interrupt received"), "{text}");
    assert!(
        text.contains("The sync goes on in MRS cluster \"c1\""),
        "{text}"
    );
    // MRS accepted the POST: the state lists both names (pending), not tainted.
    assert_eq!(state_users(&tf), v(&["alice", "bob"]), "{text}");
    assert!(!tf.state_json().to_string().contains("tainted"));

    sim.wait_until_idle(Duration::from_secs(30));
    assert_eq!(sim.names("c1").0, v(&["alice", "bob"]));
    let before = sim.request_count();
    let apply = tf.ok(&["apply", "-auto-approve"]);
    assert!(apply.stdout.contains("No changes."), "{}", apply.stdout);
    assert!(
        sim.writes_since(before).is_empty(),
        "{:?}",
        sim.writes_since(before)
    );
    assert_eq!(tf.plan_exit_code(), 0);
}

#[test]
fn a_create_that_outlasts_its_timeout_is_not_replaced_by_the_next_apply() {
    let sim = Sim::start(&["--sync-delay-ms", "6000"]);
    let tf = sim.workdir();
    let cfg = config(
        &["alice", "bob"],
        "  timeouts {\n    create = \"2s\"\n  }\n",
    );
    tf.write_main_tf(&cfg);
    let first = tf.ok(&["apply", "-auto-approve"]);
    let text = words(&first.combined());
    assert!(
        text.contains("The sync goes on in MRS cluster \"c1\""),
        "{text}"
    );
    assert!(text.contains("when the 2s timeout ran out"), "{text}");
    assert_eq!(state_users(&tf), v(&["alice", "bob"]));

    sim.wait_until_idle(Duration::from_secs(30));
    let before = sim.request_count();
    let apply = tf.ok(&["apply", "-auto-approve"]);
    assert!(apply.stdout.contains("No changes."), "{}", apply.stdout);
    assert!(deletes_since(&sim, before).is_empty());
    assert!(sim.writes_since(before).is_empty());
    assert_eq!(sim.names("c1").0, v(&["alice", "bob"]));
    assert_eq!(tf.plan_exit_code(), 0);
}

#[test]
fn names_listed_at_import_are_handed_over_and_a_removed_one_is_cancelled() {
    let sim = Sim::start(&[]);
    sim.set_names("c1", &["alice", "bob"], &[]);
    let tf = sim.workdir();
    steps::run(
        &tf,
        &sim,
        vec![
            // The configuration lists exactly what is synced. The plan after the import
            // is the hand-over, in place, and the apply sends nothing.
            Step::apply(config(&["alice", "bob"], ""))
                .setup(|env| {
                    env.tf.ok(&["import", ADDR, "c1"]);
                })
                .pre_apply_plan(|plan| {
                    assert_eq!(plan.code(), 2);
                    let text = plan.combined();
                    assert!(
                        words(&text).contains("2 adopted names handed over on MRS cluster \"c1\""),
                        "{text}"
                    );
                    assert!(
                        text.contains("0 to add, 1 to change, 0 to destroy"),
                        "{text}"
                    );
                    assert!(!text.contains("released, not cancelled"), "{text}");
                })
                .check(|r| {
                    assert!(r.writes().is_empty(), "{:?}", r.writes());
                    // The change that carried the hand-over: the import left it unset.
                    assert_eq!(r.attrs(ADDR)["is_all_sync"], json!(false));
                }),
            // From then on a removed name is revoked.
            Step::apply(config(&["alice"], "")).check(|r| {
                let writes = r.writes();
                assert_eq!(writes.len(), 1, "{writes:?}");
                assert_eq!(writes[0].0, "DELETE");
                assert_eq!(sorted_strings(&writes[0].1["user_names"]), v(&["bob"]));
                assert_eq!(r.sim().names("c1").0, v(&["alice"]));
            }),
        ],
    );
}

#[test]
fn thirty_adopted_users_of_which_one_is_kept_release_with_one_warning() {
    let sim = Sim::start(&[]);
    let all: Vec<String> = (10..40).map(|i| format!("user{i}")).collect();
    let all_refs: Vec<&str> = all.iter().map(String::as_str).collect();
    sim.set_names("c1", &all_refs, &[]);
    let tf = sim.workdir();
    steps::run(
        &tf,
        &sim,
        vec![Step::apply(config(&["user10"], ""))
            .setup(|env| {
                env.tf.ok(&["import", ADDR, "c1"]);
            })
            .pre_apply_plan(|plan| {
                let text = words(&plan.combined());
                assert_eq!(text.matches("released, not cancelled").count(), 1, "{text}");
                assert!(
                    text.contains(
                        "29 adopted names released, not cancelled, on MRS cluster \"c1\""
                    ),
                    "{text}"
                );
                assert!(text.contains("(and 19 more)"), "{text}");
            })
            .check(|r| {
                assert!(r.writes().is_empty(), "{:?}", r.writes());
                assert_eq!(r.sim().names("c1").0.len(), 30);
                assert_eq!(sorted_strings(&r.attrs(ADDR)["user_names"]), v(&["user10"]));
            })],
    );
}

#[test]
fn importing_a_cluster_with_nothing_synced_fails_and_writes_nothing() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    tf.write_main_tf(&config(&["alice"], ""));
    let before = sim.request_count();
    let out = tf.fail(&["import", ADDR, "c1"]);
    let text = words(&out.combined());
    assert!(
        text.contains("Cannot import non-existent remote object"),
        "{text}"
    );
    assert!(
        text.contains("No IAM user or group is synced to MRS cluster \"c1\""),
        "{text}"
    );
    assert!(text.contains("declare an mrs_iam_sync resource"), "{text}");
    assert!(sim.writes_since(before).is_empty());
    assert!(common::terraform::state_resource(&tf.state_json(), ADDR).is_none());
}

/// The provider processes whose parent is `parent` or a child of it (Terraform 1.0.3
/// runs under panicwrap, so its providers are grandchildren of the pid started).
fn providers_under(parent: u32) -> Vec<Proc> {
    Proc::all()
        .into_iter()
        .filter(|p| p.is_provider())
        .filter(|p| p.ppid == parent || Proc::of(p.ppid).is_some_and(|pp| pp.ppid == parent))
        .collect()
}

#[test]
fn a_provider_whose_terraform_is_killed_exits_within_a_second() {
    let sim = Sim::start(&["--sync-delay-ms", "60000"]);
    let tf = sim.workdir();
    tf.write_main_tf(&config(&["alice"], ""));
    let child = tf.spawn(&["apply", "-auto-approve"]);
    sim.wait_for_request("POST", Duration::from_secs(60));
    let providers = providers_under(child.id());
    assert_eq!(
        providers.len(),
        1,
        "one provider under terraform: {providers:?}"
    );
    let provider = providers[0].pid;
    // Kill Terraform (its panicwrap parent on 1.0.3 too), not its process group: the
    // provider must notice on its own.
    for pid in [providers[0].ppid, child.id()] {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    let killed = Instant::now();
    while Proc::alive(provider) && killed.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = killed.elapsed();
    assert!(
        !Proc::alive(provider),
        "the provider outlived Terraform by {took:?}"
    );
    assert!(
        took < Duration::from_secs(1),
        "the provider took {took:?} to exit"
    );
    // Nothing new reached MRS after Terraform was gone (polls end with the process).
    let after = sim.request_count();
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        sim.request_count(),
        after,
        "requests after the provider exited"
    );
    drop(child);
}

#[test]
fn an_import_block_applied_as_generated_hands_over_and_a_removed_name_is_cancelled() {
    if !common::terraform::requires(1, 5, "the import block with -generate-config-out") {
        return;
    }
    let sim = Sim::start(&[]);
    sim.set_names("c1", &["alice", "bob"], &[]);
    let tf = sim.workdir();
    tf.write_main_tf(&format!(
        "{MRS_HEADER}\nimport {{\n  to = {ADDR}\n  id = \"{}/c1\"\n}}\n",
        common::sim::PROJECT
    ));
    let plan = tf.run(&["plan", "-generate-config-out=generated.tf"]);
    assert!(
        plan.status.success(),
        "{}",
        plan.describe("plan -generate-config-out")
    );
    // The import and the hand-over in one apply, the generated file as it is: no write.
    let before = sim.request_count();
    let apply = tf.ok(&["apply", "-auto-approve"]);
    let text = words(&apply.combined());
    assert!(
        text.contains("1 imported, 0 added, 1 changed, 0 destroyed"),
        "{text}"
    );
    assert!(
        sim.writes_since(before).is_empty(),
        "{:?}",
        sim.writes_since(before)
    );
    assert_eq!(tf.plan_exit_code(), 0);
    // Then a name removed from the generated configuration is cancelled.
    let generated = std::fs::read_to_string(tf.path().join("generated.tf"))
        .unwrap_or_else(|e| panic!("no generated.tf: {e}"));
    let without_bob = generated.replace("\"bob\"", "");
    assert_ne!(generated, without_bob, "{generated}");
    std::fs::write(tf.path().join("generated.tf"), without_bob)
        .unwrap_or_else(|e| panic!("writing generated.tf: {e}"));
    let before = sim.request_count();
    tf.ok(&["apply", "-auto-approve"]);
    let deletes = deletes_since(&sim, before);
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(sorted_strings(&deletes[0]["user_names"]), v(&["bob"]));
    assert_eq!(sim.names("c1").0, v(&["alice"]));
    assert_eq!(tf.plan_exit_code(), 0);
}

#[test]
fn a_state_without_project_id_fails_refresh_and_destroy_and_the_cluster_keeps_its_names() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    tf.write_main_tf(&config(&["alice"], ""));
    tf.ok(&["apply", "-auto-approve"]);
    // The state edited by hand: project_id removed, the serial raised for `state push`.
    let pulled = tf.ok(&["state", "pull"]);
    let mut state: Value = serde_json::from_str(&pulled.stdout)
        .unwrap_or_else(|e| panic!("state pull is JSON: {e}\n{}", pulled.stdout));
    state["serial"] = json!(state["serial"].as_u64().unwrap_or(0) + 1);
    for r in state["resources"].as_array_mut().into_iter().flatten() {
        for i in r["instances"].as_array_mut().into_iter().flatten() {
            if let Some(attrs) = i["attributes"].as_object_mut() {
                attrs.remove("project_id");
            }
        }
    }
    tf.write_file("edited.tfstate", &state.to_string());
    tf.ok(&["state", "push", "edited.tfstate"]);
    let before = sim.request_count();
    for args in [
        &["destroy", "-auto-approve"][..],
        &["destroy", "-auto-approve", "-refresh=false"][..],
    ] {
        let out = tf.fail(args);
        let text = words(&out.combined());
        assert!(text.contains("The state has no project_id"), "{text}");
        assert!(text.contains("terraform state rm"), "{text}");
        assert!(!text.contains("Destroy complete"), "{text}");
    }
    assert!(
        sim.writes_since(before).is_empty(),
        "{:?}",
        sim.writes_since(before)
    );
    assert_eq!(sim.names("c1").0, v(&["alice"]));
    assert!(common::terraform::state_resource(&tf.state_json(), ADDR).is_some());
}
