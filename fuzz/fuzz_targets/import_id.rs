//! Fuzzes the import-ID parser: any string gives an ID pair or an "Invalid import ID"
//! diagnostic; an accepted pair is valid for the API and parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use terraform_provider_mrs::provider::iam_sync::parse_import_id;

fuzz_target!(|data: &[u8]| {
    let Ok(id) = std::str::from_utf8(data) else {
        return;
    };
    for default in [None, Some("proj0001"), Some("")] {
        if let Ok((p, c)) = parse_import_id(id, default) {
            assert!((1..=64).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
            assert!(
                (1..=64).contains(&c.len())
                    && c.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            );
            let again = parse_import_id(&format!("{p}/{c}"), None).ok();
            assert_eq!(again, Some((p, c)));
        }
    }
});
