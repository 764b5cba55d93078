//! The rule of ownership at the corners where it used to break, through the real Terraform,
//! the real provider and mrs-sim: a replacement or destroy right after an import, an
//! all-sync `create_before_destroy` replacement, a deposed object's cleanup after a failed
//! cancel, a name cancelled by hand between plan and apply, a name moved between two
//! provider aliases, and a name two resources declare when one stops. Each ends with every
//! declared name synced, nothing undeclared cancelled, and an empty plan.

mod common;

use common::sim::deletes_since;
use common::terraform::v;
use common::terraform::words;

use common::sim::Sim;
use common::terraform::{sorted_strings, state_resource, TfWorkdir, MRS_HEADER};
use serde_json::json;

const ADDR: &str = "mrs_iam_sync.x";
const CBD: &str = "  lifecycle {\n    create_before_destroy = true\n  }\n";

/// `mrs_iam_sync.NAME` on cluster c1 with `body` inside the block.
fn resource(name: &str, body: &str) -> String {
    format!("\nresource \"mrs_iam_sync\" \"{name}\" {{\n  cluster_id = \"c1\"\n{body}}}\n")
}

fn users(list: &[&str]) -> String {
    format!("  user_names = {}\n", json!(list))
}

fn state_users(tf: &TfWorkdir, addr: &str) -> Vec<String> {
    state_resource(&tf.state_json(), addr)
        .map(|r| sorted_strings(&r["values"]["user_names"]))
        .unwrap_or_default()
}

/// The plan is empty and the refresh before it writes nothing.
fn assert_settled(tf: &TfWorkdir, sim: &Sim) {
    let before = sim.request_count();
    let plan = tf.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(plan.code(), 0, "{}", plan.combined());
    assert!(sim.writes_since(before).is_empty());
}

/// Case 1: the cluster holds names no configuration ever declared; the configuration lists
/// one of them. Import, then `-replace` (both orders) or destroy: only what the
/// configuration declares is touched, and nothing is cancelled that it never declared.
#[test]
fn a_replacement_or_destroy_right_after_an_import_cancels_nothing_it_adopted() {
    for lifecycle in ["", CBD] {
        let sim = Sim::start(&[]);
        sim.set_names("c1", &["alice", "bob", "carol"], &["admins", "dev", "ops"]);
        let tf = sim.workdir();
        tf.write_main_tf(&format!(
            "{MRS_HEADER}{}",
            resource("x", &format!("{}{lifecycle}", users(&["alice"])))
        ));
        tf.ok(&["import", ADDR, "c1"]);
        let before = sim.request_count();
        let out = tf.ok(&["apply", "-auto-approve", &format!("-replace={ADDR}")]);
        let text = words(&out.combined());
        assert!(
            deletes_since(&sim, before).is_empty(),
            "{lifecycle:?}: {:?}\n{text}",
            sim.writes_since(before)
        );
        assert!(text.contains("released, not cancelled"), "{text}");
        assert_eq!(
            sim.names("c1"),
            (v(&["alice", "bob", "carol"]), v(&["admins", "dev", "ops"])),
            "{lifecycle:?}"
        );
        assert_eq!(state_users(&tf, ADDR), v(&["alice"]));
        assert_settled(&tf, &sim);
    }
    // Destroy right after an import: the object never owned what it adopted.
    let sim = Sim::start(&[]);
    sim.set_names("c1", &["alice", "bob", "carol"], &["admins", "dev", "ops"]);
    let tf = sim.workdir();
    tf.write_main_tf(&format!(
        "{MRS_HEADER}{}",
        resource("x", &users(&["alice"]))
    ));
    tf.ok(&["import", ADDR, "c1"]);
    let before = sim.request_count();
    let out = tf.ok(&["destroy", "-auto-approve"]);
    let text = words(&out.combined());
    assert!(deletes_since(&sim, before).is_empty(), "{text}");
    assert!(
        text.contains("6 adopted names released, not cancelled"),
        "{text}"
    );
    assert_eq!(sim.names("c1").0, v(&["alice", "bob", "carol"]));
}

/// Case 2: a forced re-sync of an all-sync resource with `create_before_destroy`: the
/// deposed object's cleanup cancels nothing, since the new object declares every name.
#[test]
fn replacing_an_all_sync_create_before_destroy_resource_keeps_every_name() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    tf.write_main_tf(&format!(
        "{MRS_HEADER}{}",
        resource("x", &format!("  is_all_sync = true\n{CBD}"))
    ));
    tf.ok(&["apply", "-auto-approve"]);
    let synced = sim.names("c1");
    assert!(!synced.0.is_empty(), "all-sync synced the directory");
    for how in ["replace", "taint"] {
        let before = sim.request_count();
        if how == "taint" {
            tf.ok(&["taint", ADDR]);
            tf.ok(&["apply", "-auto-approve"]);
        } else {
            tf.ok(&["apply", "-auto-approve", &format!("-replace={ADDR}")]);
        }
        assert!(
            deletes_since(&sim, before).is_empty(),
            "{how}: {:?}",
            sim.writes_since(before)
        );
        assert_eq!(sim.names("c1"), synced, "{how}");
        assert_settled(&tf, &sim);
    }
}

/// Case 3: a `create_before_destroy` replacement whose old object's cancel fails once. The
/// deposed object records only what it still owns (not the name the new object declares),
/// so the next apply's cleanup cancels only that.
#[test]
fn a_deposed_objects_cleanup_cancels_only_what_it_still_owns() {
    let sim = Sim::start(&[]);
    sim.set_names("c1", &["carol"], &[]);
    let tf = sim.workdir();
    let config = |list: &[&str]| {
        format!(
            "{MRS_HEADER}{}",
            resource("x", &format!("{}{CBD}", users(list)))
        )
    };
    tf.write_main_tf(&config(&["alice", "bob"]));
    tf.ok(&["apply", "-auto-approve"]);
    sim.fault(json!({"method": "DELETE", "kind": "status", "status": 400,
        "error_code": "MRS.0011", "error_msg": "refused once"}));
    tf.write_main_tf(&config(&["alice"]));
    let out = tf.fail(&["apply", "-auto-approve", &format!("-replace={ADDR}")]);
    assert!(
        words(&out.combined()).contains("refused once"),
        "{}",
        out.combined()
    );
    let state = tf.state_json().to_string();
    assert!(
        state.contains("deposed"),
        "the old object stays deposed: {state}"
    );
    assert_eq!(
        sim.names("c1").0,
        v(&["alice", "bob", "carol"]),
        "nothing went"
    );

    let before = sim.request_count();
    tf.ok(&["apply", "-auto-approve"]);
    let deletes = deletes_since(&sim, before);
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(sorted_strings(&deletes[0]["user_names"]), v(&["bob"]));
    assert_eq!(sim.names("c1").0, v(&["alice", "carol"]));
    assert_eq!(state_users(&tf, ADDR), v(&["alice"]));
    assert_settled(&tf, &sim);
}

/// Case 4: a declared name cancelled by hand after the plan: the apply of the saved plan
/// syncs it again in the same run, and says so.
#[test]
fn a_name_cancelled_between_plan_and_apply_is_synced_again_in_the_same_apply() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    let config = |list: &[&str]| format!("{MRS_HEADER}{}", resource("x", &users(list)));
    tf.write_main_tf(&config(&["alice", "bob"]));
    tf.ok(&["apply", "-auto-approve"]);
    tf.write_main_tf(&config(&["alice", "bob", "dave"]));
    tf.ok(&["plan", "-out=tfplan"]);
    // bob is cancelled by hand after the plan.
    sim.set_names("c1", &["alice"], &["admins", "dev"]);
    let out = tf.ok(&["apply", "tfplan"]);
    let text = words(&out.combined());
    assert!(
        text.contains("Names synced again on MRS cluster \"c1\""),
        "{text}"
    );
    assert!(text.contains("Users \"bob\" had been cancelled"), "{text}");
    assert_eq!(sim.names("c1").0, v(&["alice", "bob", "dave"]));
    assert_eq!(state_users(&tf, ADDR), v(&["alice", "bob", "dave"]));
    assert_settled(&tf, &sim);
}

/// Case 4 with the apply's wait cut by its timeout after the POST of the new name: bob,
/// cancelled by hand after the plan, cannot be sent again in that apply. It fails naming
/// him (a warning alone would end it with exit 0 and bob gone), and the next apply syncs
/// him again.
#[test]
fn a_name_cancelled_between_plan_and_apply_is_an_error_when_the_wait_is_cut() {
    let sim = Sim::start(&["--sync-delay-ms", "3000"]);
    let tf = sim.workdir();
    let config = |list: &[&str]| {
        let body = format!("{}  timeouts {{\n    update = \"1s\"\n  }}\n", users(list));
        format!("{MRS_HEADER}{}", resource("x", &body))
    };
    tf.write_main_tf(&config(&["alice", "bob"]));
    tf.ok(&["apply", "-auto-approve"]);
    sim.wait_until_idle(std::time::Duration::from_secs(10));
    tf.write_main_tf(&config(&["alice", "bob", "dave"]));
    tf.ok(&["plan", "-out=tfplan"]);
    sim.set_names("c1", &["alice"], &["admins", "dev"]);
    let out = tf.fail(&["apply", "tfplan"]);
    let text = words(&out.combined());
    assert!(
        text.contains("Declared names are not synced to MRS cluster \"c1\""),
        "{text}"
    );
    assert!(text.contains("Users \"bob\" are declared"), "{text}");
    sim.wait_until_idle(std::time::Duration::from_secs(10));
    tf.ok(&["apply", "-auto-approve"]);
    sim.wait_until_idle(std::time::Duration::from_secs(10));
    assert_eq!(sim.names("c1").0, v(&["alice", "bob", "dave"]));
    assert_settled(&tf, &sim);
}

/// Case 5: two provider configurations (two provider processes) on one cluster; a user
/// moves from a resource of one to a resource of the other in one apply. The run's ledger
/// tells the first process that the second declares it: it is never cancelled.
#[test]
fn a_name_moved_between_two_provider_aliases_stays_synced() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    let config = |a: &[&str], b: &[&str]| {
        format!(
            "{MRS_HEADER}\nprovider \"mrs\" {{\n  alias = \"second\"\n}}\n{}{}",
            resource("a", &users(a)),
            resource("b", &format!("  provider = mrs.second\n{}", users(b)))
        )
    };
    tf.write_main_tf(&config(&["alice", "bob"], &["carol"]));
    tf.ok(&["apply", "-auto-approve"]);
    tf.write_main_tf(&config(&["alice"], &["bob", "carol"]));
    let before = sim.request_count();
    let out = tf.ok(&["apply", "-auto-approve"]);
    let deletes = deletes_since(&sim, before);
    assert!(deletes.is_empty(), "{deletes:?}\n{}", out.combined());
    assert_eq!(sim.names("c1").0, v(&["alice", "bob", "carol"]));
    assert_eq!(state_users(&tf, "mrs_iam_sync.a"), v(&["alice"]));
    assert_eq!(state_users(&tf, "mrs_iam_sync.b"), v(&["bob", "carol"]));
    assert_settled(&tf, &sim);
    // Removed from both, it is cancelled.
    tf.write_main_tf(&config(&["alice"], &["carol"]));
    tf.ok(&["apply", "-auto-approve"]);
    assert_eq!(sim.names("c1").0, v(&["alice", "carol"]));
    assert_settled(&tf, &sim);
}

/// Case 6: two resources declare one name and one stops declaring it while the other is
/// unchanged (so never called in the apply walk): the plan walk's declarations, shared
/// through the run's ledger, keep it synced.
#[test]
fn a_name_one_resource_stops_declaring_stays_synced_for_the_other() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    let config = |a: &[&str]| {
        format!(
            "{MRS_HEADER}{}{}",
            resource("a", &users(a)),
            resource("b", &users(&["alice"]))
        )
    };
    tf.write_main_tf(&config(&["alice", "bob"]));
    let first = tf.ok(&["apply", "-auto-approve"]);
    assert!(
        words(&first.combined()).contains("Names declared by more than one mrs_iam_sync"),
        "{}",
        first.combined()
    );
    tf.write_main_tf(&config(&["bob"]));
    let before = sim.request_count();
    tf.ok(&["apply", "-auto-approve"]);
    assert!(
        deletes_since(&sim, before).is_empty(),
        "{:?}",
        sim.writes_since(before)
    );
    assert_eq!(sim.names("c1").0, v(&["alice", "bob"]));
    assert_eq!(state_users(&tf, "mrs_iam_sync.a"), v(&["bob"]));
    assert_eq!(state_users(&tf, "mrs_iam_sync.b"), v(&["alice"]));
    assert_settled(&tf, &sim);
}
