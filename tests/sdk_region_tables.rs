//! The provider's default MRS and IAM endpoints against the region tables of Huawei's
//! official SDKs: every region of `huaweicloudsdkmrs`'s `MrsRegion` (v2) and of
//! `huaweicloudsdkiam`'s `IamRegion` (v3), as `scripts/install-tools.sh` (`make tools`)
//! downloads them from PyPI into tools/huaweicloud-sdk/, gives the same URL here.

use std::path::PathBuf;

use terraform_provider_mrs::api::Region;
use terraform_provider_mrs::provider::config::endpoints::{iam_endpoint, mrs_endpoint};

/// The `Region("id", "https://...")` entries of an SDK region module, in file order.
fn sdk_table(file: &str) -> Vec<(String, String)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tools/huaweicloud-sdk")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. Run `make tools` (scripts/install-tools.sh) to download the SDKs' region tables.",
            path.display()
        )
    });
    // Each entry is `NAME = Region("id",\n    "url")`; the text between quotes is all we need.
    let mut out = Vec::new();
    for part in text.split("Region(\"").skip(1) {
        let Some((id, rest)) = part.split_once('"') else {
            continue;
        };
        let Some(url) = rest.split('"').nth(1) else {
            continue;
        };
        out.push((id.to_string(), url.to_string()));
    }
    out
}

fn region(id: &str) -> Region {
    Region::parse(id).unwrap_or_else(|e| panic!("the SDK's region {id:?} breaks our rule: {e}"))
}

#[test]
fn every_region_of_the_mrs_sdk_gets_its_mrs_endpoint() {
    let table = sdk_table("mrs_region.py");
    assert!(
        table.len() >= 30,
        "only {} regions read: {table:?}",
        table.len()
    );
    let wrong: Vec<String> = table
        .iter()
        .filter(|(id, url)| mrs_endpoint(&region(id), None) != *url)
        .map(|(id, url)| {
            format!(
                "{id}: SDK {url}, provider {}",
                mrs_endpoint(&region(id), None)
            )
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
    // The regions the issue named, newer than the first notes, are among them.
    for id in [
        "cn-east-4",
        "cn-east-5",
        "cn-north-11",
        "cn-north-12",
        "cn-southwest-3",
    ] {
        assert!(
            table.iter().any(|(r, _)| r == id),
            "{id} missing from the SDK table"
        );
    }
}

#[test]
fn every_region_of_the_iam_sdk_gets_its_iam_endpoint() {
    let table = sdk_table("iam_region.py");
    assert!(
        table.len() >= 20,
        "only {} regions read: {table:?}",
        table.len()
    );
    let built = |id: &str| iam_endpoint(None, None, Some(&region(id)), None).unwrap_or_default();
    let wrong: Vec<String> = table
        .iter()
        .filter(|(id, url)| built(id) != *url)
        .map(|(id, url)| format!("{id}: SDK {url}, provider {}", built(id)))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
    // Where the two services' domains differ, each follows its own table.
    for id in ["ap-southeast-1", "ap-southeast-4"] {
        let mrs = sdk_table("mrs_region.py");
        let mrs_url = mrs.iter().find(|(r, _)| r == id).map(|(_, u)| u.as_str());
        assert_eq!(
            mrs_url,
            Some(format!("https://mrs.{id}.myhuaweicloud.cn").as_str())
        );
        assert_eq!(built(id), format!("https://iam.{id}.myhuaweicloud.com"));
    }
}
