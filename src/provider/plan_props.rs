//! Property tests: `mrs_iam_sync`'s plans and applies, for random configurations, prior
//! states and imports, checked against the oracle of Terraform's own rules.

use std::sync::Arc;

use proptest::prelude::*;

use super::clusters::Clusters;
use super::config;
use super::iam_sync::{self, IamSync};
use crate::framework::oracle::{
    assert_apply_valid, assert_object_compatible, assert_plan_valid, known_at_apply, proposed_new,
    Core, CORES,
};
use crate::framework::plan::{plan_change, PlanOutcome};
use crate::framework::validate::validate_block;
use crate::framework::{typed, AttributePath, Diagnostics, Resource, Value};

const PROJECT: &str = "proj0001";
const REGION: &str = "cn-north-4";
const AK: &str = "PROPTESTACCESSKEY01";
const SK: &str = "proptest-secret";

/// A provider configured as in a real run; `endpoint` is where its client sends requests.
fn resource(endpoint: &str) -> Arc<dyn Resource> {
    let shared = config::configured_for_tests(vec![
        ("region", Value::string(REGION)),
        ("project_id", Value::string(PROJECT)),
        ("access_key", Value::string(AK)),
        ("secret_key", Value::string(SK)),
        (
            "endpoints",
            Value::Map([("mrs".to_string(), Value::string(endpoint))].into()),
        ),
        ("max_retries", Value::int(0)),
    ]);
    typed(IamSync::new(Arc::new(Clusters::new(shared))))
}

/// What Terraform itself does before asking for a plan: a configuration the provider
/// rejects is never planned.
fn valid_config(r: &dyn Resource, config: &Value) -> bool {
    let mut d = Diagnostics::new();
    validate_block(&r.schema().block, config, &AttributePath::root(), &mut d);
    r.validate_config(config, &mut d);
    !d.has_errors()
}

/// PlanResourceChange as the protocol layer runs it, over what `core` proposes: the
/// framework's plan, then the resource's hook, then every declared attribute present.
fn plan(r: &dyn Resource, core: Core, prior: &Value, config: &Value) -> PlanOutcome {
    plan_with(r, core, prior, config, &mut Vec::new())
}

/// `plan`, with the resource's private bytes: the prior ones in, the planned ones out.
fn plan_with(
    r: &dyn Resource,
    core: Core,
    prior: &Value,
    config: &Value,
    private: &mut Vec<u8>,
) -> PlanOutcome {
    let ty = r.schema().object_type();
    let proposed = proposed_new(core, &r.schema().block, prior, config);
    let mut out = plan_change(r.schema(), prior, &proposed, config);
    if !(proposed.is_null() && prior.is_null()) {
        // The provider here knows its region's project, so the hook needs no network.
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => panic!("a runtime for the plan hook: {e}"),
        };
        rt.block_on(r.modify_plan(prior, config, &mut out.planned, private, &mut out.diags));
        if proposed.is_null() {
            out.planned = Value::Null;
        }
    }
    out.planned = std::mem::take(&mut out.planned).conform(&ty);
    out
}

const NAMES: [&str; 4] = ["alice", "bob", "carol", "x y"];

fn name() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::sample::select(NAMES.to_vec()).prop_map(Value::string),
        1 => Just(Value::Unknown),
    ]
}

fn names() -> impl Strategy<Value = Value> {
    prop_oneof![
        2 => Just(Value::Null),
        1 => Just(Value::Unknown),
        1 => Just(Value::Set(vec![])),
        5 => prop::collection::vec(name(), 1..5).prop_map(Value::canonical_set),
    ]
}

fn maybe(s: &'static str) -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => Just(Value::Null),
        1 => Just(Value::Unknown),
        1 => Just(Value::string(s)),
    ]
}

/// A configuration of `mrs_iam_sync`: nulls, unknowns (whole and inside sets), empty
/// sets, every optional argument.
fn config() -> impl Strategy<Value = Value> {
    (
        prop_oneof![3 => Just(Value::string("c1")), 1 => Just(Value::Unknown)],
        maybe(PROJECT),
        maybe(REGION),
        names(),
        names(),
        prop_oneof![
            4 => Just(Value::Null),
            1 => Just(Value::Bool(false)),
            1 => Just(Value::Bool(true)),
            1 => Just(Value::Unknown),
        ],
        prop_oneof![
            3 => Just(Value::Null),
            1 => maybe("5m").prop_map(|c| Value::object([("create", c)])),
        ],
    )
        .prop_map(|(cluster, project, region, users, groups, all, timeouts)| {
            Value::object([
                ("cluster_id", cluster),
                ("project_id", project),
                ("region", region),
                ("user_names", users),
                ("group_names", groups),
                ("is_all_sync", all),
                ("timeouts", timeouts),
            ])
            .conform(&iam_sync::schema().object_type())
        })
}

/// The configuration as Terraform has it at apply: every unknown known, picked by `seed`,
/// and sets rebuilt so elements that turned out equal merge.
fn known(v: &Value, seed: u64) -> Value {
    let mut rng = fastrand::Rng::with_seed(seed);
    // Project and cluster IDs must stay valid IDs, and the region the provider's (whose
    // project it knows: another region's would be asked of IAM, which is not here); names
    // may be anything.
    let mut out = known_at_apply(
        v,
        &iam_sync::schema().object_type(),
        &mut rng,
        &["alice", "bob", "c1", "dave"],
        &NAMES,
    );
    if v.get("region").is_unknown() {
        out.set_attr("region", Value::string(REGION));
    }
    if v.get("project_id").is_unknown() {
        out.set_attr("project_id", Value::string(PROJECT));
    }
    if v.get("cluster_id").is_unknown() {
        out.set_attr("cluster_id", Value::string("c1"));
    }
    out
}

/// A prior state: one a create of `config` could have left, or one an import made
/// (names null when the cluster has none, no timeouts).
fn prior() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        2 => (config(), any::<u64>()).prop_map(|(c, seed)| {
            let mut s = known(&c, seed);
            s.set_attr("id", Value::string(format!("{PROJECT}/c1")));
            s.set_attr("project_id", Value::string(PROJECT));
            if s.get("region").is_null() {
                s.set_attr("region", Value::string(REGION));
            }
            if s.get("is_all_sync").is_null() {
                s.set_attr("is_all_sync", Value::Bool(false));
            }
            s
        }),
        1 => (names(), names(), any::<u64>()).prop_map(|(u, g, seed)| {
            let imported = |v: Value| match known(&v, seed) {
                Value::Set(e) if e.is_empty() => Value::Null,
                x => x,
            };
            Value::object([
                ("id", Value::string(format!("{PROJECT}/c1"))),
                ("region", Value::string(REGION)),
                ("project_id", Value::string(PROJECT)),
                ("cluster_id", Value::string("c1")),
                ("user_names", imported(u)),
                ("group_names", imported(g)),
                ("is_all_sync", Value::Bool(false)),
                ("timeouts", Value::Null),
            ])
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Every plan of `mrs_iam_sync` is one Terraform accepts, and the plan made again at
    /// apply, once the unknowns are known, is a completion of it.
    #[test]
    fn resource_plans_are_valid_and_final_plans_consistent(
        core in prop::sample::select(CORES.to_vec()),
        prior in prior(),
        config in config(),
        seed in any::<u64>(),
    ) {
        let r = resource("http://127.0.0.1:9");
        let block = &r.schema().block;
        // Terraform plans only configurations that validate; for the others, done.
        if !valid_config(&*r, &config) {
            return Ok(());
        }
        let out = plan(&*r, core, &prior, &config);
        if out.diags.has_errors() {
            return Ok(());
        }
        let v = assert_plan_valid(block, &prior, &config, &out.planned);
        prop_assert!(v.is_empty(), "{:?}: plan {:?}\nconfig {:?}\nprior {:?}\n{:?}", core, out.planned, config, prior, v);
        // Replacing plans from a null prior; Terraform plans them as creates.
        let prior_for_final = if out.requires_replace.is_empty() { prior.clone() } else { Value::Null };
        let first = if prior_for_final.is_null() && !prior.is_null() {
            let create = plan(&*r, core, &Value::Null, &config).planned;
            let v = assert_plan_valid(block, &Value::Null, &config, &create);
            prop_assert!(v.is_empty(), "replacing plan {:?}: {:?}", create, v);
            create
        } else {
            out.planned
        };

        let final_config = known(&config, seed);
        if !valid_config(&*r, &final_config) {
            // Caught at apply by validation, before any plan or write.
            return Ok(());
        }
        let fin = plan(&*r, core, &prior_for_final, &final_config);
        let v = assert_plan_valid(block, &prior_for_final, &final_config, &fin.planned);
        prop_assert!(v.is_empty(), "final plan {:?}: {:?}", fin.planned, v);
        let v = assert_object_compatible(block, &first, &fin.planned);
        prop_assert!(v.is_empty(), "final plan {:?}\nis not a completion of {:?}\n{:?}", fin.planned, first, v);
    }

    /// Destroy plans are null, as Terraform requires.
    #[test]
    fn destroy_plans_are_null(core in prop::sample::select(CORES.to_vec()), prior in prior()) {
        let r = resource("http://127.0.0.1:9");
        let out = plan(&*r, core, &prior, &Value::Null);
        prop_assert!(assert_plan_valid(&r.schema().block, &prior, &Value::Null, &out.planned).is_empty());
    }
}

/// Applies against an in-process mrs-sim, over what one core proposes: each step's plans
/// are ones Terraform accepts, its new state is wholly known and a completion of its plan
/// (or, after a reported error, at least wholly known), and the plan that follows a
/// successful apply is empty.
#[test]
fn resource_applies_are_valid() {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    };
    // `_stop` lives to the end of the test, and the sim with it.
    let (url, _stop) = rt.block_on(crate::sim::spawn_for_tests(crate::sim::SimConfig::new(
        AK, SK,
    )));
    let r = resource(&url);
    let block = r.schema().block.clone();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(64));
    let steps = (
        prop::sample::select(CORES.to_vec()),
        prop::collection::vec((config(), any::<u64>()), 1..4),
    );
    let result = runner.run(&steps, |(core, steps)| {
        let mut state = Value::Null;
        let mut private = Vec::new();
        let mut cluster = 0u32;
        for (config, seed) in steps {
            if !valid_config(&*r, &config) {
                continue;
            }
            let first = plan(&*r, core, &state, &config);
            if first.diags.has_errors() {
                continue;
            }
            let v = assert_plan_valid(&block, &state, &config, &first.planned);
            prop_assert!(
                v.is_empty(),
                "{:?}: plan {:?}\nover {:?}\n{:?}",
                core,
                first.planned,
                state,
                v
            );
            let mut known_config = known(&config, seed);
            if !state.is_null() && !first.requires_replace.is_empty() {
                // Replacement: destroy, then create.
                let out = rt.block_on(r.delete(&state, &mut private));
                prop_assert!(!out.diags.has_errors(), "{:?}", out.diags);
                prop_assert!(out.state.is_null());
                state = Value::Null;
                private = Vec::new();
            }
            if state.is_null() {
                // A fresh cluster per create, so earlier steps leave nothing behind.
                cluster += 1;
                known_config.set_attr("cluster_id", Value::string(format!("c{cluster}")));
            } else {
                known_config.set_attr("cluster_id", state.get("cluster_id").clone());
            }
            if !valid_config(&*r, &known_config) {
                continue;
            }
            let mut planned_private = private.clone();
            let fin = plan_with(&*r, core, &state, &known_config, &mut planned_private);
            let planned = fin.planned.clone();
            let v = assert_plan_valid(&block, &state, &known_config, &planned);
            prop_assert!(
                v.is_empty(),
                "{:?}: final plan {:?}\nover {:?}\n{:?}",
                core,
                planned,
                state,
                v
            );
            let out = if state.is_null() {
                rt.block_on(r.create(&planned, &known_config, &mut planned_private))
            } else {
                rt.block_on(r.update(&state, &planned, &known_config, &mut planned_private))
            };
            private = planned_private;
            let failed = out.diags.has_errors();
            let v = assert_apply_valid(&block, &planned, &out.state, failed);
            prop_assert!(
                v.is_empty(),
                "apply of {:?}\ngave {:?}\n{:?}",
                planned,
                out.state,
                v
            );
            prop_assert!(!failed, "apply failed: {:?}", out.diags);
            state = out.state;
            // Converged: the next plan of the same configuration changes nothing.
            let again = plan_with(&*r, core, &state, &known_config, &mut private.clone());
            prop_assert_eq!(&again.planned, &state, "plan after apply is not empty");
        }
        if !state.is_null() {
            let out = rt.block_on(r.delete(&state, &mut private));
            prop_assert!(!out.diags.has_errors(), "{:?}", out.diags);
            let v = assert_apply_valid(&block, &Value::Null, &out.state, false);
            prop_assert!(
                v.is_empty() && out.state.is_null(),
                "destroy left {:?}",
                out.state
            );
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
