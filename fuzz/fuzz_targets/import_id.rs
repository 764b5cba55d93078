//! Fuzzes the import-ID parser: any string gives an ID pair or an "Invalid import ID"
//! diagnostic; an accepted pair is what the string said, and parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use terraform_provider_mrs::api::{ClusterId, ProjectId};
use terraform_provider_mrs::provider::iam_sync::parse_import_id;

fuzz_target!(|data: &[u8]| {
    let Ok(id) = std::str::from_utf8(data) else {
        return;
    };
    let provider_project = ProjectId::parse("proj0001").ok();
    for default in [None, provider_project.as_ref()] {
        match parse_import_id(id, default) {
            Ok((p, c)) => {
                // The parts are the ID's own text, which the API's ID types accept again.
                let expected = match id.split_once('/') {
                    Some((pp, cc)) => (pp.to_string(), cc.to_string()),
                    None => match default {
                        Some(d) => (d.to_string(), id.to_string()),
                        None => panic!("{id:?} accepted without a project"),
                    },
                };
                assert_eq!((p.to_string(), c.to_string()), expected);
                assert_eq!(ProjectId::parse(p.as_str()).as_ref(), Ok(&p));
                assert_eq!(ClusterId::parse(c.as_str()).as_ref(), Ok(&c));
                let again = parse_import_id(&format!("{p}/{c}"), None).ok();
                assert_eq!(again, Some((p, c)));
            }
            Err(d) => {
                let summaries: Vec<_> = d.iter().map(|x| x.summary.as_str()).collect();
                assert_eq!(summaries, vec!["Invalid import ID"]);
            }
        }
    }
});
