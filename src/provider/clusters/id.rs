//! The import ID of an object on a cluster: its form (the cluster's address, then, for a
//! resource a cluster holds many of, a suffix naming the object) and the grammar
//! `[[REGION/]PROJECT_ID/]CLUSTER_ID[/SUFFIX]` with its help text.

use std::sync::Arc;

use crate::api::shown::shorten;
use crate::api::{ClusterId, ProjectId};
use crate::framework::validate::Validator;
use crate::framework::Diagnostics;
use crate::provider::ids::rule_validator;

/// What follows the cluster in an ID, for a resource a cluster holds many of.
#[derive(Clone, Copy, Debug)]
pub struct Suffix {
    /// Its name in the import forms: `KEY`.
    pub name: &'static str,
    /// The attribute that holds it: `key`.
    pub attribute: &'static str,
    /// Its rule...
    pub check: fn(&str) -> bool,
    /// ...as an error says what it must be: "1 to 128 characters".
    pub rule: &'static str,
}

impl Suffix {
    /// The schema validator of the attribute that holds it: the import ID's rule.
    pub fn validator(self) -> Arc<dyn Validator> {
        rule_validator(self.check, self.rule)
    }
}

/// The form of a resource's import ID.
#[derive(Clone, Copy, Debug)]
pub struct IdForm {
    pub suffix: Option<Suffix>,
}

/// `PROJECT_ID/CLUSTER_ID`: one object per cluster.
pub const ONE_PER_CLUSTER: IdForm = IdForm { suffix: None };

/// Where an import ID points: the region only when the ID names one, the suffix when the
/// form has one.
#[derive(Debug, PartialEq, Eq)]
pub struct ImportTarget {
    pub region: Option<String>,
    pub project_id: ProjectId,
    pub cluster_id: ClusterId,
    pub suffix: Option<String>,
}

/// The import forms, without the suffix, and when each applies.
const FORMS: [(&str, &str); 3] = [
    ("CLUSTER_ID", "(the provider's project_id and region)"),
    ("PROJECT_ID/CLUSTER_ID", "(the provider's region)"),
    ("REGION/PROJECT_ID/CLUSTER_ID", ""),
];

impl IdForm {
    /// The import forms, one a line, for the detail of an "Invalid import ID".
    pub fn help(&self) -> String {
        let tail = self
            .suffix
            .map(|s| format!("/{}", s.name))
            .unwrap_or_default();
        let width = FORMS.iter().map(|(f, _)| f.len()).max().unwrap_or(0) + tail.len() + 3;
        let lines: Vec<String> = FORMS
            .iter()
            .map(|(form, when)| {
                let form = format!("{form}{tail}");
                format!("  {form:width$}{when}").trim_end().to_string()
            })
            .collect();
        format!("Use one of:\n{}", lines.join("\n"))
    }
}

/// The shared region rule (`api::REGION_RULE`); its `-` also keeps
/// `PROJECT_ID/CLUSTER_ID/typo` from reading as a region.
fn region_ok(r: &str) -> bool {
    crate::api::Region::parse(r).is_ok()
}

/// `[[REGION/]PROJECT_ID/]CLUSTER_ID`, then `/SUFFIX` when `form` has one; a project left
/// out is `default_project` (the provider's).
pub fn parse_import_id(
    id: &str,
    form: &IdForm,
    default_project: Option<&ProjectId>,
) -> Result<ImportTarget, Diagnostics> {
    let bad = |why: String| {
        Diagnostics::single_error("Invalid import ID", format!("{why}\n\n{}", form.help()))
    };
    let mut parts: Vec<&str> = id.split('/').collect();
    let suffix = match form.suffix {
        Some(s) if parts.len() > 1 => parts.pop().map(|p| (s, p)),
        _ => None,
    };
    // A form with a suffix needs at least two parts.
    let complete = form.suffix.is_some() == suffix.is_some();
    let (region, project, cluster) = match parts.as_slice() {
        [c] if complete => (None, None, *c),
        [p, c] if complete => (None, Some(*p), *c),
        [r, p, c] if complete => (Some(*r), Some(*p), *c),
        _ => {
            let counts = match form.suffix {
                None => "one, two or three",
                Some(_) => "two, three or four",
            };
            return Err(bad(format!(
                "{} has {} parts separated by `/`; an import ID has {counts}.",
                shorten(id),
                id.split('/').count()
            )));
        }
    };
    if let Some(r) = region {
        if !region_ok(r) {
            return Err(bad(format!(
                "The region {} must be lower-case words joined by `-`, like `cn-north-4`.",
                shorten(r)
            )));
        }
    }
    let project_id = match project {
        Some(p) => match ProjectId::parse(p) {
            Ok(p) => p,
            Err(e) => {
                return Err(bad(format!(
                    "The project ID {} must be {}.",
                    shorten(p),
                    e.rule()
                )))
            }
        },
        None => match default_project {
            Some(p) => p.clone(),
            None => {
                return Err(bad(format!(
                    "{} has no project ID and the provider sets none.",
                    shorten(id)
                )))
            }
        },
    };
    let cluster_id = match ClusterId::parse(cluster) {
        Ok(c) => c,
        Err(e) => {
            return Err(bad(format!(
                "The cluster ID {} must be {}.",
                shorten(cluster),
                e.rule()
            )))
        }
    };
    if let Some((s, value)) = suffix {
        if !(s.check)(value) {
            return Err(bad(format!(
                "The {} {} must be {}.",
                s.attribute,
                shorten(value),
                s.rule
            )));
        }
    }
    Ok(ImportTarget {
        region: region.map(str::to_string),
        project_id,
        cluster_id,
        suffix: suffix.map(|(_, v)| v.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::validate::ValidateRequest;
    use crate::framework::{AttributePath, Value};

    fn at(r: Option<&str>, p: &str, c: &str) -> Option<ImportTarget> {
        Some(ImportTarget {
            region: r.map(str::to_string),
            project_id: ProjectId::parse(p).ok()?,
            cluster_id: ClusterId::parse(c).ok()?,
            suffix: None,
        })
    }

    fn parse(id: &str, default_project: Option<&ProjectId>) -> Option<ImportTarget> {
        parse_import_id(id, &ONE_PER_CLUSTER, default_project).ok()
    }

    #[test]
    fn import_ids() {
        assert_eq!(parse("p1/c-1", None), at(None, "p1", "c-1"));
        assert_eq!(
            parse("cn-north-4/p1/c-1", None),
            at(Some("cn-north-4"), "p1", "c-1")
        );
        let p1 = ProjectId::parse("p1").ok();
        assert_eq!(parse("c_1", p1.as_ref()), at(None, "p1", "c_1"));
        for bad in [
            "c1",
            "/c",
            "p/",
            "p-x/c",
            "p/c d",
            "",
            "r/p/c/d",
            "R!/p/c",
            "/p/c",
            "p1/c1/extra",
            "cn-/p/c",
            "4-north/p/c",
        ] {
            assert!(parse(bad, None).is_none(), "{bad}");
        }
        // With a default project, a slash still means both parts are given.
        for bad in ["/c", "p/", "p-x/c", "c d", "", "a/b/c/d"] {
            assert!(parse(bad, p1.as_ref()).is_none(), "{bad}");
        }
        let Err(d) = parse_import_id("a/b/c/d", &ONE_PER_CLUSTER, None) else {
            panic!("four parts")
        };
        let detail = d.iter().map(|x| x.detail.clone()).collect::<String>();
        for form in [
            "CLUSTER_ID",
            "PROJECT_ID/CLUSTER_ID",
            "REGION/PROJECT_ID/CLUSTER_ID",
        ] {
            assert!(detail.contains(form), "{detail}");
        }
    }

    #[test]
    fn the_help_lists_the_three_forms_in_aligned_columns() {
        assert_eq!(
            ONE_PER_CLUSTER.help(),
            "Use one of:\n  CLUSTER_ID                     (the provider's project_id and region)\n  PROJECT_ID/CLUSTER_ID          (the provider's region)\n  REGION/PROJECT_ID/CLUSTER_ID"
        );
        assert_eq!(
            KEYED.help(),
            "Use one of:\n  CLUSTER_ID/KEY                     (the provider's project_id and region)\n  PROJECT_ID/CLUSTER_ID/KEY          (the provider's region)\n  REGION/PROJECT_ID/CLUSTER_ID/KEY"
        );
    }

    const KEYED: IdForm = IdForm {
        suffix: Some(Suffix {
            name: "KEY",
            attribute: "key",
            check: |k| (1..=8).contains(&k.len()),
            rule: "1 to 8 characters",
        }),
    };

    #[test]
    fn a_suffix_is_the_last_part_and_follows_its_rule() {
        let with = |r: Option<&str>, p: &str, c: &str, k: &str| {
            at(r, p, c).map(|t| ImportTarget {
                suffix: Some(k.to_string()),
                ..t
            })
        };
        let p1 = ProjectId::parse("p1").ok();
        let parse = |id: &str| parse_import_id(id, &KEYED, p1.as_ref()).ok();
        assert_eq!(parse("c1/k"), with(None, "p1", "c1", "k"));
        assert_eq!(parse("p2/c1/k"), with(None, "p2", "c1", "k"));
        assert_eq!(
            parse("eu-west-0/p2/c1/k"),
            with(Some("eu-west-0"), "p2", "c1", "k")
        );
        for bad in ["c1", "c1/", "c1/123456789", "a/b/c/d/e", "p-x/c1/k", ""] {
            assert!(parse(bad).is_none(), "{bad}");
        }
        let Err(d) = parse_import_id("c1/123456789", &KEYED, p1.as_ref()) else {
            panic!("a key too long")
        };
        let detail = d.iter().map(|x| x.detail.clone()).collect::<String>();
        assert!(
            detail.contains("The key \"123456789\" must be 1 to 8 characters."),
            "{detail}"
        );
        assert!(
            detail.contains("REGION/PROJECT_ID/CLUSTER_ID/KEY"),
            "{detail}"
        );
        // The attribute that holds the suffix follows the same rule.
        let Some(key) = KEYED.suffix else {
            unreachable!("a form with a suffix")
        };
        let path = AttributePath::attr("key");
        for (value, ok) in [("k", true), ("123456789", false)] {
            let mut d = Diagnostics::new();
            let value = Value::string(value);
            let req = ValidateRequest {
                path: &path,
                value: &value,
                parent: &Value::Null,
            };
            key.validator().validate(&req, &mut d);
            assert_eq!(d.has_errors(), !ok, "{d:?}");
        }
    }

    #[test]
    fn a_long_import_id_is_quoted_by_its_start_and_length() {
        let long = format!("{}/c1", "p".repeat(10_000));
        let Err(d) = parse_import_id(&long, &ONE_PER_CLUSTER, None) else {
            unreachable!("a 10,000-character project ID is refused")
        };
        let detail: String = d.iter().map(|x| x.detail.clone()).collect();
        assert!(detail.len() < 600, "{} characters", detail.len());
        assert!(detail.contains("10000 characters"), "{detail}");
    }
}
