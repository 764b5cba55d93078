//! Planning: plan modifiers and the order in which terraform-plugin-framework applies them
//! (defaults, computed-null-to-unknown on change, attribute modifiers, resource hook).

use std::sync::Arc;

use super::diag::{AttributePath, Diagnostics};
use super::schema::Schema;
use super::value::Value;

/// What an attribute plan modifier sees.
pub struct ModifyRequest<'a> {
    pub path: &'a AttributePath,
    pub config: &'a Value,
    pub prior: &'a Value,
    /// The whole prior object is null: this plan creates the resource.
    pub creating: bool,
    /// The whole planned object is null: this plan destroys the resource.
    pub destroying: bool,
}

/// What an attribute plan modifier may change.
pub struct ModifyResponse {
    pub planned: Value,
    pub requires_replace: bool,
}

pub trait PlanModifier: Send + Sync {
    fn description(&self) -> String;
    fn modify(&self, req: &ModifyRequest<'_>, resp: &mut ModifyResponse, diags: &mut Diagnostics);
}

struct RequiresReplace;

impl PlanModifier for RequiresReplace {
    fn description(&self) -> String {
        "changing it forces a new resource".to_string()
    }

    fn modify(&self, req: &ModifyRequest<'_>, resp: &mut ModifyResponse, _: &mut Diagnostics) {
        if req.creating || req.destroying {
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
        if req.creating || req.destroying {
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
    pub requires_replace: Vec<AttributePath>,
    pub diags: Diagnostics,
}

/// Plans a create, update or destroy in the framework's order. `hook` is the resource's
/// own `modify_plan`, called last with the planned state so far.
pub fn plan_change(
    schema: &Schema,
    prior: &Value,
    proposed: &Value,
    config: &Value,
    hook: impl FnOnce(&mut Value, &mut Diagnostics),
) -> PlanOutcome {
    let mut out = PlanOutcome::default();
    if proposed.is_null() {
        // Destroy: nothing to plan beyond the null object.
        return out;
    }
    let creating = prior.is_null();
    let mut planned = proposed.clone();

    for a in &schema.block.attributes {
        if let Some(d) = &a.default {
            if config.get(&a.name).is_null() {
                planned.set_attr(&a.name, d.clone());
            }
        }
    }

    // Terraform proposes prior values for computed attributes the config leaves null; when
    // anything changes they may change too, so they become unknown unless a modifier says
    // otherwise.
    if creating || &planned != prior {
        for a in &schema.block.attributes {
            if a.computed && a.default.is_none() && config.get(&a.name).is_null() {
                planned.set_attr(&a.name, Value::Unknown);
            }
        }
    }

    for a in &schema.block.attributes {
        if a.plan_modifiers.is_empty() {
            continue;
        }
        let path = AttributePath::attr(&a.name);
        let req = ModifyRequest {
            path: &path,
            config: config.get(&a.name),
            prior: prior.get(&a.name),
            creating,
            destroying: false,
        };
        let mut resp = ModifyResponse {
            planned: planned.get(&a.name).clone(),
            requires_replace: false,
        };
        for m in &a.plan_modifiers {
            m.modify(&req, &mut resp, &mut out.diags);
        }
        if resp.requires_replace {
            out.requires_replace.push(path.clone());
        }
        planned.set_attr(&a.name, resp.planned);
    }

    hook(&mut planned, &mut out.diags);
    out.planned = planned;
    out
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
            destroying: false,
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
        let out = plan_change(&schema(), &Value::Null, &config, &config, |_, _| {});
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
        let out = plan_change(&schema(), &prior, &prior, &config, |_, _| {});
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
        let out = plan_change(&schema(), &prior, &proposed, &config, |_, _| {});
        assert_eq!(out.planned.get("id"), &Value::string("i"));
        assert_eq!(out.planned.get("computed_only"), &Value::Unknown);
        assert!(out.requires_replace.is_empty());
    }

    #[test]
    fn replacement_is_reported_and_hook_runs_last() {
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
        let out = plan_change(&schema(), &prior, &proposed, &config, |p, _| {
            p.set_attr("computed_only", Value::string("from hook"))
        });
        assert_eq!(out.requires_replace, vec![AttributePath::attr("name")]);
        assert_eq!(
            out.planned.get("computed_only"),
            &Value::string("from hook")
        );
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
        let out = plan_change(&schema(), &prior, &Value::Null, &Value::Null, |_, _| {
            unreachable!("no hook on destroy")
        });
        assert!(out.planned.is_null());
    }
}
