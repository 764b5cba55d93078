//! Fuzzes the import-ID grammar, with no suffix (`mrs_iam_sync`) and with one: any string
//! gives an import target or an "Invalid import ID" diagnostic; an accepted target is what
//! the string said, and parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use terraform_provider_mrs::api::{ClusterId, ProjectId};
use terraform_provider_mrs::provider::clusters::{
    parse_import_id, IdForm, Suffix, ONE_PER_CLUSTER,
};

/// A form with a suffix: a key of 1 to 16 characters other than `/`.
const KEYED: IdForm = IdForm {
    suffix: Some(Suffix {
        name: "KEY",
        attribute: "key",
        check: |k| (1..=16).contains(&k.len()),
        rule: "1 to 16 characters",
    }),
};

fuzz_target!(|data: &[u8]| {
    let Ok(id) = std::str::from_utf8(data) else {
        return;
    };
    let provider_project = ProjectId::parse("proj0001").ok();
    for form in [ONE_PER_CLUSTER, KEYED] {
        for default in [None, provider_project.as_ref()] {
            check(id, &form, default);
        }
    }
});

fn check(id: &str, form: &IdForm, default: Option<&ProjectId>) {
    match parse_import_id(id, form, default) {
        Ok(t) => {
            // The parts are the ID's own text, which the API's ID types accept again.
            let mut parts: Vec<&str> = id.split('/').collect();
            let suffix = match form.suffix {
                Some(_) => match parts.pop() {
                    Some(s) => Some(s.to_string()),
                    None => panic!("{id:?} accepted without a suffix"),
                },
                None => None,
            };
            let expected = match parts.as_slice() {
                [c] => match default {
                    Some(d) => (None, d.to_string(), c.to_string()),
                    None => panic!("{id:?} accepted without a project"),
                },
                [p, c] => (None, p.to_string(), c.to_string()),
                [r, p, c] => (Some(r.to_string()), p.to_string(), c.to_string()),
                _ => panic!("{id:?} accepted with {} parts", parts.len()),
            };
            let got = (
                t.region.clone(),
                t.project_id.to_string(),
                t.cluster_id.to_string(),
            );
            assert_eq!(got, expected);
            assert_eq!(t.suffix, suffix);
            assert_eq!(ProjectId::parse(t.project_id.as_str()).as_ref(), Ok(&t.project_id));
            assert_eq!(ClusterId::parse(t.cluster_id.as_str()).as_ref(), Ok(&t.cluster_id));
            let mut full = match &t.region {
                Some(r) => format!("{r}/{}/{}", t.project_id, t.cluster_id),
                None => format!("{}/{}", t.project_id, t.cluster_id),
            };
            if let Some(s) = &t.suffix {
                full = format!("{full}/{s}");
            }
            let again = parse_import_id(&full, form, None).ok();
            assert_eq!(again, Some(t));
        }
        Err(d) => {
            let summaries: Vec<_> = d.iter().map(|x| x.summary.as_str()).collect();
            assert_eq!(summaries, vec!["Invalid import ID"]);
        }
    }
}
