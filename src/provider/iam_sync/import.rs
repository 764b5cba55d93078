//! Adopting an existing IAM sync into `mrs_iam_sync`: the state and private record an
//! import builds from what the cluster holds (its ID's grammar is the kit's), and the
//! release at plan of adopted names the configuration does not declare.

use crate::framework::model::{Attr, Set};
use crate::framework::{AttributePath, Diagnostics};

use crate::provider::cluster_sync::ClusterSync;
use crate::provider::clusters::{api_error, Clusters, ONE_PER_CLUSTER};

use super::model::{IamSyncModel, IamSyncPrivate};
use super::schema::{GROUP_NAMES, USER_NAMES};

/// The state of the sync that `id` names: every name the cluster holds, since import
/// cannot know which of them a configuration means to manage. All of them are recorded
/// as adopted (private state), owned by no one: no path cancels them until an apply hands
/// over those the configuration declares; the others are released. A cluster with nothing
/// synced has nothing to import: that is an error, as for any missing object.
pub async fn import(
    clusters: &Clusters,
    id: &str,
) -> Result<(IamSyncModel, IamSyncPrivate), Diagnostics> {
    let (cluster, _) = clusters.imported(id, &ONE_PER_CLUSTER)?;
    let cluster = ClusterSync::on(cluster);
    let a = cluster.address();
    let region = a.region.clone();
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
        region: region.into(),
        project_id: Attr::Known(a.project_id.to_string()),
        cluster_id: Attr::Known(a.cluster_id.to_string()),
        // Unset until the first apply: the plan after an import is then always a change
        // (`+ is_all_sync = false`), the apply that hands the adopted names over.
        is_all_sync: Attr::Null,
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
/// plan without changes: an import leaves `is_all_sync` unset, so when the configuration
/// lists exactly the names held the plan still sets it (`+ is_all_sync = false`), an
/// in-place change that sends nothing to MRS. Nothing is handed over while the planned
/// names are not wholly known.
pub fn plan_release(
    prior: &IamSyncModel,
    planned: &IamSyncModel,
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
    // The prior state with the planned `is_all_sync`: equal to the plan when that is all
    // the plan changes.
    let prior_as_planned = IamSyncModel {
        is_all_sync: planned.is_all_sync.clone(),
        ..prior.clone()
    };
    if prior_as_planned == *planned {
        if prior.is_all_sync == planned.is_all_sync {
            // Imported by a build that recorded `is_all_sync` at import: no change to carry
            // the hand-over, which waits for the object's next change.
            return next;
        }
        let count = next.adopted.users.len() + next.adopted.groups.len();
        let names = if count == 1 { "name" } else { "names" };
        diags.warning(
            format!("{count} adopted {names} handed over on MRS cluster {cluster:?}"),
            format!("{} were adopted at import. This apply hands them over to the configuration, which lists them: from then on removing one cancels it. It sends nothing to MRS; the plan shows it as an in-place change that records `is_all_sync`, which the import left unset.", capitalize(&next.adopted.describe())),
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

    fn names(users: &[&str], groups: &[&str]) -> Names {
        Names {
            users: users.iter().map(|s| s.to_string()).collect(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
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
    fn adopted_names_left_out_are_released_with_one_warning() {
        let prior = model(&["alice"], Some(&["data-eng"]), false);
        let planned = model(&["alice"], None, false);
        let mut d = Diagnostics::new();
        let next = plan_release(
            &prior,
            &planned,
            &adopted(&["alice"], &["data-eng"]),
            &mut d,
        );
        assert_eq!(next.released, names(&[], &["data-eng"]));
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
        let planned = model(&["u10"], None, false);
        let mut d = Diagnostics::new();
        let next = plan_release(&prior, &planned, &adopted(&all, &[]), &mut d);
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
        let planned = IamSyncModel {
            user_names: Attr::Unknown,
            ..model(&[], None, false)
        };
        let mut d = Diagnostics::new();
        let next = plan_release(&prior, &planned, &adopted(&["alice"], &[]), &mut d);
        assert!(next.released.is_empty());
        assert_eq!(next.adopted, names(&["alice"], &[]));
    }

    #[test]
    fn a_configuration_listing_every_adopted_name_still_hands_them_over() {
        // As imported: is_all_sync unset, so the plan (its default, false) is a change.
        let prior = IamSyncModel {
            is_all_sync: Attr::Null,
            ..model(&["alice"], None, false)
        };
        let planned = model(&["alice"], None, false);
        let mut d = Diagnostics::new();
        let next = plan_release(&prior, &planned, &adopted(&["alice"], &[]), &mut d);
        assert!(next.released.is_empty());
        assert_eq!(
            next.adopted,
            names(&["alice"], &[]),
            "handed over by the apply"
        );
        assert_eq!(d.len(), 1, "{d:?}");
        let w: Vec<_> = d.iter().collect();
        assert!(
            w[0].summary.starts_with("1 adopted name handed over"),
            "{}",
            w[0].summary
        );
        // Recorded by an older build (is_all_sync already false): no change carries it,
        // and no warning claims a hand-over this plan cannot make.
        let mut d = Diagnostics::new();
        let older = model(&["alice"], None, false);
        plan_release(&older, &planned, &adopted(&["alice"], &[]), &mut d);
        assert!(d.is_empty(), "{d:?}");
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
