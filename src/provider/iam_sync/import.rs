//! Adopting an existing IAM sync into `mrs_iam_sync`: the import ID's grammar, the state
//! and private record built from what the cluster holds, and the release at plan of
//! adopted names the configuration does not declare.

use crate::api::shown::shorten;
use crate::api::{ClusterId, ProjectId};
use crate::framework::model::{Attr, Set};
use crate::framework::{AttributePath, Diagnostics};

use crate::provider::cluster_sync::{api_error, Address, Clusters};

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
                "{} has {} parts separated by `/`; an import ID has one, two or three.",
                shorten(id),
                parts.len()
            )))
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
    match ClusterId::parse(cluster) {
        Ok(cluster_id) => Ok(ImportTarget {
            region: region.map(str::to_string),
            project_id,
            cluster_id,
        }),
        Err(e) => Err(bad(format!(
            "The cluster ID {} must be {}.",
            shorten(cluster),
            e.rule()
        ))),
    }
}

/// The state of the sync that `id` names: every name the cluster holds, since import
/// cannot know which of them a configuration means to manage. All of them are recorded
/// as adopted (private state), owned by no one: no path cancels them until an apply hands
/// over those the configuration declares; the others are released. A cluster with nothing
/// synced has nothing to import: that is an error, as for any missing object.
pub async fn import(
    clusters: &Clusters,
    id: &str,
) -> Result<(IamSyncModel, IamSyncPrivate), Diagnostics> {
    let configured = clusters.provider().configured()?;
    let at = parse_import_id(id, configured.project_id.as_ref())?;
    let region = at.region.or_else(|| configured.region.clone());
    let cluster = clusters.at(Address {
        region: region.clone(),
        project_id: at.project_id,
        cluster_id: at.cluster_id,
    })?;
    let a = cluster.address();
    let synced = match cluster.synced().await {
        Ok(r) => r,
        Err(e) => {
            let mut d = Diagnostics::new();
            api_error(&mut d, "import the IAM sync", a, &e);
            return Err(d);
        }
    };
    if synced.is_empty() {
        return Err(Diagnostics::single_error(
            "Cannot import non-existent remote object",
            format!(
                "No IAM user or group is synced to MRS cluster {:?} in project {:?}, so there is nothing to import. To start syncing names there, declare an mrs_iam_sync resource with the names and run terraform apply instead.",
                a.cluster_id.as_str(),
                a.project_id.as_str()
            ),
        ));
    }
    let state = IamSyncModel {
        id: Attr::Known(a.id()),
        region: region.into(),
        project_id: Attr::Known(a.project_id.to_string()),
        cluster_id: Attr::Known(a.cluster_id.to_string()),
        is_all_sync: Attr::Known(false),
        timeouts: Attr::Null,
        ..IamSyncModel::default()
    }
    .with_names(&synced);
    let record = IamSyncPrivate {
        adopted: synced,
        ..IamSyncPrivate::default()
    };
    Ok((state, record))
}

/// Plans an update's private record, and the hand-over of adopted names: those the
/// configuration declares become owned, the others are released (left synced), with one
/// warning for them all. The hand-over needs an apply, since Terraform keeps nothing of a
/// plan without changes; when the configuration lists exactly the names held, the plan
/// marks `id` as known only after apply, an in-place change that sends nothing to MRS.
/// Nothing is handed over while the planned names are not wholly known.
pub fn plan_release(
    prior: &IamSyncModel,
    planned: &mut IamSyncModel,
    prior_private: &IamSyncPrivate,
    diags: &mut Diagnostics,
) -> IamSyncPrivate {
    let cluster = planned.cluster_id.known().cloned().unwrap_or_default();
    let mut next = IamSyncPrivate {
        adopted: prior_private.adopted.intersect(&prior.names()),
        pending: prior_private.pending.clone(),
        ..IamSyncPrivate::default()
    };
    if prior.all_sync() && !planned.all_sync() {
        diags.warning(
            format!("MRS cluster {cluster:?} stays synced: is_all_sync turns false"),
            format!("Every IAM name synced to MRS cluster {cluster:?} stays synced. From this apply on, this resource manages only the names it lists; the others are no longer managed by it, and destroying it cancels only the listed ones."),
        );
    }
    if next.adopted.is_empty() || planned.all_sync() {
        // Nothing adopted, or everything synced is managed again: nothing to release.
        return next;
    }
    let complete =
        |a: &Attr<Set<String>>| a.is_null() || a.known().and_then(Set::wholly_known).is_some();
    if !complete(&planned.user_names) || !complete(&planned.group_names) {
        return next;
    }
    if planned == prior {
        planned.id = Attr::Unknown;
        let count = next.adopted.users.len() + next.adopted.groups.len();
        let names = if count == 1 { "name" } else { "names" };
        diags.warning(
            format!("{count} adopted {names} handed over on MRS cluster {cluster:?}"),
            format!("{} were adopted at import. This apply hands them over to the configuration, which lists them: from then on removing one cancels it. It sends nothing to MRS; the plan shows it as an in-place change of `id`.", capitalize(&next.adopted.describe())),
        );
        return next;
    }
    let released = next.adopted.minus(&planned.names());
    if !released.is_empty() {
        let attr = if released.users.is_empty() {
            GROUP_NAMES
        } else {
            USER_NAMES
        };
        let count = released.users.len() + released.groups.len();
        let names = if count == 1 { "name" } else { "names" };
        diags.warning_at(
            AttributePath::attr(attr),
            format!("{count} adopted {names} released, not cancelled, on MRS cluster {cluster:?}"),
            format!("{} stay synced to MRS cluster {cluster:?}, no longer managed by this resource: they were adopted at import and the configuration does not list them. The names the configuration lists are managed from this apply on: removing one later cancels it.", capitalize(&released.describe())),
        );
    }
    next.released = released;
    next
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::cluster_sync::Names;

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
    fn a_long_import_id_is_quoted_by_its_start_and_length() {
        let long = format!("{}/c1", "p".repeat(10_000));
        let Err(d) = parse_import_id(&long, None) else {
            unreachable!("a 10,000-character project ID is refused")
        };
        let detail: String = d.iter().map(|x| x.detail.clone()).collect();
        assert!(detail.len() < 600, "{} characters", detail.len());
        assert!(detail.contains("10000 characters"), "{detail}");
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
    fn adopted_names_left_out_are_released_with_one_warning() {
        let prior = model(&["alice"], Some(&["data-eng"]), false);
        let mut planned = model(&["alice"], None, false);
        let mut d = Diagnostics::new();
        let next = plan_release(
            &prior,
            &mut planned,
            &adopted(&["alice"], &["data-eng"]),
            &mut d,
        );
        assert_eq!(next.released, names(&[], &["data-eng"]));
        assert_eq!(planned.id, Attr::Null, "a change already: nothing forced");
        let warnings: Vec<_> = d.iter().collect();
        assert_eq!(warnings.len(), 1, "{d:?}");
        assert!(!d.has_errors());
        assert_eq!(warnings[0].path, Some(AttributePath::attr(GROUP_NAMES)));
        assert!(warnings[0]
            .detail
            .contains("Groups \"data-eng\" stay synced to MRS cluster \"c1\""));
        assert!(warnings[0]
            .detail
            .contains("no longer managed by this resource"));
    }

    #[test]
    fn thirty_released_users_are_one_warning_that_counts_them() {
        let all: Vec<String> = (10..40).map(|i| format!("u{i}")).collect();
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let prior = model(&all, None, false);
        let mut planned = model(&["u10"], None, false);
        let mut d = Diagnostics::new();
        let next = plan_release(&prior, &mut planned, &adopted(&all, &[]), &mut d);
        assert_eq!(next.released.users.len(), 29);
        assert_eq!(d.len(), 1, "{d:?}");
        let w: Vec<_> = d.iter().collect();
        assert!(
            w[0].summary.starts_with("29 adopted names released"),
            "{}",
            w[0].summary
        );
        assert!(w[0].detail.contains("(and 19 more)"), "{}", w[0].detail);
    }

    #[test]
    fn unknown_planned_names_keep_the_adoption() {
        let prior = model(&["alice"], None, false);
        let mut planned = IamSyncModel {
            user_names: Attr::Unknown,
            ..model(&[], None, false)
        };
        let mut d = Diagnostics::new();
        let next = plan_release(&prior, &mut planned, &adopted(&["alice"], &[]), &mut d);
        assert!(next.released.is_empty());
        assert_eq!(next.adopted, names(&["alice"], &[]));
    }

    #[test]
    fn a_configuration_listing_every_adopted_name_still_hands_them_over() {
        let prior = IamSyncModel {
            id: Attr::Known("p1/c1".into()),
            ..model(&["alice"], None, false)
        };
        let mut planned = prior.clone();
        let mut d = Diagnostics::new();
        let next = plan_release(&prior, &mut planned, &adopted(&["alice"], &[]), &mut d);
        assert_eq!(planned.id, Attr::Unknown, "an in-place change to apply");
        assert!(next.released.is_empty());
        assert_eq!(d.len(), 1, "{d:?}");
    }

    fn adopted(users: &[&str], groups: &[&str]) -> IamSyncPrivate {
        IamSyncPrivate {
            adopted: names(users, groups),
            ..IamSyncPrivate::default()
        }
    }

    #[test]
    fn names_the_configuration_declared_are_not_released() {
        let prior = model(&["alice", "bob"], None, false);
        let mut planned = model(&["alice"], None, false);
        let mut d = Diagnostics::new();
        let next = plan_release(&prior, &mut planned, &IamSyncPrivate::default(), &mut d);
        assert!(next.released.is_empty());
        assert!(d.is_empty());
    }

    #[test]
    fn all_sync_turning_false_warns_and_releases_nothing_by_name() {
        let prior = IamSyncModel {
            user_names: Attr::Null,
            ..model(&[], None, true)
        };
        let mut planned = model(&["alice"], None, false);
        let mut d = Diagnostics::new();
        let next = plan_release(&prior, &mut planned, &IamSyncPrivate::default(), &mut d);
        assert!(next.released.is_empty());
        assert_eq!(d.len(), 1);
        assert!(!d.has_errors());
    }
}
