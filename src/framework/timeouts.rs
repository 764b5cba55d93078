//! The `timeouts` block of a resource: its schema, durations like `1h30m` and their
//! validator, reading the block as a typed model, and writing durations for a person.

use std::sync::Arc;
use std::time::Duration;

use super::diag::Diagnostics;
use super::model::{model, Attr};
use super::schema::{Attribute, Block, NestedBlock, Nesting};
use super::validate::{ValidateRequest, Validator};

/// The block's name in configurations and states.
pub const BLOCK: &str = "timeouts";
const CREATE: &str = "create";
const UPDATE: &str = "update";
const DELETE: &str = "delete";

/// The `timeouts` block with one optional duration per operation, as Terraform users know
/// it from other providers. `description` says what the durations bound.
pub fn block(description: &str) -> NestedBlock {
    let duration = |name: &str, text: &str| {
        Attribute::string(name)
            .optional()
            .validator(Arc::new(DurationValidator))
            .description(text)
    };
    NestedBlock {
        type_name: BLOCK.to_string(),
        block: Block::new(description)
            .attribute(duration(CREATE, "For create."))
            .attribute(duration(UPDATE, "For update."))
            .attribute(duration(DELETE, "For destroy.")),
        nesting: Nesting::Single,
        min_items: 0,
        max_items: 0,
    }
}

model! {
    /// What the `timeouts` block holds, as written: writing it back gives the same value.
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct Timeouts {
        pub create: Attr<String> = CREATE,
        pub update: Attr<String> = UPDATE,
        pub delete: Attr<String> = DELETE,
    }
}

impl Timeouts {
    pub fn create_or(&self, default: Duration) -> Duration {
        duration_or(&self.create, default)
    }

    pub fn update_or(&self, default: Duration) -> Duration {
        duration_or(&self.update, default)
    }

    pub fn delete_or(&self, default: Duration) -> Duration {
        duration_or(&self.delete, default)
    }
}

/// A block left out (null) means every default.
pub fn create_or(t: &Attr<Timeouts>, default: Duration) -> Duration {
    t.known().map_or(default, |t| t.create_or(default))
}

pub fn update_or(t: &Attr<Timeouts>, default: Duration) -> Duration {
    t.known().map_or(default, |t| t.update_or(default))
}

pub fn delete_or(t: &Attr<Timeouts>, default: Duration) -> Duration {
    t.known().map_or(default, |t| t.delete_or(default))
}

/// The validator rejects bad durations at plan time; a state written by hand may still
/// hold one, and then the default serves rather than failing the apply.
fn duration_or(text: &Attr<String>, default: Duration) -> Duration {
    text.known()
        .and_then(|s| parse_duration(s))
        .unwrap_or(default)
}

/// Parses a Go-style duration: one or more `<number><unit>` with units h, m, s, ms.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let (mult, unit_len) = if rest.starts_with("ms") {
            (0.001, 2)
        } else if rest.starts_with('h') {
            (3600.0, 1)
        } else if rest.starts_with('m') {
            (60.0, 1)
        } else if rest.starts_with('s') {
            (1.0, 1)
        } else {
            return None;
        };
        total += n * mult;
        rest = &rest[unit_len..];
    }
    (total.is_finite() && total < 1.0e9).then(|| Duration::from_secs_f64(total))
}

/// "10m0s"-style text for a person, as Terraform users write timeouts.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 3600, (secs % 3600) / 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

struct DurationValidator;

impl Validator for DurationValidator {
    fn description(&self) -> String {
        "a duration such as `30s`, `10m` or `1h30m`".to_string()
    }

    fn validate(&self, req: &ValidateRequest<'_>, diags: &mut Diagnostics) {
        let Some(s) = req.value.as_str() else {
            return;
        };
        if parse_duration(s).is_none() {
            diags.error_at(
                req.path.clone(),
                "Invalid duration",
                format!(
                    "{} is not a duration; write it like \"30s\", \"10m\" or \"1h30m\".",
                    crate::shown::shorten(s)
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::model::{FromValue, IntoValue};
    use crate::framework::validate::validate_block;
    use crate::framework::{AttributePath, Value};

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        for bad in ["", "10", "m", "10x", "1e400s", "-1s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(Duration::from_secs(2)), "2s");
        assert_eq!(human_duration(Duration::from_secs(600)), "10m0s");
        assert_eq!(human_duration(Duration::from_secs(5401)), "1h30m1s");
    }

    #[test]
    fn the_block_reads_back_what_it_holds_and_defaults_fill_the_gaps() {
        let ten = Duration::from_secs(600);
        let v = Value::object([
            (CREATE, Value::string("1m")),
            (UPDATE, Value::Null),
            (DELETE, Value::string("not a duration")),
        ]);
        let t = Attr::<Timeouts>::from_value(&v, &AttributePath::attr(BLOCK));
        let Ok(t) = t else { panic!("{t:?}") };
        assert_eq!(create_or(&t, ten), Duration::from_secs(60));
        assert_eq!(update_or(&t, ten), ten);
        assert_eq!(delete_or(&t, ten), ten);
        assert_eq!(t.into_value(), v);
        let none = Attr::<Timeouts>::from_value(&Value::Null, &AttributePath::attr(BLOCK));
        assert_eq!(none.map(|t| create_or(&t, ten)), Ok(ten));
    }

    #[test]
    fn a_mistyped_duration_is_reported_at_its_path() {
        let v = Value::object([
            (CREATE, Value::Bool(true)),
            (UPDATE, Value::Null),
            (DELETE, Value::Null),
        ]);
        let Err(d) = Timeouts::from_value(&v, &AttributePath::attr(BLOCK)) else {
            panic!("a bool is not a duration")
        };
        let paths: Vec<_> = d.iter().map(|x| x.path.clone()).collect();
        assert_eq!(
            paths,
            vec![Some(AttributePath::attr(BLOCK).then_attr(CREATE))]
        );
    }

    #[test]
    fn the_validator_points_inside_the_block() {
        let b = Block::new("r").block(block("How long."));
        let config = Value::object([(
            BLOCK,
            Value::object([
                (CREATE, Value::string("ten minutes")),
                (UPDATE, Value::string("5m")),
                (DELETE, Value::Unknown),
            ]),
        )]);
        let mut d = Diagnostics::new();
        validate_block(&b, &config, &AttributePath::root(), &mut d);
        let paths: Vec<_> = d.iter().map(|x| x.path.clone()).collect();
        assert_eq!(
            paths,
            vec![Some(AttributePath::attr(BLOCK).then_attr(CREATE))]
        );
    }
}
