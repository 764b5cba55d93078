//! DynamicValue codec: msgpack and JSON bytes <-> framework `Value`, driven by the schema
//! type. Any byte string decodes to a value or an error: lengths are checked against the
//! bytes present before allocating, and recursion is bounded by the type's depth.

use std::collections::BTreeMap;
use std::fmt;

use crate::framework::{Number, Refinements, Type, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError {
    pub message: String,
    pub offset: usize,
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.offset)
    }
}

impl std::error::Error for CodecError {}

/// Decodes msgpack bytes of the given type. Extension type 0 decodes as `Value::Unknown`;
/// type 12 (unknown with refinements, Terraform 1.3+) as `Value::RefinedUnknown` holding
/// its payload as sent.
pub fn decode_msgpack(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let v = r.value(ty)?;
    if r.pos != bytes.len() {
        return Err(r.err(format!("{} trailing bytes", bytes.len() - r.pos)));
    }
    Ok(v)
}

/// Encodes a value as msgpack, writing every attribute the type declares (null when the
/// value lacks it), unknowns as `d4 00 00`, refined unknowns as extension 12 with their
/// refinements as received.
pub fn encode_msgpack(v: &Value, ty: &Type) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    write_value(&mut out, v, ty);
    out
}

/// Encodes a value as JSON (the form of `RawState.json`), every declared attribute present.
/// JSON has no unknowns and no NaN or infinity, so those are errors. Terraform never asks
/// a provider for JSON, so only the tests (which check the decoder against it) write it.
#[cfg(test)]
pub fn encode_json(v: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let j = to_json(v, ty, "")?;
    serde_json::to_vec(&j).map_err(|e| CodecError {
        message: format!("cannot write JSON: {e}"),
        offset: 0,
    })
}

/// Decodes JSON (as in `RawState.json`) of the given type. Attributes the type does not
/// declare are dropped: they belong to an older schema.
pub fn decode_json(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let j: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| CodecError {
        // serde_json's message can quote a value of the state, megabytes of it.
        message: format!(
            "invalid JSON: {}",
            crate::shown::text(&e.to_string(), crate::shown::TEXT)
        ),
        offset: 0,
    })?;
    from_json(&j, ty, "")
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn err(&self, message: String) -> CodecError {
        CodecError {
            message,
            offset: self.pos,
        }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if n > self.remaining() {
            return Err(self.err(format!("need {n} bytes, {} left", self.remaining())));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }

    fn be(&mut self, n: usize) -> Result<u64, CodecError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn peek(&self) -> Result<u8, CodecError> {
        self.buf
            .get(self.pos)
            .copied()
            .ok_or_else(|| self.err("unexpected end of input".into()))
    }

    /// Reads an extension if one is next: Some((its type, its payload)).
    fn ext(&mut self) -> Result<Option<(i8, &'a [u8])>, CodecError> {
        let b = self.peek()?;
        let len = match b {
            0xd4 => 1,
            0xd5 => 2,
            0xd6 => 4,
            0xd7 => 8,
            0xd8 => 16,
            0xc7..=0xc9 => {
                self.pos += 1;
                let width = 1usize << (b - 0xc7);
                self.be(width)? as usize
            }
            _ => return Ok(None),
        };
        if b >= 0xd4 {
            self.pos += 1;
        }
        let t = self.u8()? as i8;
        let payload = self.take(len)?;
        Ok(Some((t, payload)))
    }

    fn array_len(&mut self) -> Result<usize, CodecError> {
        let n = match self.u8()? {
            b @ 0x90..=0x9f => usize::from(b & 0x0f),
            0xdc => self.be(2)? as usize,
            0xdd => self.be(4)? as usize,
            b => return Err(self.err(format!("expected an array, found byte 0x{b:02x}"))),
        };
        // Every element takes at least one byte: refuse lengths the input cannot hold.
        if n > self.remaining() {
            return Err(self.err(format!(
                "array of {n} elements in {} bytes",
                self.remaining()
            )));
        }
        Ok(n)
    }

    fn map_len(&mut self) -> Result<usize, CodecError> {
        let n = match self.u8()? {
            b @ 0x80..=0x8f => usize::from(b & 0x0f),
            0xde => self.be(2)? as usize,
            0xdf => self.be(4)? as usize,
            b => return Err(self.err(format!("expected a map, found byte 0x{b:02x}"))),
        };
        if n.saturating_mul(2) > self.remaining() {
            return Err(self.err(format!("map of {n} entries in {} bytes", self.remaining())));
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, CodecError> {
        let n = match self.u8()? {
            b @ 0xa0..=0xbf => usize::from(b & 0x1f),
            0xd9 => self.be(1)? as usize,
            0xda => self.be(2)? as usize,
            0xdb => self.be(4)? as usize,
            b => return Err(self.err(format!("expected a string, found byte 0x{b:02x}"))),
        };
        let start = self.pos;
        let raw = self.take(n)?;
        std::str::from_utf8(raw)
            .map(str::to_string)
            .map_err(|_| CodecError {
                message: "string is not valid UTF-8".into(),
                offset: start,
            })
    }

    fn number(&mut self) -> Result<Number, CodecError> {
        let b = self.peek()?;
        let n = match b {
            0x00..=0x7f => {
                self.pos += 1;
                Number::Int(i64::from(b))
            }
            0xe0..=0xff => {
                self.pos += 1;
                Number::Int(i64::from(b as i8))
            }
            0xcc..=0xcf => {
                self.pos += 1;
                let width = 1usize << (b - 0xcc);
                let u = self.be(width)?;
                match i64::try_from(u) {
                    Ok(i) => Number::Int(i),
                    Err(_) => Number::Float(u as f64),
                }
            }
            0xd0..=0xd3 => {
                self.pos += 1;
                let width = 1usize << (b - 0xd0);
                let u = self.be(width)?;
                let shift = 64 - 8 * width as u32;
                Number::Int(((u << shift) as i64) >> shift)
            }
            0xca => {
                self.pos += 1;
                Number::Float(f64::from(f32::from_bits(self.be(4)? as u32)))
            }
            0xcb => {
                self.pos += 1;
                Number::Float(f64::from_bits(self.be(8)?))
            }
            0xa0..=0xbf | 0xd9 | 0xda | 0xdb => {
                // Numbers too large for int64/float64 travel as decimal strings.
                let start = self.pos;
                let s = self.string()?;
                parse_number(&s).ok_or(CodecError {
                    message: format!("{} is not a number", crate::shown::shorten(&s)),
                    offset: start,
                })?
            }
            _ => return Err(self.err(format!("expected a number, found byte 0x{b:02x}"))),
        };
        Ok(n)
    }

    fn value(&mut self, ty: &Type) -> Result<Value, CodecError> {
        if self.peek()? == 0xc0 {
            self.pos += 1;
            return Ok(Value::Null);
        }
        let at = self.pos;
        if let Some((t, payload)) = self.ext()? {
            return match t {
                0 => Ok(Value::Unknown),
                // Kept as sent, unparsed: this provider reads no refinement, and an
                // unparsed payload cannot be rejected wrongly.
                12 => Ok(Value::RefinedUnknown(Refinements(payload.to_vec()))),
                other => Err(CodecError {
                    message: format!("unsupported msgpack extension type {other}"),
                    offset: at,
                }),
            };
        }
        match ty {
            Type::Bool => match self.u8()? {
                0xc2 => Ok(Value::Bool(false)),
                0xc3 => Ok(Value::Bool(true)),
                b => Err(CodecError {
                    message: format!("expected a bool, found byte 0x{b:02x}"),
                    offset: at,
                }),
            },
            Type::Number => Ok(Value::Number(self.number()?)),
            Type::String => Ok(Value::String(self.string()?)),
            Type::List(e) | Type::Set(e) => {
                let n = self.array_len()?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(e)?);
                }
                Ok(if matches!(ty, Type::Set(_)) {
                    Value::canonical_set(items)
                } else {
                    Value::List(items)
                })
            }
            Type::Map(e) => {
                let n = self.map_len()?;
                let mut m = BTreeMap::new();
                for _ in 0..n {
                    let k = self.string()?;
                    let v = self.value(e)?;
                    m.insert(k, v);
                }
                Ok(Value::Map(m))
            }
            Type::Object(attrs) => {
                let n = self.map_len()?;
                let mut m = BTreeMap::new();
                for _ in 0..n {
                    let key_at = self.pos;
                    let k = self.string()?;
                    let Some(t) = attrs.get(&k) else {
                        return Err(CodecError {
                            message: format!("unsupported attribute {k:?}"),
                            offset: key_at,
                        });
                    };
                    let v = self.value(t)?;
                    m.insert(k, v);
                }
                // Every key read is an attribute of the type, so a map as long as the
                // type lacks none (and no name is copied to find that out).
                if m.len() < attrs.len() {
                    for name in attrs.keys() {
                        if !m.contains_key(name) {
                            m.insert(name.clone(), Value::Null);
                        }
                    }
                }
                Ok(Value::Object(m))
            }
            Type::Dynamic => Err(CodecError {
                message: "dynamically-typed values are not supported by this provider".into(),
                offset: at,
            }),
        }
    }
}

fn parse_number(s: &str) -> Option<Number> {
    if let Ok(i) = s.parse::<i64>() {
        return Some(Number::Int(i));
    }
    s.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Number::Float)
}

fn write_len(out: &mut Vec<u8>, n: usize, fix: u8, fix_max: usize, m16: u8, m32: u8) {
    if n <= fix_max {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(m16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(m32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    let n = s.len();
    if n <= 31 {
        out.push(0xa0 | n as u8);
    } else if n <= 0xff {
        out.push(0xd9);
        out.push(n as u8);
    } else if n <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

fn write_int(out: &mut Vec<u8>, i: i64) {
    if (0..=0x7f).contains(&i) {
        out.push(i as u8);
    } else if (-32..0).contains(&i) {
        out.push(i as i8 as u8);
    } else if i >= 0 {
        out.push(0xcf);
        out.extend_from_slice(&(i as u64).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

fn write_value(out: &mut Vec<u8>, v: &Value, ty: &Type) {
    match v {
        Value::Null => out.push(0xc0),
        Value::Unknown => out.extend_from_slice(&[0xd4, 0x00, 0x00]),
        Value::RefinedUnknown(Refinements(payload)) => {
            let n = payload.len();
            if n <= 0xff {
                out.extend_from_slice(&[0xc7, n as u8]);
            } else if n <= 0xffff {
                out.push(0xc8);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            } else {
                out.push(0xc9);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            out.push(12);
            out.extend_from_slice(payload);
        }
        Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Number(Number::Int(i)) => write_int(out, *i),
        Value::Number(Number::Float(f)) => {
            out.push(0xcb);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Value::String(s) => write_str(out, s),
        Value::List(items) | Value::Set(items) => {
            let elem = match ty {
                Type::List(e) | Type::Set(e) => e.as_ref(),
                _ => &Type::Dynamic,
            };
            write_len(out, items.len(), 0x90, 15, 0xdc, 0xdd);
            for i in items {
                write_value(out, i, elem);
            }
        }
        Value::Map(m) => {
            let elem = match ty {
                Type::Map(e) => e.as_ref(),
                _ => &Type::Dynamic,
            };
            write_len(out, m.len(), 0x80, 15, 0xde, 0xdf);
            for (k, val) in m {
                write_str(out, k);
                write_value(out, val, elem);
            }
        }
        Value::Object(m) => match ty {
            Type::Object(attrs) => {
                write_len(out, attrs.len(), 0x80, 15, 0xde, 0xdf);
                for (name, t) in attrs {
                    write_str(out, name);
                    write_value(out, m.get(name).unwrap_or(&Value::Null), t);
                }
            }
            _ => {
                write_len(out, m.len(), 0x80, 15, 0xde, 0xdf);
                for (k, val) in m {
                    write_str(out, k);
                    write_value(out, val, &Type::Dynamic);
                }
            }
        },
    }
}

fn from_json(j: &serde_json::Value, ty: &Type, path: &str) -> Result<Value, CodecError> {
    use serde_json::Value as J;
    let bad = |what: &str| CodecError {
        message: format!(
            "{}: expected {what}, found {}",
            if path.is_empty() { "value" } else { path },
            kind(j)
        ),
        offset: 0,
    };
    if j.is_null() {
        return Ok(Value::Null);
    }
    match ty {
        Type::Bool => j.as_bool().map(Value::Bool).ok_or_else(|| bad("a bool")),
        Type::Number => match j {
            J::Number(n) => n
                .as_i64()
                .map(Number::Int)
                .or_else(|| n.as_f64().map(Number::Float))
                .map(Value::Number)
                .ok_or_else(|| bad("a number")),
            J::String(s) => parse_number(s)
                .map(Value::Number)
                .ok_or_else(|| bad("a number")),
            _ => Err(bad("a number")),
        },
        Type::String => j.as_str().map(Value::string).ok_or_else(|| bad("a string")),
        Type::List(e) | Type::Set(e) => {
            let arr = j.as_array().ok_or_else(|| bad("an array"))?;
            let items = arr
                .iter()
                .enumerate()
                .map(|(i, x)| from_json(x, e, &format!("{path}[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if matches!(ty, Type::Set(_)) {
                Value::canonical_set(items)
            } else {
                Value::List(items)
            })
        }
        Type::Map(e) => {
            let obj = j.as_object().ok_or_else(|| bad("an object"))?;
            let mut m = BTreeMap::new();
            for (k, x) in obj {
                m.insert(k.clone(), from_json(x, e, &format!("{path}[{k:?}]"))?);
            }
            Ok(Value::Map(m))
        }
        Type::Object(attrs) => {
            let obj = j.as_object().ok_or_else(|| bad("an object"))?;
            let mut m = BTreeMap::new();
            for (name, t) in attrs {
                let p = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                let v = match obj.get(name) {
                    Some(x) => from_json(x, t, &p)?,
                    None => Value::Null,
                };
                m.insert(name.clone(), v);
            }
            Ok(Value::Object(m))
        }
        Type::Dynamic => Err(bad("a statically-typed value")),
    }
}

#[cfg(test)]
fn to_json(v: &Value, ty: &Type, path: &str) -> Result<serde_json::Value, CodecError> {
    use serde_json::Value as J;
    let at = |p: &str| if p.is_empty() { "value" } else { p }.to_string();
    let elem = |t: &Type| match t {
        Type::List(e) | Type::Set(e) | Type::Map(e) => e.as_ref().clone(),
        _ => Type::Dynamic,
    };
    Ok(match v {
        Value::Null => J::Null,
        Value::Unknown | Value::RefinedUnknown(_) => {
            return Err(CodecError {
                message: format!("{}: JSON cannot hold an unknown value", at(path)),
                offset: 0,
            })
        }
        Value::Bool(b) => J::Bool(*b),
        Value::Number(Number::Int(i)) => J::from(*i),
        Value::Number(Number::Float(f)) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .ok_or_else(|| CodecError {
                message: format!("{}: {f} has no JSON form", at(path)),
                offset: 0,
            })?,
        Value::String(s) => J::from(s.as_str()),
        Value::List(items) | Value::Set(items) => {
            let e = elem(ty);
            J::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| to_json(x, &e, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            )
        }
        Value::Map(m) => {
            let e = elem(ty);
            let mut o = serde_json::Map::new();
            for (k, x) in m {
                o.insert(k.clone(), to_json(x, &e, &format!("{path}[{k:?}]"))?);
            }
            J::Object(o)
        }
        Value::Object(m) => {
            let mut o = serde_json::Map::new();
            let declared: Vec<(&String, &Type)> = match ty {
                Type::Object(attrs) => attrs.iter().collect(),
                _ => Vec::new(),
            };
            for (name, t) in declared {
                let p = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                o.insert(name.clone(), to_json(v.get(name), t, &p)?);
            }
            if !matches!(ty, Type::Object(_)) {
                for (k, x) in m {
                    o.insert(
                        k.clone(),
                        to_json(x, &Type::Dynamic, &format!("{path}.{k}"))?,
                    );
                }
            }
            J::Object(o)
        }
    })
}

fn kind(j: &serde_json::Value) -> &'static str {
    match j {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a bool",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj_type() -> Type {
        Type::Object(BTreeMap::from([
            ("id".to_string(), Type::String),
            ("n".to_string(), Type::Number),
            ("b".to_string(), Type::Bool),
            ("s".to_string(), Type::set_of(Type::String)),
            ("l".to_string(), Type::list_of(Type::Number)),
            ("m".to_string(), Type::map_of(Type::String)),
        ]))
    }

    fn sample() -> Value {
        Value::object([
            ("id", Value::string("p/c")),
            ("n", Value::int(-70000)),
            ("b", Value::Bool(true)),
            ("s", Value::string_set(["x", "y"])),
            (
                "l",
                Value::List(vec![
                    Value::int(1),
                    Value::Number(Number::Float(2.5)),
                    Value::Unknown,
                ]),
            ),
            (
                "m",
                Value::Map(BTreeMap::from([("k".to_string(), Value::string("v"))])),
            ),
        ])
    }

    #[test]
    fn msgpack_round_trip() {
        let ty = obj_type();
        let bytes = encode_msgpack(&sample(), &ty);
        assert_eq!(decode_msgpack(&bytes, &ty), Ok(sample()));
    }

    #[test]
    fn unknown_encodes_as_terraform_does() {
        assert_eq!(
            encode_msgpack(&Value::Unknown, &Type::String),
            vec![0xd4, 0, 0]
        );
    }

    #[test]
    fn refined_unknown_and_ext_forms_decode_as_unknown() {
        // Terraform 1.3+: extension 12 carrying a msgpack map of refinements.
        // Refined unknowns are unknowns that keep their refinements (they must round-trip:
        // Terraform checks them), so they are compared as unknowns, then by their payload.
        let refined = [0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc3];
        assert_eq!(
            decode_msgpack(&refined, &Type::String).map(|v| v.is_unknown()),
            Ok(true)
        );
        assert_eq!(
            decode_msgpack(&refined, &Type::String),
            Ok(Value::RefinedUnknown(Refinements(vec![0x81, 0x01, 0xc3])))
        );
        assert_eq!(
            decode_msgpack(&[0xd4, 0x00, 0x00], &Type::Bool),
            Ok(Value::Unknown)
        );
        assert_eq!(
            decode_msgpack(&[0xd5, 0x0c, 1, 2], &Type::Number).map(|v| v.is_unknown()),
            Ok(true)
        );
        assert!(decode_msgpack(&[0xd4, 0x05, 0x00], &Type::Bool).is_err());
    }

    #[test]
    fn missing_attributes_are_null_and_extra_ones_rejected() {
        let ty = obj_type();
        let v = decode_msgpack(&[0x81, 0xa2, b'i', b'd', 0xa1, b'x'], &ty).expect("decodes");
        assert_eq!(v.get("id"), &Value::string("x"));
        assert!(v.get("s").is_null());
        let e = decode_msgpack(&[0x81, 0xa1, b'z', 0xc0], &ty).expect_err("extra attribute");
        assert!(e.message.contains("unsupported attribute"), "{e}");
    }

    #[test]
    fn integers_of_every_width() {
        let cases: &[(&[u8], i64)] = &[
            (&[0x05], 5),
            (&[0xff], -1),
            (&[0xcc, 0xff], 255),
            (&[0xcd, 0x01, 0x00], 256),
            (&[0xd0, 0x80], -128),
            (&[0xd1, 0xff, 0x00], -256),
            (&[0xd2, 0xff, 0xff, 0xff, 0xfe], -2),
            (&[0xa3, b'1', b'2', b'3'], 123),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                decode_msgpack(bytes, &Type::Number).map(|v| v.as_i64()),
                Ok(Some(*want)),
                "{bytes:?}"
            );
        }
        for i in [0, 127, 128, -32, -33, i64::MAX, i64::MIN] {
            let b = encode_msgpack(&Value::int(i), &Type::Number);
            assert_eq!(decode_msgpack(&b, &Type::Number), Ok(Value::int(i)));
        }
    }

    #[test]
    fn hostile_bytes_are_errors_not_panics() {
        let ty = obj_type();
        let cases: &[&[u8]] = &[
            &[],
            &[0xc1],
            &[0xdf, 0xff, 0xff, 0xff, 0xff],
            &[0xdd, 0xff, 0xff, 0xff, 0xff],
            &[0x81, 0xdb, 0xff, 0xff, 0xff, 0xff],
            &[0x81, 0xa1, b's', 0x91, 0xa2, 0xff, 0xfe],
            &[0xc9, 0xff, 0xff, 0xff, 0xff, 0x00],
            &[0x80, 0x00],
            &[0x92, 0xa1],
        ];
        for c in cases {
            assert!(decode_msgpack(c, &ty).is_err(), "{c:?}");
        }
        // DynamicPseudoType values are rejected with an error.
        assert!(decode_msgpack(&[0x92, 0xa0, 0xc0], &Type::Dynamic).is_err());
    }

    #[test]
    fn every_prefix_and_byte_flip_is_handled() {
        let ty = obj_type();
        let bytes = encode_msgpack(&sample(), &ty);
        for n in 0..bytes.len() {
            assert!(
                decode_msgpack(&bytes[..n], &ty).is_err(),
                "prefix of {n} bytes"
            );
        }
        // Flipped bytes may still decode to some value; what matters is an answer, not a
        // panic (the fuzz target `value_codec` explores this much further).
        for i in 0..bytes.len() {
            for x in [0x00, 0xff, 0xc1, 0xdf, 0xdb] {
                let mut b = bytes.clone();
                b[i] = x;
                let _ = decode_msgpack(&b, &ty);
            }
        }
    }

    #[test]
    fn json_state() {
        let ty = obj_type();
        let raw = br#"{"id":"p/c","n":-70000,"b":true,"s":["y","x"],"l":[1,2.5],"m":{"k":"v"},"removed_attr":1}"#;
        let v = decode_json(raw, &ty).expect("decodes");
        assert_eq!(v.get("s"), &Value::string_set(["x", "y"]));
        assert_eq!(v.get("n").as_i64(), Some(-70000));
        assert!(decode_json(br#"{"id":5}"#, &ty).is_err());
        assert!(decode_json(b"{", &ty).is_err());
        assert_eq!(
            decode_json(b"{}", &ty).map(|v| v.get("id").is_null()),
            Ok(true)
        );
    }

    #[test]
    fn refined_unknowns_round_trip_with_their_refinements() {
        // {1: false} (not null) and {2: "a-"} (string prefix), as cty writes them.
        let payloads: [&[u8]; 3] = [
            &[0x81, 0x01, 0xc2],
            &[0x81, 0x02, 0xa2, b'a', b'-'],
            &[0x80],
        ];
        for payload in payloads {
            let mut bytes = vec![0xc7, payload.len() as u8, 0x0c];
            bytes.extend_from_slice(payload);
            let v = decode_msgpack(&bytes, &Type::String).expect("decodes");
            assert_eq!(v, Value::RefinedUnknown(Refinements(payload.to_vec())));
            assert_eq!(encode_msgpack(&v, &Type::String), bytes);
        }
        // fixext forms are read too, and written back as ext 8.
        let v = decode_msgpack(&[0xd4, 0x0c, 0x80], &Type::String).expect("fixext 1");
        assert_eq!(encode_msgpack(&v, &Type::String), [0xc7, 0x01, 0x0c, 0x80]);
        // Within a set, each refined unknown is its own element.
        let set = [0x92, 0xc7, 0x01, 0x0c, 0x80, 0xc7, 0x01, 0x0c, 0x80];
        let v = decode_msgpack(&set, &Type::set_of(Type::String)).expect("set");
        assert_eq!(v.elements().map(<[Value]>::len), Some(2));
        // The payload must be as long as its header says.
        let bad: [&[u8]; 3] = [
            &[0xc7, 0x02, 0x0c, 0x80],
            &[0xc8, 0x00, 0x03, 0x0c, 0x80],
            &[0xd5, 0x0c, 0x80],
        ];
        for b in bad {
            assert!(decode_msgpack(b, &Type::String).is_err(), "{b:?}");
        }
    }

    #[test]
    fn json_cannot_hold_unknowns() {
        let ty = Type::set_of(Type::String);
        assert!(encode_json(&Value::Set(vec![Value::Unknown]), &ty).is_err());
        assert!(encode_json(&Value::Number(Number::Float(f64::NAN)), &Type::Number).is_err());
        assert_eq!(
            encode_json(&Value::Set(vec![]), &ty).ok(),
            Some(b"[]".to_vec())
        );
    }

    mod props {
        //! Every value of every type, unknowns (plain and refined, whole and inside
        //! collections), nulls and empty collections included, survives encode → decode
        //! exactly, in msgpack and (when it holds no unknown) in JSON.
        use proptest::prelude::*;

        use super::super::*;

        fn types() -> impl Strategy<Value = Type> {
            let leaf = prop_oneof![Just(Type::Bool), Just(Type::Number), Just(Type::String)];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    inner.clone().prop_map(Type::list_of),
                    inner.clone().prop_map(Type::set_of),
                    inner.clone().prop_map(Type::map_of),
                    prop::collection::btree_map("[a-z_]{1,6}", inner, 0..4).prop_map(Type::Object),
                ]
            })
        }

        fn refinements() -> impl Strategy<Value = Value> {
            prop::sample::select(vec![
                vec![0x80],
                vec![0x81, 0x01, 0xc2],
                vec![0x82, 0x01, 0xc2, 0x02, 0xa2, b'a', b'-'],
                vec![0x81, 0x03, 0x92, 0x05, 0xc3],
            ])
            .prop_map(|p| Value::RefinedUnknown(Refinements(p)))
        }

        fn known(ty: &Type) -> BoxedStrategy<Value> {
            match ty {
                Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
                Type::Number => prop_oneof![
                    any::<i64>().prop_map(Value::int),
                    any::<i32>().prop_map(|k| Value::Number(Number::Float(f64::from(k) / 8.0))),
                ]
                .boxed(),
                Type::String => ".{0,6}".prop_map(Value::String).boxed(),
                Type::List(e) => prop::collection::vec(value(e), 0..4)
                    .prop_map(Value::List)
                    .boxed(),
                Type::Set(e) => prop::collection::vec(value(e), 0..4)
                    .prop_map(Value::canonical_set)
                    .boxed(),
                Type::Map(e) => prop::collection::btree_map("[a-z]{0,3}", value(e), 0..4)
                    .prop_map(Value::Map)
                    .boxed(),
                Type::Object(attrs) => {
                    let parts: Vec<(Just<String>, BoxedStrategy<Value>)> = attrs
                        .iter()
                        .map(|(k, t)| (Just(k.clone()), value(t)))
                        .collect();
                    parts
                        .prop_map(|kv| Value::Object(kv.into_iter().collect()))
                        .boxed()
                }
                Type::Dynamic => Just(Value::Null).boxed(),
            }
        }

        fn value(ty: &Type) -> BoxedStrategy<Value> {
            prop_oneof![
                1 => Just(Value::Null),
                1 => Just(Value::Unknown),
                1 => refinements(),
                6 => known(ty),
            ]
            .boxed()
        }

        fn typed_value() -> impl Strategy<Value = (Type, Value)> {
            types().prop_flat_map(|t| {
                let v = value(&t);
                (Just(t), v)
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn msgpack_round_trips_exactly((ty, v) in typed_value(), cut in any::<prop::sample::Index>()) {
                let bytes = encode_msgpack(&v, &ty);
                prop_assert_eq!(decode_msgpack(&bytes, &ty), Ok(v.clone()));
                // Terraform's own encoding of the value decodes the same: re-encoding is
                // stable.
                prop_assert_eq!(encode_msgpack(&v, &ty), bytes.clone());
                let n = cut.index(bytes.len());
                prop_assert!(decode_msgpack(&bytes[..n], &ty).is_err(), "prefix {} of {:?}", n, bytes);
            }

            #[test]
            fn json_round_trips_exactly((ty, v) in typed_value()) {
                match encode_json(&v, &ty) {
                    Ok(bytes) => {
                        prop_assert!(v.is_wholly_known());
                        prop_assert_eq!(decode_json(&bytes, &ty), Ok(v));
                    }
                    Err(_) => prop_assert!(!v.is_wholly_known()),
                }
            }
        }
    }
}
