//! The API's ID types at the Terraform edge: schema validators that apply their rules, and
//! turning an attribute's text into an ID with a diagnostic at that attribute.

use std::sync::Arc;

use crate::api::shown::shorten;
use crate::api::{ClusterId, IdError, ProjectId, Region};
use crate::framework::validate::{ValidateRequest, Validator};
use crate::framework::{AttributePath, Diagnostics};

struct RuleValidator {
    check: fn(&str) -> bool,
    rule: &'static str,
}

impl Validator for RuleValidator {
    fn description(&self) -> String {
        format!("must be {}", self.rule)
    }

    fn validate(&self, req: &ValidateRequest<'_>, diags: &mut Diagnostics) {
        let Some(s) = req.value.as_str() else {
            return;
        };
        if !(self.check)(s) {
            diags.error_at(
                req.path.clone(),
                "Invalid attribute value",
                format!(
                    "Attribute {} is {}; it must be {}.",
                    req.path,
                    shorten(s),
                    self.rule
                ),
            );
        }
    }
}

/// A string attribute whose value passes `check`, which `rule` says in words.
pub fn rule_validator(check: fn(&str) -> bool, rule: &'static str) -> Arc<dyn Validator> {
    Arc::new(RuleValidator { check, rule })
}

/// A string attribute holding a project ID.
pub fn project_id_validator() -> Arc<dyn Validator> {
    rule_validator(|s| ProjectId::parse(s).is_ok(), crate::api::PROJECT_ID_RULE)
}

/// A string attribute holding a cluster ID.
pub fn cluster_id_validator() -> Arc<dyn Validator> {
    rule_validator(|s| ClusterId::parse(s).is_ok(), crate::api::CLUSTER_ID_RULE)
}

/// A string attribute holding a region (the provider's, a resource's or a data source's).
pub fn region_validator() -> Arc<dyn Validator> {
    rule_validator(|s| Region::parse(s).is_ok(), crate::api::REGION_RULE)
}

/// The ID in attribute `attr`. Validators have checked configured values already, so an
/// error here means a state written by something else.
pub fn parse_at<T>(
    s: &str,
    attr: &str,
    parse: fn(&str) -> Result<T, IdError>,
) -> Result<T, Diagnostics> {
    parse(s).map_err(|e| {
        let mut d = Diagnostics::new();
        d.error_at(
            AttributePath::attr(attr),
            "Invalid attribute value",
            format!("Attribute {attr} is {}; {e}.", shorten(s)),
        );
        d
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Value;

    fn errors(v: &Arc<dyn Validator>, value: Value) -> Vec<String> {
        let mut d = Diagnostics::new();
        let p = AttributePath::attr("x");
        v.validate(
            &ValidateRequest {
                path: &p,
                value: &value,
                parent: &Value::Null,
            },
            &mut d,
        );
        d.iter().map(|x| x.detail.clone()).collect()
    }

    #[test]
    fn validators_apply_the_id_rules_and_skip_null_and_unknown() {
        let p = project_id_validator();
        let c = cluster_id_validator();
        for v in [Value::Null, Value::Unknown, Value::string("abc123")] {
            assert!(errors(&p, v.clone()).is_empty(), "{v:?}");
            assert!(errors(&c, v).is_empty());
        }
        assert_eq!(
            errors(&p, Value::string("p-1")),
            vec!["Attribute x is \"p-1\"; it must be 1 to 64 letters or digits.".to_string()]
        );
        assert!(errors(&c, Value::string("c_1-a")).is_empty());
        let bad = errors(&c, Value::string("bad cluster!"));
        assert_eq!(bad.len(), 1);
        assert!(
            bad[0].contains("must be 1 to 64 letters, digits"),
            "{bad:?}"
        );
        let r = region_validator();
        assert!(errors(&r, Value::string("cn-north-4")).is_empty());
        for bad in ["x@127.0.0.1:1/", "cn north", "../../x", "a\nb"] {
            let e = errors(&r, Value::string(bad));
            assert_eq!(e.len(), 1, "{bad:?}");
            assert!(
                e[0].contains("lower-case words and digits joined by `-`"),
                "{e:?}"
            );
        }
        // A 10 KB value is quoted by its start and its length.
        let e = errors(&r, Value::string("x".repeat(10_000)));
        assert!(
            e[0].len() < 300 && e[0].contains("(10000 characters)"),
            "{e:?}"
        );
    }

    #[test]
    fn parse_at_points_at_the_attribute() {
        assert_eq!(
            parse_at("c1", "cluster_id", ClusterId::parse).ok(),
            ClusterId::parse("c1").ok()
        );
        let Err(d) = parse_at("p-1", "project_id", ProjectId::parse) else {
            panic!("p-1 is no project ID")
        };
        let e = d.iter().next().map(|x| x.path.clone());
        assert_eq!(e, Some(Some(AttributePath::attr("project_id"))));
    }
}
