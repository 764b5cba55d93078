//! The typed model of `mrs_iam_sync_exclusive`, its lists seen as `Names`, and what it
//! keeps in Terraform's private state (names whose sync went on after a step).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::framework::model::{model, Attr, Set};
use crate::framework::timeouts::{self, Timeouts};
use crate::framework::{Diagnostics, Private};
use crate::provider::cluster_sync::Names;

use super::schema::{
    ALLOW_EMPTY, CANCEL_ON_DESTROY, CLUSTER_ID, GROUP_NAMES, IMPLICIT_GROUP_NAMES, PROJECT_ID,
    REGION, RESYNC_TRIGGERS, USER_NAMES,
};

model! {
    /// A configuration, plan or state of the resource.
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct ExclusiveModel {
        pub region: Attr<String> = REGION,
        pub project_id: Attr<String> = PROJECT_ID,
        pub cluster_id: Attr<String> = CLUSTER_ID,
        pub user_names: Attr<Set<String>> = USER_NAMES,
        pub group_names: Attr<Set<String>> = GROUP_NAMES,
        pub implicit_group_names: Attr<Set<String>> = IMPLICIT_GROUP_NAMES,
        pub allow_empty: Attr<bool> = ALLOW_EMPTY,
        pub cancel_on_destroy: Attr<bool> = CANCEL_ON_DESTROY,
        pub resync_triggers: Attr<BTreeMap<String, Attr<String>>> = RESYNC_TRIGGERS,
        pub timeouts: Attr<Timeouts> = timeouts::BLOCK,
    }
}

impl ExclusiveModel {
    /// Both lists, once every name in them is known (a list left out is empty).
    pub fn list(&self) -> Option<Names> {
        Some(Names {
            users: whole(&self.user_names)?,
            groups: whole(&self.group_names)?,
        })
    }

    /// The implicit groups, as far as they are known.
    pub fn implicit(&self) -> BTreeSet<String> {
        whole(&self.implicit_group_names).unwrap_or_default()
    }

    /// This model listing `users` and `groups`, with `implicit` groups. A list left out of
    /// the configuration stays null while it is empty, so it plans no diff.
    pub fn showing(mut self, names: &Names, implicit: &BTreeSet<String>) -> ExclusiveModel {
        let shown = |before: &Attr<Set<String>>, now: &BTreeSet<String>| match before {
            Attr::Null if now.is_empty() => Attr::Null,
            _ => Attr::Known(Set::of_known(now.iter().cloned())),
        };
        self.user_names = shown(&self.user_names, &names.users);
        self.group_names = shown(&self.group_names, &names.groups);
        self.implicit_group_names = Attr::Known(Set::of_known(implicit.iter().cloned()));
        self
    }

    pub fn cancels_on_destroy(&self) -> bool {
        self.cancel_on_destroy == Attr::Known(true)
    }
}

/// The elements of a set once all are known; a null set is empty.
fn whole(attr: &Attr<Set<String>>) -> Option<BTreeSet<String>> {
    match attr {
        Attr::Null => Some(BTreeSet::new()),
        Attr::Unknown => None,
        Attr::Known(set) => Some(set.wholly_known()?.into_iter().cloned().collect()),
    }
}

/// What the state cannot show. Empty in steady state, which Terraform then stores as no
/// bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExclusivePrivate {
    /// Names sent whose sync had not ended when the step's wait ran out.
    pub pending: Names,
    /// `implicit_group_names` holds groups kept because IAM could not be read: the next
    /// plan asks IAM again, so that those no listed user brings show their cancel.
    pub unconfirmed: bool,
}

#[derive(Default, Serialize, Deserialize)]
struct PendingJson {
    #[serde(default)]
    users: BTreeSet<String>,
    #[serde(default)]
    groups: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    unconfirmed: bool,
}

impl Private for ExclusivePrivate {
    fn decode(bytes: &[u8]) -> Result<ExclusivePrivate, Diagnostics> {
        if bytes.is_empty() {
            return Ok(ExclusivePrivate::default());
        }
        let p: PendingJson = serde_json::from_slice(bytes).map_err(|e| {
            Diagnostics::single_error(
                "Unreadable private state",
                format!("The private state Terraform kept for this mrs_iam_sync_exclusive is not what this provider writes ({}). Remove it from the state with `terraform state rm` and import it again.", crate::shown::text(&e.to_string(), crate::shown::TEXT)),
            )
        })?;
        Ok(ExclusivePrivate {
            pending: Names {
                users: p.users,
                groups: p.groups,
            },
            unconfirmed: p.unconfirmed,
        })
    }

    fn encode(&self) -> Vec<u8> {
        if *self == ExclusivePrivate::default() {
            return Vec::new();
        }
        let p = PendingJson {
            users: self.pending.users.clone(),
            groups: self.pending.groups.clone(),
            unconfirmed: self.unconfirmed,
        };
        serde_json::to_vec(&p).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::model::{FromValue, IntoValue};
    use crate::framework::{AttributePath, Value};

    #[test]
    fn a_list_is_known_once_every_name_is_and_null_is_empty() {
        let m = ExclusiveModel {
            user_names: Attr::Known(Set::of_known(["a".to_string()])),
            ..ExclusiveModel::default()
        };
        let list = m.list().unwrap_or_default();
        assert_eq!(list.users.len(), 1);
        assert!(list.groups.is_empty());
        let m = ExclusiveModel {
            user_names: Attr::Known(Set(vec![Attr::Unknown])),
            ..m
        };
        assert_eq!(m.list(), None);
    }

    #[test]
    fn a_list_left_out_stays_null_while_empty() {
        let names = Names {
            users: BTreeSet::from(["a".to_string()]),
            groups: BTreeSet::new(),
        };
        let m = ExclusiveModel::default().showing(&names, &BTreeSet::new());
        assert!(m.user_names.known().is_some());
        assert!(m.group_names.is_null());
        assert_eq!(m.implicit_group_names, Attr::Known(Set::of_known([])));
    }

    #[test]
    fn the_model_round_trips_with_its_triggers() {
        let m = ExclusiveModel {
            resync_triggers: Attr::Known(BTreeMap::from([(
                "roles".to_string(),
                Attr::Known("r1".to_string()),
            )])),
            ..ExclusiveModel::default()
        };
        let back = ExclusiveModel::from_value(&m.clone().into_value(), &AttributePath::root());
        assert_eq!(back.ok(), Some(m));
        assert!(ExclusiveModel::from_value(&Value::Null, &AttributePath::root()).is_err());
    }

    #[test]
    fn pending_names_round_trip_and_none_is_no_bytes() {
        assert!(ExclusivePrivate::default().encode().is_empty());
        let p = ExclusivePrivate {
            pending: Names {
                users: BTreeSet::from(["a".to_string()]),
                groups: BTreeSet::new(),
            },
            unconfirmed: false,
        };
        assert_eq!(ExclusivePrivate::decode(&p.encode()).ok(), Some(p));
        let unconfirmed = ExclusivePrivate {
            unconfirmed: true,
            ..ExclusivePrivate::default()
        };
        assert_eq!(
            ExclusivePrivate::decode(&unconfirmed.encode()).ok(),
            Some(unconfirmed)
        );
        assert!(ExclusivePrivate::decode(b"{").is_err());
    }
}
