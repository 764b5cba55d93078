//! Framework schemas, diagnostics and attribute paths -> their protobuf messages, and
//! DynamicValue decoding with a diagnostic on failure.

use super::proto::tfplugin6 as pb;
use super::value_codec::{decode_json, decode_msgpack, encode_msgpack};
use crate::framework::{
    AttributePath, Block, DescriptionKind, Diagnostic, Diagnostics, Nesting, PathStep, Schema,
    Severity, Type, Value,
};

pub fn schema(s: &Schema) -> pb::Schema {
    pb::Schema {
        version: s.version,
        block: Some(block(&s.block, s.version)),
    }
}

fn kind(k: DescriptionKind) -> i32 {
    match k {
        DescriptionKind::Plain => pb::StringKind::Plain as i32,
        DescriptionKind::Markdown => pb::StringKind::Markdown as i32,
    }
}

fn block(b: &Block, version: i64) -> pb::schema::Block {
    pb::schema::Block {
        version,
        attributes: b
            .attributes
            .iter()
            .map(|a| pb::schema::Attribute {
                name: a.name.clone(),
                r#type: a.ty.to_json().to_string().into_bytes(),
                nested_type: None,
                description: a.description.clone(),
                required: a.required,
                optional: a.optional,
                computed: a.computed,
                sensitive: a.sensitive,
                description_kind: kind(a.description_kind),
                deprecated: a.deprecated,
                write_only: false,
            })
            .collect(),
        block_types: b
            .blocks
            .iter()
            .map(|nb| pb::schema::NestedBlock {
                type_name: nb.type_name.clone(),
                block: Some(block(&nb.block, version)),
                nesting: match nb.nesting {
                    Nesting::Single => pb::schema::nested_block::NestingMode::Single,
                    Nesting::List => pb::schema::nested_block::NestingMode::List,
                    Nesting::Set => pb::schema::nested_block::NestingMode::Set,
                } as i32,
                min_items: nb.min_items,
                max_items: nb.max_items,
            })
            .collect(),
        description: b.description.clone(),
        description_kind: kind(b.description_kind),
        deprecated: b.deprecated,
    }
}

pub fn path(p: &AttributePath) -> pb::AttributePath {
    use pb::attribute_path::step::Selector;
    pb::AttributePath {
        steps: p
            .steps
            .iter()
            .map(|s| pb::attribute_path::Step {
                selector: Some(match s {
                    PathStep::Attr(a) => Selector::AttributeName(a.clone()),
                    PathStep::Key(k) => Selector::ElementKeyString(k.clone()),
                    PathStep::Index(i) => Selector::ElementKeyInt(*i),
                }),
            })
            .collect(),
    }
}

pub fn diagnostic(d: &Diagnostic) -> pb::Diagnostic {
    pb::Diagnostic {
        severity: match d.severity {
            Severity::Error => pb::diagnostic::Severity::Error,
            Severity::Warning => pb::diagnostic::Severity::Warning,
        } as i32,
        summary: d.summary.clone(),
        detail: d.detail.clone(),
        attribute: d.path.as_ref().filter(|p| !p.steps.is_empty()).map(path),
    }
}

pub fn diagnostics(d: &Diagnostics) -> Vec<pb::Diagnostic> {
    d.iter().map(diagnostic).collect()
}

/// Decodes a DynamicValue Terraform sent; an absent one is null. `what` names it for the
/// diagnostic ("configuration", "prior state", ...).
pub fn decode(dv: Option<&pb::DynamicValue>, ty: &Type, what: &str) -> Result<Value, Diagnostics> {
    let Some(dv) = dv else {
        return Ok(Value::Null);
    };
    let result = if !dv.msgpack.is_empty() {
        decode_msgpack(&dv.msgpack, ty)
    } else if !dv.json.is_empty() {
        decode_json(&dv.json, ty)
    } else {
        return Ok(Value::Null);
    };
    result.map_err(|e| {
        Diagnostics::single_error(
            format!("Invalid {what} from Terraform"),
            format!(
                "The provider could not decode the {what} it received: {e}. This is a bug in Terraform or in the provider; please report it with the output of TF_LOG=trace."
            ),
        )
    })
}

pub fn encode(v: &Value, ty: &Type) -> pb::DynamicValue {
    pb::DynamicValue {
        msgpack: encode_msgpack(v, ty),
        json: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Attribute;

    #[test]
    fn schema_types_are_json() {
        let s = Schema::new(
            1,
            Block::new("d").attribute(Attribute::string_set("names").optional().sensitive()),
        );
        let p = schema(&s);
        let b = p.block.expect("block");
        assert_eq!(b.attributes[0].r#type, br#"["set","string"]"#.to_vec());
        assert!(b.attributes[0].sensitive && b.attributes[0].optional);
        assert_eq!(b.version, 1);
    }

    #[test]
    fn diagnostics_carry_paths() {
        let mut d = Diagnostics::new();
        d.error_at(AttributePath::attr("a").then_index(2), "s", "d");
        d.warning("w", "");
        let out = diagnostics(&d);
        assert_eq!(out[0].attribute.as_ref().map(|p| p.steps.len()), Some(2));
        assert_eq!(out[1].attribute, None);
        assert_eq!(out[1].severity, pb::diagnostic::Severity::Warning as i32);
    }

    #[test]
    fn decode_failure_is_a_diagnostic() {
        let dv = pb::DynamicValue {
            msgpack: vec![0xc1],
            json: vec![],
        };
        let e = decode(Some(&dv), &Type::String, "configuration").expect_err("bad bytes");
        assert!(e.has_errors());
        assert_eq!(decode(None, &Type::String, "x"), Ok(Value::Null));
    }
}
