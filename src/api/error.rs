//! `ApiError`: every way a call to MRS can fail, each carrying what a person needs to act.

use std::fmt;

use super::http::Failure;
use super::retry::is_retryable_status;

use super::types::ErrorBody;

/// The gateway's "no such API" code: a wrong URL or endpoint, never a gone cluster.
pub const CODE_API_NOT_FOUND: &str = "APIGW.0101";
/// MRS's "the cluster does not exist" code (answered with HTTP 400).
pub const CODE_CLUSTER_NOT_FOUND: &str = "12000003";

/// What was going on when a deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum During {
    /// Waiting for a sync to end: the cluster was still synchronizing.
    Sync,
    /// A call whose request may have reached MRS: a write may have been accepted. It is
    /// never sent again.
    InFlight,
    /// Between attempts: the next one would have started after the deadline.
    Retry,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// An error answer from MRS or its gateway.
    Api {
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    /// The cluster is gone (400 / `12000003`, or a 404 from MRS rather than the gateway).
    ClusterNotFound {
        status: u16,
        code: String,
        request_id: Option<String>,
        message: String,
    },
    /// No answer: connection or timeout errors that outlasted the retries.
    Transport { message: String },
    /// A success status whose body is not what the API documents.
    Decode {
        status: u16,
        message: String,
        request_id: Option<String>,
    },
    /// A deadline of ours passed: a step's timeout (waiting for a sync, or during a call),
    /// or a call's own limit; `during` says where.
    Timeout { message: String, during: During },
    /// The caller's cancellation token fired.
    Cancelled,
    /// The client configuration or call arguments are unusable.
    Config { message: String },
    /// Temporary keys could not be renewed (the message names their source).
    Credentials { message: String },
    /// Something no retry can change: a certificate refused, a value that cannot be a
    /// header, a redirect, an answer too large. The message names the cause and the fix.
    Unusable { message: String },
}

impl ApiError {
    /// Whether another attempt may succeed: throttling, server errors and transport errors.
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::Api { status, .. } => is_retryable_status(*status),
            ApiError::Transport { .. } => true,
            _ => false,
        }
    }

    /// 401/403: credentials or permissions are wrong; no retry or wait can fix that.
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            ApiError::Api {
                status: 401 | 403,
                ..
            }
        )
    }

    /// The write was refused because a synchronization is running on the cluster: HTTP
    /// 409, or an error message that says so (MRS documents no code for it). Such a write
    /// can be sent again once the sync ends.
    pub fn is_sync_running(&self) -> bool {
        let ApiError::Api {
            status, message, ..
        } = self
        else {
            return false;
        };
        let m = message.to_ascii_lowercase();
        *status == 409
            || (m.contains("synchroniz")
                && ["running", "in progress", "already", "ongoing"]
                    .iter()
                    .any(|w| m.contains(w)))
    }

    /// A write that may have been accepted although no answer says so: cut off in flight
    /// by the step's deadline.
    pub fn may_have_landed(&self) -> bool {
        matches!(
            self,
            ApiError::Timeout {
                during: During::InFlight,
                ..
            }
        )
    }

    pub fn is_cluster_not_found(&self) -> bool {
        matches!(self, ApiError::ClusterNotFound { .. })
    }

    pub fn request_id(&self) -> Option<&str> {
        match self {
            ApiError::Api { request_id, .. }
            | ApiError::ClusterNotFound { request_id, .. }
            | ApiError::Decode { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// The API error code, when the answer had one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Api { code, .. } | ApiError::ClusterNotFound { code, .. }
                if !code.is_empty() =>
            {
                Some(code)
            }
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Api { status, .. }
            | ApiError::Decode { status, .. }
            | ApiError::ClusterNotFound { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Classifies a non-success answer from its status, body and `X-Request-Id`.
    pub fn from_response(status: u16, body: &[u8], request_id: Option<String>) -> ApiError {
        let (code, message) = parse_error_body(body);
        if status == 400 && code == CODE_CLUSTER_NOT_FOUND {
            return ApiError::ClusterNotFound {
                status,
                code,
                request_id,
                message,
            };
        }
        // A 404 counts as "cluster gone" only when MRS itself (not the gateway, not some
        // unrelated web server at a mistyped endpoint) answered with an error code;
        // otherwise a typo in the endpoint would silently drop resources from state.
        if status == 404 && !code.is_empty() && !code.starts_with("APIGW.") {
            return ApiError::ClusterNotFound {
                status,
                code,
                request_id,
                message,
            };
        }
        let message = if status == 404 && code == CODE_API_NOT_FOUND {
            format!("{message} (wrong URL or endpoint?)")
        } else {
            message
        };
        ApiError::Api {
            status,
            code,
            message,
            request_id,
        }
    }
}

impl From<Failure> for ApiError {
    fn from(f: Failure) -> ApiError {
        match f {
            Failure::Answered(a) => ApiError::from_response(a.status, &a.body, a.request_id),
            // No answer, so no request ID: say where we tried and what decides it.
            Failure::Unreachable {
                endpoint,
                message,
                attempts,
            } => ApiError::Transport {
                message: format!(
                    "{message} (after {attempts} attempts). Nothing answered at {endpoint}: check `region`, `cloud` and `endpoints`, which decide this endpoint"
                ),
            },
            Failure::Permanent { message } => ApiError::Unusable { message },
            Failure::Keys(e) => e,
            Failure::Cancelled => ApiError::Cancelled,
            Failure::OutOfTime { message, in_flight } => ApiError::Timeout {
                message,
                during: if in_flight {
                    During::InFlight
                } else {
                    During::Retry
                },
            },
        }
    }
}

impl From<super::retry::Cancelled> for ApiError {
    fn from(_: super::retry::Cancelled) -> ApiError {
        ApiError::Cancelled
    }
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Bytes of a body that are safe and short enough to show a person: the one shortening
/// rule ([`super::shown::text`]) applied to free text.
pub(crate) fn snippet(body: &[u8]) -> String {
    super::shown::text_of_bytes(body, super::shown::TEXT)
}

fn parse_error_body(body: &[u8]) -> (String, String) {
    match serde_json::from_slice::<ErrorBody>(body) {
        // Through `snippet` too: a JSON string may hold newlines, escape sequences or a
        // megabyte of text, and the message lands in a one-line diagnostic.
        Ok(b) if b.error_code.is_some() || b.error_msg.is_some() => (
            snippet(
                b.error_code
                    .as_ref()
                    .map(json_text)
                    .unwrap_or_default()
                    .as_bytes(),
            ),
            snippet(
                b.error_msg
                    .as_ref()
                    .map(json_text)
                    .unwrap_or_default()
                    .as_bytes(),
            ),
        ),
        // IAM's own shape, which the gateway answers for a refused (e.g. expired) token.
        _ if iam_error_body(body).is_some() => iam_error_body(body).unwrap_or_default(),
        _ if body.is_empty() => (String::new(), "empty response body".to_string()),
        _ => (String::new(), snippet(body)),
    }
}

/// `{"error":{"code":401,"message":"..."}}` as (code, message).
fn iam_error_body(body: &[u8]) -> Option<(String, String)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let e = v.get("error")?.as_object()?;
    let code = e.get("code").map(json_text).unwrap_or_default();
    let message = e.get("message").map(json_text).unwrap_or_default();
    Some((snippet(code.as_bytes()), snippet(message.as_bytes())))
}

fn fmt_request_id(f: &mut fmt::Formatter<'_>, request_id: &Option<String>) -> fmt::Result {
    match request_id {
        Some(id) => write!(f, " (request id {id})"),
        None => write!(f, " (no request id)"),
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Api {
                status,
                code,
                message,
                request_id,
            } => {
                let code = if code.is_empty() { "none" } else { code };
                write!(
                    f,
                    "MRS API call failed with HTTP {status}, error code {code}: {message}"
                )?;
                fmt_request_id(f, request_id)
            }
            ApiError::ClusterNotFound {
                status,
                code,
                request_id,
                message,
            } => {
                write!(
                    f,
                    "MRS says the cluster does not exist (HTTP {status}, error code {code}): {message}"
                )?;
                fmt_request_id(f, request_id)
            }
            ApiError::Transport { message } => {
                write!(f, "could not reach the MRS API: {message}")
            }
            ApiError::Decode {
                status,
                message,
                request_id,
            } => {
                write!(
                    f,
                    "MRS API answered HTTP {status} with a body that could not be read: {message}"
                )?;
                fmt_request_id(f, request_id)
            }
            ApiError::Timeout { message, .. } => write!(f, "timed out: {message}"),
            ApiError::Cancelled => write!(f, "the MRS API call was cancelled"),
            ApiError::Config { message } => {
                write!(f, "invalid MRS client configuration: {message}")
            }
            ApiError::Credentials { message } => {
                write!(f, "no credentials to sign the MRS API call: {message}")
            }
            ApiError::Unusable { message } => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn rid() -> Option<String> {
        Some("abc123".to_string())
    }

    #[test]
    fn cluster_not_found_from_400() {
        let e = ApiError::from_response(
            400,
            br#"{"error_code":"12000003","error_msg":"The cluster does not exist"}"#,
            rid(),
        );
        assert!(e.is_cluster_not_found());
        assert_eq!(e.request_id(), Some("abc123"));
    }

    #[test]
    fn gateway_404_is_not_cluster_not_found() {
        let e = ApiError::from_response(
            404,
            br#"{"error_code":"APIGW.0101","error_msg":"The API does not exist"}"#,
            rid(),
        );
        assert!(!e.is_cluster_not_found());
        assert_eq!(e.code(), Some("APIGW.0101"));
        // A non-JSON 404 (some web server at a mistyped endpoint) is not "gone" either.
        let e = ApiError::from_response(404, b"<html>Not Found</html>", None);
        assert!(!e.is_cluster_not_found());
        let e = ApiError::from_response(404, br#"{"errorCode":"MRS.0404","errorMsg":"x"}"#, None);
        assert!(e.is_cluster_not_found());
    }

    #[test]
    fn camel_case_keys_and_snippets() {
        let e = ApiError::from_response(500, br#"{"errorCode":"MRS.1","errorMsg":"boom"}"#, None);
        assert_eq!(e.code(), Some("MRS.1"));
        assert!(e.to_string().contains("boom"));
        let long = vec![b'x'; 1000];
        let ApiError::Api { message, .. } = ApiError::from_response(502, &long, None) else {
            unreachable!("502 is an Api error")
        };
        assert!(message.chars().count() <= 201);
    }

    #[test]
    fn control_characters_in_json_error_fields_do_not_break_the_line() {
        // Found by fuzzing: error_msg "throttled\nnewline" made a two-line error.
        let e = ApiError::from_response(
            429,
            br#"{"error_code":"APIGW.0308\r","error_msg":"throttled\nnewline\u001b[31m"}"#,
            rid(),
        );
        let s = e.to_string();
        assert!(!s.contains(['\n', '\r', '\u{1b}']), "{s:?}");
        assert_eq!(e.code(), Some("APIGW.0308"));
        let long = format!(r#"{{"error_msg":"{}"}}"#, "y".repeat(5000));
        let ApiError::Api { message, .. } = ApiError::from_response(500, long.as_bytes(), None)
        else {
            unreachable!("500 is an Api error")
        };
        assert!(message.chars().count() <= 201);
    }

    #[test]
    fn iam_shaped_errors_are_read() {
        let e = ApiError::from_response(
            401,
            br#"{"error":{"code":401,"message":"The security token has expired.","title":"Unauthorized"}}"#,
            rid(),
        );
        assert_eq!(e.code(), Some("401"));
        assert!(e.to_string().contains("The security token has expired."));
        assert!(e.is_auth());
    }

    #[test]
    fn display_is_one_sentence_with_status_code_and_request_id() {
        let e = ApiError::from_response(
            401,
            br#"{"error_code":"APIGW.0301","error_msg":"bad signature"}"#,
            rid(),
        );
        let s = e.to_string();
        assert!(s.contains("401") && s.contains("APIGW.0301") && s.contains("abc123"));
        assert!(!s.contains('\n'));
        assert!(e.is_auth() && !e.is_retryable());
        assert!(ApiError::from_response(429, b"", None).is_retryable());
    }

    #[test]
    fn a_running_sync_is_recognised_by_status_or_message() {
        let body = br#"{"error_code":"MRS.SIM.409","error_msg":"a synchronization is already running on this cluster"}"#;
        assert!(ApiError::from_response(409, body, rid()).is_sync_running());
        let body = br#"{"error_code":"12000099","error_msg":"IAM synchronization is in progress"}"#;
        assert!(ApiError::from_response(400, body, rid()).is_sync_running());
        let body = br#"{"error_code":"12000001","error_msg":"bad request"}"#;
        assert!(!ApiError::from_response(400, body, rid()).is_sync_running());
        let body = br#"{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information"}"#;
        assert!(!ApiError::from_response(401, body, rid()).is_sync_running());
        assert!(!ApiError::Cancelled.is_sync_running());
    }
}
