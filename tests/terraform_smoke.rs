//! Proves the Terraform harness end to end with real Terraform 1.0.3 and a Go provider
//! that exists today (hashicorp/null 2.1.2 from tools/), so a harness fault is never
//! mistaken for a provider fault.

mod common;

use common::terraform::{null_provider_dir, state_resource, terraform_bin, TfWorkdir, NULL_SOURCE};

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

#[test]
fn terraform_is_the_pinned_version() {
    let out = std::process::Command::new(terraform_bin())
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
