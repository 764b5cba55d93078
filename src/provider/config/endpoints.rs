//! Where a region's MRS and IAM APIs answer: the endpoint table of Huawei Cloud's regions.
//! Host names are built only from a validated `Region` and `Cloud`.

use crate::api::{ids::Cloud, Region};

/// The default domain of Huawei Cloud endpoints.
pub const DEFAULT_CLOUD: &str = "myhuaweicloud.com";

/// Regions whose MRS endpoint is not under myhuaweicloud.com (from the SDK's region table).
const CN_DOMAIN_REGIONS: &[&str] = &["ap-southeast-1", "ap-southeast-4", "ru-northwest-2"];
const EU_DOMAIN_REGIONS: &[&str] = &["eu-west-101"];

/// The domain of a region's endpoints: `cloud` when set, else the region table.
fn domain_for(region: &Region, cloud: Option<&Cloud>) -> String {
    match cloud {
        Some(c) => c.to_string(),
        None if CN_DOMAIN_REGIONS.contains(&region.as_str()) => "myhuaweicloud.cn".into(),
        None if EU_DOMAIN_REGIONS.contains(&region.as_str()) => "myhuaweicloud.eu".into(),
        None => DEFAULT_CLOUD.into(),
    }
}

/// The MRS endpoint of a region under `cloud` (default: the region table).
pub fn mrs_endpoint(region: &Region, cloud: Option<&Cloud>) -> String {
    format!("https://mrs.{region}.{}", domain_for(region, cloud))
}

/// IAM's endpoint: `endpoints.iam`, else `auth_url` without its `/v3`, else the region's.
pub fn iam_endpoint(
    explicit: Option<&str>,
    auth_url: Option<&str>,
    region: Option<&Region>,
    cloud: Option<&Cloud>,
) -> Option<String> {
    if let Some(e) = explicit {
        return Some(e.trim().trim_end_matches('/').to_string());
    }
    if let Some(u) = auth_url {
        let u = u.trim().trim_end_matches('/');
        return Some(u.strip_suffix("/v3").unwrap_or(u).to_string());
    }
    region.map(|r| format!("https://iam.{r}.{}", domain_for(r, cloud)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Region {
        Region::parse(s).unwrap_or_else(|e| unreachable!("{s}: {e}"))
    }

    fn c(s: &str) -> Cloud {
        Cloud::parse(s).unwrap_or_else(|e| unreachable!("{s}: {e}"))
    }

    #[test]
    fn endpoints_per_region() {
        assert_eq!(
            mrs_endpoint(&r("cn-north-4"), None),
            "https://mrs.cn-north-4.myhuaweicloud.com"
        );
        assert_eq!(
            mrs_endpoint(&r("ap-southeast-1"), None),
            "https://mrs.ap-southeast-1.myhuaweicloud.cn"
        );
        assert_eq!(
            mrs_endpoint(&r("eu-west-101"), None),
            "https://mrs.eu-west-101.myhuaweicloud.eu"
        );
        assert_eq!(
            mrs_endpoint(&r("eu-west-101"), Some(&c("example.org"))),
            "https://mrs.eu-west-101.example.org"
        );
    }

    #[test]
    fn iam_endpoint_prefers_endpoints_then_auth_url_then_region() {
        let e = iam_endpoint(
            Some("http://x/"),
            Some("https://a/v3"),
            Some(&r("r-1")),
            None,
        );
        assert_eq!(e.as_deref(), Some("http://x"));
        let e = iam_endpoint(None, Some("https://a:443/v3/"), Some(&r("r-1")), None);
        assert_eq!(e.as_deref(), Some("https://a:443"));
        let e = iam_endpoint(None, None, Some(&r("ap-southeast-1")), None);
        assert_eq!(
            e.as_deref(),
            Some("https://iam.ap-southeast-1.myhuaweicloud.cn")
        );
        let e = iam_endpoint(None, None, Some(&r("cn-north-4")), Some(&c("c.example")));
        assert_eq!(e.as_deref(), Some("https://iam.cn-north-4.c.example"));
        assert_eq!(iam_endpoint(None, None, None, None), None);
    }
}
