//! Adopting clusters that already hold synced names, through real Terraform 1.0.3, the real
//! provider and `mrs-sim` (whose directory syncs a user's groups implicitly): import then
//! apply cancels nothing, the three import ID forms and a malformed one, imports that
//! differ from the configuration only in `is_all_sync` or a resource-level region change
//! in place, a destroy against an API that keeps the names, and a sync that outlasts its
//! timeout.

mod common;

use common::terraform::v;
use common::terraform::words;

use common::sim::{Sim, PROJECT, REGION};
use common::steps::{self, Step};
use common::terraform::{names_of, sorted_strings, MRS_HEADER};
use serde_json::{json, Value};

const ADDR: &str = "mrs_iam_sync.x";

/// `mrs_iam_sync.x` on cluster c1 with extra attribute lines (names, region, timeouts).
fn config(lines: &str) -> String {
    format!("{MRS_HEADER}\nresource \"mrs_iam_sync\" \"x\" {{\n  cluster_id = \"c1\"\n{lines}}}\n")
}

fn users(names: &[&str]) -> String {
    format!("  user_names = {}\n", json!(names))
}

#[test]
fn import_then_apply_releases_implicit_groups_and_cancels_nothing() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    steps::run(
        &tf,
        &sim,
        vec![
            // alice was synced outside Terraform, and MRS synced her groups with her. The
            // configuration declares only alice: the import adopts all three names, and
            // the plan releases the two groups instead of cancelling them.
            Step::apply(config(&users(&["alice"])))
                .setup(|env| {
                    env.sim().set_names("c1", &["alice"], &["admins", "dev"]);
                    env.tf.ok(&["import", ADDR, "c1"]);
                })
                .pre_apply_plan(|plan| {
                    assert_eq!(plan.code(), 2, "the release shows as a change");
                    // Terraform wraps warning text: compare word by word.
                    let text = words(&plan.combined());
                    assert!(
                        text.contains("2 adopted names released, not cancelled, on MRS cluster \"c1\"")
                            && text.contains("Groups \"admins\", \"dev\" stay synced to MRS cluster \"c1\", no longer managed by this resource"),
                        "{text}"
                    );
                    assert_eq!(text.matches("released, not cancelled").count(), 1, "one warning: {text}");
                    assert!(text.contains("update in-place"), "{text}");
                    assert!(!text.contains("must be replaced"), "{text}");
                })
                .check(|r| {
                    let writes = r.writes();
                    assert!(writes.is_empty(), "the apply sent {writes:?}");
                    assert_eq!(
                        r.sim().names("c1"),
                        (v(&["alice"]), v(&["admins", "dev"]))
                    );
                    let x = r.attrs(ADDR);
                    assert_eq!(sorted_strings(&x["user_names"]), v(&["alice"]));
                    assert_eq!(x["group_names"], Value::Null, "released, not managed");
                }),
            // alice was declared, so destroy cancels her; the released groups stay.
            Step::destroy().check(|r| {
                let writes = r.writes();
                assert_eq!(writes.len(), 1, "{writes:?}");
                assert_eq!(writes[0].0, "DELETE");
                assert_eq!(names_of(&writes[0].1), (v(&["alice"]), v(&[])));
                assert_eq!(r.sim().names("c1"), (v(&[]), v(&["admins", "dev"])));
            }),
        ],
    );
}

#[test]
fn the_three_import_forms_and_a_malformed_one() {
    let sim = Sim::start(&[]);
    sim.set_names("c1", &["bob"], &[]);
    let tf = sim.workdir();
    let bob = config(&users(&["bob"]));
    let form = |id: String, region: &'static str| {
        Step::import(ADDR)
            .config(bob.clone())
            .id(id)
            .no_verify()
            .hand_over()
            .check(move |r| {
                let x = r.attrs(ADDR);
                assert!(x.get("id").is_none(), "no id repeats the location: {x}");
                assert_eq!(x["project_id"], PROJECT);
                assert_eq!(x["cluster_id"], "c1");
                assert_eq!(x["region"], region);
                assert_eq!(sorted_strings(&x["user_names"]), v(&["bob"]));
            })
    };
    steps::run(
        &tf,
        &sim,
        vec![
            // Each import's own workdir then plans clean: the config lists what is synced.
            form("c1".to_string(), REGION),
            form(format!("{PROJECT}/c1"), REGION),
            form(format!("eu-west-0/{PROJECT}/c1"), "eu-west-0"),
            Step::import(ADDR)
                .config(bob.clone())
                .id(format!("eu-west-0/{PROJECT}/c1/extra"))
                .no_verify()
                .expect_error(
                    r"(?s)Invalid import ID.*CLUSTER_ID.*PROJECT_ID/CLUSTER_ID.*REGION/PROJECT_ID/CLUSTER_ID",
                ),
        ],
    );
}

#[test]
fn imports_with_a_resource_level_region_or_is_all_sync_change_nothing_or_in_place() {
    let sim = Sim::start(&[]);
    sim.set_names("c1", &["bob"], &[]);
    let tf = sim.workdir();
    let in_region = |region: &str| {
        config(&format!(
            "  region     = \"{region}\"\n  project_id = \"{PROJECT}\"\n{}",
            users(&["bob"])
        ))
    };
    steps::run(
        &tf,
        &sim,
        vec![
            // A resource-level region and project equal to the import's plan clean (the
            // runner asserts the empty plan in each import's workdir).
            Step::import(ADDR)
                .config(in_region("eu-west-0"))
                .id(format!("eu-west-0/{PROJECT}/c1"))
                .no_verify()
                .hand_over(),
            Step::import(ADDR)
                .config(in_region(REGION))
                .id("c1")
                .no_verify()
                .hand_over(),
            // is_all_sync = true after an import: an in-place POST with is_all_sync, which
            // cancels nothing.
            Step::apply(config("  is_all_sync = true\n"))
                .setup(|env| {
                    env.tf.ok(&["import", ADDR, "c1"]);
                })
                .pre_apply_plan(|plan| {
                    assert_eq!(plan.code(), 2);
                    let text = plan.combined();
                    assert!(text.contains("update in-place"), "{text}");
                    assert!(!text.contains("must be replaced"), "{text}");
                })
                .check(|r| {
                    let writes = r.writes();
                    assert_eq!(writes.len(), 1, "{writes:?}");
                    assert_eq!(writes[0].0, "POST");
                    assert_eq!(writes[0].1["is_all_sync"], true);
                    let (users, _) = r.sim().names("c1");
                    assert!(users.contains(&"bob".to_string()), "{users:?}");
                    assert!(users.contains(&"alice".to_string()), "the directory synced");
                    assert_eq!(r.attrs(ADDR)["is_all_sync"], true);
                }),
            // Turning it off again is in place too, and cancels nothing: the names stay
            // synced and the resource manages only the listed one from then on.
            Step::apply(config(&users(&["bob"])))
                .pre_apply_plan(|plan| {
                    let text = plan.combined();
                    assert!(text.contains("update in-place"), "{text}");
                    assert!(!text.contains("must be replaced"), "{text}");
                    assert!(words(&text).contains("is_all_sync turns false"), "{text}");
                })
                .check(|r| {
                    let writes = r.writes();
                    assert!(
                        writes.iter().all(|(m, _)| m != "DELETE"),
                        "nothing is cancelled: {writes:?}"
                    );
                    let (users, _) = r.sim().names("c1");
                    assert!(users.contains(&"alice".to_string()), "{users:?}");
                    assert_eq!(sorted_strings(&r.attrs(ADDR)["user_names"]), v(&["bob"]));
                }),
        ],
    );
}

#[test]
fn destroy_against_an_api_that_keeps_the_names_fails_and_keeps_them() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    steps::run(
        &tf,
        &sim,
        vec![
            Step::apply(config(&users(&["bob", "dave"]))),
            Step::destroy()
                .setup(|env| {
                    env.sim()
                        .fault(json!({"method": "DELETE", "kind": "keep_names"}))
                })
                .expect_error(r#"Some names are still synced to MRS cluster "c1""#)
                .check(|r| {
                    assert!(
                        words(&r.text()).contains(r#"users "bob", "dave""#),
                        "{}",
                        r.text()
                    );
                    let x = r.attrs(ADDR);
                    assert_eq!(sorted_strings(&x["user_names"]), v(&["bob", "dave"]));
                    assert_eq!(r.sim().names("c1"), (v(&["bob", "dave"]), v(&[])));
                }),
            // The API behaves again: the destroy that follows cancels them.
            Step::destroy().check(|r| {
                assert_eq!(r.sim().names("c1"), (v(&[]), v(&[])));
            }),
        ],
    );
}

#[test]
fn a_sync_that_outlasts_the_create_timeout_is_recorded_and_destroy_cancels_it() {
    let sim = Sim::start(&["--sync-delay-ms", "4000"]);
    let tf = sim.workdir();
    let slow = config(&format!(
        "{}  timeouts {{\n    create = \"1s\"\n  }}\n",
        users(&["bob", "dave"])
    ));
    steps::run(
        &tf,
        &sim,
        vec![
            // The wait runs out, the sync goes on: a warning, the names sent stay in the
            // state (pending), and nothing is tainted.
            Step::apply(slow).check(|r| {
                let text = words(&r.text());
                assert!(
                    text.contains("The sync goes on in MRS cluster \"c1\""),
                    "{text}"
                );
                assert!(text.contains("Apply complete!"), "{text}");
                let x = r
                    .resource(ADDR)
                    .unwrap_or_else(|| panic!("nothing recorded: {}", r.state()));
                assert_eq!(
                    sorted_strings(&x["values"]["user_names"]),
                    v(&["bob", "dave"])
                );
            }),
            // Destroy waits for the sync to end, then cancels what it synced.
            Step::destroy().check(|r| {
                let writes = r.writes();
                assert_eq!(writes.len(), 1, "{writes:?}");
                assert_eq!(writes[0].0, "DELETE");
                assert_eq!(names_of(&writes[0].1), (v(&["bob", "dave"]), v(&[])));
                assert_eq!(r.sim().names("c1"), (v(&[]), v(&[])));
            }),
        ],
    );
}
