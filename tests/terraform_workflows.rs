//! The workflows of today's Terraform (1.1 to 1.10 and later) with the real provider and
//! mrs-sim: `import` blocks (with `-generate-config-out`, with `for_each`), `moved` and
//! `removed` blocks, `-refresh-only`, `check` blocks on the data source, pre- and
//! postconditions, `terraform test` (against mrs-sim and with `mock_provider`), and an
//! ephemeral variable for `secret_key`; and one workflow every Terraform from 1.0.3 must
//! plan cleanly, removing a `timeouts` block. Each test returns early, saying so, on a
//! Terraform without its feature; `make test` runs them on the newest Terraform of the
//! machine. Each ends with an empty plan and checks what mrs-sim received.

mod common;

use common::terraform::v;
use common::terraform::words;

use std::path::Path;
use std::process::Command;

use common::sim::{Sim, AK, PROJECT, REGION, SK};
use common::steps::{self, Step};
use common::terraform::{names_of, requires, sorted_strings, TfWorkdir, MRS_HEADER};
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

/// The paths of every request mrs-sim logged since `since`, as "METHOD path".
fn calls_since(sim: &Sim, since: usize) -> Vec<String> {
    sim.requests()
        .into_iter()
        .skip(since)
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap_or("?"),
                r["path"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

#[test]
fn import_block_adopts_a_cluster_without_a_write() {
    if !requires(1, 5, "the import block") {
        return;
    }
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    let import = format!("import {{\n  to = mrs_iam_sync.x\n  id = \"{PROJECT}/c1\"\n}}\n");
    steps::run(
        &tf,
        &sim,
        vec![
            // bob and ops were synced outside Terraform; the configuration lists exactly
            // them. The apply imports (and hands the adopted names over) with GETs only.
            Step::apply(config(&format!(
                "{import}\n{}",
                sync("x", "c1", &["bob"], &["ops"])
            )))
            .setup(|env| env.sim().set_names("c1", &["bob"], &["ops"]))
            .pre_apply_plan(|plan| {
                let text = words(&plan.combined());
                assert!(text.contains("1 to import"), "{text}");
                assert!(text.contains("0 to add"), "{text}");
                assert!(text.contains("0 to destroy"), "{text}");
            })
            .check(|r| {
                assert!(r.writes().is_empty(), "the import wrote: {:?}", r.writes());
                let x = r.attrs("mrs_iam_sync.x");
                assert_eq!(x["project_id"], PROJECT);
                assert_eq!(x["cluster_id"], "c1");
                assert_eq!(sorted_strings(&x["user_names"]), v(&["bob"]));
                assert_eq!(sorted_strings(&x["group_names"]), v(&["ops"]));
                assert_eq!(r.sim().names("c1"), (v(&["bob"]), v(&["ops"])));
            }),
            // The import block stays in the configuration: it is done, nothing more happens.
            Step::reapply().check(|r| assert!(r.writes().is_empty(), "{:?}", r.writes())),
            // Managed from now on: removing bob cancels him.
            Step::apply(config(&format!(
                "{import}\n{}",
                sync("x", "c1", &[], &["ops"])
            )))
            .check(|r| {
                let writes = r.writes();
                assert_eq!(writes.len(), 1, "{writes:?}");
                assert_eq!(writes[0].0, "DELETE");
                assert_eq!(names_of(&writes[0].1), (v(&["bob"]), v(&[])));
                assert_eq!(r.sim().names("c1"), (v(&[]), v(&["ops"])));
            }),
        ],
    );
}

#[test]
fn import_blocks_with_for_each_adopt_several_clusters() {
    if !requires(1, 7, "for_each in an import block") {
        return;
    }
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    let body = format!(
        r#"locals {{
  clusters = {{
    c1 = ["bob"]
    c2 = ["dave", "erin"]
  }}
}}

import {{
  for_each = local.clusters
  to       = mrs_iam_sync.x[each.key]
  id       = "{PROJECT}/${{each.key}}"
}}

resource "mrs_iam_sync" "x" {{
  for_each   = local.clusters
  cluster_id = each.key
  user_names = each.value
}}
"#
    );
    steps::run(
        &tf,
        &sim,
        vec![Step::apply(config(&body))
            .setup(|env| {
                env.sim().set_names("c1", &["bob"], &[]);
                env.sim().set_names("c2", &["dave", "erin"], &[]);
            })
            .pre_apply_plan(|plan| {
                let text = words(&plan.combined());
                assert!(text.contains("2 to import"), "{text}");
                assert!(text.contains("0 to add"), "{text}");
            })
            .check(|r| {
                assert!(r.writes().is_empty(), "the imports wrote: {:?}", r.writes());
                let c1 = r.attrs("mrs_iam_sync.x[\"c1\"]");
                assert_eq!(sorted_strings(&c1["user_names"]), v(&["bob"]));
                let c2 = r.attrs("mrs_iam_sync.x[\"c2\"]");
                assert_eq!(c2["cluster_id"], "c2");
                assert_eq!(sorted_strings(&c2["user_names"]), v(&["dave", "erin"]));
                // Both clusters were read; nothing else was called.
                let calls = calls_since(r.sim(), 0);
                assert!(calls.iter().all(|c| c.starts_with("GET ")), "{calls:?}");
                for c in ["c1", "c2"] {
                    assert!(
                        calls.iter().any(|p| p.contains(c)),
                        "{c} not read: {calls:?}"
                    );
                }
            })],
    );
}

#[test]
fn generate_config_out_writes_a_config_that_validates_and_applies_as_is() {
    if !requires(1, 5, "-generate-config-out") {
        return;
    }
    let sim = Sim::start(&[]);
    sim.set_names("c1", &["bob", "dave"], &["ops"]);
    let tf = sim.workdir();
    tf.write_main_tf(&config(&format!(
        "import {{\n  to = mrs_iam_sync.adopted\n  id = \"{PROJECT}/c1\"\n}}\n"
    )));
    let before = sim.request_count();
    let plan = tf.run(&["plan", "-generate-config-out=generated.tf"]);
    assert!(
        plan.status.success(),
        "{}",
        plan.describe("plan -generate-config-out")
    );
    assert!(sim.writes_since(before).is_empty(), "the plan wrote");
    let generated = std::fs::read_to_string(tf.path().join("generated.tf"))
        .unwrap_or_else(|e| panic!("no generated.tf: {e}\n{}", plan.describe("plan")));
    assert!(
        generated.contains("resource \"mrs_iam_sync\" \"adopted\""),
        "{generated}"
    );
    assert!(generated.contains("\"bob\""), "{generated}");
    assert!(generated.contains("\"ops\""), "{generated}");
    let validate = tf.run(&["validate"]);
    assert!(
        validate.status.success(),
        "{}\ngenerated.tf:\n{generated}",
        validate.describe("validate of the generated config")
    );
    // Applied as generated, unedited: an import without a write, then an empty plan.
    steps::run(
        &tf,
        &sim,
        vec![Step::reapply().check(|r| {
            assert!(r.writes().is_empty(), "{:?}", r.writes());
            let x = r.attrs("mrs_iam_sync.adopted");
            assert_eq!(sorted_strings(&x["user_names"]), v(&["bob", "dave"]));
            assert_eq!(sorted_strings(&x["group_names"]), v(&["ops"]));
            assert_eq!(r.sim().names("c1"), (v(&["bob", "dave"]), v(&["ops"])));
        })],
    );
}

/// Removing a `timeouts` block, on every Terraform: 1.0 to 1.3 propose the prior block for
/// a single nested block the configuration leaves out, and the plan must still be null
/// there ("Provider produced invalid plan ... planned for existence but config wants
/// absense" on 1.0.3 before the fix). The removal changes only the state: no write.
#[test]
fn removing_the_timeouts_block_plans_and_applies_without_a_write() {
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    let resource = |timeouts: &str| {
        config(&format!(
            "resource \"mrs_iam_sync\" \"x\" {{\n  cluster_id  = \"c1\"\n  user_names  = [\"bob\"]\n  group_names = [\"ops\"]\n{timeouts}}}\n"
        ))
    };
    let with_timeouts = resource("  timeouts {\n    create = \"5m\"\n  }\n");
    let plain = resource("");
    steps::run(
        &tf,
        &sim,
        vec![
            Step::apply(with_timeouts).check(|r| {
                assert_eq!(r.writes().len(), 1, "{:?}", r.writes());
                assert_eq!(r.attrs("mrs_iam_sync.x")["timeouts"]["create"], "5m");
            }),
            // The block removed: the plan succeeds and shows the block going, in place.
            Step::plan_only(plain).expect_non_empty_plan().check(|r| {
                let text = words(&r.text());
                assert!(text.contains("timeouts {"), "{text}");
                assert!(
                    text.contains("0 to add, 1 to change, 0 to destroy"),
                    "{text}"
                );
            }),
            // Applied, it sends nothing and leaves no block in state; the runner's plan
            // after it is empty.
            Step::reapply().check(|r| {
                assert!(r.writes().is_empty(), "{:?}", r.writes());
                let x = r.attrs("mrs_iam_sync.x");
                assert!(x["timeouts"].is_null(), "{x}");
                assert_eq!(r.sim().names("c1"), (v(&["bob"]), v(&["ops"])));
            }),
        ],
    );
}

#[test]
fn moved_block_renames_without_a_write() {
    if !requires(1, 1, "the moved block") {
        return;
    }
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    steps::run(
        &tf,
        &sim,
        vec![
            Step::apply(config(&sync("old", "c1", &["bob"], &["ops"])))
                .check(|r| assert_eq!(r.writes().len(), 1, "{:?}", r.writes())),
            Step::apply(config(&format!(
                "{}\nmoved {{\n  from = mrs_iam_sync.old\n  to   = mrs_iam_sync.new\n}}\n",
                sync("new", "c1", &["bob"], &["ops"])
            )))
            .pre_apply_plan(|plan| {
                let text = words(&plan.combined());
                assert!(
                    text.contains("mrs_iam_sync.old has moved to mrs_iam_sync.new"),
                    "{text}"
                );
                assert!(
                    text.contains("0 to add, 0 to change, 0 to destroy"),
                    "{text}"
                );
            })
            .check(|r| {
                assert!(r.writes().is_empty(), "the move wrote: {:?}", r.writes());
                assert!(r.resource("mrs_iam_sync.old").is_none());
                assert_eq!(
                    sorted_strings(&r.attrs("mrs_iam_sync.new")["user_names"]),
                    v(&["bob"])
                );
                assert_eq!(r.sim().names("c1"), (v(&["bob"]), v(&["ops"])));
            }),
        ],
    );
}

#[test]
fn removed_block_without_destroy_forgets_and_keeps_the_names() {
    if !requires(1, 7, "the removed block") {
        return;
    }
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    steps::run(
        &tf,
        &sim,
        vec![
            Step::apply(config(&sync("x", "c1", &["bob"], &["ops"])))
                .check(|r| assert_eq!(r.writes().len(), 1, "{:?}", r.writes())),
            Step::apply(config(
                "removed {\n  from = mrs_iam_sync.x\n\n  lifecycle {\n    destroy = false\n  }\n}\n",
            ))
            .pre_apply_plan(|plan| {
                let text = words(&plan.combined());
                assert!(text.contains("will no longer be managed by Terraform"), "{text}");
                assert!(text.contains("0 to destroy"), "{text}");
            })
            .check(|r| {
                assert!(r.writes().is_empty(), "forgetting wrote: {:?}", r.writes());
                assert!(r.resource("mrs_iam_sync.x").is_none(), "{}", r.state());
                assert_eq!(r.sim().names("c1"), (v(&["bob"]), v(&["ops"])), "still synced");
            }),
        ],
    );
}

#[test]
fn refresh_only_records_a_change_made_behind_terraforms_back() {
    if !requires(1, 5, "-refresh-only (here with the plan texts of 1.5)") {
        return;
    }
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    steps::run(
        &tf,
        &sim,
        vec![
            Step::apply(config(&sync("x", "c1", &["bob", "dave"], &["ops"])))
                .check(|r| assert_eq!(r.writes().len(), 1, "{:?}", r.writes())),
            // Someone cancels dave by hand. A refresh-only plan shows it and changes nothing.
            Step::plan_only(config(&sync("x", "c1", &["bob", "dave"], &["ops"])))
                .setup(|env| env.sim().set_names("c1", &["bob"], &["ops"]))
                .args(&["-refresh-only"])
                .expect_non_empty_plan()
                .check(|r| {
                    let text = words(&r.text());
                    assert!(
                        text.contains("Objects have changed outside of Terraform"),
                        "{text}"
                    );
                    assert!(text.contains("\"dave\""), "{text}");
                    let x = r.attrs("mrs_iam_sync.x");
                    assert_eq!(
                        sorted_strings(&x["user_names"]),
                        v(&["bob", "dave"]),
                        "unchanged"
                    );
                }),
            // A refresh-only apply records it in the state, writing nothing; the ordinary
            // plan then wants dave back.
            Step::reapply()
                .args(&["-refresh-only"])
                .expect_non_empty_plan()
                .check(|r| {
                    assert!(r.writes().is_empty(), "{:?}", r.writes());
                    let x = r.attrs("mrs_iam_sync.x");
                    assert_eq!(sorted_strings(&x["user_names"]), v(&["bob"]));
                    assert_eq!(r.sim().names("c1"), (v(&["bob"]), v(&["ops"])));
                }),
            // The ordinary apply syncs dave again: one POST of him alone.
            Step::reapply().check(|r| {
                let writes = r.writes();
                assert_eq!(writes.len(), 1, "{writes:?}");
                assert_eq!(writes[0].0, "POST");
                assert_eq!(names_of(&writes[0].1), (v(&["dave"]), v(&[])));
            }),
        ],
    );
}

/// The plan of a converged configuration with a `check` block: nothing to add, change or
/// destroy, no warning, and only the check's data source read; no write sent.
fn only_the_check_is_planned(tf: &TfWorkdir, sim: &Sim) {
    let before = sim.request_count();
    let plan = tf.run(&["plan", "-detailed-exitcode"]);
    let text = words(&plan.combined());
    assert_eq!(plan.code(), 2, "{}", plan.describe("plan"));
    assert!(
        text.contains("Plan: 0 to add, 0 to change, 0 to destroy."),
        "{text}"
    );
    assert!(
        text.contains("(config will be reloaded to verify a check block)"),
        "{text}"
    );
    assert!(!text.contains("Check block assertion failed"), "{text}");
    assert!(!text.contains("mrs_iam_sync.x will be"), "{text}");
    assert!(sim.writes_since(before).is_empty(), "the plan wrote");
}

#[test]
fn check_block_reads_the_data_source_and_warns_on_drift() {
    if !requires(1, 5, "the check block") {
        return;
    }
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    let body = format!(
        r#"{}
# The data source names the cluster itself: one that referred to the resource would wait
# for its pending changes, and the check would be known only after the apply.
check "bob_is_synced" {{
  data "mrs_iam_sync_users" "c1" {{
    cluster_id = "c1"
  }}

  assert {{
    condition     = contains(data.mrs_iam_sync_users.c1.user_names, "bob")
    error_message = "bob is not synced to c1 any more"
  }}
}}
"#,
        sync("x", "c1", &["bob"], &["ops"])
    );
    steps::run(
        &tf,
        &sim,
        vec![
            // Terraform plans a check block's data source to be read again at every apply,
            // so `plan -detailed-exitcode` exits 2 even with nothing to change: the step
            // expects that, and the check asserts it is the only thing planned.
            Step::apply(config(&body))
                .expect_non_empty_plan()
                .check(|r| {
                    assert_eq!(r.writes().len(), 1, "{:?}", r.writes());
                    let text = words(&r.text());
                    assert!(!text.contains("bob is not synced"), "{text}");
                    only_the_check_is_planned(r.tf, r.sim());
                }),
            // bob cancelled by hand: the plan warns through the check (a warning, not an
            // error) and plans to sync him again.
            Step::plan_only(config(&body))
                .setup(|env| env.sim().set_names("c1", &[], &["ops"]))
                .expect_non_empty_plan()
                .check(|r| {
                    let text = words(&r.text());
                    assert!(text.contains("Check block assertion failed"), "{text}");
                    assert!(text.contains("bob is not synced to c1 any more"), "{text}");
                }),
            Step::reapply().expect_non_empty_plan().check(|r| {
                let writes = r.writes();
                assert_eq!(writes.len(), 1, "{writes:?}");
                assert_eq!(names_of(&writes[0].1), (v(&["bob"]), v(&[])));
                assert!(
                    !words(&r.text()).contains("bob is not synced"),
                    "{}",
                    r.text()
                );
                only_the_check_is_planned(r.tf, r.sim());
            }),
        ],
    );
}

#[test]
fn pre_and_postconditions_stop_the_plan_before_any_write() {
    if !requires(1, 2, "preconditions and postconditions") {
        return;
    }
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    let with = |users: &[&str], region: &str| {
        config(&format!(
            r#"variable "users" {{
  type    = list(string)
  default = {}
}}

resource "mrs_iam_sync" "x" {{
  cluster_id = "c1"
  user_names = var.users

  lifecycle {{
    precondition {{
      condition     = length(var.users) > 0
      error_message = "List at least one user."
    }}
    postcondition {{
      condition     = self.region == "{region}"
      error_message = "The cluster is not in {region}."
    }}
  }}
}}
"#,
            json!(users)
        ))
    };
    steps::run(
        &tf,
        &sim,
        vec![
            Step::plan_only(with(&[], REGION)).expect_error("List at least one user"),
            // region is known at plan (the provider's): the postcondition fails the plan.
            Step::plan_only(with(&["bob"], "eu-west-101"))
                .expect_error("The cluster is not in eu-west-101"),
            Step::apply(with(&["bob"], REGION)).check(|r| {
                let writes = r.writes();
                assert_eq!(writes.len(), 1, "{writes:?}");
                assert_eq!(names_of(&writes[0].1), (v(&["bob"]), v(&[])));
                assert_eq!(r.sim().writes_since(0).len(), 1, "the failed plans wrote");
            }),
        ],
    );
}

/// Every member of a zip archive (a saved plan), unpacked with `unzip -p`.
fn unzip_all(path: &Path) -> Vec<u8> {
    let out = Command::new("unzip")
        .arg("-p")
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("running unzip (make tools installs it): {e}"));
    assert!(out.status.success(), "unzip -p {}: {out:?}", path.display());
    out.stdout
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// A workdir whose provider gets the secret key only from `var.sk` (TF_VAR_sk).
fn secret_from_variable(sim: &Sim, ephemeral: bool) -> TfWorkdir {
    let mut tf = TfWorkdir::new();
    for (k, val) in sim.provider_env() {
        if k != "HW_SECRET_KEY" {
            tf.set_env(k, &val);
        }
    }
    tf.set_env("TF_VAR_sk", SK);
    tf.write_main_tf(&format!(
        r#"terraform {{
  required_providers {{
    mrs = {{
      source = "terraform.local/mrs/mrs"
    }}
  }}
}}

variable "sk" {{
  type      = string
  sensitive = true
  ephemeral = {ephemeral}
}}

provider "mrs" {{
  access_key = "{AK}"
  secret_key = var.sk
}}

{}"#,
        sync("x", "c1", &["bob"], &[])
    ));
    tf
}

#[test]
fn ephemeral_secret_key_reaches_neither_state_nor_plan_file() {
    if !requires(1, 10, "an ephemeral input variable") {
        return;
    }
    let sim = Sim::start(&[]);
    // The control: a sensitive but not ephemeral variable is in the saved plan, so the
    // search below would find the key if it were there.
    let control = secret_from_variable(&sim, false);
    control.ok(&["plan", "-out=tfplan"]);
    assert!(
        contains(&unzip_all(&control.path().join("tfplan")), SK),
        "the control plan file does not hold the key: the search proves nothing"
    );

    let tf = secret_from_variable(&sim, true);
    let before = sim.request_count();
    tf.ok(&["plan", "-out=tfplan"]);
    let plan_file = unzip_all(&tf.path().join("tfplan"));
    assert!(!plan_file.is_empty());
    assert!(
        !contains(&plan_file, SK),
        "the plan file holds the secret key"
    );
    // A saved plan made with an ephemeral variable needs it again at apply (TF_VAR_sk).
    let apply = tf.ok(&["apply", "tfplan"]);
    assert!(
        apply.stdout.contains("1 added"),
        "{}",
        apply.describe("apply")
    );
    let state = std::fs::read(tf.path().join("terraform.tfstate"))
        .unwrap_or_else(|e| panic!("reading terraform.tfstate: {e}"));
    assert!(
        contains(&state, "\"bob\""),
        "the state is not the applied one"
    );
    assert!(!contains(&state, SK), "the state holds the secret key");
    let shown = tf.ok(&["show", "-json"]);
    assert!(
        !shown.stdout.contains(SK),
        "terraform show prints the secret key"
    );

    // Signed with the key from the variable: mrs-sim accepted every call; one POST.
    let requests: Vec<Value> = sim.requests().into_iter().skip(before).collect();
    assert!(!requests.is_empty());
    for r in &requests {
        let status = r["status"].as_u64().unwrap_or(0);
        assert!((200..300).contains(&status), "refused: {r}");
    }
    let writes = sim.writes_since(before);
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(sim.names("c1"), (v(&["bob"]), v(&[])));
    let after = sim.request_count();
    assert_eq!(
        tf.plan_exit_code(),
        0,
        "the plan after the apply is not empty"
    );
    assert!(sim.writes_since(after).is_empty());
}

/// The `terraform test` example: examples/terraform-test/, copied into a workdir.
fn test_example(tf: &TfWorkdir) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/terraform-test");
    copy_dir(&src, tf.path());
}

fn copy_dir(from: &Path, to: &Path) {
    let entries = std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target)
                .unwrap_or_else(|e| panic!("{}: {e}", target.display()));
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("copying to {}: {e}", target.display()));
        }
    }
}

#[test]
fn terraform_test_runs_the_example_against_mrs_sim() {
    if !requires(1, 6, "terraform test") {
        return;
    }
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    test_example(&tf);
    let out = tf.run(&["test", "-filter=tests/sync.tftest.hcl"]);
    assert!(out.status.success(), "{}", out.describe("terraform test"));
    let text = words(&out.combined());
    assert!(text.contains("tests/sync.tftest.hcl... pass"), "{text}");
    assert!(
        text.contains("run \"syncs_the_listed_names\"... pass"),
        "{text}"
    );
    assert!(text.contains("Success! 3 passed, 0 failed"), "{text}");
    // Against mrs-sim: the first apply's POST, the second's POST of erin and DELETE of
    // dave, and the test's own destroy at the end; nothing left on the cluster.
    let writes = sim.writes_since(0);
    let methods: Vec<&str> = writes.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(methods, ["POST", "POST", "DELETE", "DELETE"], "{writes:?}");
    assert_eq!(names_of(&writes[0].1), (v(&["bob", "dave"]), v(&["ops"])));
    assert_eq!(names_of(&writes[1].1), (v(&["erin"]), v(&[])));
    assert_eq!(names_of(&writes[2].1), (v(&["dave"]), v(&[])));
    assert_eq!(names_of(&writes[3].1), (v(&["bob", "erin"]), v(&["ops"])));
    assert_eq!(sim.names("example"), (v(&[]), v(&[])));
    // Nothing of the test stays in the workdir's state.
    assert!(!tf.path().join("terraform.tfstate").exists());
}

#[test]
fn terraform_test_with_mock_provider_calls_no_api() {
    if !requires(1, 7, "mock_provider in terraform test") {
        return;
    }
    let sim = Sim::start(&[]);
    let tf = sim.workdir();
    test_example(&tf);
    let out = tf.run(&["test", "-filter=tests/mock.tftest.hcl"]);
    assert!(
        out.status.success(),
        "{}",
        out.describe("terraform test (mock)")
    );
    let text = words(&out.combined());
    assert!(text.contains("tests/mock.tftest.hcl... pass"), "{text}");
    assert!(text.contains("Success! 2 passed, 0 failed"), "{text}");
    assert_eq!(
        calls_since(&sim, 0),
        Vec::<String>::new(),
        "the mock reached mrs-sim"
    );
}

/// Every directory of examples/ that holds `.tf` files, found by walking it (no list to
/// keep): (path relative to examples/, absolute path).
fn example_dirs() -> Vec<(String, std::path::PathBuf)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, std::path::PathBuf)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        if entries
            .iter()
            .any(|p| p.extension().is_some_and(|x| x == "tf"))
        {
            let rel = dir.strip_prefix(root).unwrap_or(dir).display().to_string();
            out.push((rel, dir.to_path_buf()));
        }
        for p in entries.iter().filter(|p| p.is_dir()) {
            // A `terraform test` directory belongs to the module above it.
            if p.file_name().is_some_and(|n| n != "tests") {
                walk(p, root, out);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out
}

#[test]
fn every_example_directory_validates_with_its_import_blocks_and_tests() {
    if !requires(
        1,
        7,
        "validating import blocks and mock_provider test files",
    ) {
        return;
    }
    let dirs = example_dirs();
    let names: Vec<&str> = dirs.iter().map(|(rel, _)| rel.as_str()).collect();
    for expected in ["provider", "resources/mrs_iam_sync", "terraform-test"] {
        assert!(
            names.contains(&expected),
            "{expected} not found in {names:?}"
        );
    }
    let provider_tf = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/provider/provider.tf"),
    )
    .unwrap_or_else(|e| panic!("examples/provider/provider.tf: {e}"));
    for (rel, dir) in &dirs {
        let tf = TfWorkdir::new();
        copy_dir(dir, tf.path());
        // A resource or data source example holds only its block: the provider example
        // supplies the `required_providers` entry, as on the documentation page.
        let has_header = std::fs::read_dir(tf.path())
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "tf"))
            .any(|e| {
                std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains("required_providers"))
            });
        if !has_header {
            tf.write_file("provider.tf", &provider_tf);
        }
        let out = tf.run(&["validate"]);
        assert!(
            out.status.success() && out.stdout.contains("The configuration is valid"),
            "{}",
            out.describe(&format!("terraform validate of examples/{rel}"))
        );
    }
    // The test files are validated too: a broken run block in a copy fails.
    let tf = TfWorkdir::new();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/terraform-test"),
        tf.path(),
    );
    tf.write_file(
        "tests/broken.tftest.hcl",
        "run \"broken\" {\n  command = destroy_everything\n}\n",
    );
    let out = tf.fail(&["validate"]);
    assert!(
        words(&out.combined()).contains("broken.tftest.hcl"),
        "{}",
        out.combined()
    );
}
