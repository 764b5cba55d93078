//! Fuzzes signer canonicalization: percent-decoding against a strict reference, the
//! canonical URI and query (only unreserved bytes, escapes and separators; stable when
//! applied twice), and sign → parse → verify round trips on arbitrary requests.
#![no_main]

use libfuzzer_sys::fuzz_target;
use terraform_provider_mrs::api::signer::{
    authorization, canonical_query, canonical_request, canonical_uri, parse_authorization,
    percent_decode, percent_encode, signed_header_names, verify, SignableRequest,
};

/// RFC 3986 decoding: `%` followed by exactly two hex digits, else the bytes stay.
fn reference_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            out.push(hex(b[i + 1]) * 16 + hex(b[i + 2]));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn canonical_chars(s: &str, extra: &[u8]) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b) || extra.contains(&b))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parts: Vec<&str> = text.split('\u{0}').collect();
    let path = parts.first().copied().unwrap_or("");

    assert_eq!(percent_decode(path), reference_decode(path), "{path:?}");
    assert_eq!(percent_decode(&percent_encode(path)), path);
    let uri = canonical_uri(path);
    assert!(uri.ends_with('/'));
    assert!(canonical_chars(&uri, b"/"), "{uri:?}");
    assert_eq!(canonical_uri(&uri), uri, "canonical_uri is not idempotent");

    let query: Vec<(String, String)> = parts
        .get(1)
        .map(|q| {
            q.split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (kv.to_string(), String::new()),
                })
                .collect()
        })
        .unwrap_or_default();
    let cq = canonical_query(&query);
    assert!(canonical_chars(&cq, b"=&"), "{cq:?}");
    let mut reversed = query.clone();
    reversed.reverse();
    assert_eq!(
        canonical_query(&reversed),
        cq,
        "query order must not matter"
    );

    // Headers: "name:value" lines; the signature must verify over whatever was signed.
    let headers: Vec<(String, String)> = parts
        .get(2)
        .map(|h| {
            h.split('\n')
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default();
    let body = parts.get(3).map(|b| b.as_bytes()).unwrap_or(b"");
    let req = SignableRequest {
        method: "POST",
        path,
        query: &query,
        headers: &headers,
        body,
    };
    let signed = signed_header_names(&headers);
    let _ = canonical_request(&req, &signed);
    // Only names the HTTP layer could send are signed in practice.
    let sendable =
        |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !signed.is_empty() && signed.iter().all(|n| sendable(n)) {
        let date = "20261121T080000Z";
        let auth = authorization(&req, "AK1", "secret", date);
        let parsed = parse_authorization(&auth);
        assert!(parsed.is_some(), "{auth:?}");
        if let Some(p) = parsed {
            assert_eq!(p.signed_headers, signed);
            assert!(verify(&req, &p, "secret", date));
            assert!(!verify(&req, &p, "other", date));
        }
    }
});
