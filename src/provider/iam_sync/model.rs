//! The typed model of `mrs_iam_sync`: its values read from and written to
//! `framework::Value`, the name sets seen as `Names`, and what it keeps in Terraform's
//! private state.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::framework::model::{model, Attr, Set};
use crate::framework::timeouts::{self, Timeouts};
use crate::framework::{Diagnostics, Private};

use crate::provider::cluster_sync::{Names, Record};

use super::schema::{
    CLUSTER_ID, GROUP_NAMES, IS_ALL_SYNC, PROJECT_ID, REGION, RESYNC_TRIGGERS, USER_NAMES,
};

model! {
    /// A configuration, plan or state of the resource. While planning any attribute may be
    /// unknown, and so may single elements of the name sets.
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct IamSyncModel {
        pub region: Attr<String> = REGION,
        pub project_id: Attr<String> = PROJECT_ID,
        pub cluster_id: Attr<String> = CLUSTER_ID,
        pub user_names: Attr<Set<String>> = USER_NAMES,
        pub group_names: Attr<Set<String>> = GROUP_NAMES,
        pub is_all_sync: Attr<bool> = IS_ALL_SYNC,
        pub resync_triggers: Attr<BTreeMap<String, Attr<String>>> = RESYNC_TRIGGERS,
        pub timeouts: Attr<Timeouts> = timeouts::BLOCK,
    }
}

impl IamSyncModel {
    pub fn all_sync(&self) -> bool {
        self.is_all_sync == Attr::Known(true)
    }

    /// The names listed; a set not wholly known counts as empty.
    pub fn names(&self) -> Names {
        Names {
            users: known_names(&self.user_names),
            groups: known_names(&self.group_names),
        }
    }

    /// The ownership record of an object whose state this is, with its private record.
    pub fn record(&self, private: &IamSyncPrivate) -> Record {
        let held = self.names();
        Record {
            adopted: private.adopted.intersect(&held),
            pending: private.pending.intersect(&held),
            held,
            all_sync: self.all_sync(),
        }
    }

    /// This model listing exactly `names`. A kind left null stays null when it has no
    /// names, so a configuration without `group_names` plans no diff.
    pub fn with_names(mut self, names: &Names) -> IamSyncModel {
        self.user_names = names_attr(&self.user_names, &names.users);
        self.group_names = names_attr(&self.group_names, &names.groups);
        self
    }

    /// This model keeping only the names the cluster still holds; a set not wholly known
    /// stays as it is.
    pub fn retain_synced(mut self, remote: &Names) -> IamSyncModel {
        self.user_names = retain(self.user_names, &remote.users);
        self.group_names = retain(self.group_names, &remote.groups);
        self
    }
}

/// What the state cannot show, kept in Terraform's private bytes for the instance. Every
/// field is empty for an object in steady state, which then has no private bytes at all:
/// Terraform stores and sends an instance's private bytes in every walk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IamSyncPrivate {
    /// Names held since an import that no configuration has declared to the object yet:
    /// never owned, so never cancelled (`cluster_sync::ownership`).
    pub adopted: Names,
    /// Names the plan drops from the state without a DELETE (a plan's private bytes only).
    pub released: Names,
    /// Names sent in a POST whose sync had not ended when the wait ran out: they may still
    /// sync, so the state lists them until a read sees how the sync ended.
    pub pending: Names,
}

/// The JSON form of `Names` in the private bytes; an empty kind is left out.
#[derive(Default, Serialize, Deserialize)]
struct NamesJson {
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    users: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    groups: BTreeSet<String>,
}

/// Fields other versions wrote (`object`, the ID builds of 0.1.0 kept) are ignored.
#[derive(Default, Serialize, Deserialize)]
struct PrivateJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    adopted: Option<NamesJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    released: Option<NamesJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pending: Option<NamesJson>,
}

fn to_json(n: &Names) -> Option<NamesJson> {
    (!n.is_empty()).then(|| NamesJson {
        users: n.users.clone(),
        groups: n.groups.clone(),
    })
}

fn from_json(n: Option<NamesJson>) -> Names {
    let n = n.unwrap_or_default();
    Names {
        users: n.users,
        groups: n.groups,
    }
}

impl IamSyncPrivate {
    /// Reads the bytes Terraform kept; none at all is an empty record.
    pub fn decode(bytes: &[u8]) -> Result<IamSyncPrivate, Diagnostics> {
        if bytes.is_empty() {
            return Ok(IamSyncPrivate::default());
        }
        match serde_json::from_slice::<PrivateJson>(bytes) {
            Ok(p) => Ok(IamSyncPrivate {
                adopted: from_json(p.adopted),
                released: from_json(p.released),
                pending: from_json(p.pending),
            }),
            Err(e) => Err(Diagnostics::single_error(
                "Unreadable private state",
                format!("The private state Terraform kept for this mrs_iam_sync is not what this provider writes ({}). Remove the resource from the state with `terraform state rm` and import it again.", crate::shown::text(&e.to_string(), crate::shown::TEXT)),
            )),
        }
    }

    /// The bytes for Terraform to keep; an empty record is no bytes, as before any was kept.
    pub fn encode(&self) -> Vec<u8> {
        let p = PrivateJson {
            adopted: to_json(&self.adopted),
            released: to_json(&self.released),
            pending: to_json(&self.pending),
        };
        if p.adopted.is_none() && p.released.is_none() && p.pending.is_none() {
            return Vec::new();
        }
        serde_json::to_vec(&p).unwrap_or_default()
    }
}

fn known_names(attr: &Attr<Set<String>>) -> BTreeSet<String> {
    attr.known()
        .and_then(Set::wholly_known)
        .map(|names| names.into_iter().cloned().collect())
        .unwrap_or_default()
}

fn names_attr(prior: &Attr<Set<String>>, names: &BTreeSet<String>) -> Attr<Set<String>> {
    if prior.is_null() && names.is_empty() {
        Attr::Null
    } else {
        Attr::Known(Set::of_known(names.iter().cloned()))
    }
}

fn retain(attr: Attr<Set<String>>, keep: &BTreeSet<String>) -> Attr<Set<String>> {
    let kept = match attr.known().and_then(Set::wholly_known) {
        Some(names) => names
            .into_iter()
            .filter(|n| keep.contains(*n))
            .cloned()
            .collect::<Vec<_>>(),
        None => return attr,
    };
    Attr::Known(Set::of_known(kept))
}

impl Private for IamSyncPrivate {
    fn decode(bytes: &[u8]) -> Result<IamSyncPrivate, Diagnostics> {
        IamSyncPrivate::decode(bytes)
    }

    fn encode(&self) -> Vec<u8> {
        IamSyncPrivate::encode(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::model::{FromValue, IntoValue};
    use crate::framework::{AttributePath, Value};

    /// What the framework does before each step.
    fn read(v: &Value) -> Result<IamSyncModel, Diagnostics> {
        IamSyncModel::from_value(v, &AttributePath::root())
    }
    use crate::provider::iam_sync::schema::schema;

    fn names(users: &[&str], groups: &[&str]) -> Names {
        Names {
            users: users.iter().map(|s| s.to_string()).collect(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn state(users: Value, groups: Value) -> Value {
        Value::object([
            (REGION, Value::Null),
            (PROJECT_ID, Value::string("p1")),
            (CLUSTER_ID, Value::string("c1")),
            (USER_NAMES, users),
            (GROUP_NAMES, groups),
            (IS_ALL_SYNC, Value::Bool(false)),
            (RESYNC_TRIGGERS, Value::Null),
            (
                timeouts::BLOCK,
                Value::object([
                    ("create", Value::string("1m")),
                    ("update", Value::Null),
                    ("delete", Value::Null),
                ]),
            ),
        ])
    }

    #[test]
    fn the_model_covers_the_schema_and_round_trips() {
        let v = state(
            Value::Set(vec![Value::string("a"), Value::Unknown]),
            Value::Null,
        );
        assert_eq!(v.clone().conform(&schema().object_type()), v);
        let m = read(&v);
        let Ok(m) = m else { panic!("{m:?}") };
        assert_eq!(m.names(), names(&[], &[]), "a set with an unknown element");
        assert_eq!(m.into_value(), v);
    }

    #[test]
    fn names_are_written_back_and_null_stays_null_when_empty() {
        let v = state(Value::string_set(["a", "b"]), Value::Null);
        let Ok(m) = read(&v) else { panic!("readable") };
        assert_eq!(m.names(), names(&["a", "b"], &[]));
        let out = m.clone().with_names(&names(&["c"], &[])).into_value();
        assert_eq!(out, state(Value::string_set(["c"]), Value::Null));
        let out = m.clone().with_names(&names(&[], &["g"])).into_value();
        assert_eq!(out, state(Value::Set(vec![]), Value::string_set(["g"])));
        let out = m.retain_synced(&names(&["b", "z"], &["g"])).into_value();
        assert_eq!(out, state(Value::string_set(["b"]), Value::Null));
    }

    #[test]
    fn private_state_round_trips_and_empty_is_no_bytes() {
        assert_eq!(IamSyncPrivate::default().encode(), Vec::<u8>::new());
        assert_eq!(IamSyncPrivate::decode(b""), Ok(IamSyncPrivate::default()));
        let p = IamSyncPrivate {
            adopted: names(&["a"], &["g"]),
            released: names(&[], &["h"]),
            pending: names(&["p"], &[]),
        };
        assert_eq!(IamSyncPrivate::decode(&p.encode()), Ok(p));
        let bad = IamSyncPrivate::decode(b"{not json");
        assert!(matches!(bad, Err(d) if d.has_errors()));
    }

    #[test]
    fn a_mismatch_names_the_attribute() {
        let mut v = state(Value::Null, Value::Null);
        v.set_attr(IS_ALL_SYNC, Value::string("yes"));
        let Err(d) = read(&v) else {
            panic!("a string is no bool")
        };
        let paths: Vec<_> = d.iter().map(|x| x.path.clone()).collect();
        assert_eq!(paths, vec![Some(AttributePath::attr(IS_ALL_SYNC))]);
    }
}
