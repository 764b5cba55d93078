//! Planning: plan modifiers and the order in which terraform-plugin-framework applies them
//! (defaults, computed-null-to-unknown on change, attribute modifiers, resource hook), at
//! the top level and inside nested blocks alike.

use std::sync::Arc;

pub use super::attribute_hooks::{ModifyRequest, ModifyResponse, PlanModifier};
use super::diag::{AttributePath, Diagnostics};
use super::schema::{Attribute, Block, Nesting, Schema};
use super::value::Value;

struct RequiresReplace;

impl PlanModifier for RequiresReplace {
    fn description(&self) -> String {
        "changing it forces a new resource".to_string()
    }

    fn modify(&self, req: &ModifyRequest<'_>, resp: &mut ModifyResponse, _: &mut Diagnostics) {
        if req.creating {
            return;
        }
        if &resp.planned == req.prior {
            return;
        }
        resp.requires_replace = true;
    }
}

/// Changing the attribute replaces the resource.
pub fn requires_replace() -> Arc<dyn PlanModifier> {
    Arc::new(RequiresReplace)
}

struct UseStateForUnknown;

impl PlanModifier for UseStateForUnknown {
    fn description(&self) -> String {
        "keeps its prior value when unchanged".to_string()
    }

    fn modify(&self, req: &ModifyRequest<'_>, resp: &mut ModifyResponse, _: &mut Diagnostics) {
        if req.creating {
            return;
        }
        if !resp.planned.is_unknown() {
            return;
        }
        if req.config.is_unknown() {
            return;
        }
        resp.planned = req.prior.clone();
    }
}

/// A computed value that does not change after create keeps its prior value in plans,
/// instead of showing "(known after apply)" on every update.
pub fn use_state_for_unknown() -> Arc<dyn PlanModifier> {
    Arc::new(UseStateForUnknown)
}

/// The result of planning one resource change.
#[derive(Debug, Default)]
pub struct PlanOutcome {
    pub planned: Value,
    /// Each path at most once, in the order first required.
    pub requires_replace: Vec<AttributePath>,
    pub diags: Diagnostics,
}

impl PlanOutcome {
    /// Records that changing `path` replaces the resource; a path already recorded is not
    /// repeated, so Terraform lists each cause once.
    pub fn require_replace(&mut self, path: AttributePath) {
        if !self.requires_replace.contains(&path) {
            self.requires_replace.push(path);
        }
    }
}

/// Plans a create, update or destroy in the framework's order: defaults, computed values
/// unknown where anything changes, then each attribute's plan modifiers. The resource's
/// own `modify_plan` comes after, in the framework server (it may need the network).
/// A destroy (null proposed state) plans null.
pub fn plan_change(
    schema: &Schema,
    prior: &Value,
    proposed: &Value,
    config: &Value,
) -> PlanOutcome {
    let mut out = PlanOutcome::default();
    if proposed.is_null() {
        return out;
    }
    let creating = prior.is_null();
    let mut planned = proposed.clone();
    null_single_blocks_config_leaves_out(&schema.block, &mut planned, config);
    let root = AttributePath::root();

    for_each_attribute(
        &schema.block,
        &root,
        &mut planned,
        config,
        prior,
        &mut |a, _, planned, config, _| {
            if let Some(d) = &a.default {
                if config.get(&a.name).is_null() {
                    planned.set_attr(&a.name, d.clone());
                }
            }
        },
    );

    // Terraform proposes prior values for computed attributes the config leaves null; when
    // anything changes they may change too, so they become unknown unless a modifier says
    // otherwise.
    if creating || &planned != prior {
        for_each_attribute(
            &schema.block,
            &root,
            &mut planned,
            config,
            prior,
            &mut |a, _, planned, config, _| {
                if a.computed && a.default.is_none() && config.get(&a.name).is_null() {
                    planned.set_attr(&a.name, Value::Unknown);
                }
            },
        );
    }

    for_each_attribute(
        &schema.block,
        &root,
        &mut planned,
        config,
        prior,
        &mut |a, path, planned, config, prior| {
            if a.plan_modifiers.is_empty() {
                return;
            }
            let req = ModifyRequest {
                path: &path,
                config: config.get(&a.name),
                prior: prior.get(&a.name),
                creating,
            };
            let mut resp = ModifyResponse {
                planned: planned.get(&a.name).clone(),
                requires_replace: false,
            };
            for m in &a.plan_modifiers {
                m.modify(&req, &mut resp, &mut out.diags);
            }
            planned.set_attr(&a.name, resp.planned);
            if resp.requires_replace {
                out.require_replace(path);
            }
        },
    );

    out.planned = planned;
    out
}

/// Plans null every single nested block (`timeouts`) the configuration leaves out, at any
/// depth. Terraform 1.0 to 1.3 propose the prior state's block there instead:
/// objchange.go's `proposedNewNestedBlock` at v1.0.3 calls `ProposedNew(&schema.Block,
/// prior, config)` for `NestingSingle`, whose `proposedNew` returns `prior` when `config`
/// is null. Their own `AssertPlanValid` (plan_valid.go) then rejects a plan that keeps it,
/// "planned for existence but config wants absense", so a removed block could never be
/// planned. Terraform 1.4 (d5d6d61c4c, "NestingSingle blocks can be null") proposes the
/// null itself; then this changes nothing. A block configured unknown (`dynamic` over an
/// unknown `for_each`) is proposed unknown by every Terraform and not an object here, so
/// it is left alone; so are set elements, known by their value.
fn null_single_blocks_config_leaves_out(block: &Block, planned: &mut Value, config: &Value) {
    if !matches!(planned, Value::Object(_)) || !matches!(config, Value::Object(_)) {
        return;
    }
    for nb in &block.blocks {
        let name = nb.type_name.as_str();
        let config_v = config.get(name);
        let mut nested = planned.get(name).clone();
        match nb.nesting {
            Nesting::Single if config_v.is_null() => nested = Value::Null,
            Nesting::Single => {
                null_single_blocks_config_leaves_out(&nb.block, &mut nested, config_v)
            }
            Nesting::List => {
                let Value::List(elements) = &mut nested else {
                    continue;
                };
                let config_elements = config_v.elements().unwrap_or_default();
                for (element, c) in elements.iter_mut().zip(config_elements) {
                    null_single_blocks_config_leaves_out(&nb.block, element, c);
                }
            }
            Nesting::Set => continue,
        }
        planned.set_attr(name, nested);
    }
}

/// What [`for_each_attribute`] calls: the attribute, its path, and the objects holding it
/// in the plan (to change), the configuration and the prior state.
type AttributeVisit<'f> = dyn FnMut(&Attribute, AttributePath, &mut Value, &Value, &Value) + 'f;

/// Visits every attribute of `block` present in `planned`, then those of its nested
/// blocks, so nested attributes get the same defaults and modifiers as top-level ones.
/// A nested list element is paired with the configuration and prior element at the same
/// index. Set-nested blocks are left as proposed: a set element is known by its value,
/// so changing one inside the plan would make it a different element from the one the
/// configuration wrote.
fn for_each_attribute(
    block: &Block,
    path: &AttributePath,
    planned: &mut Value,
    config: &Value,
    prior: &Value,
    visit: &mut AttributeVisit<'_>,
) {
    if !matches!(planned, Value::Object(_)) {
        return;
    }
    for a in &block.attributes {
        visit(a, path.clone().then_attr(&a.name), planned, config, prior);
    }
    for nb in &block.blocks {
        let name = nb.type_name.as_str();
        let nested_path = path.clone().then_attr(name);
        let mut nested = planned.get(name).clone();
        match nb.nesting {
            Nesting::Single => for_each_attribute(
                &nb.block,
                &nested_path,
                &mut nested,
                config.get(name),
                prior.get(name),
                visit,
            ),
            Nesting::List => {
                let Value::List(elements) = &mut nested else {
                    continue;
                };
                let config_elements = config.get(name).elements().unwrap_or_default();
                let prior_elements = prior.get(name).elements().unwrap_or_default();
                for (i, element) in elements.iter_mut().enumerate() {
                    for_each_attribute(
                        &nb.block,
                        &nested_path.clone().then_index(i as i64),
                        element,
                        config_elements.get(i).unwrap_or(&Value::Null),
                        prior_elements.get(i).unwrap_or(&Value::Null),
                        visit,
                    );
                }
            }
            Nesting::Set => continue,
        }
        planned.set_attr(name, nested);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::schema::{Attribute, Block};

    fn modify(
        m: &Arc<dyn PlanModifier>,
        config: Value,
        prior: Value,
        planned: Value,
        creating: bool,
    ) -> ModifyResponse {
        let path = AttributePath::attr("x");
        let req = ModifyRequest {
            path: &path,
            config: &config,
            prior: &prior,
            creating,
        };
        let mut resp = ModifyResponse {
            planned,
            requires_replace: false,
        };
        m.modify(&req, &mut resp, &mut Diagnostics::new());
        resp
    }

    #[test]
    fn requires_replace_table() {
        let m = requires_replace();
        let s = Value::string;
        let cases = [
            ("create", s("a"), Value::Null, s("a"), true, false),
            ("unchanged", s("a"), s("a"), s("a"), false, false),
            ("changed", s("b"), s("a"), s("b"), false, true),
            ("to null", Value::Null, s("a"), Value::Null, false, true),
            (
                "to unknown",
                Value::Unknown,
                s("a"),
                Value::Unknown,
                false,
                true,
            ),
        ];
        for (name, config, prior, planned, creating, want) in cases {
            let r = modify(&m, config, prior, planned, creating);
            assert_eq!(r.requires_replace, want, "{name}");
        }
    }

    #[test]
    fn use_state_for_unknown_table() {
        let m = use_state_for_unknown();
        let s = Value::string;
        let cases = [
            (
                "create keeps unknown",
                Value::Null,
                Value::Null,
                Value::Unknown,
                true,
                Value::Unknown,
            ),
            (
                "known planned kept",
                Value::Null,
                s("a"),
                s("b"),
                false,
                s("b"),
            ),
            (
                "unknown config kept",
                Value::Unknown,
                s("a"),
                Value::Unknown,
                false,
                Value::Unknown,
            ),
            (
                "unknown from prior",
                Value::Null,
                s("a"),
                Value::Unknown,
                false,
                s("a"),
            ),
            (
                "null prior",
                Value::Null,
                Value::Null,
                Value::Unknown,
                false,
                Value::Null,
            ),
        ];
        for (name, config, prior, planned, creating, want) in cases {
            let r = modify(&m, config, prior, planned, creating);
            assert_eq!(r.planned, want, "{name}");
        }
    }

    fn schema() -> Schema {
        Schema::new(
            0,
            Block::new("t")
                .attribute(
                    Attribute::string("id")
                        .computed()
                        .plan_modifier(use_state_for_unknown()),
                )
                .attribute(
                    Attribute::string("name")
                        .required()
                        .plan_modifier(requires_replace()),
                )
                .attribute(Attribute::string_set("users").optional())
                .attribute(Attribute::string("computed_only").computed())
                .attribute(
                    Attribute::bool("flag")
                        .optional()
                        .default_value(Value::Bool(false)),
                ),
        )
    }

    fn obj(id: Value, name: &str, users: &[&str], c: Value, flag: Value) -> Value {
        Value::object([
            ("id", id),
            ("name", Value::string(name)),
            ("users", Value::string_set(users.iter().copied())),
            ("computed_only", c),
            ("flag", flag),
        ])
    }

    #[test]
    fn create_marks_computed_unknown_and_applies_defaults() {
        let config = obj(Value::Null, "n", &["a"], Value::Null, Value::Null);
        let out = plan_change(&schema(), &Value::Null, &config, &config);
        assert_eq!(out.planned.get("id"), &Value::Unknown);
        assert_eq!(out.planned.get("computed_only"), &Value::Unknown);
        assert_eq!(out.planned.get("flag"), &Value::Bool(false));
        assert!(out.requires_replace.is_empty());
    }

    #[test]
    fn no_change_plans_prior() {
        let prior = obj(
            Value::string("i"),
            "n",
            &["a"],
            Value::string("c"),
            Value::Bool(false),
        );
        let config = obj(Value::Null, "n", &["a"], Value::Null, Value::Null);
        let out = plan_change(&schema(), &prior, &prior, &config);
        assert_eq!(out.planned, prior);
    }

    #[test]
    fn update_keeps_id_and_unknowns_other_computed() {
        let prior = obj(
            Value::string("i"),
            "n",
            &["a"],
            Value::string("c"),
            Value::Bool(false),
        );
        let config = obj(Value::Null, "n", &["a", "b"], Value::Null, Value::Null);
        let proposed = obj(
            Value::string("i"),
            "n",
            &["a", "b"],
            Value::string("c"),
            Value::Bool(false),
        );
        let out = plan_change(&schema(), &prior, &proposed, &config);
        assert_eq!(out.planned.get("id"), &Value::string("i"));
        assert_eq!(out.planned.get("computed_only"), &Value::Unknown);
        assert!(out.requires_replace.is_empty());
    }

    #[test]
    fn replacement_is_reported() {
        let prior = obj(
            Value::string("i"),
            "n",
            &[],
            Value::string("c"),
            Value::Bool(false),
        );
        let config = obj(Value::Null, "m", &[], Value::Null, Value::Null);
        let proposed = obj(
            Value::string("i"),
            "m",
            &[],
            Value::string("c"),
            Value::Bool(false),
        );
        let out = plan_change(&schema(), &prior, &proposed, &config);
        assert_eq!(out.requires_replace, vec![AttributePath::attr("name")]);
        assert_eq!(out.planned.get("computed_only"), &Value::Unknown);
    }

    #[test]
    fn destroy_plans_null() {
        let prior = obj(
            Value::string("i"),
            "n",
            &[],
            Value::Null,
            Value::Bool(false),
        );
        let out = plan_change(&schema(), &prior, &Value::Null, &Value::Null);
        assert!(out.planned.is_null());
        assert!(out.diags.is_empty());
        assert!(out.requires_replace.is_empty());
    }

    fn schema_with_timeouts(nesting: Nesting) -> Schema {
        use crate::framework::schema::NestedBlock;
        Schema::new(
            0,
            Block::new("t")
                .attribute(
                    Attribute::string("name")
                        .required()
                        .plan_modifier(requires_replace()),
                )
                // Declared twice on purpose: the path must still be reported once.
                .attribute(
                    Attribute::string("name")
                        .required()
                        .plan_modifier(requires_replace()),
                )
                .block(NestedBlock {
                    type_name: "timeouts".into(),
                    block: Block::new("")
                        .attribute(
                            Attribute::string("create")
                                .optional()
                                .default_value(Value::string("10m")),
                        )
                        .attribute(Attribute::string("stamp").computed())
                        .attribute(
                            Attribute::string("zone")
                                .optional()
                                .plan_modifier(requires_replace()),
                        ),
                    nesting,
                    min_items: 0,
                    max_items: 0,
                }),
        )
    }

    #[test]
    fn nested_blocks_get_defaults_unknowns_and_modifiers() {
        let t = |create: Value, stamp: Value, zone: &str| {
            Value::object([
                ("create", create),
                ("stamp", stamp),
                ("zone", Value::string(zone)),
            ])
        };
        let whole = |name: &str, timeouts: Value| {
            Value::object([("name", Value::string(name)), ("timeouts", timeouts)])
        };
        // Single nesting.
        let s = schema_with_timeouts(Nesting::Single);
        let prior = whole("n", t(Value::string("10m"), Value::string("s1"), "a"));
        let config = whole("m", t(Value::Null, Value::Null, "b"));
        let proposed = whole("m", t(Value::Null, Value::string("s1"), "b"));
        let out = plan_change(&s, &prior, &proposed, &config);
        let planned_t = out.planned.get("timeouts");
        assert_eq!(planned_t.get("create"), &Value::string("10m"), "default");
        assert_eq!(
            planned_t.get("stamp"),
            &Value::Unknown,
            "computed on change"
        );
        assert_eq!(
            out.requires_replace,
            vec![
                AttributePath::attr("name"),
                AttributePath::attr("timeouts").then_attr("zone")
            ]
        );

        // List nesting: elements pair by index.
        let s = schema_with_timeouts(Nesting::List);
        let list = |v: Value| Value::List(vec![v]);
        let prior = whole("n", list(t(Value::string("10m"), Value::string("s1"), "a")));
        let config = whole("n", list(t(Value::Null, Value::Null, "a")));
        let proposed = whole("n", list(t(Value::Null, Value::string("s1"), "a")));
        let out = plan_change(&s, &prior, &proposed, &config);
        assert_eq!(
            out.planned, prior,
            "default fills the element; nothing changes"
        );
        assert!(out.requires_replace.is_empty());

        // An absent block stays absent.
        let s = schema_with_timeouts(Nesting::Single);
        let config = whole("n", Value::Null);
        let out = plan_change(&s, &Value::Null, &config, &config);
        assert!(out.planned.get("timeouts").is_null());
    }

    #[test]
    fn a_single_block_the_config_leaves_out_plans_null() {
        let s = schema_with_timeouts(Nesting::Single);
        let block = Value::object([
            ("create", Value::string("5m")),
            ("stamp", Value::string("s1")),
            ("zone", Value::string("a")),
        ]);
        let prior = Value::object([("name", Value::string("n")), ("timeouts", block.clone())]);
        let config = Value::object([("name", Value::string("n")), ("timeouts", Value::Null)]);
        // Terraform 1.0 proposes the prior block; 1.4 and later propose the null.
        for proposed in [prior.clone(), config.clone()] {
            let out = plan_change(&s, &prior, &proposed, &config);
            assert!(out.planned.get("timeouts").is_null(), "{:?}", out.planned);
            assert!(
                out.requires_replace.is_empty(),
                "{:?}",
                out.requires_replace
            );
        }
        // A block configured unknown (`dynamic` over an unknown `for_each`) stays unknown.
        let config = Value::object([("name", Value::string("n")), ("timeouts", Value::Unknown)]);
        let out = plan_change(&s, &prior, &config, &config);
        assert_eq!(out.planned.get("timeouts"), &Value::Unknown);
    }
}
