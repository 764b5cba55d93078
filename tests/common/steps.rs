//! The one step runner for Terraform tests, after terraform-plugin-testing's
//! `resource.Test`: a test is a list of steps run in order in one workdir (usually against
//! mrs-sim); after every successful apply the runner itself asserts an empty plan that
//! sends no write, and an import step verifies what it imported against what was applied.
//! Nothing here knows a resource type: what one resource's import needs besides (the
//! hand-over of `mrs_iam_sync`) is a step option.
//!
//! ```ignore
//! steps::run(&tf, &sim, vec![
//!     Step::apply(config).check(|r| assert_eq!(r.writes().len(), 1)),
//!     Step::import("mrs_iam_sync.x").hand_over(),
//!     Step::destroy(),
//! ]);
//! ```
//!
//! A failing step panics with its number, what it ran and every terraform output of the
//! step, so the failure can be read without re-running it.

#![allow(dead_code)]

use std::cell::{OnceCell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::Value;

use super::sim::Sim;
use super::terraform::{state_resource, TfOutput, TfWorkdir};

type Hook<'a> = Box<dyn Fn(&StepEnv<'_>) + 'a>;
type Check<'a> = Box<dyn Fn(&StepResult<'_>) + 'a>;
type PlanCheck<'a> = Box<dyn Fn(&TfOutput) + 'a>;

/// What a step's setup hook may act on before the step's terraform command runs.
pub struct StepEnv<'s> {
    /// The workdir the step runs in (for an import step: the fresh one).
    pub tf: &'s TfWorkdir,
    sim: Option<&'s Sim>,
}

impl StepEnv<'_> {
    /// The simulator; panics when the test runs without one.
    pub fn sim(&self) -> &Sim {
        self.sim
            .unwrap_or_else(|| panic!("this test runs without mrs-sim"))
    }
}

/// What a step's checks look at: the step's terraform output and, on demand, the state
/// and what the simulator received during the step.
pub struct StepResult<'s> {
    /// The step's number, from 1.
    pub number: usize,
    /// The workdir the step ran in (for an import step: the fresh one).
    pub tf: &'s TfWorkdir,
    /// The output of the step's main command (apply, plan, import, destroy, validate).
    pub out: TfOutput,
    /// How long the main command ran.
    pub elapsed: Duration,
    sim: Option<&'s Sim>,
    requests_before: usize,
    state: OnceCell<Value>,
}

impl StepResult<'_> {
    /// The simulator; panics when the test runs without one.
    pub fn sim(&self) -> &Sim {
        self.sim
            .unwrap_or_else(|| panic!("this test runs without mrs-sim"))
    }

    /// Everything terraform printed (stdout, then stderr).
    pub fn text(&self) -> String {
        self.out.combined()
    }

    /// The state after the step, as `terraform show -json` prints it.
    pub fn state(&self) -> &Value {
        self.state.get_or_init(|| self.tf.state_json())
    }

    /// A resource of the state after the step, or None.
    pub fn resource(&self, address: &str) -> Option<&Value> {
        state_resource(self.state(), address)
    }

    /// The attribute values of a resource that must be in the state after the step.
    pub fn attrs(&self, address: &str) -> &Value {
        match self.resource(address) {
            Some(r) => &r["values"],
            None => panic!("{address} is not in the state: {}", self.state()),
        }
    }

    /// The requests the simulator logged during the step.
    pub fn requests(&self) -> Vec<Value> {
        self.sim()
            .requests()
            .into_iter()
            .skip(self.requests_before)
            .collect()
    }

    /// The writes (method, body) the simulator received during the step, GETs left out.
    pub fn writes(&self) -> Vec<(String, Value)> {
        self.sim().writes_since(self.requests_before)
    }
}

enum Kind {
    Apply,
    PlanOnly,
    Validate,
    Destroy,
    Import(Import),
}

struct Import {
    address: String,
    id: Option<String>,
    verify: bool,
    verify_against: Option<String>,
    ignore: Vec<String>,
    hand_over: bool,
}

/// One step of a Terraform test; build it with a constructor and the chained options.
pub struct Step<'a> {
    kind: Kind,
    config: Option<String>,
    args: Vec<String>,
    expect_error: Option<Regex>,
    expect_non_empty_plan: bool,
    setup: Vec<Hook<'a>>,
    pre_apply_plan: Option<PlanCheck<'a>>,
    checks: Vec<Check<'a>>,
}

impl<'a> Step<'a> {
    fn new(kind: Kind, config: Option<String>) -> Self {
        Step {
            kind,
            config,
            args: Vec::new(),
            expect_error: None,
            expect_non_empty_plan: false,
            setup: Vec::new(),
            pre_apply_plan: None,
            checks: Vec::new(),
        }
    }

    /// Writes `config` as main.tf and runs `terraform apply -auto-approve`; when the
    /// apply succeeds, `terraform plan -detailed-exitcode` must then exit 0 and send no
    /// write.
    pub fn apply(config: impl Into<String>) -> Self {
        Self::new(Kind::Apply, Some(config.into()))
    }

    /// Like `apply`, with the main.tf the previous step left.
    pub fn reapply() -> Self {
        Self::new(Kind::Apply, None)
    }

    /// Writes `config` and runs only `terraform plan -detailed-exitcode`, which must exit
    /// 0 (or 2 with `expect_non_empty_plan`) and send no write.
    pub fn plan_only(config: impl Into<String>) -> Self {
        Self::new(Kind::PlanOnly, Some(config.into()))
    }

    /// Writes `config` and runs `terraform validate`.
    pub fn validate(config: impl Into<String>) -> Self {
        Self::new(Kind::Validate, Some(config.into()))
    }

    /// Runs `terraform destroy -auto-approve` on the current main.tf; when it succeeds,
    /// no managed resource may be left in the state.
    pub fn destroy() -> Self {
        Self::new(Kind::Destroy, None)
    }

    /// Imports `address` into a fresh workdir holding the last written config (or the
    /// one given with `config`), by the import ID `REGION/PROJECT_ID/CLUSTER_ID` of the
    /// location the applied state holds for it (or the one given with `id`). When the import succeeds, its attributes must
    /// equal the applied ones (`verify_ignore` names attributes not compared; `timeouts`
    /// never is) and the fresh workdir's plan must be empty.
    pub fn import(address: &str) -> Self {
        Self::new(
            Kind::Import(Import {
                address: address.to_string(),
                id: None,
                verify: true,
                verify_against: None,
                ignore: Vec::new(),
                hand_over: false,
            }),
            None,
        )
    }

    /// The config an import step writes into its fresh workdir.
    pub fn config(mut self, config: impl Into<String>) -> Self {
        self.config = Some(config.into());
        self
    }

    /// The import ID, instead of the applied resource's location.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        if let Kind::Import(i) = &mut self.kind {
            i.id = Some(id.into());
        }
        self
    }

    /// Compares the imported resource with this applied one (when the import writes a
    /// different address).
    pub fn verify_against(mut self, address: &str) -> Self {
        if let Kind::Import(i) = &mut self.kind {
            i.verify_against = Some(address.to_string());
        }
        self
    }

    /// Attributes (prefixes of their names) the import verification leaves out.
    pub fn verify_ignore(mut self, attributes: &[&str]) -> Self {
        if let Kind::Import(i) = &mut self.kind {
            i.ignore.extend(attributes.iter().map(|a| a.to_string()));
        }
        self
    }

    /// For an import of `mrs_iam_sync`: an apply after it hands the adopted names over. Its
    /// plan is an in-place change with the hand-over warning, and it sends no write; the
    /// empty plan is asserted after that apply.
    pub fn hand_over(mut self) -> Self {
        if let Kind::Import(i) = &mut self.kind {
            i.hand_over = true;
        }
        self
    }

    /// No comparison with the applied state: for an import with no applied counterpart.
    pub fn no_verify(mut self) -> Self {
        if let Kind::Import(i) = &mut self.kind {
            i.verify = false;
        }
        self
    }

    /// Extra arguments for the step's terraform command (e.g. `-parallelism=10`).
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// The command must fail, printing something that matches the regular expression
    /// `pattern`; a failed step asserts no plan afterwards.
    pub fn expect_error(mut self, pattern: &str) -> Self {
        let re = Regex::new(pattern).unwrap_or_else(|e| panic!("bad pattern {pattern:?}: {e}"));
        self.expect_error = Some(re);
        self
    }

    /// The plan after this step must show changes instead of none: only for a step
    /// whose point is that something is left to do.
    pub fn expect_non_empty_plan(mut self) -> Self {
        self.expect_non_empty_plan = true;
        self
    }

    /// Runs before the step's command (after its config is written): faults, drift.
    pub fn setup(mut self, hook: impl Fn(&StepEnv<'_>) + 'a) -> Self {
        self.setup.push(Box::new(hook));
        self
    }

    /// Runs `terraform plan -detailed-exitcode` before the apply (it must not error) and
    /// hands its output to `check`.
    pub fn pre_apply_plan(mut self, check: impl Fn(&TfOutput) + 'a) -> Self {
        self.pre_apply_plan = Some(Box::new(check));
        self
    }

    /// A check run after the step's command, before the runner's own plan.
    pub fn check(mut self, check: impl Fn(&StepResult<'_>) + 'a) -> Self {
        self.checks.push(Box::new(check));
        self
    }

    fn describe(&self) -> String {
        let what = match &self.kind {
            Kind::Apply => "apply".to_string(),
            Kind::PlanOnly => "plan only".to_string(),
            Kind::Validate => "validate".to_string(),
            Kind::Destroy => "destroy".to_string(),
            Kind::Import(i) => format!("import {}", i.address),
        };
        match &self.expect_error {
            Some(re) => format!("{what}, expecting an error matching /{re}/"),
            None => what,
        }
    }
}

/// Runs `steps` in order in `tf`, against `sim` when given (`&sim` or `None`). Panics at
/// the first failing step, naming it and showing terraform's output.
pub fn run<'s>(tf: &TfWorkdir, sim: impl Into<Option<&'s Sim>>, steps: Vec<Step<'_>>) {
    let sim = sim.into();
    let mut runner = Runner {
        tf,
        sim,
        last_config: None,
        transcript: RefCell::new(Vec::new()),
    };
    for (i, step) in steps.into_iter().enumerate() {
        let number = i + 1;
        let what = step.describe();
        runner.transcript.borrow_mut().clear();
        let outcome = catch_unwind(AssertUnwindSafe(|| runner.step(number, step)));
        if let Err(payload) = outcome {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "(a panic without a message)".to_string());
            let transcript = runner.transcript.borrow().join("\n");
            panic!(
                "step {number} ({what}) failed: {message}\n\n===== terraform in step {number} =====\n{transcript}"
            );
        }
    }
}

struct Runner<'s> {
    tf: &'s TfWorkdir,
    sim: Option<&'s Sim>,
    /// The config main.tf holds, for an import step that gives none.
    last_config: Option<String>,
    /// Every terraform command of the current step with its output.
    transcript: RefCell<Vec<String>>,
}

impl<'s> Runner<'s> {
    fn exec(&self, tf: &TfWorkdir, args: &[&str]) -> TfOutput {
        let out = tf.run(args);
        self.transcript
            .borrow_mut()
            .push(out.describe(&format!("terraform {}", args.join(" "))));
        out
    }

    fn requests_now(&self) -> usize {
        self.sim.map(Sim::request_count).unwrap_or(0)
    }

    fn step(&mut self, number: usize, step: Step<'_>) {
        if let Kind::Import(_) = step.kind {
            return self.import(number, step);
        }
        if let Some(config) = &step.config {
            self.tf.write_main_tf(config);
            self.last_config = Some(config.clone());
        }
        let env = StepEnv {
            tf: self.tf,
            sim: self.sim,
        };
        for hook in &step.setup {
            hook(&env);
        }
        if let Some(check) = &step.pre_apply_plan {
            let plan = self.exec(self.tf, &["plan", "-detailed-exitcode"]);
            assert!(
                matches!(plan.code(), 0 | 2),
                "the plan before the apply failed (exit {})",
                plan.code()
            );
            check(&plan);
        }

        let mut args: Vec<&str> = match step.kind {
            Kind::Apply => vec!["apply", "-auto-approve"],
            Kind::PlanOnly => vec!["plan", "-detailed-exitcode"],
            Kind::Validate => vec!["validate"],
            Kind::Destroy => vec!["destroy", "-auto-approve"],
            Kind::Import(_) => unreachable!("handled above"),
        };
        args.extend(step.args.iter().map(String::as_str));
        let requests_before = self.requests_now();
        let started = Instant::now();
        let out = self.exec(self.tf, &args);
        let elapsed = started.elapsed();
        let succeeded = self.judge_outcome(&step, &out, &args);

        let result = StepResult {
            number,
            tf: self.tf,
            out,
            elapsed,
            sim: self.sim,
            requests_before,
            state: OnceCell::new(),
        };
        if let Kind::PlanOnly = step.kind {
            if succeeded {
                self.assert_plan_code(&result.out, step.expect_non_empty_plan);
                self.assert_no_writes_since(requests_before, "the plan");
            }
        }
        if let (Kind::Destroy, true) = (&step.kind, succeeded) {
            let left = managed_addresses(result.state());
            assert!(left.is_empty(), "destroy left {left:?} in the state");
        }
        for check in &step.checks {
            check(&result);
        }
        if let (Kind::Apply, true) = (&step.kind, succeeded) {
            self.plan_after(self.tf, step.expect_non_empty_plan, "apply");
        }
    }

    fn import(&mut self, number: usize, step: Step<'_>) {
        let Kind::Import(import) = &step.kind else {
            unreachable!("only import steps come here")
        };
        let config = step
            .config
            .clone()
            .or_else(|| self.last_config.clone())
            .unwrap_or_else(|| panic!("an import step needs a config: give one, or apply first"));
        let against = import.verify_against.as_deref().unwrap_or(&import.address);
        // The applied resource is read before the import, as Terraform left it.
        let applied = (import.verify || import.id.is_none()).then(|| {
            let state = self.tf.state_json();
            state_resource(&state, against)
                .cloned()
                .unwrap_or_else(|| panic!("{against} is not in the applied state: {state}"))
        });
        let id = match (&import.id, &applied) {
            (Some(id), _) => id.clone(),
            (None, Some(r)) => ["region", "project_id", "cluster_id"]
                .map(|a| {
                    r["values"][a]
                        .as_str()
                        .unwrap_or_else(|| panic!("{against} has no string {a}: {r}"))
                })
                .join("/"),
            (None, None) => unreachable!("the applied state is read when no id is given"),
        };

        let fresh = self.tf.fresh_like();
        fresh.write_main_tf(&config);
        let env = StepEnv {
            tf: &fresh,
            sim: self.sim,
        };
        for hook in &step.setup {
            hook(&env);
        }
        let mut args = vec!["import", import.address.as_str(), id.as_str()];
        args.extend(step.args.iter().map(String::as_str));
        let requests_before = self.requests_now();
        let started = Instant::now();
        let out = self.exec(&fresh, &args);
        let elapsed = started.elapsed();
        let succeeded = self.judge_outcome(&step, &out, &args);
        let result = StepResult {
            number,
            tf: &fresh,
            out,
            elapsed,
            sim: self.sim,
            requests_before,
            state: OnceCell::new(),
        };
        if let (true, true, Some(applied)) = (succeeded, import.verify, &applied) {
            let imported = result.resource(&import.address).unwrap_or_else(|| {
                panic!(
                    "{} is not in the state after the import: {}",
                    import.address,
                    result.state()
                )
            });
            let diffs = attribute_differences(applied, imported, &import.ignore);
            assert!(
                diffs.is_empty(),
                "the imported {} differs from the applied {against}:\n{}",
                import.address,
                diffs.join("\n")
            );
        }
        for check in &step.checks {
            check(&result);
        }
        if succeeded {
            if import.hand_over {
                self.hand_over(&fresh);
            }
            self.plan_after(&fresh, step.expect_non_empty_plan, "import");
        }
    }

    /// The apply after an import that asks for it (`Step::hand_over`): its plan shows only
    /// the hand-over of the adopted names (in place, with a warning), and it sends no write.
    fn hand_over(&self, tf: &TfWorkdir) {
        let plan = self.exec(tf, &["plan", "-detailed-exitcode"]);
        assert_eq!(
            plan.code(),
            2,
            "the plan after an import shows the hand-over"
        );
        let text = plan.combined();
        assert!(
            text.contains("handed over on MRS cluster")
                && text.contains("0 to add, 1 to change, 0 to destroy"),
            "the plan after an import is only the hand-over: {text}"
        );
        let before = self.requests_now();
        let apply = self.exec(tf, &["apply", "-auto-approve"]);
        assert!(
            apply.status.success(),
            "the hand-over apply failed: {}",
            apply.combined()
        );
        self.assert_no_writes_since(before, "the hand-over apply");
    }

    /// Asserts the command failed or succeeded as the step expects; true if it succeeded.
    fn judge_outcome(&self, step: &Step<'_>, out: &TfOutput, args: &[&str]) -> bool {
        let command = args.join(" ");
        match &step.expect_error {
            Some(re) => {
                // `plan -detailed-exitcode` exits 2 for changes: only 1 is an error.
                let failed = match step.kind {
                    Kind::PlanOnly => out.code() == 1,
                    _ => !out.status.success(),
                };
                assert!(
                    failed,
                    "terraform {command} succeeded, but an error matching /{re}/ was expected"
                );
                assert!(
                    re.is_match(&out.combined()),
                    "terraform {command} failed, but its output does not match /{re}/"
                );
                false
            }
            None if matches!(step.kind, Kind::PlanOnly) => {
                assert!(
                    matches!(out.code(), 0 | 2),
                    "terraform {command} failed (exit {})",
                    out.code()
                );
                true
            }
            None => {
                assert!(
                    out.status.success(),
                    "terraform {command} failed ({})",
                    out.status
                );
                true
            }
        }
    }

    /// The plan after a successful apply or import: empty (or, when the step says so,
    /// not), and sending no write.
    fn plan_after(&self, tf: &TfWorkdir, expect_non_empty: bool, after: &str) {
        let before = self.requests_now();
        let plan = self.exec(tf, &["plan", "-detailed-exitcode"]);
        assert!(
            plan.code() != 1,
            "the plan after the {after} failed (exit 1)"
        );
        self.assert_plan_code(&plan, expect_non_empty);
        self.assert_no_writes_since(before, &format!("the plan after the {after}"));
    }

    fn assert_plan_code(&self, plan: &TfOutput, expect_non_empty: bool) {
        if expect_non_empty {
            assert_eq!(plan.code(), 2, "the plan was expected to show changes");
        } else {
            assert_eq!(
                plan.code(),
                0,
                "the plan is not empty: the provider did not converge"
            );
        }
    }

    fn assert_no_writes_since(&self, before: usize, what: &str) {
        if let Some(sim) = self.sim {
            let writes = sim.writes_since(before);
            assert!(writes.is_empty(), "{what} sent writes: {writes:?}");
        }
    }
}

/// The attributes (other than `timeouts` and those under an ignored prefix) whose values
/// differ between two resources of `terraform show -json`, one line each.
fn attribute_differences(applied: &Value, imported: &Value, ignore: &[String]) -> Vec<String> {
    let empty = serde_json::Map::new();
    let a = applied["values"].as_object().unwrap_or(&empty);
    let b = imported["values"].as_object().unwrap_or(&empty);
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|n| *n != "timeouts")
        .filter(|n| !ignore.iter().any(|p| n.starts_with(p.as_str())))
        .filter_map(|n| {
            let (x, y) = (
                a.get(n).unwrap_or(&Value::Null),
                b.get(n).unwrap_or(&Value::Null),
            );
            (x != y).then(|| format!("  {n}: applied {x}, imported {y}"))
        })
        .collect()
}

/// The addresses of the managed resources in a `terraform show -json` state, modules too.
fn managed_addresses(state: &Value) -> Vec<String> {
    fn walk(module: &Value, out: &mut Vec<String>) {
        for r in module["resources"].as_array().into_iter().flatten() {
            if r["mode"] == "managed" {
                out.push(r["address"].as_str().unwrap_or("?").to_string());
            }
        }
        for m in module["child_modules"].as_array().into_iter().flatten() {
            walk(m, out);
        }
    }
    let mut out = Vec::new();
    walk(&state["values"]["root_module"], &mut out);
    out
}
