//! The signed MRS and IAM HTTP clients: credentials, request signing, bodies and errors. No Terraform types.

pub mod client;
pub mod error;
pub mod http;
pub mod iam;
pub mod ids;
pub mod retry;
pub mod signer;
pub mod trust;
pub mod types;

/// The one shortening rule, shared by every layer; kept reachable here where the API
/// code has always found it.
pub use crate::shown;

use std::fmt;

pub use client::{Client, ClientConfig, CredentialSource};
pub use error::ApiError;
pub use http::{Endpoint, HttpSettings, Tls};
pub use ids::{
    ClusterId, IdError, ProjectId, Region, CLUSTER_ID_RULE, PROJECT_ID_RULE, REGION_RULE,
};
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

/// Why keys cannot sign a request; names the value, never quotes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeysError {
    EmptyAccessKey,
    EmptySecretKey,
    /// The access key travels inside the `Authorization` header.
    AccessKeyNotHeader,
    /// The token travels as `X-Security-Token`.
    TokenNotHeader,
}

impl fmt::Display for KeysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeysError::EmptyAccessKey => "the access key is empty",
            KeysError::EmptySecretKey => "the secret key is empty",
            KeysError::AccessKeyNotHeader => "the access key holds characters that cannot be sent in an HTTP header (a space, a line break, a control or non-ASCII character)",
            KeysError::TokenNotHeader => "the security token holds characters that cannot be sent in an HTTP header (a space, a line break, a control or non-ASCII character)",
        })
    }
}

/// Checks keys before any request: both set, and what travels in headers (the access
/// key in `Authorization`, the token as `X-Security-Token`) fits in one.
pub fn check_credentials(c: &Credentials) -> Result<(), KeysError> {
    let ak = c.access_key.trim();
    if ak.is_empty() {
        return Err(KeysError::EmptyAccessKey);
    }
    if c.secret_key.is_empty() {
        return Err(KeysError::EmptySecretKey);
    }
    // A space or comma would split the `Access=` field of the Authorization header.
    if !ak.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
        return Err(KeysError::AccessKeyNotHeader);
    }
    if let Some(t) = &c.security_token {
        if !is_visible_ascii(t.expose().trim()) {
            return Err(KeysError::TokenNotHeader);
        }
    }
    Ok(())
}

/// Whether `s` can travel in a header exactly as signed: visible ASCII only. HTTP lets
/// bytes of 0x80 and above through (`HeaderValue::from_str` accepts them), but gateways
/// read them in another encoding than the signer, and the signature check fails with a
/// 401 that blames the keys.
pub fn is_visible_ascii(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic())
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

    #[test]
    fn keys_that_cannot_travel_in_headers_are_refused() {
        let keys = |ak: &str, sk: &str, tok: Option<&str>| Credentials {
            access_key: ak.into(),
            secret_key: Secret::new(sk),
            security_token: tok.map(Secret::new),
        };
        assert_eq!(check_credentials(&keys("AK1", "SK", Some("t0k"))), Ok(()));
        assert_eq!(
            check_credentials(&keys(" ", "SK", None)),
            Err(KeysError::EmptyAccessKey)
        );
        assert_eq!(
            check_credentials(&keys("AK", "", None)),
            Err(KeysError::EmptySecretKey)
        );
        for ak in ["A K", "A\nK", "AK,x", "AKé"] {
            assert_eq!(
                check_credentials(&keys(ak, "SK", None)),
                Err(KeysError::AccessKeyNotHeader),
                "{ak:?}"
            );
        }
        let e = check_credentials(&keys("AK", "SK", Some("tok\nen-SECRET")));
        assert_eq!(e, Err(KeysError::TokenNotHeader));
        // HeaderValue accepts bytes of 0x80 and above; the gateway's signature check does not.
        for tok in ["tokén", "to ken", "t\u{7f}k"] {
            assert_eq!(
                check_credentials(&keys("AK", "SK", Some(tok))),
                Err(KeysError::TokenNotHeader),
                "{tok:?}"
            );
        }
        assert!(!e
            .map_err(|e| e.to_string())
            .unwrap_err_or_default()
            .contains("SECRET"));
    }

    trait ErrText {
        fn unwrap_err_or_default(self) -> String;
    }

    impl ErrText for Result<(), String> {
        fn unwrap_err_or_default(self) -> String {
            self.err().unwrap_or_default()
        }
    }
}
