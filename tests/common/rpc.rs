//! What the RPC tests say in the provider's own terms: schema types, values encoded as
//! DynamicValues and decoded back, diagnostics by attribute path, provider start options
//! that shut out the caller's environment. The only helper module that names crate
//! internals (the framework's `Value`/`Type`, the msgpack codec, the schemas), so a move
//! inside the crate is fixed here once.

#![allow(dead_code)]

use terraform_provider_mrs::framework::Provider;
pub use terraform_provider_mrs::framework::{Type, Value};
use terraform_provider_mrs::protocol::value_codec::{decode_msgpack, encode_msgpack};
use terraform_provider_mrs::provider::{config, iam_sync, iam_sync_users, MrsProvider};
use tokio_util::sync::CancellationToken;

use super::provider::{tfplugin6 as pb, StartOptions};
use super::sim::Sim;

/// A set of strings.
pub fn string_set<I, S>(names: I) -> Value
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Value::string_set(names)
}

/// A set whose one element is unknown (distinct from a wholly unknown set).
pub fn set_with_one_unknown_element() -> Value {
    Value::Set(vec![Value::Unknown])
}

/// Sets (or replaces) one attribute of an object value.
pub fn with_attr(object: &mut Value, name: &str, value: Value) {
    object.set_attr(name, value);
}

pub type Client = pb::provider_client::ProviderClient<tonic::transport::Channel>;

/// The resource type names the provider registers, sorted as GetMetadata lists them.
pub fn resource_type_names() -> Vec<String> {
    let mut names: Vec<String> = MrsProvider::new(CancellationToken::new())
        .resources()
        .iter()
        .map(|r| r.type_name().to_string())
        .collect();
    names.sort();
    names
}

/// The data source type names the provider registers, sorted as GetMetadata lists them.
pub fn data_source_type_names() -> Vec<String> {
    let mut names: Vec<String> = MrsProvider::new(CancellationToken::new())
        .data_sources()
        .iter()
        .map(|d| d.type_name().to_string())
        .collect();
    names.sort();
    names
}

pub fn resource_ty() -> Type {
    iam_sync::schema().object_type()
}

pub fn data_ty() -> Type {
    iam_sync_users::schema().object_type()
}

pub fn provider_ty() -> Type {
    config::schema().object_type()
}

/// An object value; attributes not given are encoded as null.
pub fn object(pairs: &[(&str, Value)]) -> Value {
    Value::object(pairs.iter().map(|(k, v)| (*k, v.clone())))
}

pub fn dv(v: &Value, ty: &Type) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: encode_msgpack(v, ty),
        json: vec![],
    })
}

pub fn raw(msgpack: &[u8]) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: msgpack.to_vec(),
        json: vec![],
    })
}

pub fn decoded(v: &Option<pb::DynamicValue>, ty: &Type) -> Value {
    let v = v.as_ref().expect("a DynamicValue");
    assert!(v.json.is_empty(), "the provider answers in msgpack");
    decode_msgpack(&v.msgpack, ty).expect("the provider's own msgpack decodes")
}

pub fn is_error(d: &pb::Diagnostic) -> bool {
    d.severity == pb::diagnostic::Severity::Error as i32
}

pub fn errors(d: &[pb::Diagnostic]) -> Vec<&pb::Diagnostic> {
    d.iter().filter(|x| is_error(x)).collect()
}

pub fn no_errors(d: &[pb::Diagnostic], what: &str) {
    assert!(errors(d).is_empty(), "{what}: unexpected errors {d:#?}");
}

/// The attribute path of a diagnostic as `a.b["k"][0]`; empty without one.
pub fn path_of(d: &pb::Diagnostic) -> String {
    use pb::attribute_path::step::Selector;
    let mut s = String::new();
    for step in d.attribute.iter().flat_map(|p| &p.steps) {
        match &step.selector {
            Some(Selector::AttributeName(a)) if s.is_empty() => s.push_str(a),
            Some(Selector::AttributeName(a)) => s.push_str(&format!(".{a}")),
            Some(Selector::ElementKeyString(k)) => s.push_str(&format!("[{k:?}]")),
            Some(Selector::ElementKeyInt(i)) => s.push_str(&format!("[{i}]")),
            None => s.push_str("<none>"),
        }
    }
    s
}

pub fn has_error_at(d: &[pb::Diagnostic], path: &str) -> bool {
    errors(d).iter().any(|x| path_of(x) == path)
}

/// A provider whose environment cannot supply credentials or settings behind the test's back.
pub fn bare_options() -> StartOptions {
    let mut o = StartOptions::mtls();
    for k in [
        "HW_ACCESS_KEY",
        "HW_SECRET_KEY",
        "HW_SECURITY_TOKEN",
        "HW_REGION_NAME",
        "HW_PROJECT_ID",
        "HW_MRS_ENDPOINT",
        "HW_INSECURE",
        "HW_MAX_RETRIES",
    ] {
        o = o.with_env(k, "");
    }
    o
}

/// Like `bare_options`, pointed at a simulator through the environment.
pub fn sim_options(sim: &Sim) -> StartOptions {
    let mut o = bare_options();
    for (k, v) in sim.provider_env() {
        o = o.with_env(k, &v);
    }
    o
}

pub async fn configure(c: &mut Client, config: &Value) -> Vec<pb::Diagnostic> {
    c.configure_provider(pb::configure_provider::Request {
        terraform_version: "1.0.3".into(),
        config: dv(config, &provider_ty()),
        client_capabilities: None,
    })
    .await
    .expect("ConfigureProvider answers")
    .into_inner()
    .diagnostics
}

pub async fn metadata_still_served(c: &mut Client) {
    let m = c
        .get_metadata(pb::get_metadata::Request {})
        .await
        .expect("GetMetadata still answers")
        .into_inner();
    let served: Vec<String> = m.resources.into_iter().map(|r| r.type_name).collect();
    assert_eq!(served, resource_type_names());
}

/// A configuration of `mrs_iam_sync` with a cluster and one user.
pub fn sync_config(cluster: &str, users: &[&str]) -> Value {
    object(&[
        ("cluster_id", Value::string(cluster)),
        ("user_names", string_set(users.iter().copied())),
    ])
}

/// `mrs_iam_sync` config msgpack with `cluster_id` replaced by the given raw bytes.
pub fn resource_config_with_raw_cluster_id(raw_value: &[u8]) -> Vec<u8> {
    let marker = "MARKER-cluster-id";
    let bytes = encode_msgpack(&sync_config(marker, &["alice"]), &resource_ty());
    let mut needle = vec![0xa0 | marker.len() as u8];
    needle.extend_from_slice(marker.as_bytes());
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle.as_slice())
        .expect("marker in encoding");
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(raw_value);
    out.extend_from_slice(&bytes[at + needle.len()..]);
    out
}

/// Byte strings that are not a valid msgpack `mrs_iam_sync` object.
pub fn malformed_msgpack() -> Vec<(&'static str, Vec<u8>)> {
    let ty = resource_ty();
    let good = encode_msgpack(&sync_config("c1", &["alice"]), &ty);
    let mut wrong_attr_types = match ty.clone() {
        Type::Object(m) => m,
        _ => unreachable!(),
    };
    wrong_attr_types.insert("cluster_id".into(), Type::Bool);
    wrong_attr_types.insert("user_names".into(), Type::Number);
    let wrong_types = encode_msgpack(
        &object(&[
            ("cluster_id", Value::Bool(true)),
            ("user_names", Value::int(7)),
        ]),
        &Type::Object(wrong_attr_types),
    );
    let mut trailing = good.clone();
    trailing.extend_from_slice(&[0xc0, 0xc0]);
    vec![
        ("reserved byte c1", vec![0xc1]),
        ("random garbage", b"\xff\xfe\x00garbage\x9f\xdd".to_vec()),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("only a map header", vec![0xdf, 0xff, 0xff, 0xff, 0xff]),
        ("string instead of object", vec![0xa3, b'a', b'b', b'c']),
        ("wrong attribute types", wrong_types),
        ("trailing bytes", trailing),
        ("huge array length", vec![0xdd, 0x7f, 0xff, 0xff, 0xff]),
        // A DynamicPseudoType-style [type, value] pair where an object belongs.
        (
            "dynamic pair",
            vec![
                0x92, 0xa8, b'"', b's', b't', b'r', b'i', b'n', b'g', b'"', 0xa1, b'x',
            ],
        ),
    ]
}
