//! Our checker of the rules Terraform core applies to every provider answer, so tests can
//! find an invalid plan or apply result before Terraform does.
//!
//! Written from Terraform's `internal/plans/objchange`: `AssertPlanValid` (plan_valid.go)
//! checks a planned state against config and prior state; `AssertObjectCompatible`
//! (compatible.go) checks an applied state, or the plan made again at apply time, against
//! the plan. Terraform reports a violation as "Provider produced invalid plan",
//! "Provider produced inconsistent final plan" or "Provider produced inconsistent result
//! after apply". `ProposedNew` (objchange.go), what Terraform proposes before asking for a
//! plan, is modelled per [`Core`] where Terraform 1.0 and today's differ. Refinement ranges
//! of unknowns (Terraform 1.6+) are not checked: this provider never refines an unknown
//! itself.

use std::cmp::Ordering;
use std::fmt;

use super::diag::AttributePath;
use super::schema::{Attribute, Block, Nesting};
use super::value::{canonical_cmp, Type, Value};

/// One rule broken, where, and how (in Terraform's words where it has them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub path: AttributePath,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.steps.is_empty() {
            write!(f, "root object: {}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

fn violation(out: &mut Vec<Violation>, path: &AttributePath, message: String) {
    out.push(Violation {
        path: path.clone(),
        message,
    });
}

/// cty's RawEquals: the same structure and the same known leaves, unknowns equal only to
/// unknowns (refinements aside, as Terraform strips them before comparing).
pub fn raw_equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (x, y) if x.is_unknown() || y.is_unknown() => x.is_unknown() && y.is_unknown(),
        (Value::List(x), Value::List(y)) | (Value::Set(x), Value::Set(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| raw_equals(p, q))
        }
        (Value::Map(x), Value::Map(y)) | (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && raw_equals(va, vb))
        }
        (Value::Null, Value::Null) => true,
        (Value::Bool(_), Value::Bool(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_)) => canonical_cmp(a, b) == Ordering::Equal,
        _ => false,
    }
}

/// Whether `v` can be a value of type `ty` (null and unknown fit any type).
pub fn conforms(v: &Value, ty: &Type) -> bool {
    match (v, ty) {
        (Value::Null, _) | (_, Type::Dynamic) => true,
        (v, _) if v.is_unknown() => true,
        (Value::Bool(_), Type::Bool)
        | (Value::Number(_), Type::Number)
        | (Value::String(_), Type::String) => true,
        (Value::List(items), Type::List(e)) | (Value::Set(items), Type::Set(e)) => {
            items.iter().all(|x| conforms(x, e))
        }
        (Value::Map(m), Type::Map(e)) => m.values().all(|x| conforms(x, e)),
        (Value::Object(m), Type::Object(attrs)) => {
            m.len() == attrs.len()
                && attrs
                    .iter()
                    .all(|(k, t)| m.get(k).is_some_and(|x| conforms(x, t)))
        }
        _ => false,
    }
}

/// An attribute of an object that may itself be null (then every attribute is null).
fn attr<'a>(object: &'a Value, name: &str) -> &'a Value {
    object.get(name)
}

/// `AssertPlanValid`: may a provider answer PlanResourceChange for `config` over `prior`
/// with `planned`? A provider may only fill attributes that are computed and null in
/// config; anything else must equal config, or equal a non-null prior over non-null config.
pub fn assert_plan_valid(
    block: &Block,
    prior: &Value,
    config: &Value,
    planned: &Value,
) -> Vec<Violation> {
    let mut out = Vec::new();
    plan_valid(
        block,
        prior,
        config,
        planned,
        &AttributePath::root(),
        &mut out,
    );
    out
}

fn plan_valid(
    block: &Block,
    prior: &Value,
    config: &Value,
    planned: &Value,
    path: &AttributePath,
    out: &mut Vec<Violation>,
) {
    if planned.is_null() && !config.is_null() {
        return violation(
            out,
            path,
            "planned for absence but config wants existence".into(),
        );
    }
    if config.is_null() && !planned.is_null() {
        return violation(
            out,
            path,
            "planned for existence but config wants absence".into(),
        );
    }
    if planned.is_null() {
        return;
    }
    if planned.is_unknown() {
        return violation(out, path, "planned object is unknown as a whole".into());
    }
    if !conforms(planned, &block.object_type()) {
        violation(
            out,
            path,
            format!("planned value {planned:?} does not conform to the schema"),
        );
    }
    for a in &block.attributes {
        let p = path.clone().then_attr(&a.name);
        planned_value_valid(
            a,
            attr(prior, &a.name),
            attr(config, &a.name),
            attr(planned, &a.name),
            &p,
            out,
        );
    }
    for b in &block.blocks {
        let p = path.clone().then_attr(&b.type_name);
        let planned_v = attr(planned, &b.type_name);
        let config_v = attr(config, &b.type_name);
        let prior_v = attr(prior, &b.type_name);
        if b.nesting != Nesting::Single && planned_v.is_null() {
            violation(
                out,
                &p,
                "attribute representing nested blocks must be empty to indicate no blocks, not null"
                    .into(),
            );
            continue;
        }
        if raw_equals(planned_v, config_v) {
            continue;
        }
        if config_v.is_unknown() {
            violation(
                out,
                &p,
                format!("planned value {planned_v:?} for unknown dynamic block"),
            );
            continue;
        }
        if planned_v.is_unknown() {
            violation(
                out,
                &p,
                "planned unknown value for non-computed block".into(),
            );
            continue;
        }
        match b.nesting {
            Nesting::Single => plan_valid(&b.block, prior_v, config_v, planned_v, &p, out),
            Nesting::List => {
                let planned_items = planned_v.elements().unwrap_or(&[]);
                let config_items = config_v.elements().unwrap_or(&[]);
                if planned_items.len() != config_items.len() {
                    violation(
                        out,
                        &p,
                        format!(
                            "block count in plan ({}) disagrees with count in config ({})",
                            planned_items.len(),
                            config_items.len()
                        ),
                    );
                    continue;
                }
                for (i, (pe, ce)) in planned_items.iter().zip(config_items).enumerate() {
                    let ep = p.clone().then_index(i as i64);
                    if pe.is_unknown() {
                        violation(
                            out,
                            &ep,
                            "element representing nested block must not be unknown itself".into(),
                        );
                        continue;
                    }
                    let prior_e = prior_v
                        .elements()
                        .and_then(|x| x.get(i))
                        .unwrap_or(&Value::Null);
                    plan_valid(&b.block, prior_e, ce, pe, &ep, out);
                }
            }
            Nesting::Set => {
                for (i, pe) in planned_v.elements().unwrap_or(&[]).iter().enumerate() {
                    if pe.is_unknown() {
                        violation(
                            out,
                            &p.clone().then_index(i as i64),
                            "element representing nested block must not be unknown itself".into(),
                        );
                    }
                }
            }
        }
    }
}

fn planned_value_valid(
    a: &Attribute,
    prior: &Value,
    config: &Value,
    planned: &Value,
    path: &AttributePath,
    out: &mut Vec<Violation>,
) {
    if raw_equals(planned, config) {
        return;
    }
    if raw_equals(planned, prior) && !prior.is_null() && !config.is_null() {
        return;
    }
    if a.computed && !a.optional {
        return;
    }
    if config.is_null() && a.computed {
        return;
    }
    let shown = |v: &Value| {
        if a.sensitive {
            "(sensitive)".to_string()
        } else {
            format!("{v:?}")
        }
    };
    let message = if config.is_null() {
        format!(
            "planned value {} for a non-computed attribute",
            shown(planned)
        )
    } else if prior.is_null() {
        format!(
            "planned value {} does not match config value {}",
            shown(planned),
            shown(config)
        )
    } else {
        format!(
            "planned value {} does not match config value {} nor prior value {}",
            shown(planned),
            shown(config),
            shown(prior)
        )
    };
    violation(out, path, message);
}

/// `AssertObjectCompatible`: is `actual` a valid completion of `planned`? Every known
/// leaf of the plan must be kept; unknowns may become anything of their type; a set may
/// shrink (unknown elements that turn out equal merge) but never grow.
pub fn assert_object_compatible(block: &Block, planned: &Value, actual: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    object_compatible(block, planned, actual, &AttributePath::root(), &mut out);
    out
}

fn object_compatible(
    block: &Block,
    planned: &Value,
    actual: &Value,
    path: &AttributePath,
    out: &mut Vec<Violation>,
) {
    if planned.is_null() && !actual.is_null() {
        return violation(out, path, "was absent, but now present".into());
    }
    if actual.is_null() && !planned.is_null() {
        return violation(out, path, "was present, but now absent".into());
    }
    if planned.is_null() {
        return;
    }
    for a in &block.attributes {
        let p = path.clone().then_attr(&a.name);
        let mut errs = Vec::new();
        value_compatible(
            attr(planned, &a.name),
            attr(actual, &a.name),
            &a.ty,
            &p,
            &mut errs,
        );
        if a.sensitive && !errs.is_empty() {
            violation(
                out,
                &p,
                "inconsistent values for sensitive attribute".into(),
            );
        } else {
            out.extend(errs);
        }
    }
    for b in &block.blocks {
        let p = path.clone().then_attr(&b.type_name);
        let planned_v = attr(planned, &b.type_name);
        let actual_v = attr(actual, &b.type_name);
        match b.nesting {
            Nesting::Single => {
                if planned_v.is_unknown() && actual_v.is_null() {
                    continue;
                }
                object_compatible(&b.block, planned_v, actual_v, &p, out);
            }
            Nesting::List => {
                let (Some(pl), Some(al)) = (planned_v.elements(), actual_v.elements()) else {
                    continue;
                };
                if pl.len() != al.len() {
                    violation(
                        out,
                        &p,
                        format!("block count changed from {} to {}", pl.len(), al.len()),
                    );
                    continue;
                }
                for (i, (pe, ae)) in pl.iter().zip(al).enumerate() {
                    object_compatible(&b.block, pe, ae, &p.clone().then_index(i as i64), out);
                }
            }
            Nesting::Set => {
                let (Some(pl), Some(al)) = (planned_v.elements(), actual_v.elements()) else {
                    continue;
                };
                set_compatible(pl, al, &p, out, |pe, ae| {
                    let mut e = Vec::new();
                    object_compatible(&b.block, pe, ae, &p, &mut e);
                    e.is_empty()
                });
                if pl.len() < al.len() {
                    violation(
                        out,
                        &p,
                        format!("block set length changed from {} to {}", pl.len(), al.len()),
                    );
                }
            }
        }
    }
}

/// `assertValueCompatible` for one attribute value of type `ty`.
pub fn value_compatible(
    planned: &Value,
    actual: &Value,
    ty: &Type,
    path: &AttributePath,
    out: &mut Vec<Violation>,
) {
    if matches!(ty, Type::Dynamic) {
        return;
    }
    if !conforms(actual, ty) {
        return violation(
            out,
            path,
            format!(
                "wrong final value type: {actual:?} is not a {}",
                ty.to_json()
            ),
        );
    }
    if planned.is_unknown() {
        return;
    }
    if actual.is_null() {
        if !planned.is_null() {
            violation(out, path, format!("was {planned:?}, but now null"));
        }
        return;
    }
    if planned.is_null() {
        return violation(out, path, format!("was null, but now {actual:?}"));
    }
    if actual.is_unknown() {
        return violation(out, path, "was known, but now unknown".into());
    }
    match (planned, actual, ty) {
        (Value::List(pl), Value::List(al), Type::List(e)) => {
            for (i, pe) in pl.iter().enumerate() {
                let ep = path.clone().then_index(i as i64);
                match al.get(i) {
                    Some(ae) => value_compatible(pe, ae, e, &ep, out),
                    None => violation(out, path, format!("element {i} has vanished")),
                }
            }
            for i in pl.len()..al.len() {
                violation(out, path, format!("new element {i} has appeared"));
            }
        }
        (Value::Map(pm), Value::Map(am), Type::Map(e)) => {
            for (k, pe) in pm {
                match am.get(k) {
                    Some(ae) => value_compatible(pe, ae, e, &path.clone().then_key(k), out),
                    None => violation(out, path, format!("element {k:?} has vanished")),
                }
            }
            for k in am.keys().filter(|k| !pm.contains_key(*k)) {
                violation(out, path, format!("new element {k:?} has appeared"));
            }
        }
        (Value::Object(_), Value::Object(_), Type::Object(attrs)) => {
            for (name, t) in attrs {
                value_compatible(
                    planned.get(name),
                    actual.get(name),
                    t,
                    &path.clone().then_attr(name),
                    out,
                );
            }
        }
        (Value::Set(pl), Value::Set(al), Type::Set(e)) => {
            set_compatible(pl, al, path, out, |pe, ae| {
                let mut errs = Vec::new();
                value_compatible(pe, ae, e, path, &mut errs);
                errs.is_empty()
            });
            if pl.len() < al.len() {
                violation(
                    out,
                    path,
                    format!("length changed from {} to {}", pl.len(), al.len()),
                );
            }
        }
        _ => {
            if !raw_equals(planned, actual) {
                violation(out, path, format!("was {planned:?}, but now {actual:?}"));
            }
        }
    }
}

/// `assertSetValuesCompatible`: every planned element correlates with some actual
/// element and every actual element with some planned one.
fn set_compatible(
    planned: &[Value],
    actual: &[Value],
    path: &AttributePath,
    out: &mut Vec<Violation>,
    compatible: impl Fn(&Value, &Value) -> bool,
) {
    let mut planned_hit = vec![false; planned.len()];
    let mut actual_hit = vec![false; actual.len()];
    for (pi, pe) in planned.iter().enumerate() {
        for (ai, ae) in actual.iter().enumerate() {
            if planned_hit[pi] && actual_hit[ai] {
                continue;
            }
            if compatible(pe, ae) {
                planned_hit[pi] = true;
                actual_hit[ai] = true;
            }
        }
    }
    let before = out.len();
    for (pe, hit) in planned.iter().zip(&planned_hit) {
        if !hit {
            violation(
                out,
                path,
                format!("planned set element {pe:?} does not correlate with any element in actual"),
            );
        }
    }
    if out.len() > before {
        return;
    }
    for (ae, hit) in actual.iter().zip(&actual_hit) {
        if !hit {
            violation(
                out,
                path,
                format!("actual set element {ae:?} does not correlate with any element in plan"),
            );
        }
    }
}

/// A Terraform core, where the rules modelled here differ between the versions this
/// provider supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Core {
    /// Terraform 1.0 to 1.3. `ProposedNew` (objchange.go at v1.0.3) handles a
    /// `NestingSingle` block with `ProposedNew(&schema.Block, prior, config)`, whose
    /// `proposedNew` returns `prior` when `config` is null: a single nested block the
    /// configuration leaves out is proposed as the prior state's block.
    V1_0,
    /// Terraform 1.4 and later (1.11.4 today): since "NestingSingle blocks can be null"
    /// (d5d6d61c4c, first in v1.4.0), `proposedNewNestedBlock` takes the configuration's
    /// null for such a block.
    V1_4,
}

/// Every core modelled, for tests that must hold on each.
pub const CORES: [Core; 2] = [Core::V1_0, Core::V1_4];

/// Terraform's `ProposedNew` (objchange.go), what `core` sends as PlanResourceChange's
/// proposed new state: the config, except that computed attributes the config leaves null
/// keep their prior value, and, on [`Core::V1_0`], a single nested block the config leaves
/// out keeps the prior block whole. Its `AssertPlanValid` (same on every core, but for
/// 1.0's spelling "absense") rejects a plan that keeps such a block: "planned for
/// existence but config wants absence". Nested list and set blocks are taken from config
/// as they are; Terraform merges their computed attributes element by element, which no
/// schema here needs.
pub fn proposed_new(core: Core, block: &Block, prior: &Value, config: &Value) -> Value {
    if config.is_null() || config.is_unknown() {
        return config.clone();
    }
    let mut out = config.clone();
    for a in &block.attributes {
        if a.computed && config.get(&a.name).is_null() {
            out.set_attr(&a.name, prior.get(&a.name).clone());
        }
    }
    for b in &block.blocks {
        if b.nesting != Nesting::Single {
            continue;
        }
        let c = config.get(&b.type_name);
        let p = prior.get(&b.type_name);
        if c.is_unknown() {
            // A `dynamic` block over an unknown `for_each`: proposed as configured.
            continue;
        }
        if c.is_null() {
            if core == Core::V1_0 {
                out.set_attr(&b.type_name, p.clone());
            }
            continue;
        }
        out.set_attr(&b.type_name, proposed_new(core, &b.block, p, c));
    }
    out
}

/// What Terraform checks of an ApplyResourceChange answer: the new state is wholly known
/// and, when the provider reported no error and this was not a destroy, a completion of
/// the plan.
pub fn assert_apply_valid(
    block: &Block,
    planned: &Value,
    new_state: &Value,
    apply_failed: bool,
) -> Vec<Violation> {
    let mut out = Vec::new();
    if !new_state.is_null() && !new_state.is_wholly_known() {
        violation(
            &mut out,
            &AttributePath::root(),
            "new state holds unknown values after apply".into(),
        );
    }
    if !new_state.is_null() && !conforms(new_state, &block.object_type()) {
        violation(
            &mut out,
            &AttributePath::root(),
            format!("new state {new_state:?} does not conform to the schema"),
        );
    }
    if !apply_failed && !planned.is_null() {
        out.extend(assert_object_compatible(block, planned, new_state));
    }
    out
}

/// `v` as Terraform has it at apply: every unknown made known, strings picked from
/// `strings`, unknown sets given up to two elements of `set_elements`, unknown objects
/// their attributes null, and sets rebuilt so elements that became equal merge, as cty
/// does. For property tests.
#[cfg(test)]
pub(crate) fn known_at_apply(
    v: &Value,
    ty: &Type,
    rng: &mut fastrand::Rng,
    strings: &[&str],
    set_elements: &[&str],
) -> Value {
    let pick =
        |rng: &mut fastrand::Rng, from: &[&str]| Value::string(from[rng.usize(..from.len())]);
    match (v, ty) {
        (x, Type::String) if x.is_unknown() => pick(rng, strings),
        (x, Type::Bool) if x.is_unknown() => Value::Bool(rng.bool()),
        (x, Type::Set(_)) if x.is_unknown() => {
            let n = rng.usize(..3);
            Value::canonical_set((0..n).map(|_| pick(rng, set_elements)).collect())
        }
        (Value::Set(items), Type::Set(e)) => Value::canonical_set(
            items
                .iter()
                .map(|x| known_at_apply(x, e, rng, strings, set_elements))
                .collect(),
        ),
        (Value::Object(m), Type::Object(attrs)) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let t = attrs.get(k).cloned().unwrap_or(Type::Dynamic);
                    (k.clone(), known_at_apply(x, &t, rng, strings, set_elements))
                })
                .collect(),
        ),
        (x, Type::Object(attrs)) if x.is_unknown() => {
            Value::Object(attrs.keys().map(|k| (k.clone(), Value::Null)).collect())
        }
        (x, _) => x.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::plan::{plan_change, requires_replace, use_state_for_unknown};
    use crate::framework::schema::{Attribute, NestedBlock};
    use proptest::prelude::*;

    fn block() -> Block {
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
            .attribute(Attribute::string("region").optional().computed())
            .attribute(
                Attribute::bool("flag")
                    .optional()
                    .default_value(Value::Bool(false)),
            )
            .attribute(Attribute::string("secret").optional().sensitive())
            .block(NestedBlock {
                type_name: "timeouts".into(),
                block: Block::new("").attribute(Attribute::string("create").optional()),
                nesting: Nesting::Single,
                min_items: 0,
                max_items: 0,
            })
    }

    const ATTRS: [&str; 7] = [
        "id", "name", "users", "region", "flag", "secret", "timeouts",
    ];

    fn obj(pairs: &[(&str, Value)]) -> Value {
        let mut v = Value::object(ATTRS.into_iter().map(|k| (k, Value::Null)));
        for (k, x) in pairs {
            v.set_attr(k, x.clone());
        }
        v
    }

    fn s(x: &str) -> Value {
        Value::string(x)
    }

    fn paths(v: &[Violation]) -> Vec<String> {
        v.iter().map(|x| x.path.to_string()).collect()
    }

    #[test]
    fn rejects_collapsed_unknown_set_elements() {
        // A bug this provider once had: two unknown names planned as one.
        let config = obj(&[
            ("name", s("n")),
            ("users", Value::Set(vec![Value::Unknown, Value::Unknown])),
        ]);
        let mut planned = config.clone();
        planned.set_attr("users", Value::Set(vec![Value::Unknown]));
        let v = assert_plan_valid(&block(), &Value::Null, &config, &planned);
        assert_eq!(paths(&v), ["users"], "{v:?}");
        assert!(
            v[0].message.contains("does not match config value"),
            "{v:?}"
        );
        // Kept apart, the same plan is valid.
        assert!(assert_plan_valid(&block(), &Value::Null, &config, &config).is_empty());
    }

    #[test]
    fn rejects_changes_to_what_the_config_decides() {
        let prior = obj(&[
            ("id", s("i")),
            ("name", s("a")),
            ("flag", Value::Bool(false)),
        ]);
        let config = obj(&[("name", s("b"))]);
        let cases: Vec<(&str, Value, Value, Vec<&str>)> = vec![
            (
                "changed non-computed",
                Value::Null,
                obj(&[("name", s("c"))]),
                vec!["name"],
            ),
            (
                "filled non-computed",
                Value::Null,
                obj(&[("name", s("b")), ("users", Value::string_set(["x"]))]),
                vec!["users"],
            ),
            (
                "changed configured optional+computed",
                Value::Null,
                {
                    let mut c = obj(&[("name", s("b")), ("region", s("other"))]);
                    c.set_attr("id", Value::Unknown);
                    c
                },
                vec![],
            ),
            (
                "unknown for a known non-computed",
                prior.clone(),
                obj(&[("id", s("i")), ("name", Value::Unknown)]),
                vec!["name"],
            ),
            (
                "sensitive",
                Value::Null,
                obj(&[("name", s("b")), ("secret", s("x"))]),
                vec!["secret"],
            ),
        ];
        for (what, prior, planned, want) in cases {
            let v = assert_plan_valid(&block(), &prior, &config, &planned);
            assert_eq!(paths(&v), want, "{what}: {v:?}");
        }
        // A configured region cannot be overridden even though it is computed.
        let config = obj(&[("name", s("b")), ("region", s("r1"))]);
        let planned = obj(&[("name", s("b")), ("region", s("r2"))]);
        let v = assert_plan_valid(&block(), &Value::Null, &config, &planned);
        assert_eq!(paths(&v), ["region"]);
        // Sensitive values stay out of the message.
        let config = obj(&[("name", s("b")), ("secret", s("hunter2"))]);
        let planned = obj(&[("name", s("b")), ("secret", s("other"))]);
        let v = assert_plan_valid(&block(), &Value::Null, &config, &planned);
        assert!(!v[0].message.contains("hunter2"), "{v:?}");
    }

    #[test]
    fn accepts_what_terraform_accepts() {
        let prior = obj(&[
            ("id", s("i")),
            ("name", s("a")),
            ("users", Value::string_set(["u"])),
            ("region", s("r")),
        ]);
        // The prior value may stand for an equivalent configured one.
        let config = obj(&[("name", s("a")), ("users", Value::string_set(["U"]))]);
        let v = assert_plan_valid(&block(), &prior, &config, &prior);
        assert!(v.is_empty(), "{v:?}");
        // Computed attributes left null in config may be anything.
        let config = obj(&[("name", s("a"))]);
        let planned = obj(&[
            ("id", Value::Unknown),
            ("name", s("a")),
            ("region", Value::Unknown),
            ("flag", Value::Bool(true)),
        ]);
        assert!(assert_plan_valid(&block(), &prior, &config, &planned).is_empty());
        // Destroy.
        assert!(assert_plan_valid(&block(), &prior, &Value::Null, &Value::Null).is_empty());
        let v = assert_plan_valid(&block(), &prior, &Value::Null, &prior);
        assert_eq!(v.len(), 1, "{v:?}");
        let v = assert_plan_valid(&block(), &Value::Null, &config, &Value::Null);
        assert_eq!(v.len(), 1, "{v:?}");
    }

    #[test]
    fn terraform_1_0_proposes_the_prior_block_the_config_leaves_out() {
        let prior = obj(&[
            ("id", s("i")),
            ("name", s("a")),
            ("region", s("r")),
            ("flag", Value::Bool(false)),
            ("timeouts", Value::object([("create", s("5m"))])),
        ]);
        let config = obj(&[("name", s("a"))]);
        // 1.0: objchange.go's proposedNew returns the prior block for a null config block.
        let old = proposed_new(Core::V1_0, &block(), &prior, &config);
        assert_eq!(old.get("timeouts"), prior.get("timeouts"), "{old:?}");
        // 1.4 and later take the configuration's null.
        let new = proposed_new(Core::V1_4, &block(), &prior, &config);
        assert!(new.get("timeouts").is_null(), "{new:?}");
        // Both still take a configured block, merged with the prior one.
        let configured = obj(&[
            ("name", s("a")),
            ("timeouts", Value::object([("create", s("1m"))])),
        ]);
        for core in CORES {
            let p = proposed_new(core, &block(), &prior, &configured);
            assert_eq!(p.get("timeouts"), configured.get("timeouts"), "{core:?}");
        }
        // A plan that keeps what 1.0 proposed is what AssertPlanValid rejects (1.0.3 spells
        // it "absense"); the configuration's null is accepted.
        let v = assert_plan_valid(&block(), &prior, &config, &old);
        assert_eq!(paths(&v), ["timeouts"], "{v:?}");
        assert_eq!(
            v[0].message, "planned for existence but config wants absence",
            "{v:?}"
        );
        assert!(assert_plan_valid(&block(), &prior, &config, &new).is_empty());
    }

    #[test]
    fn compatibility_of_results_with_plans() {
        let b = block();
        let planned = obj(&[
            ("id", Value::Unknown),
            ("name", s("a")),
            (
                "users",
                Value::Set(vec![s("k"), Value::Unknown, Value::Unknown]),
            ),
        ]);
        let ok = [
            obj(&[
                ("id", s("i")),
                ("name", s("a")),
                ("users", Value::string_set(["k", "x", "y"])),
            ]),
            // Unknown elements that turn out equal merge.
            obj(&[
                ("id", s("i")),
                ("name", s("a")),
                ("users", Value::string_set(["k", "x"])),
            ]),
            obj(&[
                ("id", s("i")),
                ("name", s("a")),
                ("users", Value::string_set(["k"])),
            ]),
        ];
        for actual in ok {
            let v = assert_apply_valid(&b, &planned, &actual, false);
            assert!(v.is_empty(), "{actual:?}: {v:?}");
        }
        let bad: Vec<(Value, &str)> = vec![
            // The set grew.
            (
                obj(&[
                    ("id", s("i")),
                    ("name", s("a")),
                    ("users", Value::string_set(["k", "x", "y", "z"])),
                ]),
                "users",
            ),
            // A known element vanished.
            (
                obj(&[
                    ("id", s("i")),
                    ("name", s("a")),
                    ("users", Value::string_set(["x", "y"])),
                ]),
                "users",
            ),
            (
                obj(&[
                    ("id", s("i")),
                    ("name", s("b")),
                    ("users", Value::string_set(["k"])),
                ]),
                "name",
            ),
            (
                obj(&[
                    ("id", Value::Unknown),
                    ("name", s("a")),
                    ("users", Value::string_set(["k"])),
                ]),
                "",
            ),
            (
                obj(&[("id", s("i")), ("name", s("a")), ("users", Value::Null)]),
                "users",
            ),
            (
                obj(&[
                    ("id", Value::Bool(true)),
                    ("name", s("a")),
                    ("users", Value::string_set(["k"])),
                ]),
                "",
            ),
        ];
        for (actual, path) in bad {
            let v = assert_apply_valid(&b, &planned, &actual, false);
            assert!(paths(&v).iter().any(|p| p == path), "{actual:?}: {v:?}");
        }
        // A failed apply may return what is true instead of what was planned.
        let partial = obj(&[
            ("id", s("i")),
            ("name", s("a")),
            ("users", Value::string_set(["q"])),
        ]);
        assert!(assert_apply_valid(&b, &planned, &partial, true).is_empty());
        assert!(!assert_apply_valid(&b, &planned, &partial, false).is_empty());
        // Sensitive values stay out of the message.
        let planned = obj(&[("id", s("i")), ("name", s("a")), ("secret", s("hunter2"))]);
        let actual = obj(&[("id", s("i")), ("name", s("a")), ("secret", s("other"))]);
        let v = assert_object_compatible(&b, &planned, &actual);
        assert_eq!(v.len(), 1);
        assert!(!v[0].message.contains("hunter2"), "{v:?}");
    }

    #[test]
    fn raw_equals_is_structural() {
        assert!(raw_equals(&Value::Unknown, &Value::Unknown));
        assert!(!raw_equals(&Value::Unknown, &Value::Null));
        assert!(!raw_equals(&s("a"), &Value::Unknown));
        assert!(raw_equals(
            &Value::Number(crate::framework::Number::Float(2.0)),
            &Value::int(2)
        ));
        assert!(!raw_equals(
            &Value::Set(vec![Value::Unknown]),
            &Value::Set(vec![Value::Unknown, Value::Unknown])
        ));
        assert!(!raw_equals(&Value::Set(vec![]), &Value::Null));
    }

    // ------------------------------------------------------------ property tests

    fn string() -> impl Strategy<Value = Value> {
        prop_oneof![
            2 => Just(Value::Null),
            2 => Just(Value::Unknown),
            4 => prop::sample::select(vec!["a", "b", "c"]).prop_map(Value::string),
        ]
    }

    fn known_string() -> impl Strategy<Value = Value> {
        prop::sample::select(vec!["a", "b", "c"]).prop_map(Value::string)
    }

    fn string_set() -> impl Strategy<Value = Value> {
        let elem = prop_oneof![3 => known_string(), 1 => Just(Value::Unknown)];
        prop_oneof![
            1 => Just(Value::Null),
            1 => Just(Value::Unknown),
            1 => Just(Value::Set(vec![])),
            4 => prop::collection::vec(elem, 1..5).prop_map(Value::canonical_set),
        ]
    }

    fn bool_() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            Just(Value::Unknown),
            any::<bool>().prop_map(Value::Bool)
        ]
    }

    fn config() -> impl Strategy<Value = Value> {
        (
            prop_oneof![3 => known_string(), 1 => Just(Value::Unknown)],
            string_set(),
            string(),
            bool_(),
            string(),
            prop_oneof![
                Just(Value::Null),
                string().prop_map(|c| Value::object([("create", c)]))
            ],
        )
            .prop_map(|(name, users, region, flag, secret, timeouts)| {
                obj(&[
                    ("name", name),
                    ("users", users),
                    ("region", region),
                    ("flag", flag),
                    ("secret", secret),
                    ("timeouts", timeouts),
                ])
            })
    }

    /// A prior state: wholly known, as Terraform stores them.
    fn prior() -> impl Strategy<Value = Value> {
        prop_oneof![
            1 => Just(Value::Null),
            3 => (config(), any::<u64>()).prop_map(|(c, seed)| {
                let mut p = know(&c, seed);
                p.set_attr("id", Value::string("i"));
                if p.get("region").is_null() {
                    p.set_attr("region", Value::string("r"));
                }
                if p.get("flag").is_null() {
                    p.set_attr("flag", Value::Bool(false));
                }
                p
            }),
        ]
    }

    /// The value with every unknown replaced by a known one picked from `seed`.
    pub(crate) fn know(v: &Value, seed: u64) -> Value {
        let mut rng = fastrand::Rng::with_seed(seed);
        known_at_apply(
            v,
            &block().object_type(),
            &mut rng,
            &["a", "b", "c", "d"],
            &["a", "b", "x"],
        )
    }

    fn schema() -> crate::framework::Schema {
        crate::framework::Schema::new(0, block())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// The framework's plan is one Terraform accepts, for creates, updates and
        /// destroys; and the plan made again at apply, with every unknown known, is a
        /// completion of it ("inconsistent final plan" never happens).
        #[test]
        fn framework_plans_are_valid_and_final_plans_consistent(
            core in prop::sample::select(CORES.to_vec()),
            prior in prior(),
            config in config(),
            destroy in prop::bool::weighted(0.1),
            seed in any::<u64>(),
        ) {
            let schema = schema();
            let config = if destroy { Value::Null } else { config };
            let proposed = proposed_new(core, &schema.block, &prior, &config);
            let out = plan_change(&schema, &prior, &proposed, &config);
            let v = assert_plan_valid(&schema.block, &prior, &config, &out.planned);
            prop_assert!(v.is_empty(), "{:?}: plan {:?}\nfor config {:?}\nprior {:?}: {:?}", core, out.planned, config, prior, v);

            let known_config = know(&config, seed);
            let proposed = proposed_new(core, &schema.block, &prior, &known_config);
            let fin = plan_change(&schema, &prior, &proposed, &known_config);
            let v = assert_plan_valid(&schema.block, &prior, &known_config, &fin.planned);
            prop_assert!(v.is_empty(), "final plan {:?}: {:?}", fin.planned, v);
            let v = assert_object_compatible(&schema.block, &out.planned, &fin.planned);
            prop_assert!(v.is_empty(), "final plan {:?}\nnot a completion of {:?}: {:?}", fin.planned, out.planned, v);
        }

        /// A set keeps each unknown element: whatever the elements, the planned set has
        /// exactly the config's elements.
        #[test]
        fn sets_with_unknown_elements_plan_as_configured(users in string_set()) {
            let schema = schema();
            let config = obj(&[("name", s("n")), ("users", users.clone())]);
            let out = plan_change(&schema, &Value::Null, &config, &config);
            prop_assert!(raw_equals(out.planned.get("users"), &users));
        }
    }
}
