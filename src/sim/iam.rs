//! The simulator's IAM and ECS metadata parts: the project list by name, users and their
//! groups from the directory, agency security tokens, temporary credentials from the
//! metadata service, and the keys they issue (which expire, and are refused with IAM's
//! 401 once they have).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api::signer;

use super::model::Directory;

/// The one domain (account) the simulator has.
const DOMAIN_ID: &str = "d0000000000000000000000000000001";

/// How long metadata credentials live when no `--token-ttl-ms` is given (ECS rotates them
/// well before a day; an hour keeps tests honest about renewal without being short).
pub const METADATA_TTL: Duration = Duration::from_secs(3600);
/// IAM's bounds for `duration_seconds`.
pub const MIN_DURATION_SECS: u64 = 900;
pub const MAX_DURATION_SECS: u64 = 86_400;

/// Where a temporary key came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IssuedBy {
    Agency {
        domain_name: String,
        agency_name: String,
    },
    Metadata,
    /// Issued through `/_sim/temporary-credentials` for tests.
    Admin,
}

impl IssuedBy {
    pub fn label(&self) -> &'static str {
        match self {
            IssuedBy::Agency { .. } => "agency",
            IssuedBy::Metadata => "metadata",
            IssuedBy::Admin => "admin",
        }
    }
}

/// A temporary key pair with its token.
#[derive(Debug, Clone, Serialize)]
pub struct Issued {
    pub access: String,
    pub secret: String,
    pub securitytoken: String,
    #[serde(serialize_with = "as_iso8601")]
    pub expires_at: SystemTime,
    pub issued_by: IssuedBy,
}

fn as_iso8601<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&signer::format_iso8601(*t))
}

impl Issued {
    pub fn new(issued_by: IssuedBy, ttl: Duration) -> Issued {
        let hex = |n: usize| -> String {
            (0..n)
                .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0'))
                .collect()
        };
        Issued {
            access: format!("TMP{}", hex(17).to_ascii_uppercase()),
            secret: hex(40),
            securitytoken: format!("gQpzdHMtdG9rZW4{}", hex(48)),
            expires_at: SystemTime::now() + ttl,
            issued_by,
        }
    }

    pub fn is_expired(&self, now: SystemTime) -> bool {
        now >= self.expires_at
    }

    /// The `credential` object as IAM and the metadata service write it.
    pub fn credential_json(&self) -> serde_json::Value {
        json!({
            "access": self.access,
            "secret": self.secret,
            "securitytoken": self.securitytoken,
            "expires_at": signer::format_iso8601(self.expires_at),
        })
    }
}

/// IAM's own error shape for its v3 (Keystone) APIs and for refused tokens.
pub fn iam_error(status: StatusCode, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    (
        status,
        Json(json!({"error": {"code": status.as_u16(), "message": message, "title": title}})),
    )
        .into_response()
}

/// IAM's error shape for its v3.0 APIs (`error_code`/`error_msg`).
pub fn iam3_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error_code": code, "error_msg": message})),
    )
        .into_response()
}

/// `GET /v3/projects?name={region}`: the projects whose name is the region (at most one).
pub fn list_projects(projects: &BTreeMap<String, String>, query: &[(String, String)]) -> Response {
    let name = query
        .iter()
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v.as_str());
    let list: Vec<serde_json::Value> = projects
        .iter()
        .filter(|(region, _)| name.is_none_or(|n| n == region.as_str()))
        .map(|(region, id)| {
            json!({"id": id, "name": region, "enabled": true, "domain_id": DOMAIN_ID})
        })
        .collect();
    Json(json!({"projects": list, "links": {"self": "https://iam.sim.local/v3/projects"}}))
        .into_response()
}

/// The ID of a user or group: the hex of its name, so that the groups call finds the
/// name again without the simulator keeping a table, and an ID is stable across restarts.
pub fn id_of(name: &str) -> String {
    hex::encode(name)
}

/// The name whose ID is `id`; None for anything [`id_of`] cannot have made.
fn name_of(id: &str) -> Option<String> {
    hex::decode(id).ok().and_then(|b| String::from_utf8(b).ok())
}

/// `GET /v3/users?name={name}`: the user of that name, if the directory has one (an open
/// directory has every well-formed name); without `name`, every listed user (an open
/// directory cannot list its users, so none).
pub fn list_users(directory: &Directory, query: &[(String, String)]) -> Response {
    let name = query
        .iter()
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v.as_str());
    let names: Vec<String> = match (name, directory) {
        (Some(n), _) => directory
            .user_groups(n)
            .map(|_| vec![n.to_string()])
            .unwrap_or_default(),
        (None, Directory::Listed { users, .. }) => users.keys().cloned().collect(),
        (None, Directory::Open) => Vec::new(),
    };
    let list: Vec<serde_json::Value> = names
        .iter()
        .map(|n| json!({"id": id_of(n), "name": n, "enabled": true, "domain_id": DOMAIN_ID}))
        .collect();
    Json(json!({"users": list, "links": {"self": "https://iam.sim.local/v3/users"}}))
        .into_response()
}

/// `GET /v3/users/{user_id}/groups`: the user's groups from the directory; 404 in
/// Keystone's error shape (as IAM answers its v3 calls) for an ID no user has.
pub fn list_user_groups(directory: &Directory, user_id: &str) -> Response {
    let Some(groups) = name_of(user_id).and_then(|n| directory.user_groups(&n)) else {
        return iam_error(
            StatusCode::NOT_FOUND,
            "Could not find user, please check the user ID.",
        );
    };
    let list: Vec<serde_json::Value> = groups
        .iter()
        .map(|g| json!({"id": id_of(g), "name": g, "domain_id": DOMAIN_ID, "description": ""}))
        .collect();
    Json(json!({"groups": list, "links": {"self": "https://iam.sim.local/v3/users/groups"}}))
        .into_response()
}

#[derive(Deserialize)]
struct TokenRequest {
    auth: TokenAuth,
}

#[derive(Deserialize)]
struct TokenAuth {
    identity: TokenIdentity,
}

#[derive(Deserialize)]
struct TokenIdentity {
    methods: Vec<String>,
    assume_role: Option<AssumeRole>,
}

#[derive(Deserialize)]
struct AssumeRole {
    agency_name: String,
    domain_name: Option<String>,
    domain_id: Option<String>,
    duration_seconds: Option<u64>,
}

/// What `POST /v3.0/OS-CREDENTIAL/securitytokens` asks for, once validated.
pub struct AgencyRequest {
    pub domain_name: String,
    pub agency_name: String,
    pub duration: Duration,
}

/// Parses and checks a security-token request body; `Err` is the answer to send.
pub fn parse_token_request(body: &[u8]) -> Result<AgencyRequest, Box<Response>> {
    let req: TokenRequest = serde_json::from_slice(body).map_err(|e| {
        Box::new(iam3_error(
            StatusCode::BAD_REQUEST,
            "IAM.0011",
            &format!("Request parameter error: {e}"),
        ))
    })?;
    let id = req.auth.identity;
    if id.methods != ["assume_role"] {
        return Err(Box::new(iam3_error(
            StatusCode::BAD_REQUEST,
            "IAM.0011",
            "Request parameter error: the simulator supports only the assume_role method",
        )));
    }
    let Some(role) = id.assume_role else {
        return Err(Box::new(iam3_error(
            StatusCode::BAD_REQUEST,
            "IAM.0011",
            "Request parameter error: assume_role is missing",
        )));
    };
    let Some(domain_name) = role.domain_name.or(role.domain_id) else {
        return Err(Box::new(iam3_error(
            StatusCode::BAD_REQUEST,
            "IAM.0011",
            "Request parameter error: domain_name or domain_id is required",
        )));
    };
    let secs = role.duration_seconds.unwrap_or(MIN_DURATION_SECS);
    if !(MIN_DURATION_SECS..=MAX_DURATION_SECS).contains(&secs) {
        return Err(Box::new(iam3_error(
            StatusCode::BAD_REQUEST,
            "IAM.0011",
            "Request parameter error: duration_seconds must be from 900 to 86400",
        )));
    }
    Ok(AgencyRequest {
        domain_name,
        agency_name: role.agency_name,
        duration: Duration::from_secs(secs),
    })
}
