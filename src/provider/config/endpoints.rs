//! Where a region's MRS and IAM APIs answer: each service's own region table, as Huawei's
//! SDKs have them (`huaweicloudsdkmrs` v2 `MrsRegion`, `huaweicloudsdkiam` v3 `IamRegion`;
//! tests/sdk_region_tables.rs compares every region of both with what is built here).
//! Host names are built only from a validated `Region` and `Cloud`.

use crate::api::{ids::Cloud, Region};

/// The default domain of Huawei Cloud endpoints.
pub const DEFAULT_CLOUD: &str = "myhuaweicloud.com";

/// A service's regions whose endpoints are under another domain than [`DEFAULT_CLOUD`].
struct Table {
    service: &'static str,
    other_domains: &'static [(&'static str, &'static str)],
}

/// MRS: three regions under `.cn`, one under `.eu`.
const MRS: Table = Table {
    service: "mrs",
    other_domains: &[
        ("ap-southeast-1", "myhuaweicloud.cn"),
        ("ap-southeast-4", "myhuaweicloud.cn"),
        ("ru-northwest-2", "myhuaweicloud.cn"),
        ("eu-west-101", "myhuaweicloud.eu"),
    ],
};

/// IAM: only `eu-west-101` differs; `ap-southeast-1` and `ap-southeast-4` are under
/// `.com`, unlike MRS.
const IAM: Table = Table {
    service: "iam",
    other_domains: &[("eu-west-101", "myhuaweicloud.eu")],
};

impl Table {
    /// `https://{service}.{region}.{domain}`: the domain is `cloud` when set, else the
    /// table's.
    fn endpoint(&self, region: &Region, cloud: Option<&Cloud>) -> String {
        let domain = match cloud {
            Some(c) => c.to_string(),
            None => self
                .other_domains
                .iter()
                .find(|(r, _)| *r == region.as_str())
                .map_or(DEFAULT_CLOUD, |(_, d)| d)
                .to_string(),
        };
        format!("https://{}.{region}.{domain}", self.service)
    }
}

/// The MRS endpoint of a region under `cloud` (default: MRS's region table).
pub fn mrs_endpoint(region: &Region, cloud: Option<&Cloud>) -> String {
    MRS.endpoint(region, cloud)
}

/// IAM's endpoint: `endpoints.iam`, else `auth_url` without its `/v3`, else the region's
/// (IAM's region table).
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
    region.map(|r| IAM.endpoint(r, cloud))
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
        // IAM's own table: not MRS's `.cn` domain.
        let e = iam_endpoint(None, None, Some(&r("ap-southeast-1")), None);
        assert_eq!(
            e.as_deref(),
            Some("https://iam.ap-southeast-1.myhuaweicloud.com")
        );
        let e = iam_endpoint(None, None, Some(&r("eu-west-101")), None);
        assert_eq!(
            e.as_deref(),
            Some("https://iam.eu-west-101.myhuaweicloud.eu")
        );
        let e = iam_endpoint(None, None, Some(&r("cn-north-4")), Some(&c("c.example")));
        assert_eq!(e.as_deref(), Some("https://iam.cn-north-4.c.example"));
        assert_eq!(iam_endpoint(None, None, None, None), None);
    }
}
