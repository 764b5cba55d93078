//! The IAM groups of IAM users (`GET /v3/users?name=..`, then `GET
//! /v3/users/{id}/groups`), asked once per user per region per process and kept, so that
//! every resource that needs a user's groups shares one lookup.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::api::iam::{IamClient, IamError};
use crate::api::shown::shorten;
use crate::api::{CredentialSource, Credentials, Region};

use super::projects::IamSettings;

/// One cached answer: the region (None: IAM's endpoint follows from no region) and the
/// user name.
type Key = (Option<Region>, String);

/// The groups found so far, one cell per user and region, so that concurrent plans that
/// ask for one user wait for a single lookup instead of each sending their own.
pub struct UserGroups {
    iam: IamSettings,
    source: Arc<dyn CredentialSource>,
    /// Where the keys come from, for messages (never the keys).
    label: String,
    found: Mutex<HashMap<Key, Arc<OnceCell<Vec<String>>>>>,
}

impl UserGroups {
    pub fn new(iam: IamSettings, source: Arc<dyn CredentialSource>, label: String) -> UserGroups {
        UserGroups {
            iam,
            source,
            label,
            found: Mutex::new(HashMap::new()),
        }
    }

    fn cell(&self, key: Key) -> Arc<OnceCell<Vec<String>>> {
        let mut found = match self.found.lock() {
            Ok(f) => f,
            Err(poisoned) => poisoned.into_inner(),
        };
        found.entry(key).or_default().clone()
    }

    /// The groups of each of `users` in `region`, sorted: the answer found before in this
    /// process, or asked of IAM now. A user IAM does not know has none. The first failed
    /// lookup ends the call; it is not kept, so a later call asks again.
    pub async fn of(
        &self,
        region: Option<&Region>,
        users: &BTreeSet<String>,
        cancel: &CancellationToken,
    ) -> Result<BTreeMap<String, Vec<String>>, String> {
        // The client and the keys are made when the first user needs them, and only once:
        // a call whose users are all known sends nothing and asks no credential source.
        let mut session: Option<(IamClient, Credentials)> = None;
        let mut groups = BTreeMap::new();
        // One user after another: a resource names a handful, and IAM throttles per minute.
        for user in users {
            let cell = self.cell((region.cloned(), user.clone()));
            let kept = &mut session;
            let found = cell
                .get_or_try_init(|| async move {
                    let (iam, keys) = match kept.take() {
                        Some(s) => s,
                        None => self.iam.session(self.source.as_ref(), region).await?,
                    };
                    let answer = iam.user_groups(&keys, user, cancel).await;
                    *kept = Some((iam, keys));
                    Ok::<_, IamError>(answer?.unwrap_or_default())
                })
                .await
                .map_err(|e| self.failure(region, user, &e))?;
            groups.insert(user.clone(), found.clone());
        }
        Ok(groups)
    }

    /// What failed, for a person: the user and region (shortened, as they come from a
    /// configuration), the key source's label and IAM's error, which holds no secret.
    fn failure(&self, region: Option<&Region>, user: &str, e: &IamError) -> String {
        let region = region.map(|r| format!(" in region {}", shorten(r.as_str())));
        format!(
            "looking up the IAM groups of user {}{} with {}: {e}",
            shorten(user),
            region.unwrap_or_default(),
            self.label
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{HttpSettings, Secret};
    use crate::provider::credentials::FixedKeys;
    use crate::sim::{spawn_for_tests, Directory, SimConfig};

    const AK: &str = "AKGROUPS";
    const SK: &str = "sk-groups-secret";

    fn lookup(endpoint: &str) -> UserGroups {
        // A refusal is what the tests inject; retrying it would only slow them.
        let http = HttpSettings {
            max_retries: 0,
            ..HttpSettings::default()
        };
        UserGroups::new(
            IamSettings {
                explicit: Some(endpoint.to_string()),
                auth_url: None,
                cloud: None,
                http,
            },
            Arc::new(FixedKeys(Credentials {
                access_key: AK.into(),
                secret_key: Secret::new(SK),
                security_token: None,
            })),
            "the provider's access_key".into(),
        )
    }

    fn users(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// The paths of the IAM calls the simulator saw.
    async fn iam_paths(endpoint: &str) -> Vec<String> {
        let log: serde_json::Value = match reqwest::get(format!("{endpoint}/_sim/requests")).await {
            Ok(r) => {
                serde_json::from_slice(&r.bytes().await.unwrap_or_default()).unwrap_or_default()
            }
            Err(e) => unreachable!("the simulator's log: {e}"),
        };
        log.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["path"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn each_user_is_asked_once_per_region_and_unknown_users_have_no_groups() {
        let mut cfg = SimConfig::new(AK, SK);
        cfg.directory = Directory::from_json(r#"{"users": {"alice": ["ops", "data-eng"]}}"#)
            .unwrap_or_default();
        let (endpoint, _stop) = spawn_for_tests(cfg).await;
        let groups = lookup(&endpoint);
        let never = CancellationToken::new();
        let r = groups.of(None, &users(&["alice", "ghost"]), &never).await;
        let want: BTreeMap<String, Vec<String>> = [
            ("alice".to_string(), vec!["data-eng".into(), "ops".into()]),
            ("ghost".to_string(), vec![]),
        ]
        .into_iter()
        .collect();
        assert_eq!(r, Ok(want.clone()));
        // alice: the list and her groups; ghost: the list only.
        assert_eq!(iam_paths(&endpoint).await.len(), 3);
        let again = groups.of(None, &users(&["alice", "ghost"]), &never).await;
        assert_eq!(again, Ok(want));
        assert_eq!(
            iam_paths(&endpoint).await.len(),
            3,
            "answered from the cache"
        );
        // Another region is another lookup.
        let Ok(r) = Region::parse("cn-north-4") else {
            unreachable!("a valid region")
        };
        let r = groups.of(Some(&r), &users(&["alice"]), &never).await;
        assert_eq!(
            r.map(|m| m.get("alice").cloned()),
            Ok(Some(vec!["data-eng".to_string(), "ops".to_string()]))
        );
        assert_eq!(iam_paths(&endpoint).await.len(), 5);
    }

    #[tokio::test]
    async fn a_configured_provider_asks_the_iam_of_its_endpoints() {
        use crate::framework::Value;
        use crate::provider::config::{configure, schema::config_with, ProviderState};
        let mut cfg = SimConfig::new(AK, SK);
        cfg.directory = Directory::from_json(r#"{"users": {"alice": ["ops", "data-eng"]}}"#)
            .unwrap_or_default();
        let (endpoint, _stop) = spawn_for_tests(cfg).await;
        let endpoints: BTreeMap<String, Value> = ["mrs", "iam"]
            .into_iter()
            .map(|k| (k.to_string(), Value::string(endpoint.as_str())))
            .collect();
        let shared = ProviderState::default();
        let d = configure(
            &shared,
            &config_with(&[
                ("region", Value::string("cn-north-4")),
                ("project_id", Value::string("abc123")),
                ("access_key", Value::string(AK)),
                ("secret_key", Value::string(SK)),
                ("endpoints", Value::Map(endpoints)),
            ]),
        )
        .await;
        assert!(!d.has_errors(), "{d:?}");
        let Ok(c) = shared.configured() else {
            unreachable!("configured")
        };
        let never = CancellationToken::new();
        let r = c.user_groups(None, &users(&["alice"]), &never).await;
        assert_eq!(
            r.map(|m| m.get("alice").cloned()),
            Ok(Some(vec!["data-eng".to_string(), "ops".to_string()]))
        );
        let e = c
            .user_groups(Some("not a region\u{1b}"), &users(&["alice"]), &never)
            .await
            .err()
            .unwrap_or_default();
        assert!(
            e.starts_with("the region \"not a region\\u{1b}\" is not"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_refusal_names_the_user_and_is_not_kept() {
        let (endpoint, _stop) = spawn_for_tests(SimConfig::new(AK, SK)).await;
        let fault = serde_json::json!({"path_contains": "/groups", "kind": "status",
            "status": 403, "error_code": "IAM.0002", "error_msg": "denied\u{1b}[31m"});
        let queued = reqwest::Client::new()
            .post(format!("{endpoint}/_sim/faults"))
            .body(fault.to_string())
            .send()
            .await
            .map(|r| r.status().as_u16());
        assert_eq!(queued.ok(), Some(201));
        let groups = lookup(&endpoint);
        let never = CancellationToken::new();
        // A name the open directory has, with a character that would reverse the text
        // after it in a message.
        let name = "u".repeat(50) + "\u{202e}x";
        let e = groups
            .of(None, &users(&[name.as_str()]), &never)
            .await
            .err()
            .unwrap_or_default();
        assert!(e.contains("HTTP 403, error code IAM.0002"), "{e}");
        assert!(e.contains("the provider's access_key"), "{e}");
        assert!(e.contains("\\u{202e}") && !e.contains('\u{202e}'), "{e}");
        assert!(!e.contains('\u{1b}'), "{e}");
        assert!(!e.contains(SK), "{e}");
        // Asked again: the failure was not kept, and the open directory has the user.
        let r = groups.of(None, &users(&[name.as_str()]), &never).await;
        assert_eq!(r.map(|m| m.get(&name).cloned()), Ok(Some(vec![])));
    }
}
