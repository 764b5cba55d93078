//! Where a region's MRS and IAM APIs answer: the endpoint table of Huawei Cloud's regions.

/// The default domain of Huawei Cloud endpoints.
pub const DEFAULT_CLOUD: &str = "myhuaweicloud.com";

/// Regions whose MRS endpoint is not under myhuaweicloud.com (from the SDK's region table).
const CN_DOMAIN_REGIONS: &[&str] = &["ap-southeast-1", "ap-southeast-4", "ru-northwest-2"];
const EU_DOMAIN_REGIONS: &[&str] = &["eu-west-101"];

/// The domain of a region's endpoints: `cloud` when set, else the region table.
fn domain_for(region: &str, cloud: Option<&str>) -> String {
    match cloud {
        Some(c) => c.to_string(),
        None if CN_DOMAIN_REGIONS.contains(&region) => "myhuaweicloud.cn".into(),
        None if EU_DOMAIN_REGIONS.contains(&region) => "myhuaweicloud.eu".into(),
        None => DEFAULT_CLOUD.into(),
    }
}

/// The MRS endpoint of a region.
pub fn endpoint_for_region(region: &str) -> String {
    mrs_endpoint(region, None)
}

/// The MRS endpoint of a region under `cloud` (default: the region table).
pub fn mrs_endpoint(region: &str, cloud: Option<&str>) -> String {
    format!("https://mrs.{region}.{}", domain_for(region, cloud))
}

/// IAM's endpoint: `endpoints.iam`, else `auth_url` without its `/v3`, else the region's.
pub fn iam_endpoint(
    explicit: Option<&str>,
    auth_url: Option<&str>,
    region: Option<&str>,
    cloud: Option<&str>,
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

    #[test]
    fn endpoints_per_region() {
        assert_eq!(
            endpoint_for_region("cn-north-4"),
            "https://mrs.cn-north-4.myhuaweicloud.com"
        );
        assert_eq!(
            endpoint_for_region("ap-southeast-1"),
            "https://mrs.ap-southeast-1.myhuaweicloud.cn"
        );
        assert_eq!(
            endpoint_for_region("eu-west-101"),
            "https://mrs.eu-west-101.myhuaweicloud.eu"
        );
        assert_eq!(
            mrs_endpoint("eu-west-101", Some("example.org")),
            "https://mrs.eu-west-101.example.org"
        );
    }

    #[test]
    fn iam_endpoint_prefers_endpoints_then_auth_url_then_region() {
        let e = iam_endpoint(Some("http://x/"), Some("https://a/v3"), Some("r"), None);
        assert_eq!(e.as_deref(), Some("http://x"));
        let e = iam_endpoint(None, Some("https://a:443/v3/"), Some("r"), None);
        assert_eq!(e.as_deref(), Some("https://a:443"));
        let e = iam_endpoint(None, None, Some("ap-southeast-1"), None);
        assert_eq!(
            e.as_deref(),
            Some("https://iam.ap-southeast-1.myhuaweicloud.cn")
        );
        let e = iam_endpoint(None, None, Some("cn-north-4"), Some("c.example"));
        assert_eq!(e.as_deref(), Some("https://iam.cn-north-4.c.example"));
        assert_eq!(iam_endpoint(None, None, None, None), None);
    }
}
