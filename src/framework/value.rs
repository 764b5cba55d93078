//! Terraform values as the framework sees them: known, null or unknown, with their types.

use std::cmp::Ordering;
use std::collections::BTreeMap;

/// A Terraform type constraint, as it appears in schemas and on the wire.
#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    Bool,
    Number,
    String,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(BTreeMap<String, Type>),
    /// `DynamicPseudoType`: declared so the codec can reject it clearly; no schema here uses it.
    Dynamic,
}

impl Type {
    pub fn set_of(elem: Type) -> Type {
        Type::Set(Box::new(elem))
    }

    pub fn list_of(elem: Type) -> Type {
        Type::List(Box::new(elem))
    }

    pub fn map_of(elem: Type) -> Type {
        Type::Map(Box::new(elem))
    }

    /// The JSON type notation Terraform uses in schemas: `"string"`, `["set","string"]`, ...
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{json, Value as J};
        match self {
            Type::Bool => J::from("bool"),
            Type::Number => J::from("number"),
            Type::String => J::from("string"),
            Type::Dynamic => J::from("dynamic"),
            Type::List(e) => json!(["list", e.to_json()]),
            Type::Set(e) => json!(["set", e.to_json()]),
            Type::Map(e) => json!(["map", e.to_json()]),
            Type::Object(attrs) => {
                let m: serde_json::Map<String, J> = attrs
                    .iter()
                    .map(|(k, t)| (k.clone(), t.to_json()))
                    .collect();
                json!(["object", m])
            }
        }
    }
}

/// A number as Terraform sends it: integral values stay exact.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Number::Int(i) => Some(i),
            Number::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(f as i64),
            Number::Float(_) => None,
        }
    }

    pub fn as_f64(&self) -> f64 {
        match *self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

/// What Terraform 1.3+ knows about an unknown value (msgpack extension 12): a msgpack map
/// of refinements (not null, string prefix, number and length bounds). Kept verbatim: this
/// provider reads none of them, but a value it echoes back must carry them unchanged.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Refinements(pub Vec<u8>);

/// A value that is known, null, or not yet known (only during validation and planning).
///
/// Sets are kept in canonical order by [`Value::canonical_set`] and the codec, following
/// cty: wholly known elements are sorted and de-duplicated, so derived equality is set
/// equality; an element that is or contains an unknown equals nothing, not even another
/// unknown, so each one stays its own element (`["a-${x}", "b-${x}"]` is two elements).
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Unknown,
    /// Unknown, with refinements Terraform sent and expects back.
    RefinedUnknown(Refinements),
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    Set(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Object(BTreeMap<String, Value>),
}

static NULL: Value = Value::Null;

impl Value {
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    pub fn int(i: i64) -> Value {
        Value::Number(Number::Int(i))
    }

    /// A set as cty builds one: elements sorted, wholly known equal elements merged, every
    /// element holding an unknown kept as its own element (two unknowns may still turn out
    /// different, so merging them would shrink the set Terraform planned).
    pub fn canonical_set(mut elems: Vec<Value>) -> Value {
        elems.sort_by(canonical_cmp);
        elems.dedup_by(|later, earlier| {
            earlier.is_wholly_known()
                && later.is_wholly_known()
                && canonical_cmp(earlier, later) == Ordering::Equal
        });
        Value::Set(elems)
    }

    /// A set of strings from any iterator of names.
    pub fn string_set<I, S>(names: I) -> Value
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Value::canonical_set(names.into_iter().map(|s| Value::String(s.into())).collect())
    }

    pub fn object<I, K>(attrs: I) -> Value
    where
        I: IntoIterator<Item = (K, Value)>,
        K: Into<String>,
    {
        Value::Object(attrs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Unknown, refined or not.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown | Value::RefinedUnknown(_))
    }

    /// Known and not null at the top level (elements may still be unknown).
    pub fn is_known_non_null(&self) -> bool {
        !self.is_null() && !self.is_unknown()
    }

    /// True when no part of the value is unknown.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown | Value::RefinedUnknown(_) => false,
            Value::List(v) | Value::Set(v) => v.iter().all(Value::is_wholly_known),
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_wholly_known),
            _ => true,
        }
    }

    /// An object's attribute; null for a missing attribute or a non-object.
    pub fn get(&self, name: &str) -> &Value {
        match self {
            Value::Object(m) => m.get(name).unwrap_or(&NULL),
            _ => &NULL,
        }
    }

    /// Sets an object's attribute; does nothing to a non-object.
    pub fn set_attr(&mut self, name: &str, v: Value) {
        if let Value::Object(m) = self {
            m.insert(name.to_string(), v);
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// The elements of a known list or set.
    pub fn elements(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Set(v) => Some(v),
            _ => None,
        }
    }

    /// The strings of a wholly known list or set of strings; None otherwise (for tests:
    /// resources read sets through their models).
    #[cfg(test)]
    pub fn as_strings(&self) -> Option<Vec<String>> {
        self.elements()?
            .iter()
            .map(|e| e.as_str().map(str::to_string))
            .collect()
    }

    /// A value of the given type in which every leaf that is null in `self` but present
    /// in the type is filled as null: Terraform expects every attribute to be present.
    pub fn conform(self, ty: &Type) -> Value {
        match (self, ty) {
            // Already the type's attributes (both maps are sorted): conformed in place,
            // without a new map and a copy of every name.
            (Value::Object(mut m), Type::Object(attrs))
                if m.len() == attrs.len() && m.keys().zip(attrs.keys()).all(|(a, b)| a == b) =>
            {
                for (v, t) in m.values_mut().zip(attrs.values()) {
                    *v = std::mem::take(v).conform(t);
                }
                Value::Object(m)
            }
            (Value::Object(mut m), Type::Object(attrs)) => {
                let mut out = BTreeMap::new();
                for (name, t) in attrs {
                    let v = m.remove(name).unwrap_or(Value::Null);
                    out.insert(name.clone(), v.conform(t));
                }
                Value::Object(out)
            }
            (Value::List(v), Type::List(t)) => {
                Value::List(v.into_iter().map(|e| e.conform(t)).collect())
            }
            (Value::Set(v), Type::Set(t)) => {
                Value::canonical_set(v.into_iter().map(|e| e.conform(t)).collect())
            }
            (v, _) => v,
        }
    }
}

/// A total order over values, used to keep sets canonical.
pub fn canonical_cmp(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::List(_) => 4,
            Value::Set(_) => 5,
            Value::Map(_) => 6,
            Value::Object(_) => 7,
            Value::Unknown => 8,
            Value::RefinedUnknown(_) => 9,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        // Integers compare exactly: through f64, 2^53 and 2^53 + 1 would be one element.
        (Value::Number(Number::Int(x)), Value::Number(Number::Int(y))) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x.as_f64().total_cmp(&y.as_f64()),
        (Value::RefinedUnknown(x), Value::RefinedUnknown(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::List(x), Value::List(y)) | (Value::Set(x), Value::Set(y)) => {
            for (p, q) in x.iter().zip(y) {
                let o = canonical_cmp(p, q);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Map(x), Value::Map(y)) | (Value::Object(x), Value::Object(y)) => {
            for ((ka, va), (kb, vb)) in x.iter().zip(y) {
                let o = ka.cmp(kb).then_with(|| canonical_cmp(va, vb));
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_are_canonical() {
        let a = Value::string_set(["b", "a", "b"]);
        let b = Value::string_set(["a", "b"]);
        assert_eq!(a, b);
        assert_eq!(a.as_strings(), Some(vec!["a".to_string(), "b".to_string()]));
    }

    #[test]
    fn unknown_set_elements_stay_distinct() {
        let two = Value::canonical_set(vec![Value::Unknown, Value::Unknown]);
        assert_eq!(two.elements().map(<[Value]>::len), Some(2));
        let partly = |x: Value| Value::object([("a", x), ("b", Value::Unknown)]);
        let mixed = Value::canonical_set(vec![
            Value::string("k"),
            Value::Unknown,
            Value::string("k"),
            Value::Unknown,
        ]);
        assert_eq!(
            mixed,
            Value::Set(vec![Value::string("k"), Value::Unknown, Value::Unknown])
        );
        let objs = Value::canonical_set(vec![
            partly(Value::int(1)),
            partly(Value::int(1)),
            Value::object([("a", Value::int(1)), ("b", Value::int(2))]),
            Value::object([("a", Value::int(1)), ("b", Value::int(2))]),
        ]);
        assert_eq!(objs.elements().map(<[Value]>::len), Some(3));
        let big = 1i64 << 53;
        let ints = Value::canonical_set(vec![Value::int(big), Value::int(big + 1)]);
        assert_eq!(ints.elements().map(<[Value]>::len), Some(2));
        assert!(Value::RefinedUnknown(Refinements(vec![0x80])).is_unknown());
    }

    #[test]
    fn get_on_missing_or_non_object_is_null() {
        let o = Value::object([("x", Value::int(1))]);
        assert_eq!(o.get("x").as_i64(), Some(1));
        assert!(o.get("y").is_null());
        assert!(Value::Unknown.get("x").is_null());
    }

    #[test]
    fn wholly_known() {
        assert!(Value::string_set(["a"]).is_wholly_known());
        assert!(!Value::Set(vec![Value::Unknown]).is_wholly_known());
        assert!(!Value::Unknown.is_wholly_known());
        assert!(Value::Null.is_wholly_known());
    }

    #[test]
    fn as_strings_rejects_unknown_elements() {
        assert_eq!(Value::Set(vec![Value::Unknown]).as_strings(), None);
        assert_eq!(Value::Null.as_strings(), None);
    }

    #[test]
    fn conform_fills_missing_attributes() {
        let ty = Type::Object(BTreeMap::from([
            ("a".to_string(), Type::String),
            ("b".to_string(), Type::Bool),
        ]));
        let v = Value::object([("a", Value::string("x"))]).conform(&ty);
        assert_eq!(
            v,
            Value::object([("a", Value::string("x")), ("b", Value::Null)])
        );
    }

    #[test]
    fn type_json_notation() {
        assert_eq!(
            Type::set_of(Type::String).to_json(),
            serde_json::json!(["set", "string"])
        );
    }
}
