//! Importing an existing IAM sync into `mrs_iam_sync`: the import ID's grammar, and the
//! state built from what the cluster holds.

use crate::api::{ClusterId, ProjectId};
use crate::framework::model::{Attr, IntoValue};
use crate::framework::{Diagnostics, Value};
use crate::provider::config::ProviderState;

use super::crud::{api_diag, Cluster, Target};
use super::model::IamSyncModel;

/// `PROJECT_ID/CLUSTER_ID`, or `CLUSTER_ID` with the provider's project.
pub fn parse_import_id(
    id: &str,
    default_project: Option<&ProjectId>,
) -> Result<(ProjectId, ClusterId), Diagnostics> {
    let bad = |why: String| {
        Diagnostics::single_error(
            "Invalid import ID",
            format!("{why} Use `terraform import ADDRESS PROJECT_ID/CLUSTER_ID`, or `CLUSTER_ID` when the provider sets project_id."),
        )
    };
    let (project, cluster) = match id.split_once('/') {
        Some((p, c)) => match ProjectId::parse(p) {
            Ok(p) => (p, c),
            Err(e) => return Err(bad(format!("The project ID {p:?} must be {}.", e.rule()))),
        },
        None => match default_project {
            Some(p) => (p.clone(), id),
            None => {
                return Err(bad(format!(
                    "{id:?} has no project ID and the provider sets none."
                )))
            }
        },
    };
    match ClusterId::parse(cluster) {
        Ok(c) => Ok((project, c)),
        Err(e) => Err(bad(format!(
            "The cluster ID {cluster:?} must be {}.",
            e.rule()
        ))),
    }
}

/// The state of the sync that `id` names: every name the cluster holds, since import
/// cannot know which of them a configuration means to manage.
pub async fn import(shared: &ProviderState, id: &str) -> Result<Value, Diagnostics> {
    let configured = shared.configured()?;
    let (project_id, cluster_id) = parse_import_id(id, configured.project_id.as_ref())?;
    let region = configured.region.clone();
    let cluster = Cluster::at(
        shared,
        Target {
            region: region.clone(),
            project_id,
            cluster_id,
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
    Ok(state.into_value())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::model::Set;

    fn ids(p: &str, c: &str) -> Option<(ProjectId, ClusterId)> {
        Some((ProjectId::parse(p).ok()?, ClusterId::parse(c).ok()?))
    }

    #[test]
    fn import_ids() {
        assert_eq!(parse_import_id("p1/c-1", None).ok(), ids("p1", "c-1"));
        let p1 = ProjectId::parse("p1").ok();
        assert_eq!(parse_import_id("c_1", p1.as_ref()).ok(), ids("p1", "c_1"));
        for bad in ["c1", "/c", "p/", "p-x/c", "p/c/d", "p/c d", ""] {
            assert!(parse_import_id(bad, None).is_err(), "{bad}");
        }
        // With a default project, a slash still means both parts are given.
        for bad in ["/c", "p/", "p-x/c", "p/c/d", "c d", ""] {
            assert!(parse_import_id(bad, p1.as_ref()).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_import_lists_every_synced_name_and_null_for_kinds_without_any() {
        let m = IamSyncModel {
            user_names: Attr::Null,
            ..IamSyncModel::default()
        }
        .with_names(&super::super::names::Names {
            users: ["a".to_string()].into(),
            groups: Default::default(),
        });
        assert_eq!(m.user_names, Attr::Known(Set::of_known(["a".to_string()])));
        assert_eq!(m.group_names, Attr::Null);
    }
}
