//! Attribute validators. Each skips null and unknown values: unknowns are checked again
//! at apply time, when they are known.

use std::sync::Arc;

pub use super::attribute_hooks::{ValidateRequest, Validator};
use super::diag::{AttributePath, Diagnostics};
use super::schema::{Block, Nesting};
use super::value::Value;

struct SizeAtMost(usize);

impl Validator for SizeAtMost {
    fn description(&self) -> String {
        format!("at most {} elements", self.0)
    }

    fn validate(&self, req: &ValidateRequest<'_>, diags: &mut Diagnostics) {
        let count = match req.value {
            // Unknown elements of a set may turn out equal to each other or to a known
            // one, so only the known ones are sure to count; the whole set is checked
            // again at apply, when every element is known.
            Value::Set(elems) => elems.iter().filter(|e| e.is_wholly_known()).count(),
            Value::List(elems) => elems.len(),
            Value::Map(m) => m.len(),
            _ => return,
        };
        if count > self.0 {
            diags.error_at(
                req.path.clone(),
                "Too many elements",
                format!(
                    "Attribute {} holds {} elements; it takes at most {}. Split the names over several resources if you need more.",
                    req.path,
                    count,
                    self.0
                ),
            );
        }
    }
}

/// A list, set or map may hold at most `n` elements. A set's unknown elements are not
/// counted until they are known (at apply), because they may merge.
pub fn size_at_most(n: usize) -> Arc<dyn Validator> {
    Arc::new(SizeAtMost(n))
}

struct NotEmpty;

impl Validator for NotEmpty {
    fn description(&self) -> String {
        "must not be empty".to_string()
    }

    fn validate(&self, req: &ValidateRequest<'_>, diags: &mut Diagnostics) {
        if req.value.as_str() == Some("") {
            diags.error_at(
                req.path.clone(),
                "Empty string",
                format!("Attribute {} must not be an empty string.", req.path),
            );
        }
    }
}

/// A string must not be empty.
pub fn not_empty() -> Arc<dyn Validator> {
    Arc::new(NotEmpty)
}

struct EachElement(Arc<dyn Validator>);

impl Validator for EachElement {
    fn description(&self) -> String {
        format!("each element {}", self.0.description())
    }

    fn validate(&self, req: &ValidateRequest<'_>, diags: &mut Diagnostics) {
        let Some(elems) = req.value.elements() else {
            return;
        };
        // Terraform cannot point inside a set, so element errors name the set attribute
        // and quote the element in the detail.
        for e in elems {
            if e.is_null() || e.is_unknown() {
                continue;
            }
            self.0.validate(
                &ValidateRequest {
                    path: req.path,
                    value: e,
                    parent: req.parent,
                },
                diags,
            );
        }
    }
}

/// Applies a validator to every known element of a list or set.
pub fn each_element(v: Arc<dyn Validator>) -> Arc<dyn Validator> {
    Arc::new(EachElement(v))
}

struct ConflictsWith(Vec<String>);

impl Validator for ConflictsWith {
    fn description(&self) -> String {
        format!("conflicts with {}", self.0.join(", "))
    }

    fn validate(&self, req: &ValidateRequest<'_>, diags: &mut Diagnostics) {
        if req.value.is_null() || req.value.is_unknown() || req.value == &Value::Bool(false) {
            return;
        }
        for other in &self.0 {
            let v = req.parent.get(other);
            // An empty collection sets nothing: `[]` means the same as leaving it out.
            let empty = v.elements().is_some_and(<[Value]>::is_empty);
            if v.is_known_non_null() && !empty {
                diags.error_at(
                    req.path.clone(),
                    "Conflicting attributes",
                    format!(
                        "Attribute {} cannot be set together with {other}.",
                        req.path
                    ),
                );
            }
        }
    }
}

/// When this attribute is set (and not `false`), none of `others` may be set (an empty
/// list or set counts as not set).
pub fn conflicts_with(others: &[&str]) -> Arc<dyn Validator> {
    Arc::new(ConflictsWith(
        others.iter().map(|s| s.to_string()).collect(),
    ))
}

/// Runs every attribute's validators over a configuration object, and checks required
/// attributes and nested-block counts.
pub fn validate_block(
    block: &Block,
    config: &Value,
    path: &AttributePath,
    diags: &mut Diagnostics,
) {
    if !config.is_known_non_null() {
        return;
    }
    for a in &block.attributes {
        let p = path.clone().then_attr(&a.name);
        let v = config.get(&a.name);
        if a.required && v.is_null() {
            diags.error_at(
                p.clone(),
                "Missing required argument",
                format!(
                    "The argument {:?} is required, but no definition was found.",
                    a.name
                ),
            );
            continue;
        }
        let req = ValidateRequest {
            path: &p,
            value: v,
            parent: config,
        };
        for val in &a.validators {
            val.validate(&req, diags);
        }
    }
    for b in &block.blocks {
        let p = path.clone().then_attr(&b.type_name);
        let v = config.get(&b.type_name);
        match b.nesting {
            Nesting::Single => validate_block(&b.block, v, &p, diags),
            Nesting::List | Nesting::Set => {
                if let Some(items) = v.elements() {
                    if b.max_items > 0 && items.len() as i64 > b.max_items {
                        diags.error_at(
                            p.clone(),
                            "Too many blocks",
                            format!(
                                "At most {} {:?} blocks are allowed.",
                                b.max_items, b.type_name
                            ),
                        );
                    }
                    for (i, item) in items.iter().enumerate() {
                        validate_block(&b.block, item, &p.clone().then_index(i as i64), diags);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(v: &Arc<dyn Validator>, value: Value, parent: Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        let p = AttributePath::attr("x");
        v.validate(
            &ValidateRequest {
                path: &p,
                value: &value,
                parent: &parent,
            },
            &mut d,
        );
        d
    }

    #[test]
    fn size_at_most_table() {
        let v = size_at_most(2);
        let cases = [
            ("null", Value::Null, false),
            ("unknown", Value::Unknown, false),
            ("empty", Value::Set(vec![]), false),
            ("at limit", Value::string_set(["a", "b"]), false),
            ("over", Value::string_set(["a", "b", "c"]), true),
            (
                "unknown elements counted",
                Value::List(vec![Value::Unknown; 3]),
                true,
            ),
            (
                "unknown set elements may merge: checked at apply",
                Value::Set(vec![Value::Unknown; 3]),
                false,
            ),
            (
                "known set elements over the limit whatever the unknowns",
                Value::Set(vec![
                    Value::string("a"),
                    Value::string("b"),
                    Value::string("c"),
                    Value::Unknown,
                ]),
                true,
            ),
            (
                "map",
                Value::Map(
                    [("a", 1), ("b", 2), ("c", 3)]
                        .into_iter()
                        .map(|(k, i)| (k.to_string(), Value::int(i)))
                        .collect(),
                ),
                true,
            ),
        ];
        for (name, value, err) in cases {
            let d = run(&v, value, Value::Null);
            assert_eq!(d.has_errors(), err, "{name}");
        }
        let d = run(&v, Value::string_set(["a", "b", "c"]), Value::Null);
        let diag = d.iter().next().expect("one diagnostic");
        assert_eq!(diag.path, Some(AttributePath::attr("x")));
    }

    #[test]
    fn not_empty_and_each_element_table() {
        let v = each_element(not_empty());
        let cases = [
            ("null", Value::Null, false),
            ("unknown", Value::Unknown, false),
            ("unknown element", Value::Set(vec![Value::Unknown]), false),
            ("fine", Value::string_set(["a"]), false),
            ("empty name", Value::string_set(["a", ""]), true),
        ];
        for (name, value, err) in cases {
            assert_eq!(run(&v, value, Value::Null).has_errors(), err, "{name}");
        }
    }

    #[test]
    fn conflicts_with_table() {
        let v = conflicts_with(&["user_names"]);
        let with_users = Value::object([("user_names", Value::string_set(["a"]))]);
        let unknown_users = Value::object([("user_names", Value::Unknown)]);
        let no_users = Value::object([("user_names", Value::Null)]);
        let empty_users = Value::object([("user_names", Value::Set(vec![]))]);
        let cases = [
            ("null", Value::Null, with_users.clone(), false),
            ("unknown", Value::Unknown, with_users.clone(), false),
            ("false", Value::Bool(false), with_users.clone(), false),
            ("true with users", Value::Bool(true), with_users, true),
            (
                "true, users unknown",
                Value::Bool(true),
                unknown_users,
                false,
            ),
            ("true alone", Value::Bool(true), no_users, false),
            ("true, users empty", Value::Bool(true), empty_users, false),
        ];
        for (name, value, parent, err) in cases {
            assert_eq!(run(&v, value, parent).has_errors(), err, "{name}");
        }
    }
}
