//! Typed models: reading values into Rust types and writing them back, with the attribute
//! path in every mismatch diagnostic (what terraform-plugin-framework's `Plan.Get` does).

use std::collections::BTreeMap;

use super::diag::{AttributePath, Diagnostic, Diagnostics, Severity};
use super::value::{Number, Value};

/// An attribute that the schema lets be null or unknown. Plain Rust types in a model say
/// the value is always known and not null.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Attr<T> {
    #[default]
    Null,
    Unknown,
    Known(T),
}

impl<T> Attr<T> {
    pub fn known(&self) -> Option<&T> {
        match self {
            Attr::Known(t) => Some(t),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Attr::Null)
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Attr::Unknown)
    }
}

impl<T> From<Option<T>> for Attr<T> {
    fn from(o: Option<T>) -> Attr<T> {
        o.map_or(Attr::Null, Attr::Known)
    }
}

/// The elements of a set, each of which may be unknown while planning. Unknown elements
/// are kept one by one: two of them may turn out to be different values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Set<T>(pub Vec<Attr<T>>);

impl<T> Default for Set<T> {
    fn default() -> Self {
        Set(Vec::new())
    }
}

impl<T> Set<T> {
    pub fn of_known(elements: impl IntoIterator<Item = T>) -> Set<T> {
        Set(elements.into_iter().map(Attr::Known).collect())
    }

    /// Every element, when all are known and not null.
    pub fn wholly_known(&self) -> Option<Vec<&T>> {
        self.0.iter().map(Attr::known).collect()
    }
}

/// A Rust type that can be read from a value at `path`.
pub trait FromValue: Sized {
    fn from_value(v: &Value, path: &AttributePath) -> Result<Self, Diagnostics>;
}

/// A Rust type that can be written as a value.
pub trait IntoValue {
    fn into_value(self) -> Value;
}

/// The error for a value whose type differs from the model's: a state edited by hand or
/// written by something else, or else the schema and the model disagree (a bug in the
/// provider); never the configuration, which Terraform checks against the schema.
pub fn mismatch(path: &AttributePath, expected: &str, got: &Value) -> Diagnostics {
    let at = if path.steps.is_empty() {
        "the value".to_string()
    } else {
        path.to_string()
    };
    let mut d = Diagnostics::new();
    d.push(Diagnostic {
        severity: Severity::Error,
        summary: "Value Conversion Error".to_string(),
        detail: format!(
            "The provider could not read {at} as {expected}: it holds {}. A state edited by hand or written by another tool can hold that: restore it from a backup, or remove the resource with `terraform state rm` and import it again. Otherwise this is a bug in the provider; please report it.",
            kind(got)
        ),
        path: Some(path.clone()),
    });
    d
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Unknown | Value::RefinedUnknown(_) => "an unknown value",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::List(_) => "a list",
        Value::Set(_) => "a set",
        Value::Map(_) => "a map",
        Value::Object(_) => "an object",
    }
}

impl<T: FromValue> FromValue for Attr<T> {
    fn from_value(v: &Value, path: &AttributePath) -> Result<Self, Diagnostics> {
        match v {
            Value::Null => Ok(Attr::Null),
            // A refined unknown is still unknown; its refinements are Terraform's to keep.
            v if v.is_unknown() => Ok(Attr::Unknown),
            v => T::from_value(v, path).map(Attr::Known),
        }
    }
}

impl<T: IntoValue> IntoValue for Attr<T> {
    fn into_value(self) -> Value {
        match self {
            Attr::Null => Value::Null,
            Attr::Unknown => Value::Unknown,
            Attr::Known(t) => t.into_value(),
        }
    }
}

impl FromValue for String {
    fn from_value(v: &Value, path: &AttributePath) -> Result<Self, Diagnostics> {
        match v {
            Value::String(s) => Ok(s.clone()),
            v => Err(mismatch(path, "a known string", v)),
        }
    }
}

impl IntoValue for String {
    fn into_value(self) -> Value {
        Value::String(self)
    }
}

impl FromValue for bool {
    fn from_value(v: &Value, path: &AttributePath) -> Result<Self, Diagnostics> {
        match v {
            Value::Bool(b) => Ok(*b),
            v => Err(mismatch(path, "a known bool", v)),
        }
    }
}

impl IntoValue for bool {
    fn into_value(self) -> Value {
        Value::Bool(self)
    }
}

impl FromValue for i64 {
    fn from_value(v: &Value, path: &AttributePath) -> Result<Self, Diagnostics> {
        match v.as_i64() {
            Some(i) => Ok(i),
            None => Err(mismatch(path, "a known whole number", v)),
        }
    }
}

impl IntoValue for i64 {
    fn into_value(self) -> Value {
        Value::Number(Number::Int(self))
    }
}

/// Any number, whole or not: the model's user says which numbers it accepts, in its own
/// words, since a fraction where a whole number belongs is the configuration's mistake.
impl FromValue for f64 {
    fn from_value(v: &Value, path: &AttributePath) -> Result<Self, Diagnostics> {
        match v {
            Value::Number(n) => Ok(n.as_f64()),
            v => Err(mismatch(path, "a known number", v)),
        }
    }
}

impl<T: FromValue> FromValue for BTreeMap<String, T> {
    fn from_value(v: &Value, path: &AttributePath) -> Result<Self, Diagnostics> {
        let Value::Map(elements) = v else {
            return Err(mismatch(path, "a known map", v));
        };
        let mut out = BTreeMap::new();
        let mut diags = Diagnostics::new();
        for (key, e) in elements {
            match T::from_value(e, &path.clone().then_key(key)) {
                Ok(x) => {
                    out.insert(key.clone(), x);
                }
                Err(d) => diags.extend(d),
            }
        }
        if diags.has_errors() {
            return Err(diags);
        }
        Ok(out)
    }
}

impl<T: IntoValue> IntoValue for BTreeMap<String, T> {
    fn into_value(self) -> Value {
        Value::Map(self.into_iter().map(|(k, v)| (k, v.into_value())).collect())
    }
}

impl<T: FromValue> FromValue for Set<T> {
    fn from_value(v: &Value, path: &AttributePath) -> Result<Self, Diagnostics> {
        let Value::Set(elements) = v else {
            return Err(mismatch(path, "a known set", v));
        };
        // Terraform cannot point inside a set, so element errors name the set.
        let mut out = Vec::with_capacity(elements.len());
        let mut diags = Diagnostics::new();
        for e in elements {
            match Attr::<T>::from_value(e, path) {
                Ok(x) => out.push(x),
                Err(d) => diags.extend(d),
            }
        }
        if diags.has_errors() {
            return Err(diags);
        }
        Ok(Set(out))
    }
}

impl<T: IntoValue> IntoValue for Set<T> {
    fn into_value(self) -> Value {
        // The set constructor follows cty: equal known elements merge, unknown ones stay
        // distinct, since two unknowns may become two values.
        Value::canonical_set(self.0.into_iter().map(IntoValue::into_value).collect())
    }
}

/// Reads a model's attributes out of an object, collecting every mismatch before failing:
///
/// ```ignore
/// let mut r = ObjectReader::new(v, path)?;
/// let m = Model { name: r.attr(NAME), size: r.attr(SIZE) };
/// r.finish(m)
/// ```
pub struct ObjectReader<'a> {
    attrs: &'a BTreeMap<String, Value>,
    path: AttributePath,
    diags: Diagnostics,
}

impl<'a> ObjectReader<'a> {
    pub fn new(v: &'a Value, path: &AttributePath) -> Result<ObjectReader<'a>, Diagnostics> {
        match v {
            Value::Object(attrs) => Ok(ObjectReader {
                attrs,
                path: path.clone(),
                diags: Diagnostics::new(),
            }),
            v => Err(mismatch(path, "a known object", v)),
        }
    }

    /// The attribute `name` as a `T`. A missing attribute reads as null, as Terraform
    /// fills absent attributes with null. On a mismatch the error is kept for `finish`
    /// and a placeholder returned.
    pub fn attr<T: FromValue + Default>(&mut self, name: &str) -> T {
        let v = self.attrs.get(name).unwrap_or(&Value::Null);
        // Reading is pure, so the attribute's path (an allocation per attribute per
        // read, in every RPC) is built only to read a mismatch again and name it.
        if let Ok(t) = T::from_value(v, &AttributePath::root()) {
            return t;
        }
        match T::from_value(v, &self.path.clone().then_attr(name)) {
            Ok(t) => t,
            Err(d) => {
                self.diags.extend(d);
                T::default()
            }
        }
    }

    /// The model, unless an attribute did not match.
    pub fn finish<M>(self, model: M) -> Result<M, Diagnostics> {
        if self.diags.has_errors() {
            Err(self.diags)
        } else {
            Ok(model)
        }
    }
}

/// Declares a model struct whose fields are written once, each with the attribute it
/// holds, and derives its `FromValue` (every mismatch reported at its attribute's path,
/// a missing attribute read as null) and `IntoValue` (every attribute written):
///
/// ```ignore
/// model! {
///     #[derive(Clone, Debug, Default, PartialEq)]
///     pub struct Thing {
///         pub name: String = NAME,
///         pub size: Attr<i64> = "size",
///     }
/// }
/// ```
///
/// Field types need `FromValue + IntoValue + Default` (the default stands in while the
/// other attributes are read, so one pass reports every mismatch).
macro_rules! model {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$field_meta:meta])*
                $field_vis:vis $field:ident : $ty:ty = $attr:expr
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $(
                $(#[$field_meta])*
                $field_vis $field: $ty,
            )*
        }

        impl $crate::framework::model::FromValue for $name {
            fn from_value(
                v: &$crate::framework::Value,
                path: &$crate::framework::AttributePath,
            ) -> Result<Self, $crate::framework::Diagnostics> {
                let mut r = $crate::framework::model::ObjectReader::new(v, path)?;
                let m = $name {
                    $($field: r.attr($attr),)*
                };
                r.finish(m)
            }
        }

        impl $crate::framework::model::IntoValue for $name {
            fn into_value(self) -> $crate::framework::Value {
                $crate::framework::Value::object([
                    $((
                        $attr,
                        $crate::framework::model::IntoValue::into_value(self.$field),
                    ),)*
                ])
            }
        }
    };
}
pub(crate) use model;

#[cfg(test)]
mod tests {
    use super::*;

    model! {
        /// Declared once: fields, types and attribute names.
        #[derive(Debug, Default, PartialEq)]
        struct Model {
            name: String = "name",
            size: Attr<i64> = "size",
            tags: Attr<Set<String>> = "tags",
            on: Attr<bool> = "on",
        }
    }

    #[test]
    fn known_null_and_unknown_read_and_write_back_unchanged() {
        let cases = [
            Value::object([
                ("name", Value::string("n")),
                ("size", Value::int(3)),
                ("tags", Value::string_set(["a", "b"])),
                ("on", Value::Bool(true)),
            ]),
            Value::object([
                ("name", Value::string("n")),
                ("size", Value::Null),
                ("tags", Value::Null),
                ("on", Value::Unknown),
            ]),
            Value::object([
                ("name", Value::string("n")),
                ("size", Value::Unknown),
                ("tags", Value::Unknown),
                ("on", Value::Null),
            ]),
        ];
        for v in cases {
            let m = Model::from_value(&v, &AttributePath::root());
            let Ok(m) = m else { panic!("{v:?}: {m:?}") };
            assert_eq!(m.into_value(), v);
        }
    }

    #[test]
    fn unknown_set_elements_are_kept() {
        let v = Value::Set(vec![Value::string("a"), Value::Unknown]);
        let s = Set::<String>::from_value(&v, &AttributePath::attr("tags"));
        let Ok(s) = s else { panic!("{s:?}") };
        assert_eq!(
            s.0,
            vec![Attr::Known("a".to_string()), Attr::Unknown],
            "each element as it was"
        );
        assert_eq!(s.wholly_known(), None);
        assert_eq!(s.into_value(), v);
        let two_unknown = Set::<String>(vec![
            Attr::Unknown,
            Attr::Known("b".into()),
            Attr::Unknown,
            Attr::Known("a".into()),
            Attr::Known("b".into()),
        ]);
        assert_eq!(
            two_unknown.into_value(),
            Value::Set(vec![
                Value::string("a"),
                Value::string("b"),
                Value::Unknown,
                Value::Unknown
            ]),
            "known elements merged and sorted, unknown ones kept apart"
        );
        let known = Set::of_known(["b".to_string(), "a".to_string()]);
        assert_eq!(
            known.wholly_known(),
            Some(vec![&"b".to_string(), &"a".to_string()])
        );
    }

    #[test]
    fn every_mismatch_is_reported_at_its_path() {
        let v = Value::object([
            ("name", Value::Null),
            ("size", Value::string("3")),
            ("tags", Value::Set(vec![Value::Bool(true)])),
            ("on", Value::Bool(false)),
        ]);
        let root = AttributePath::attr("outer");
        let Err(d) = Model::from_value(&v, &root) else {
            panic!("three mismatches")
        };
        let paths: Vec<_> = d.iter().filter_map(|x| x.path.clone()).collect();
        assert_eq!(
            paths,
            vec![
                root.clone().then_attr("name"),
                root.clone().then_attr("size"),
                root.clone().then_attr("tags"),
            ]
        );
        assert!(d.iter().all(|x| x.summary == "Value Conversion Error"));
        let first = d
            .iter()
            .next()
            .map(|x| x.detail.clone())
            .unwrap_or_default();
        assert!(
            first.contains("outer.name as a known string: it holds null"),
            "{first}"
        );
    }

    #[test]
    fn a_non_object_is_a_mismatch_and_a_missing_attribute_is_null() {
        for v in [Value::Null, Value::Unknown, Value::string("x")] {
            assert!(
                Model::from_value(&v, &AttributePath::root()).is_err(),
                "{v:?}"
            );
        }
        let v = Value::object([("name", Value::string("n"))]);
        let m = Model::from_value(&v, &AttributePath::root());
        assert_eq!(
            m,
            Ok(Model {
                name: "n".into(),
                ..Model::default()
            })
        );
    }

    #[test]
    fn numbers_read_whole_or_not_and_map_elements_report_their_key() {
        let n = f64::from_value(&Value::Number(Number::Float(2.5)), &AttributePath::root());
        assert_eq!(n, Ok(2.5));
        assert_eq!(
            f64::from_value(&Value::int(-1), &AttributePath::root()),
            Ok(-1.0)
        );
        assert!(f64::from_value(&Value::string("1"), &AttributePath::root()).is_err());
        let map = Value::Map(BTreeMap::from([
            ("a".to_string(), Value::string("x")),
            ("b".to_string(), Value::Null),
        ]));
        let m = BTreeMap::<String, Attr<String>>::from_value(&map, &AttributePath::root());
        let want = BTreeMap::from([
            ("a".to_string(), Attr::Known("x".to_string())),
            ("b".to_string(), Attr::Null),
        ]);
        assert_eq!(m, Ok(want));
        let path = AttributePath::attr("endpoints");
        let Err(d) = BTreeMap::<String, String>::from_value(&map, &path) else {
            panic!("a null element is no string")
        };
        let paths: Vec<_> = d.iter().filter_map(|x| x.path.clone()).collect();
        assert_eq!(paths, vec![path.then_key("b")]);
    }

    #[test]
    fn attr_from_option() {
        assert_eq!(Attr::from(Some(1)), Attr::Known(1));
        assert_eq!(Attr::<i32>::from(None), Attr::Null);
    }
}
