//! The signed MRS and IAM HTTP clients: credentials, request signing, bodies and errors. No Terraform types.

pub mod client;
pub mod error;
pub mod iam;
pub mod ids;
pub mod retry;
pub mod signer;
pub mod types;

use std::fmt;

pub use client::{Client, ClientConfig, CredentialSource};
pub use error::ApiError;
pub use ids::{ClusterId, IdError, ProjectId, CLUSTER_ID_RULE, PROJECT_ID_RULE};
pub use types::{CancelSyncRequest, SyncAccepted, SyncedNames, UpdateSyncRequest};

/// A secret string (secret key, security token). It prints as `***` so that it cannot
/// leak through `{:?}` in logs or error text; only `expose` gives the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// AK/SK credentials; `security_token` is set for temporary credentials.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: Secret,
    pub security_token: Option<Secret>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let c = Credentials {
            access_key: "AK1".into(),
            secret_key: Secret::new("topsecret"),
            security_token: Some(Secret::new("tok3n")),
        };
        let dbg = format!("{c:?} {}", c.secret_key);
        assert!(!dbg.contains("topsecret") && !dbg.contains("tok3n"));
        assert!(dbg.contains("AK1") && dbg.contains("***"));
        assert_eq!(c.secret_key.expose(), "topsecret");
    }
}
