//! Real Terraform 1.0.3, the real provider and `mrs-sim`: user and group names that are
//! unknown until apply (computed from another resource) plan and apply, a set of them over
//! the 1,000-name limit fails at apply on the attribute before any write, names IAM could
//! never hold fail at plan, and `[]` means the same as leaving the argument out.

mod common;

use common::terraform::v;

use common::sim::{Sim, PROJECT};
use common::terraform::{null_provider_dir, state_resource, TfWorkdir, MRS_HEADER, NULL_SOURCE};
use serde_json::Value;

/// The provider header plus the null provider, whose `null_resource` id is unknown until
/// apply.
fn header() -> String {
    MRS_HEADER.replace(
        "    mrs = {",
        "    null = {\n      source = \"registry.terraform.io/hashicorp/null\"\n    }\n    mrs = {",
    ) + "\nresource \"null_resource\" \"x\" {}\n"
}

/// An HCL expression for `name` that Terraform cannot know until `null_resource.x` exists:
/// the empty prefix of its id, appended.
fn late(name: &str) -> String {
    format!("\"{name}${{substr(null_resource.x.id, 0, 0)}}\"")
}

fn workdir(sim: &Sim) -> TfWorkdir {
    let mut tf = sim.workdir();
    tf.add_override(NULL_SOURCE, &null_provider_dir());
    tf
}

fn values<'a>(state: &'a Value, addr: &str) -> &'a Value {
    &state_resource(state, addr).unwrap_or_else(|| panic!("{addr} not in state: {state}"))["values"]
}

fn posts_and_deletes(sim: &Sim) -> Vec<Value> {
    sim.requests()
        .into_iter()
        .filter(|r| r["method"] == "POST" || r["method"] == "DELETE")
        .collect()
}

#[test]
fn one_and_two_names_unknown_until_apply_plan_and_apply() {
    let sim = Sim::start(&[]);
    let tf = workdir(&sim);
    tf.write_main_tf(&format!(
        r#"{header}
resource "mrs_iam_sync" "one" {{
  cluster_id = "c1"
  user_names = [{bob}]
}}

resource "mrs_iam_sync" "two" {{
  cluster_id  = "c2"
  user_names  = [{dave}, {erin}]
  group_names = [{ops}, "analysts"]
}}

# Two unknowns that turn out equal merge into one name at apply.
resource "mrs_iam_sync" "merged" {{
  cluster_id = "c3"
  user_names = [{carol}, {carol}]
}}
"#,
        header = header(),
        bob = late("bob"),
        carol = late("carol"),
        dave = late("dave"),
        erin = late("erin"),
        ops = late("ops"),
    ));
    let plan = tf.ok(&["plan"]);
    assert!(
        plan.stdout.contains("4 to add"),
        "the plan creates all four resources:\n{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("(known after apply)"),
        "{}",
        plan.stdout
    );
    let apply = tf.ok(&["apply", "-auto-approve"]);
    assert!(
        apply.stdout.contains("4 added, 0 changed, 0 destroyed"),
        "{}",
        apply.stdout
    );
    assert_eq!(sim.names("c1"), (v(&["bob"]), v(&[])));
    assert_eq!(
        sim.names("c2"),
        (v(&["dave", "erin"]), v(&["analysts", "ops"]))
    );
    assert_eq!(sim.names("c3").0, v(&["carol"]));
    let st = tf.state_json();
    assert_eq!(
        values(&st, "mrs_iam_sync.two")["user_names"],
        serde_json::json!(["dave", "erin"])
    );
    assert_eq!(
        values(&st, "mrs_iam_sync.merged")["user_names"],
        serde_json::json!(["carol"])
    );
    // Converged: nothing to do, and nothing is sent.
    let before = sim.request_count();
    assert_eq!(tf.plan_exit_code(), 0);
    assert!(sim.writes_since(before).is_empty());
}

#[test]
fn over_1000_unknown_names_fail_at_apply_before_any_write() {
    let sim = Sim::start(&[]);
    let tf = workdir(&sim);
    tf.write_main_tf(&format!(
        r#"{header}
resource "mrs_iam_sync" "many" {{
  cluster_id = "c1"
  user_names = [for i in range(1001) : "u${{i}}${{substr(null_resource.x.id, 0, 0)}}"]
}}
"#,
        header = header()
    ));
    // Unknown elements may still merge, so the plan cannot know the count yet.
    tf.ok(&["plan"]);
    let out = tf.fail(&["apply", "-auto-approve"]);
    let text = out.combined();
    assert!(text.contains("at most 1000"), "{text}");
    assert!(text.contains("1001 elements"), "{text}");
    assert!(
        text.contains("user_names = [for i in range(1001)"),
        "the error points at the attribute's line:\n{text}"
    );
    assert!(
        posts_and_deletes(&sim).is_empty(),
        "no write reached MRS: {:?}",
        sim.requests()
    );
    assert!(sim.names("c1").0.is_empty());
}

#[test]
fn over_1000_known_names_fail_at_plan() {
    let sim = Sim::start(&[]);
    let tf = workdir(&sim);
    tf.write_main_tf(&format!(
        r#"{header}
resource "mrs_iam_sync" "many" {{
  cluster_id = "c1"
  user_names = concat([for i in range(1001) : "u${{i}}"], [{alice}])
}}
"#,
        header = header(),
        alice = late("alice"),
    ));
    let out = tf.fail(&["plan"]);
    let text = out.combined();
    assert!(text.contains("at most 1000"), "{text}");
    assert!(text.contains("user_names = concat("), "{text}");
    assert_eq!(sim.request_count(), 0, "planning makes no API call");
}

#[test]
fn names_iam_can_never_hold_fail_at_plan_on_the_attribute() {
    let sim = Sim::start(&[]);
    let tf = workdir(&sim);
    let long = "a".repeat(65);
    let cases: Vec<(String, String, &str)> = vec![
        (
            "  user_names = [\" alice\"]\n".into(),
            "user_names = [\" alice\"]".into(),
            "cannot start or end with whitespace",
        ),
        (
            "  group_names = [\"dev \"]\n".into(),
            "group_names = [\"dev \"]".into(),
            "cannot start or end with whitespace",
        ),
        (
            "  user_names = [\"al\\tice\"]\n".into(),
            "user_names = [\"al\\tice\"]".into(),
            "control characters",
        ),
        (
            format!("  user_names = [\"{long}\"]\n"),
            "user_names = [\"aaaa".into(),
            "at most 64",
        ),
        (
            "  user_names = [\"\"]\n".into(),
            "user_names = [\"\"]".into(),
            "must not be an empty string",
        ),
    ];
    for (body, line, message) in cases {
        tf.write_main_tf(&format!(
            "{}\nresource \"mrs_iam_sync\" \"v\" {{\n  cluster_id = \"c1\"\n{body}}}\n",
            header()
        ));
        let out = tf.fail(&["plan"]);
        // Terraform wraps the detail at 78 columns.
        let text = out.combined().replace('\n', " ");
        assert!(text.contains(message), "expected {message:?} in:\n{text}");
        assert!(
            text.contains(&line),
            "expected the line {line:?} in:\n{text}"
        );
    }
    // A name IAM allows, spaces inside included, passes.
    tf.write_main_tf(&format!(
        "{}\nresource \"mrs_iam_sync\" \"v\" {{\n  cluster_id = \"c1\"\n  user_names = [\"Alice Smith\"]\n}}\n",
        header()
    ));
    tf.ok(&["plan"]);
    assert_eq!(sim.request_count(), 0, "planning makes no API call");
}

#[test]
fn empty_names_and_absent_names_mean_the_same() {
    let sim = Sim::start(&[]);
    let tf = workdir(&sim);
    let with_empty = format!(
        "{MRS_HEADER}\nresource \"mrs_iam_sync\" \"s\" {{\n  cluster_id  = \"c1\"\n  user_names  = []\n  group_names = [\"dev\"]\n}}\n"
    );
    let absent = format!(
        "{MRS_HEADER}\nresource \"mrs_iam_sync\" \"s\" {{\n  cluster_id  = \"c1\"\n  group_names = [\"dev\"]\n}}\n"
    );
    tf.write_main_tf(&with_empty);
    tf.ok(&["apply", "-auto-approve"]);
    assert_eq!(sim.names("c1"), (v(&[]), v(&["dev"])));
    assert_eq!(tf.plan_exit_code(), 0);
    // Switching between the two forms syncs and cancels nothing, and settles.
    for config in [&absent, &with_empty, &absent] {
        tf.write_main_tf(config);
        let before = sim.request_count();
        tf.ok(&["apply", "-auto-approve"]);
        assert!(sim.writes_since(before).is_empty());
        assert_eq!(tf.plan_exit_code(), 0);
        assert_eq!(sim.names("c1"), (v(&[]), v(&["dev"])));
    }
    // Both forms alone leave nothing to synchronize, and both conflict with nothing.
    for users in ["[]", "null"] {
        tf.write_main_tf(&format!(
            "{MRS_HEADER}\nresource \"mrs_iam_sync\" \"s\" {{\n  cluster_id = \"c1\"\n  user_names = {users}\n}}\n"
        ));
        let out = tf.fail(&["validate"]);
        assert!(
            out.combined()
                .contains("Set user_names, group_names, or is_all_sync = true"),
            "{users}: {}",
            out.combined()
        );
        tf.write_main_tf(&format!(
            "{MRS_HEADER}\nresource \"mrs_iam_sync\" \"s\" {{\n  cluster_id  = \"c2\"\n  is_all_sync = true\n  user_names  = {users}\n}}\n"
        ));
        tf.ok(&["validate"]);
    }
}

#[test]
fn a_region_known_only_at_apply_leaves_the_project_to_the_apply() {
    // IAM (mrs-sim) names a project after a second region; the provider's is cn-north-4.
    let other = "proj0000000000000000000000eu101";
    let sim = Sim::start(&["--projects", &format!("eu-west-101={other}")]);
    let mut tf = workdir(&sim);
    tf.set_env("HW_AUTH_URL", &format!("{}/v3", sim.url));
    tf.write_main_tf(&format!(
        "{}\nresource \"mrs_iam_sync\" \"far\" {{\n  region     = {}\n  cluster_id = \"c5\"\n  user_names = [\"bob\"]\n}}\n",
        header(),
        late("eu-west-101")
    ));
    let plan = tf.ok(&["plan", "-out", "tfplan"]).combined();
    let far = plan
        .split("# mrs_iam_sync.far will be created")
        .nth(1)
        .unwrap_or_default();
    assert!(
        far.contains("+ project_id  = (known after apply)"),
        "the project waits for the region:\n{plan}"
    );
    tf.ok(&["apply", "tfplan"]);
    assert_eq!(sim.names_in(other, "c5").0, v(&["bob"]));
    assert!(
        sim.names_in(PROJECT, "c5").0.is_empty(),
        "not in the provider's project"
    );
    let state = tf.state_json();
    let far = values(&state, "mrs_iam_sync.far");
    assert_eq!(far["project_id"], other);
    assert_eq!(far["cluster_id"], "c5");
    assert_eq!(far["region"], "eu-west-101");
    assert_eq!(tf.plan_exit_code(), 0, "no diff after apply");
    tf.ok(&["destroy", "-auto-approve"]);
    assert!(sim.names_in(other, "c5").0.is_empty());
}
