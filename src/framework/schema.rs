//! Schemas: attributes with type, required/optional/computed, sensitivity, descriptions,
//! validators and plan modifiers, and nested blocks.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::attribute_hooks::{PlanModifier, Validator};
use super::value::{Type, Value};

/// How a description is written; the registry renders markdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DescriptionKind {
    Plain,
    #[default]
    Markdown,
}

#[derive(Clone)]
pub struct Attribute {
    pub name: String,
    pub ty: Type,
    pub description: String,
    pub description_kind: DescriptionKind,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    pub deprecated: bool,
    /// Used when the configuration leaves the attribute null (optional + computed only).
    pub default: Option<Value>,
    pub validators: Vec<Arc<dyn Validator>>,
    pub plan_modifiers: Vec<Arc<dyn PlanModifier>>,
}

impl Attribute {
    pub fn new(name: &str, ty: Type) -> Self {
        Attribute {
            name: name.to_string(),
            ty,
            description: String::new(),
            description_kind: DescriptionKind::Markdown,
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            deprecated: false,
            default: None,
            validators: Vec::new(),
            plan_modifiers: Vec::new(),
        }
    }

    pub fn string(name: &str) -> Self {
        Self::new(name, Type::String)
    }

    pub fn bool(name: &str) -> Self {
        Self::new(name, Type::Bool)
    }

    pub fn number(name: &str) -> Self {
        Self::new(name, Type::Number)
    }

    pub fn string_set(name: &str) -> Self {
        Self::new(name, Type::set_of(Type::String))
    }

    pub fn string_map(name: &str) -> Self {
        Self::new(name, Type::map_of(Type::String))
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    pub fn computed(mut self) -> Self {
        self.computed = true;
        self
    }

    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    pub fn description(mut self, text: &str) -> Self {
        self.description = text.to_string();
        self
    }

    /// A default for an optional attribute; it also becomes computed, as Terraform requires
    /// of any attribute whose planned value can differ from a null configuration.
    pub fn default_value(mut self, v: Value) -> Self {
        self.default = Some(v);
        self.computed = true;
        self
    }

    pub fn validator(mut self, v: Arc<dyn Validator>) -> Self {
        self.validators.push(v);
        self
    }

    pub fn plan_modifier(mut self, m: Arc<dyn PlanModifier>) -> Self {
        self.plan_modifiers.push(m);
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    Single,
    List,
    Set,
}

#[derive(Clone)]
pub struct NestedBlock {
    pub type_name: String,
    pub block: Block,
    pub nesting: Nesting,
    pub min_items: i64,
    pub max_items: i64,
}

#[derive(Clone, Default)]
pub struct Block {
    pub description: String,
    pub description_kind: DescriptionKind,
    pub deprecated: bool,
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
}

impl Block {
    pub fn new(description: &str) -> Self {
        Block {
            description: description.to_string(),
            ..Block::default()
        }
    }

    pub fn attribute(mut self, a: Attribute) -> Self {
        self.attributes.push(a);
        self
    }

    /// Several attributes at once, in order (a group every resource of a kind shares).
    pub fn attributes(mut self, a: impl IntoIterator<Item = Attribute>) -> Self {
        self.attributes.extend(a);
        self
    }

    pub fn block(mut self, b: NestedBlock) -> Self {
        self.blocks.push(b);
        self
    }

    /// The object type of this block's values: attributes plus nested blocks.
    pub fn object_type(&self) -> Type {
        let mut m = BTreeMap::new();
        for a in &self.attributes {
            m.insert(a.name.clone(), a.ty.clone());
        }
        for b in &self.blocks {
            let inner = b.block.object_type();
            let t = match b.nesting {
                Nesting::Single => inner,
                Nesting::List => Type::list_of(inner),
                Nesting::Set => Type::set_of(inner),
            };
            m.insert(b.type_name.clone(), t);
        }
        Type::Object(m)
    }

    /// The attribute `name` (for tests: the framework walks the attributes in order).
    #[cfg(test)]
    pub fn find_attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

/// A versioned schema for a provider, resource or data source.
#[derive(Clone, Default)]
pub struct Schema {
    pub version: i64,
    pub block: Block,
}

impl Schema {
    pub fn new(version: i64, block: Block) -> Self {
        Schema { version, block }
    }

    pub fn object_type(&self) -> Type {
        self.block.object_type()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_type_includes_blocks() {
        let b = Block::new("x")
            .attribute(Attribute::string("a").required())
            .block(NestedBlock {
                type_name: "timeouts".into(),
                block: Block::new("").attribute(Attribute::string("create").optional()),
                nesting: Nesting::Single,
                min_items: 0,
                max_items: 0,
            });
        let Type::Object(m) = b.object_type() else {
            panic!("not an object")
        };
        assert_eq!(m.get("a"), Some(&Type::String));
        assert!(matches!(m.get("timeouts"), Some(Type::Object(_))));
    }

    #[test]
    fn default_makes_computed() {
        let a = Attribute::bool("x")
            .optional()
            .default_value(Value::Bool(false));
        assert!(a.computed && a.optional);
    }
}
