//! Fuzzes the shared config file parser (KooCLI's `config.json`): any bytes and any
//! profile name give a profile or a one-sentence error that names the file and quotes no
//! key; an accepted profile has keys that are not empty.
#![no_main]

use libfuzzer_sys::fuzz_target;
use terraform_provider_mrs::provider::credentials::parse_profile;

/// A value no error may quote: fuzz inputs that hold it are checked for it.
const MARK: &str = "SKmark";

fuzz_target!(|data: &[u8]| {
    // The first byte picks the profile asked for: the file's current one, or a name.
    let (pick, body) = match data.split_first() {
        Some((b, rest)) => (*b, rest),
        None => (0, data),
    };
    let profile = match pick % 3 {
        0 => None,
        1 => Some("default"),
        _ => Some(MARK),
    };
    match parse_profile("/fuzz/config.json", body, profile) {
        Ok(p) => {
            assert!(!p.credentials.access_key.trim().is_empty());
            assert!(!p.credentials.secret_key.is_empty());
        }
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains("/fuzz/config.json"), "{text}");
            // Only a profile name may come from the file, in a "no such profile" error.
            if !matches!(
                e,
                terraform_provider_mrs::provider::credentials::ProfileError::NoSuchProfile { .. }
                    | terraform_provider_mrs::provider::credentials::ProfileError::NoKeys { .. }
            ) {
                let input = String::from_utf8_lossy(body);
                if input.contains(MARK) && profile != Some(MARK) {
                    assert!(!text.contains(MARK), "{text}");
                }
            }
        }
    }
});
