//! Request and response bodies of the MRS IAM synchronization API (serde).

use serde::{Deserialize, Serialize};

/// Body of `POST .../iam-sync-user`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateSyncRequest {
    #[serde(default)]
    pub is_all_sync: bool,
    #[serde(default)]
    pub user_names: Vec<String>,
    #[serde(default)]
    pub group_names: Vec<String>,
}

/// Body of `DELETE .../iam-sync-user`; the API takes at most 1,000 names of each kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelSyncRequest {
    #[serde(default)]
    pub user_names: Vec<String>,
    #[serde(default)]
    pub group_names: Vec<String>,
}

/// Answer of `GET .../iam-sync-user`. Missing keys mean "none synced".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncedNames {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub user_names: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub group_names: Vec<String>,
}

/// Answer (202) of POST and DELETE `.../iam-sync-user`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncAccepted {
    #[serde(default)]
    pub state: String,
}

/// Answer of `GET .../iam-sync`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    #[serde(default)]
    pub is_synchronizing: bool,
}

/// The error body; MRS uses both key spellings, so both are read.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default, alias = "errorCode")]
    pub error_code: Option<serde_json::Value>,
    #[serde(default, alias = "errorMsg")]
    pub error_msg: Option<serde_json::Value>,
}

// Some gateways answer `null` for an empty list; treat it like a missing key.
fn null_as_empty<'de, D>(d: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synced_names_missing_or_null_keys_are_empty() {
        let v: Result<SyncedNames, _> = serde_json::from_str(r#"{"user_names":null}"#);
        assert_eq!(v.ok(), Some(SyncedNames::default()));
        let v: Result<SyncedNames, _> = serde_json::from_str(r#"{"group_names":["g"]}"#);
        assert_eq!(v.ok().map(|n| n.group_names), Some(vec!["g".to_string()]));
    }

    #[test]
    fn update_request_serializes_all_keys() {
        let r = UpdateSyncRequest {
            is_all_sync: false,
            user_names: vec!["a".into()],
            group_names: vec![],
        };
        let s = serde_json::to_string(&r).unwrap_or_default();
        assert_eq!(
            s,
            r#"{"is_all_sync":false,"user_names":["a"],"group_names":[]}"#
        );
    }
}
