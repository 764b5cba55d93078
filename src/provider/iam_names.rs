//! Huawei IAM's user and group name rules, as validators that reject at plan time the
//! names IAM could never hold.
//!
//! Sources (Huawei Cloud IAM API reference):
//! - user names, KeystoneCreateUser `POST /v3/users` (iam_08_0006) and CreateUserV5:
//!   1 to 64 characters of letters, digits, spaces, `-`, `_` and `.`, not starting with a
//!   digit or a space. Older editions of the same page said 1 to 32.
//! - group names, KeystoneCreateGroup `POST /v3/groups` (iam_09_0003): at most 64
//!   characters, with no character rule stated.
//!
//! Only what no edition allows is rejected: an empty name, leading or trailing whitespace,
//! control characters, and more than 64 characters (the larger of the published limits).
//! The character set and the leading-digit rule are left to IAM: names made under older
//! rules, or by federation, may still exist and be synced, and refusing one IAM holds would
//! make it unmanageable here.

use std::sync::Arc;

use crate::framework::validate::{ValidateRequest, Validator};
use crate::framework::Diagnostics;

/// The longest user or group name IAM accepts, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// Which kind of IAM name a validator checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    User,
    Group,
}

impl NameKind {
    fn noun(self) -> &'static str {
        match self {
            NameKind::User => "user",
            NameKind::Group => "group",
        }
    }
}

/// Why `name` can never be an IAM name of this kind, or None when IAM might accept it.
pub fn name_problem(kind: NameKind, name: &str) -> Option<String> {
    let noun = kind.noun();
    if name.is_empty() {
        return Some(format!(
            "must not be an empty string: an IAM {noun} name has 1 to {MAX_NAME_CHARS} characters"
        ));
    }
    if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
        return Some(format!(
            "holds {}: an IAM {noun} name cannot start or end with whitespace",
            crate::shown::shorten(name)
        ));
    }
    if name.chars().any(char::is_control) {
        return Some(format!(
            "holds {}: an IAM {noun} name cannot contain control characters",
            crate::shown::shorten(name)
        ));
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Some(format!(
            "holds a name of {}: an IAM {noun} name has at most {MAX_NAME_CHARS} characters",
            crate::shown::shorten(name)
        ));
    }
    None
}

struct IamName(NameKind);

impl Validator for IamName {
    fn description(&self) -> String {
        format!(
            "a possible IAM {} name: 1 to {MAX_NAME_CHARS} characters, no leading or trailing whitespace, no control characters",
            self.0.noun()
        )
    }

    fn validate(&self, req: &ValidateRequest<'_>, diags: &mut Diagnostics) {
        let Some(name) = req.value.as_str() else {
            return;
        };
        if let Some(problem) = name_problem(self.0, name) {
            diags.error_at(
                req.path.clone(),
                format!("Invalid IAM {} name", self.0.noun()),
                format!("Attribute {} {problem}.", req.path),
            );
        }
    }
}

/// One IAM user name; wrap it in `each_element` for a set of names.
pub fn user_name() -> Arc<dyn Validator> {
    Arc::new(IamName(NameKind::User))
}

/// One IAM group name; wrap it in `each_element` for a set of names.
pub fn group_name() -> Arc<dyn Validator> {
    Arc::new(IamName(NameKind::Group))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::{AttributePath, Value};

    #[test]
    fn names_iam_can_never_hold_are_rejected() {
        let sixty_four = "a".repeat(64);
        let sixty_five = "a".repeat(65);
        let wide = "é".repeat(64);
        let cases: &[(&str, bool)] = &[
            ("alice", true),
            ("Alice Smith", true),
            ("a.b-c_d", true),
            // IAM's own character rules are left to IAM.
            ("1st-user", true),
            ("dev@ops", true),
            (sixty_four.as_str(), true),
            // 64 characters of two bytes each: IAM counts characters.
            (wide.as_str(), true),
            ("", false),
            (" alice", false),
            ("alice ", false),
            ("\talice", false),
            ("al\nice", false),
            ("ali\u{7f}ce", false),
            ("al\u{0}ice", false),
            (sixty_five.as_str(), false),
        ];
        for kind in [NameKind::User, NameKind::Group] {
            for (name, ok) in cases {
                assert_eq!(name_problem(kind, name).is_none(), *ok, "{kind:?} {name:?}");
            }
        }
    }

    #[test]
    fn the_error_is_on_the_attribute_and_quotes_the_name() {
        let mut d = Diagnostics::new();
        let path = AttributePath::attr("user_names");
        let value = Value::string(" alice");
        user_name().validate(
            &ValidateRequest {
                path: &path,
                value: &value,
                parent: &Value::Null,
            },
            &mut d,
        );
        let diag = d.iter().next().expect("one diagnostic");
        assert_eq!(diag.path, Some(path));
        assert!(diag.detail.contains("\" alice\""), "{}", diag.detail);
        assert!(diag.detail.contains("whitespace"), "{}", diag.detail);
    }

    #[test]
    fn unknown_and_null_names_wait_for_apply() {
        for value in [Value::Unknown, Value::Null] {
            let mut d = Diagnostics::new();
            group_name().validate(
                &ValidateRequest {
                    path: &AttributePath::attr("group_names"),
                    value: &value,
                    parent: &Value::Null,
                },
                &mut d,
            );
            assert!(!d.has_errors());
        }
    }
}
