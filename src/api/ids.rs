//! The names that build MRS and IAM URLs, `ProjectId`, `ClusterId`, `Region` and `Cloud`:
//! the one place their rules live. A value of any of these types has passed its rule, so
//! it is safe to put into a URL's path or host name.

use std::borrow::Cow;
use std::fmt;

/// The rule for a project ID, as a person reads it.
pub const PROJECT_ID_RULE: &str = "1 to 64 letters or digits";
/// The rule for a cluster ID, as a person reads it.
pub const CLUSTER_ID_RULE: &str = "1 to 64 letters, digits, `_` or `-`";
/// The rule for a region, as a person reads it.
pub const REGION_RULE: &str =
    "lower-case words and digits joined by `-`: two or more, the first of letters, e.g. `cn-north-4` (at most 64 characters)";
/// The rule for `cloud`, as a person reads it.
pub const CLOUD_RULE: &str =
    "a domain name such as `myhuaweicloud.com`: labels of letters, digits and `-` joined by `.`";

const MAX_LEN: usize = 64;

/// Why a string is not an ID. It holds no heap data, so IDs can be checked in `const`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdError {
    Project,
    Cluster,
    Region,
    Cloud,
}

impl IdError {
    /// The rule the string broke.
    pub fn rule(&self) -> &'static str {
        match self {
            IdError::Project => PROJECT_ID_RULE,
            IdError::Cluster => CLUSTER_ID_RULE,
            IdError::Region => REGION_RULE,
            IdError::Cloud => CLOUD_RULE,
        }
    }
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            IdError::Project => "a project ID",
            IdError::Cluster => "a cluster ID",
            IdError::Region => "a region",
            IdError::Cloud => "`cloud`",
        };
        write!(f, "{what} must be {}", self.rule())
    }
}

impl std::error::Error for IdError {}

/// Which bytes besides ASCII letters and digits an ID may hold.
#[derive(Clone, Copy)]
enum Extra {
    None,
    UnderscoreAndDash,
}

/// Byte-wise, so that it can run in `const`; any non-ASCII byte breaks both rules.
const fn follows_rule(s: &str, extra: Extra) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > MAX_LEN {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let ok = b[i].is_ascii_alphanumeric()
            || (matches!(extra, Extra::UnderscoreAndDash) && (b[i] == b'_' || b[i] == b'-'));
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

/// A project ID: 1 to 64 ASCII letters or digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectId(Cow<'static, str>);

impl ProjectId {
    pub fn parse(s: &str) -> Result<ProjectId, IdError> {
        if follows_rule(s, Extra::None) {
            Ok(ProjectId(Cow::Owned(s.to_string())))
        } else {
            Err(IdError::Project)
        }
    }

    /// For IDs written into the program; usable in `const`, where `.unwrap()` makes a
    /// bad one fail to compile. None when `s` breaks the rule.
    pub const fn from_static(s: &'static str) -> Option<ProjectId> {
        if follows_rule(s, Extra::None) {
            Some(ProjectId(Cow::Borrowed(s)))
        } else {
            None
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A cluster ID: 1 to 64 ASCII letters, digits, `_` or `-`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterId(Cow<'static, str>);

impl ClusterId {
    pub fn parse(s: &str) -> Result<ClusterId, IdError> {
        if follows_rule(s, Extra::UnderscoreAndDash) {
            Ok(ClusterId(Cow::Owned(s.to_string())))
        } else {
            Err(IdError::Cluster)
        }
    }

    /// For IDs written into the program; usable in `const`, where `.unwrap()` makes a
    /// bad one fail to compile. None when `s` breaks the rule.
    pub const fn from_static(s: &'static str) -> Option<ClusterId> {
        if follows_rule(s, Extra::UnderscoreAndDash) {
            Some(ClusterId(Cow::Borrowed(s)))
        } else {
            None
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A region: lower-case words and digits joined by `-`, as in `cn-north-4` ([`REGION_RULE`]). It becomes
/// part of host names (`mrs.{region}.{cloud}`) and of IAM's project query.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region(String);

/// Two or more words of `[a-z0-9]` joined by single `-`, the first all letters; at most
/// 64 bytes. Two words also keep an import ID `PROJECT/CLUSTER/typo` from reading as one
/// with a region.
fn region_follows_rule(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_LEN
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && s.split('-').all(|word| !word.is_empty())
        && s.contains('-')
        && s.split('-')
            .next()
            .is_some_and(|first| first.bytes().all(|c| c.is_ascii_lowercase()))
}

impl Region {
    pub fn parse(s: &str) -> Result<Region, IdError> {
        if region_follows_rule(s) {
            Ok(Region(s.to_string()))
        } else {
            Err(IdError::Region)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The domain of the endpoints (`cloud`), e.g. `myhuaweicloud.com`: labels of ASCII
/// letters, digits and `-` (not at either end) joined by `.`; kept in lower case.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cloud(String);

impl Cloud {
    pub fn parse(s: &str) -> Result<Cloud, IdError> {
        let lower = s.trim_end_matches('.').to_ascii_lowercase();
        let ok = !lower.is_empty()
            && lower.len() <= 253
            && lower.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'-')
            });
        if ok {
            Ok(Cloud(lower))
        } else {
            Err(IdError::Cloud)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for ProjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for ClusterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_id_table() {
        let sixty_four = "p".repeat(64);
        let sixty_five = "p".repeat(65);
        let cases: [(&str, bool); 9] = [
            ("p1", true),
            ("ABCxyz019", true),
            (&sixty_four, true),
            ("", false),
            (&sixty_five, false),
            ("p-1", false),
            ("p_1", false),
            ("p/1", false),
            ("pé", false),
        ];
        for (s, ok) in cases {
            let r = ProjectId::parse(s);
            assert_eq!(r.is_ok(), ok, "{s:?}");
            assert_eq!(ProjectId::from_static(s.to_string().leak()).is_some(), ok);
            if let Ok(p) = r {
                assert_eq!(p.as_str(), s);
                assert_eq!(p.to_string(), s);
            } else {
                assert_eq!(r, Err(IdError::Project));
            }
        }
    }

    #[test]
    fn cluster_id_table() {
        let sixty_four = "c".repeat(64);
        let sixty_five = "c".repeat(65);
        let cases: [(&str, bool); 11] = [
            ("c1", true),
            ("c_1-a", true),
            ("-", true),
            (&sixty_four, true),
            ("", false),
            (&sixty_five, false),
            ("c 1", false),
            ("c/../d", false),
            ("c.1", false),
            ("c%2F", false),
            ("ç", false),
        ];
        for (s, ok) in cases {
            let r = ClusterId::parse(s);
            assert_eq!(r.is_ok(), ok, "{s:?}");
            assert_eq!(ClusterId::from_static(s.to_string().leak()).is_some(), ok);
            if let Ok(c) = r {
                assert_eq!(c.as_str(), s);
            } else {
                assert_eq!(r, Err(IdError::Cluster));
            }
        }
    }

    #[test]
    fn region_table() {
        let long = format!("a{}", "-b".repeat(40));
        let cases: [(&str, bool); 18] = [
            ("cn-north-4", true),
            ("eu-west-101", true),
            ("la-south-2", true),
            ("r", false),
            ("x1", false),
            ("4-north", false),
            ("xx-nowhere-1", true),
            ("", false),
            ("CN-north-4", false),
            ("cn north", false),
            ("cn--north", false),
            ("-cn", false),
            ("cn-", false),
            ("../../x", false),
            ("x@127.0.0.1:80/", false),
            ("cn-north-4\n", false),
            ("cn#x", false),
            (&long, false),
        ];
        for (s, ok) in cases {
            let r = Region::parse(s);
            assert_eq!(r.is_ok(), ok, "{s:?}");
            if let Ok(r) = r {
                assert_eq!(r.as_str(), s);
            } else {
                assert_eq!(r, Err(IdError::Region));
            }
        }
    }

    #[test]
    fn cloud_table() {
        for ok in ["myhuaweicloud.com", "Example.ORG", "a-b.c", "x"] {
            assert!(Cloud::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            Cloud::parse("Example.ORG").map(|c| c.to_string()),
            Ok("example.org".to_string())
        );
        for bad in [
            "",
            "a..b",
            "-a.com",
            "a-.com",
            "x@127.0.0.1:80",
            "a/b",
            "a b",
            "a.com:80",
        ] {
            assert_eq!(Cloud::parse(bad), Err(IdError::Cloud), "{bad}");
        }
    }

    #[test]
    fn static_and_parsed_ids_are_equal() {
        const P: &ProjectId = &ProjectId::from_static("proj1").unwrap();
        assert_eq!(Ok(P.clone()), ProjectId::parse("proj1"));
        assert_eq!(
            IdError::Cluster.to_string(),
            "a cluster ID must be 1 to 64 letters, digits, `_` or `-`"
        );
    }
}
