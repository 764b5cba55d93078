//! Proves the Terraform harness (the workdir and the step runner) end to end with real
//! Terraform 1.0.3 and a Go provider that exists today (hashicorp/null 2.1.2 from tools/),
//! so a harness fault is never mistaken for a provider fault.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::sim::Sim;
use common::steps::{self, Step};
use common::terraform::{
    at_least, null_provider_dir, parse_version, pinned_terraform_bin, state_resource,
    terraform_bin, version, TfWorkdir, NULL_SOURCE,
};

const NULL_CONFIG: &str = r#"
terraform {
  required_providers {
    null = {
      source = "hashicorp/null"
    }
  }
}

variable "trigger" {
  type    = string
  default = "one"
}

resource "null_resource" "a" {
  triggers = {
    t = var.trigger
  }
}

output "a_id" {
  value = null_resource.a.id
}
"#;

fn null_workdir() -> TfWorkdir {
    TfWorkdir::with_overrides(&[(NULL_SOURCE, &null_provider_dir())])
}

/// tools/bin/terraform is the pinned oldest version, whichever Terraform the tests drive
/// (`make test` runs them again with TERRAFORM_BIN set to a newer one).
#[test]
fn terraform_is_the_pinned_version() {
    let out = std::process::Command::new(pinned_terraform_bin())
        .arg("version")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("running terraform version");
    assert!(out.status.success(), "terraform version failed: {out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("Terraform v1.0.3\n"),
        "unexpected version output: {stdout}"
    );
}

/// `version()` and `at_least()` tell the Terraform that `terraform_bin()` runs.
#[test]
fn version_helpers_name_the_terraform_the_tests_drive() {
    let out = std::process::Command::new(terraform_bin())
        .arg("version")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("running terraform version");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (a, b, c) = version();
    assert!(
        stdout.starts_with(&format!("Terraform v{a}.{b}.{c}\n")),
        "version() is {a}.{b}.{c}, terraform says {stdout}"
    );
    assert!(at_least(1, 0) && at_least(a, b), "{a}.{b}.{c}");
    assert!(!at_least(a, b + 1) && !at_least(a + 1, 0), "{a}.{b}.{c}");
    assert_eq!(parse_version("1.11.4"), Some((1, 11, 4)));
    assert_eq!(parse_version("v1.6.0-beta1"), Some((1, 6, 0)));
    assert_eq!(parse_version("1.10"), Some((1, 10, 0)));
    assert_eq!(parse_version("one.two"), None);
}

#[test]
fn null_resource_apply_plan_destroy() {
    let wd = null_workdir();
    wd.write_main_tf(NULL_CONFIG);

    // dev_overrides: no init, and Terraform says the override is in effect.
    let apply = wd.ok(&["apply", "-auto-approve"]);
    assert!(
        apply
            .stdout
            .contains("Apply complete! Resources: 1 added, 0 changed, 0 destroyed."),
        "apply output: {}",
        apply.stdout
    );
    assert!(
        apply
            .combined()
            .contains("Provider development overrides are in effect"),
        "no dev_overrides warning: {}",
        apply.combined()
    );
    assert!(
        !apply.stdout.contains('\u{1b}'),
        "colour codes despite -no-color"
    );

    let state = wd.state_json();
    let res = state_resource(&state, "null_resource.a")
        .unwrap_or_else(|| panic!("null_resource.a not in state: {state:#}"));
    assert_eq!(res["type"], "null_resource");
    assert_eq!(res["provider_name"], "registry.terraform.io/hashicorp/null");
    assert_eq!(res["values"]["triggers"]["t"], "one");
    let id = res["values"]["id"].as_str().expect("id is a string");
    assert!(
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()),
        "id {id:?}"
    );
    let output = wd.ok(&["output", "-raw", "a_id"]);
    assert_eq!(output.stdout.trim(), id);

    // Converged: nothing to do.
    assert_eq!(wd.plan_exit_code(), 0);

    // A changed trigger forces replacement: exit code 2, and the plan says so.
    wd.write_main_tf(&NULL_CONFIG.replace("\"one\"", "\"two\""));
    assert_eq!(wd.plan_exit_code(), 2);
    let plan = wd.ok(&["plan"]);
    assert!(
        plan.stdout.contains("must be replaced"),
        "plan output: {}",
        plan.stdout
    );

    let destroy = wd.ok(&["destroy", "-auto-approve"]);
    assert!(
        destroy
            .stdout
            .contains("Destroy complete! Resources: 1 destroyed."),
        "destroy output: {}",
        destroy.stdout
    );
    let state = wd.state_json();
    assert!(
        state_resource(&state, "null_resource.a").is_none(),
        "resource still in state after destroy: {state:#}"
    );
}

#[test]
fn errors_are_reported_not_hidden() {
    let wd = null_workdir();
    wd.write_main_tf("resource \"null_resource\" \"a\" {\n  no_such_argument = 1\n}\n");
    let out = wd.fail(&["plan"]);
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr.contains("Unsupported argument"),
        "stderr: {}",
        out.stderr
    );
}

#[test]
fn extra_env_reaches_terraform() {
    let wd = null_workdir().env("TF_VAR_trigger", "from-env");
    wd.write_main_tf(NULL_CONFIG);
    wd.ok(&["apply", "-auto-approve"]);
    let state = wd.state_json();
    let res = state_resource(&state, "null_resource.a").expect("resource in state");
    assert_eq!(res["values"]["triggers"]["t"], "from-env");
}

/// The message of a panic caught by `catch_unwind`.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn step_runner_passes_a_converging_config_and_matches_expected_errors() {
    let wd = null_workdir();
    steps::run(
        &wd,
        None::<&Sim>,
        vec![
            Step::plan_only("resource \"null_resource\" \"a\" {\n  no_such_argument = 1\n}\n")
                .expect_error("Unsupported argument"),
            // The destroy at the end runs on the last config written, so the broken one
            // comes first.
            Step::apply(NULL_CONFIG).check(|r| {
                assert_eq!(r.number, 2);
                assert_eq!(r.attrs("null_resource.a")["triggers"]["t"], "one");
            }),
            Step::plan_only(NULL_CONFIG.replace("\"one\"", "\"two\""))
                .expect_non_empty_plan()
                .check(|r| {
                    assert!(
                        r.out.stdout.contains("must be replaced"),
                        "{}",
                        r.out.stdout
                    )
                }),
            Step::destroy().check(|r| assert!(r.resource("null_resource.a").is_none())),
        ],
    );
}

#[test]
fn step_runner_fails_a_step_whose_plan_after_apply_is_not_empty() {
    let wd = null_workdir();
    // timestamp() is known only at apply time, so every plan replaces the resource.
    let never_converges = NULL_CONFIG.replace("t = var.trigger", "t = timestamp()");
    let failure = catch_unwind(AssertUnwindSafe(|| {
        steps::run(
            &wd,
            None::<&Sim>,
            vec![Step::apply(NULL_CONFIG), Step::apply(never_converges)],
        )
    }))
    .expect_err("a non-empty plan after an apply must fail the step");
    let message = panic_message(failure);
    assert!(message.contains("step 2 (apply) failed"), "{message}");
    assert!(message.contains("the plan is not empty"), "{message}");
    // Terraform's own output of the step is shown: the apply, then the plan.
    assert!(
        message.contains("terraform apply -auto-approve"),
        "{message}"
    );
    assert!(
        message.contains("terraform plan -detailed-exitcode"),
        "{message}"
    );
    assert!(message.contains("must be replaced"), "{message}");
}

#[test]
fn step_runner_fails_a_step_whose_expected_error_does_not_come() {
    let wd = null_workdir();
    let failure = catch_unwind(AssertUnwindSafe(|| {
        steps::run(
            &wd,
            None::<&Sim>,
            vec![Step::apply(NULL_CONFIG).expect_error("Unsupported argument")],
        )
    }))
    .expect_err("an apply that succeeds against an expected error must fail the step");
    let message = panic_message(failure);
    assert!(
        message
            .contains("step 1 (apply, expecting an error matching /Unsupported argument/) failed"),
        "{message}"
    );
    assert!(message.contains("succeeded, but an error"), "{message}");
    assert!(message.contains("Apply complete!"), "{message}");
}
