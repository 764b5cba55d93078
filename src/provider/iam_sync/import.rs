//! Adopting an existing IAM sync into `mrs_iam_sync`: the import ID's grammar, the state
//! and private record built from what the cluster holds, and the release at plan of
//! adopted names the configuration does not declare.

use crate::api::{ClusterId, ProjectId};
use crate::framework::model::{Attr, IntoValue, Set};
use crate::framework::{AttributePath, Diagnostics, Value};
use crate::provider::config::ProviderState;

use super::crud::{api_diag, Cluster, Target};
use super::model::{IamSyncModel, IamSyncPrivate};
use super::schema::{GROUP_NAMES, USER_NAMES};

/// Where an import ID points: the region only when the ID names one.
#[derive(Debug, PartialEq, Eq)]
pub struct ImportTarget {
    pub region: Option<String>,
    pub project_id: ProjectId,
    pub cluster_id: ClusterId,
}

const FORMS: &str = "Use one of:\n  CLUSTER_ID                     (the provider's project_id and region)\n  PROJECT_ID/CLUSTER_ID          (the provider's region)\n  REGION/PROJECT_ID/CLUSTER_ID";

/// The shared region rule (`api::REGION_RULE`); its `-` also keeps
/// `PROJECT_ID/CLUSTER_ID/typo` from reading as a region.
fn region_ok(r: &str) -> bool {
    crate::api::Region::parse(r).is_ok()
}

/// `CLUSTER_ID` (with the provider's project), `PROJECT_ID/CLUSTER_ID` or
/// `REGION/PROJECT_ID/CLUSTER_ID`.
pub fn parse_import_id(
    id: &str,
    default_project: Option<&ProjectId>,
) -> Result<ImportTarget, Diagnostics> {
    let bad =
        |why: String| Diagnostics::single_error("Invalid import ID", format!("{why}\n\n{FORMS}"));
    let parts: Vec<&str> = id.split('/').collect();
    let (region, project, cluster) = match parts.as_slice() {
        [c] => (None, None, *c),
        [p, c] => (None, Some(*p), *c),
        [r, p, c] => (Some(*r), Some(*p), *c),
        _ => {
            return Err(bad(format!(
                "{id:?} has {} parts separated by `/`; an import ID has one, two or three.",
                parts.len()
            )))
        }
    };
    if let Some(r) = region {
        if !region_ok(r) {
            return Err(bad(format!(
                "The region {r:?} must be lower-case words joined by `-`, like `cn-north-4`."
            )));
        }
    }
    let project_id = match project {
        Some(p) => match ProjectId::parse(p) {
            Ok(p) => p,
            Err(e) => return Err(bad(format!("The project ID {p:?} must be {}.", e.rule()))),
        },
        None => match default_project {
            Some(p) => p.clone(),
            None => {
                return Err(bad(format!(
                    "{id:?} has no project ID and the provider sets none."
                )))
            }
        },
    };
    match ClusterId::parse(cluster) {
        Ok(cluster_id) => Ok(ImportTarget {
            region: region.map(str::to_string),
            project_id,
            cluster_id,
        }),
        Err(e) => Err(bad(format!(
            "The cluster ID {cluster:?} must be {}.",
            e.rule()
        ))),
    }
}

/// The state of the sync that `id` names: every name the cluster holds, since import
/// cannot know which of them a configuration means to manage. All of them are recorded
/// as adopted in `private`, so the first plan releases those the configuration leaves out
/// instead of cancelling them.
pub async fn import(
    shared: &ProviderState,
    id: &str,
    private: &mut Vec<u8>,
) -> Result<Value, Diagnostics> {
    let configured = shared.configured()?;
    let at = parse_import_id(id, configured.project_id.as_ref())?;
    let region = at.region.or_else(|| configured.region.clone());
    let cluster = Cluster::at(
        shared,
        Target {
            region: region.clone(),
            project_id: at.project_id,
            cluster_id: at.cluster_id,
        },
    )?;
    let remote = match cluster.remote().await {
        Ok(r) => r,
        Err(e) => {
            let mut d = Diagnostics::new();
            api_diag(&mut d, "import the IAM sync", &cluster.target, &e);
            return Err(d);
        }
    };
    let t = &cluster.target;
    let state = IamSyncModel {
        id: Attr::Known(format!("{}/{}", t.project_id, t.cluster_id)),
        region: region.into(),
        project_id: Attr::Known(t.project_id.to_string()),
        cluster_id: Attr::Known(t.cluster_id.to_string()),
        is_all_sync: Attr::Known(false),
        timeouts: Attr::Null,
        ..IamSyncModel::default()
    }
    .with_names(&remote);
    *private = IamSyncPrivate {
        adopted: remote,
        ..IamSyncPrivate::default()
    }
    .encode();
    Ok(state.into_value())
}

/// Plans an update's private record: which removed names are released rather than
/// cancelled, with a warning on the attribute for each. Released are the adopted names
/// the plan no longer lists and, when `is_all_sync` turns false, every name the cluster
/// holds beyond the list (nothing of the full directory is cancelled). Nothing is
/// released while the planned names are not wholly known.
pub fn plan_release(
    prior: &IamSyncModel,
    planned: &IamSyncModel,
    prior_private: &IamSyncPrivate,
    diags: &mut Diagnostics,
) -> IamSyncPrivate {
    let cluster = planned.cluster_id.known().cloned().unwrap_or_default();
    let mut next = IamSyncPrivate {
        pending: prior_private.pending.clone(),
        ..IamSyncPrivate::default()
    };
    if planned.all_sync() {
        // Everything synced is managed again: nothing to release.
        return next;
    }
    if prior.all_sync() {
        diags.warning(
            format!("MRS cluster {cluster:?} stays synced: is_all_sync turns false"),
            format!("Every IAM name synced to MRS cluster {cluster:?} stays synced. From this apply on, this resource manages only the names it lists; the others are no longer managed by it, and destroying it cancels only the listed ones."),
        );
        return next;
    }
    let complete =
        |a: &Attr<Set<String>>| a.is_null() || a.known().and_then(Set::wholly_known).is_some();
    if !complete(&planned.user_names) || !complete(&planned.group_names) {
        next.adopted = prior_private.adopted.clone();
        return next;
    }
    let released = prior_private
        .adopted
        .intersect(&prior.names())
        .minus(&planned.names());
    for (attr, kind, set) in [
        (USER_NAMES, "User", &released.users),
        (GROUP_NAMES, "Group", &released.groups),
    ] {
        for name in set {
            diags.warning_at(
                AttributePath::attr(attr),
                format!("{kind} {name:?} is released, not cancelled"),
                format!("{kind} {name:?} stays synced to MRS cluster {cluster:?}, no longer managed by this resource: it was adopted at import and the configuration does not list it."),
            );
        }
    }
    next.released = released;
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::iam_sync::names::Names;

    fn at(r: Option<&str>, p: &str, c: &str) -> Option<ImportTarget> {
        Some(ImportTarget {
            region: r.map(str::to_string),
            project_id: ProjectId::parse(p).ok()?,
            cluster_id: ClusterId::parse(c).ok()?,
        })
    }

    fn names(users: &[&str], groups: &[&str]) -> Names {
        Names {
            users: users.iter().map(|s| s.to_string()).collect(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn import_ids() {
        assert_eq!(parse_import_id("p1/c-1", None).ok(), at(None, "p1", "c-1"));
        assert_eq!(
            parse_import_id("cn-north-4/p1/c-1", None).ok(),
            at(Some("cn-north-4"), "p1", "c-1")
        );
        let p1 = ProjectId::parse("p1").ok();
        assert_eq!(
            parse_import_id("c_1", p1.as_ref()).ok(),
            at(None, "p1", "c_1")
        );
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
            assert!(parse_import_id(bad, None).is_err(), "{bad}");
        }
        // With a default project, a slash still means both parts are given.
        for bad in ["/c", "p/", "p-x/c", "c d", "", "a/b/c/d"] {
            assert!(parse_import_id(bad, p1.as_ref()).is_err(), "{bad}");
        }
        let Err(d) = parse_import_id("a/b/c/d", None) else {
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
    fn an_import_lists_every_synced_name_and_null_for_kinds_without_any() {
        let m = IamSyncModel {
            user_names: Attr::Null,
            ..IamSyncModel::default()
        }
        .with_names(&names(&["a"], &[]));
        assert_eq!(m.user_names, Attr::Known(Set::of_known(["a".to_string()])));
        assert_eq!(m.group_names, Attr::Null);
    }

    fn model(users: &[&str], groups: Option<&[&str]>, all: bool) -> IamSyncModel {
        IamSyncModel {
            cluster_id: Attr::Known("c1".into()),
            user_names: Attr::Known(Set::of_known(users.iter().map(|s| s.to_string()))),
            group_names: match groups {
                Some(g) => Attr::Known(Set::of_known(g.iter().map(|s| s.to_string()))),
                None => Attr::Null,
            },
            is_all_sync: Attr::Known(all),
            ..IamSyncModel::default()
        }
    }

    #[test]
    fn adopted_names_left_out_are_released_with_a_warning_each() {
        let prior = model(&["alice"], Some(&["data-eng"]), false);
        let planned = model(&["alice"], None, false);
        let private = IamSyncPrivate {
            adopted: names(&["alice"], &["data-eng"]),
            ..IamSyncPrivate::default()
        };
        let mut d = Diagnostics::new();
        let next = plan_release(&prior, &planned, &private, &mut d);
        assert_eq!(next.released, names(&[], &["data-eng"]));
        assert!(
            next.adopted.is_empty(),
            "the apply takes the rest under management"
        );
        let warnings: Vec<_> = d.iter().collect();
        assert_eq!(warnings.len(), 1, "{d:?}");
        assert!(!d.has_errors());
        assert_eq!(warnings[0].path, Some(AttributePath::attr(GROUP_NAMES)));
        assert!(warnings[0]
            .detail
            .contains("\"data-eng\" stays synced to MRS cluster \"c1\""));
        assert!(warnings[0]
            .detail
            .contains("no longer managed by this resource"));
    }

    #[test]
    fn names_the_configuration_declared_are_not_released() {
        let prior = model(&["alice", "bob"], None, false);
        let planned = model(&["alice"], None, false);
        let mut d = Diagnostics::new();
        let next = plan_release(&prior, &planned, &IamSyncPrivate::default(), &mut d);
        assert!(next.released.is_empty());
        assert!(d.is_empty());
    }

    #[test]
    fn all_sync_turning_false_warns_and_releases_nothing_by_name() {
        let prior = IamSyncModel {
            user_names: Attr::Null,
            ..model(&[], None, true)
        };
        let planned = model(&["alice"], None, false);
        let mut d = Diagnostics::new();
        let next = plan_release(&prior, &planned, &IamSyncPrivate::default(), &mut d);
        assert!(next.released.is_empty());
        assert_eq!(d.len(), 1);
        assert!(!d.has_errors());
    }
}
