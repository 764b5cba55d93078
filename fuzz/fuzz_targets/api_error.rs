//! Fuzzes the classification of error answers: any status and body give an `ApiError`
//! whose text is one line of bounded length, keeps the request ID, and never calls a
//! gateway 404 (or a body without an MRS code) "cluster gone".
#![no_main]

use libfuzzer_sys::fuzz_target;
use terraform_provider_mrs::api::error::ApiError;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let status = 100 + u16::from_le_bytes([data[0], data[1]]) % 500;
    let body = &data[2..];
    let e = ApiError::from_response(status, body, Some("rid-1".to_string()));
    assert_eq!(e.request_id(), Some("rid-1"));
    assert_eq!(e.status(), Some(status));
    let text = e.to_string();
    assert!(!text.contains('\n') && !text.contains('\r'), "{text:?}");
    if e.is_cluster_not_found() {
        assert!(matches!(status, 400 | 404));
        assert!(!e.code().unwrap_or("").starts_with("APIGW."));
        assert!(e.code().is_some());
    }
    let _ = ApiError::from_response(status, body, None).to_string();
});
