//! Fuzzes the DynamicValue decoders (msgpack and JSON) against the schema types the
//! provider really decodes, plus a few shapes the schemas do not use (maps, lists of
//! objects, dynamic). Any input must decode to a value or an error, never panic; and a
//! decoded msgpack value must survive encode → decode byte for byte, because the provider
//! re-encodes every value it decodes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use terraform_provider_mrs::framework::Type;
use terraform_provider_mrs::protocol::value_codec::{decode_json, decode_msgpack, encode_msgpack};
use terraform_provider_mrs::provider::{config, iam_sync, iam_sync_users};

fn types() -> Vec<Type> {
    let small_object = Type::Object(
        [
            ("b".to_string(), Type::Bool),
            ("n".to_string(), Type::Number),
            ("s".to_string(), Type::set_of(Type::String)),
        ]
        .into_iter()
        .collect(),
    );
    vec![
        iam_sync::schema().object_type(),
        config::schema().object_type(),
        iam_sync_users::schema().object_type(),
        Type::String,
        Type::Number,
        Type::Bool,
        Type::set_of(Type::String),
        Type::list_of(small_object.clone()),
        Type::map_of(Type::Number),
        Type::set_of(small_object),
        Type::Dynamic,
    ]
}

/// Built once: the schemas compile their validators' regexes, which would otherwise
/// dominate every run.
static TYPES: std::sync::OnceLock<Vec<Type>> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else {
        return;
    };
    let types = TYPES.get_or_init(types);
    let ty = &types[usize::from(sel) % types.len()];
    if let Ok(v) = decode_msgpack(bytes, ty) {
        let once = encode_msgpack(&v, ty);
        let again = match decode_msgpack(&once, ty) {
            Ok(v2) => encode_msgpack(&v2, ty),
            Err(e) => panic!("re-decoding our own encoding failed: {e}"),
        };
        assert_eq!(once, again, "encode is not stable across a decode");
    }
    let _ = decode_json(bytes, ty);
});
