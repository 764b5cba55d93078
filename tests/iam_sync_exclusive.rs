//! `mrs_iam_sync_exclusive` through real Terraform, the real provider binary and the real
//! `mrs-sim` (its IAM side answers which groups a user belongs to): drift shown in the plan
//! and cancelled exactly, implicit groups that never flap, the empty, conflict, all-sync,
//! create and destroy guards, import that shows the cancels before any write,
//! `resync_triggers` on both resources, and a create_before_destroy replacement that
//! cancels nothing declared.

mod common;

use common::sim::{Sim, PROJECT};
use common::steps::{self, Step};
use common::terraform::{names_of, sorted_strings, v, MRS_HEADER};
use serde_json::json;

const ADDR: &str = "mrs_iam_sync_exclusive.x";

/// The provider asks mrs-sim's IAM side for the groups of the listed users.
fn config(sim: &Sim, body: &str) -> String {
    let header = MRS_HEADER.replace(
        "provider \"mrs\" {}",
        &format!(
            "provider \"mrs\" {{\n  endpoints = {{ iam = \"{}\" }}\n}}",
            sim.url
        ),
    );
    format!("{header}\n{body}")
}

/// An exclusive resource on c1 with these lists and extra arguments.
fn exclusive(sim: &Sim, users: &[&str], groups: &[&str], extra: &str) -> String {
    config(sim, &format!(
        "resource \"mrs_iam_sync_exclusive\" \"x\" {{\n  cluster_id  = \"c1\"\n  user_names  = {}\n  group_names = {}\n{extra}}}\n",
        json!(users),
        json!(groups)
    ))
}

fn none() -> Vec<String> {
    Vec::new()
}

#[test]
fn drift_shows_in_the_plan_and_is_cancelled_exactly_and_implicit_groups_never_flap() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    steps::run(
        &tf,
        &sim,
        vec![
            // alice's groups (admins, dev) sync with her: implicit, never listed.
            Step::apply(exclusive(&sim, &["alice", "bob"], &["ops"], "")).check(|r| {
                let writes = r.writes();
                assert_eq!(writes.len(), 1, "{writes:?}");
                assert_eq!(writes[0].0, "POST");
                assert_eq!(names_of(&writes[0].1), (v(&["alice", "bob"]), v(&["ops"])));
                let x = r.attrs(ADDR);
                assert_eq!(x["project_id"], PROJECT);
                assert!(x.get("id").is_none(), "{x}");
                assert_eq!(
                    sorted_strings(&x["implicit_group_names"]),
                    v(&["admins", "dev"])
                );
                assert_eq!(
                    r.sim().names("c1"),
                    (v(&["alice", "bob"]), v(&["admins", "dev", "ops"]))
                );
            }),
            // Two applies in a row: the second writes nothing (the runner's plan after
            // each is empty too).
            Step::reapply().check(|r| assert_eq!(r.writes(), vec![])),
            // Drift: zed and analysts synced by hand, bob cancelled by hand. The plan
            // shows each name as an ordinary diff; the apply does exactly that.
            Step::reapply()
                .setup(|env| {
                    env.sim().set_names(
                        "c1",
                        &["alice", "zed"],
                        &["admins", "analysts", "dev", "ops"],
                    )
                })
                .pre_apply_plan(|plan| {
                    assert_eq!(plan.code(), 2);
                    let text = plan.combined();
                    for line in [r#"- "zed""#, r#"- "analysts""#, r#"+ "bob""#] {
                        assert!(text.contains(line), "{line} in the plan: {text}");
                    }
                    assert!(!text.contains(r#"- "admins""#), "{text}");
                })
                .check(|r| {
                    let writes = r.writes();
                    assert_eq!(writes.len(), 2, "{writes:?}");
                    assert_eq!(writes[0].0, "POST");
                    assert_eq!(names_of(&writes[0].1), (v(&["bob"]), none()));
                    assert_eq!(writes[1].0, "DELETE");
                    assert_eq!(names_of(&writes[1].1), (v(&["zed"]), v(&["analysts"])));
                    assert_eq!(
                        r.sim().names("c1"),
                        (v(&["alice", "bob"]), v(&["admins", "dev", "ops"]))
                    );
                }),
            // Listing an implicit group moves it: it is synced already, so nothing is
            // written.
            Step::apply(exclusive(&sim, &["alice", "bob"], &["ops", "dev"], "")).check(|r| {
                assert_eq!(r.writes(), vec![]);
                assert_eq!(
                    sorted_strings(&r.attrs(ADDR)["implicit_group_names"]),
                    v(&["admins"])
                );
            }),
            // Destroy releases: nothing is cancelled by default.
            Step::destroy().check(|r| {
                assert_eq!(r.writes(), vec![]);
                assert!(r.text().contains("Names released, not cancelled"));
                assert_eq!(
                    r.sim().names("c1"),
                    (v(&["alice", "bob"]), v(&["admins", "dev", "ops"]))
                );
            }),
        ],
    );
}

#[test]
fn the_guards_refuse_before_anything_is_written() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    let additive = |users: &[&str], all: bool| {
        if all {
            "resource \"mrs_iam_sync\" \"a\" {\n  cluster_id  = \"c1\"\n  is_all_sync = true\n}\n"
                .to_string()
        } else {
            format!(
                "resource \"mrs_iam_sync\" \"a\" {{\n  cluster_id = \"c1\"\n  user_names = {}\n}}\n",
                json!(users)
            )
        }
    };
    let with = |other: &str| format!("{}\n{other}", exclusive(&sim, &["alice"], &[], ""));
    steps::run(
        &tf,
        &sim,
        vec![
            Step::plan_only(exclusive(&sim, &[], &[], "")).expect_error("No name listed"),
            Step::plan_only(with(&additive(&["bob"], false)))
                .expect_error(r#"declares users "bob", which the"#),
            Step::plan_only(with(&additive(&[], true)))
                .expect_error("Conflicting declarations for MRS cluster"),
            Step::plan_only(format!(
                "{}\nresource \"mrs_iam_sync_exclusive\" \"y\" {{\n  cluster_id = \"c1\"\n  user_names = [\"bob\"]\n}}\n",
                exclusive(&sim, &["alice"], &[], "")
            ))
            .expect_error("Two mrs_iam_sync_exclusive resources"),
            // An additive resource naming only listed names stands beside it.
            Step::apply(with(&additive(&["alice"], false))).check(|r| {
                assert_eq!(r.sim().names("c1"), (v(&["alice"]), v(&["admins", "dev"])));
            }),
            Step::destroy(),
            // A cluster holding names the list leaves out: the create refuses, pointing
            // to import, and writes nothing.
            Step::plan_only(exclusive(&sim, &["alice"], &[], ""))
                .setup(|env| env.sim().set_names("c1", &["alice", "zed"], &["ops"]))
                .expect_error(r#"holds users "zed" and groups "ops""#)
                .check(|r| assert_eq!(r.writes(), vec![])),
            Step::plan_only(exclusive(&sim, &[], &[], "  allow_empty = true\n"))
                .setup(|env| env.sim().set_names("c1", &[], &[]))
                .expect_non_empty_plan(),
        ],
    );
}

#[test]
fn import_then_plan_shows_the_cancels_and_writes_nothing_until_applied() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    sim.set_names("c1", &["alice", "bob", "zed"], &["admins", "dev", "ops"]);
    tf.write_main_tf(&exclusive(&sim, &["alice"], &["ops"], ""));
    let before = sim.request_count();
    let import = tf.run(&["import", ADDR, "c1"]);
    assert!(import.status.success(), "{}", import.combined());
    let state = tf.state_json();
    let imported = &state["values"]["root_module"]["resources"][0]["values"];
    assert_eq!(
        sorted_strings(&imported["user_names"]),
        v(&["alice", "bob", "zed"])
    );
    assert_eq!(sorted_strings(&imported["group_names"]), v(&["ops"]));
    assert_eq!(
        sorted_strings(&imported["implicit_group_names"]),
        v(&["admins", "dev"])
    );
    let plan = tf.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.code(), 2, "{}", plan.combined());
    let text = plan.combined();
    for line in [r#"- "bob""#, r#"- "zed""#] {
        assert!(text.contains(line), "{line}: {text}");
    }
    // alice's groups sync with her: imported as implicit, they stay.
    assert!(!text.contains(r#"- "admins""#), "{text}");
    assert_eq!(
        sim.writes_since(before),
        vec![],
        "import and plan write nothing"
    );
    let apply = tf.run(&["apply", "-auto-approve", "-no-color"]);
    assert!(apply.status.success(), "{}", apply.combined());
    let deletes = common::sim::deletes_since(&sim, before);
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(names_of(&deletes[0]), (v(&["bob", "zed"]), none()));
    assert_eq!(
        sim.names("c1"),
        (v(&["alice"]), v(&["admins", "dev", "ops"]))
    );
    let after = tf.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(after.code(), 0, "{}", after.combined());
}

#[test]
fn changed_resync_triggers_post_every_declared_name_once_and_cancel_nothing() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    let both = |round: &str| {
        format!(
            "{}\nresource \"mrs_iam_sync\" \"a\" {{\n  cluster_id      = \"c2\"\n  user_names      = [\"carol\", \"dave\"]\n  resync_triggers = {{ roles = \"{round}\" }}\n}}\n",
            exclusive(
                &sim,
                &["alice", "bob"],
                &["ops"],
                &format!("  resync_triggers = {{ roles = \"{round}\" }}\n")
            )
        )
    };
    steps::run(
        &tf,
        &sim,
        vec![
            Step::apply(both("1")),
            Step::apply(both("2")).check(|r| {
                let mut writes = r.writes();
                writes.sort_by_key(|(_, body)| names_of(body));
                assert_eq!(writes.len(), 2, "one POST per resource: {writes:?}");
                assert!(writes.iter().all(|(m, _)| m == "POST"), "{writes:?}");
                assert_eq!(names_of(&writes[0].1), (v(&["alice", "bob"]), v(&["ops"])));
                assert_eq!(names_of(&writes[1].1), (v(&["carol", "dave"]), none()));
            }),
        ],
    );
}

#[test]
fn a_create_before_destroy_replacement_cancels_nothing_declared() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    let cbd = "  cancel_on_destroy = true\n  lifecycle {\n    create_before_destroy = true\n  }\n";
    steps::run(
        &tf,
        &sim,
        vec![
            Step::apply(exclusive(&sim, &["alice", "bob"], &["ops"], cbd)),
            Step::reapply()
                .args(&[&format!("-replace={ADDR}")])
                .check(|r| {
                    let writes = r.writes();
                    assert!(!writes.is_empty(), "the new object syncs its list");
                    assert!(writes.iter().all(|(m, _)| m == "POST"), "{writes:?}");
                    assert_eq!(
                        r.sim().names("c1"),
                        (v(&["alice", "bob"]), v(&["admins", "dev", "ops"]))
                    );
                }),
            // With cancel_on_destroy, destroy cancels the list; implicit groups stay
            // with nobody to hold them, as MRS leaves them.
            Step::destroy().check(|r| {
                let writes = r.writes();
                assert_eq!(writes.len(), 1, "{writes:?}");
                assert_eq!(names_of(&writes[0].1), (v(&["alice", "bob"]), v(&["ops"])));
            }),
        ],
    );
}

#[test]
fn when_iam_cannot_be_read_no_group_is_cancelled_and_the_plan_says_why() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    steps::run(
        &tf,
        &sim,
        vec![
            Step::apply(exclusive(&sim, &["alice", "bob"], &[], "")),
            // bob leaves the list, and analysts is synced by hand, while IAM refuses every
            // read: bob is cancelled, every group stays, and a warning says why.
            Step::apply(exclusive(&sim, &["alice"], &[], ""))
                .setup(|env| {
                    env.sim()
                        .set_names("c1", &["alice", "bob"], &["admins", "analysts", "dev"]);
                    env.sim().fault(json!({
                        "method": "GET", "path_contains": "/v3/users", "count": 100,
                        "kind": "status", "status": 403,
                        "error_code": "IAM.0002", "error_msg": "denied"
                    }));
                })
                .check(|r| {
                    assert!(
                        r.text()
                            .contains("The groups of the listed users are unknown"),
                        "{}",
                        r.text()
                    );
                    let writes = r.writes();
                    assert_eq!(writes.len(), 1, "{writes:?}");
                    assert_eq!(writes[0].0, "DELETE");
                    assert_eq!(names_of(&writes[0].1), (v(&["bob"]), none()));
                    assert_eq!(
                        r.sim().names("c1"),
                        (v(&["alice"]), v(&["admins", "analysts", "dev"]))
                    );
                    // The runner's plan after asks IAM again; still refused, it keeps
                    // every group: no change.
                }),
            // IAM answers again: analysts, which no listed user brings, leaves
            // implicit_group_names in the plan and is cancelled.
            Step::reapply()
                .setup(|env| env.sim().clear_faults())
                .check(|r| {
                    let writes = r.writes();
                    assert_eq!(writes.len(), 1, "{writes:?}");
                    assert_eq!(names_of(&writes[0].1), (none(), v(&["analysts"])));
                    assert_eq!(r.sim().names("c1"), (v(&["alice"]), v(&["admins", "dev"])));
                }),
        ],
    );
}
