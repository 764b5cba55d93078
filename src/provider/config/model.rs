//! The typed model of the provider block: what the configuration says, read from
//! `framework::Value` with the attribute path in every mismatch.

use std::collections::BTreeMap;

use crate::api::Secret;
use crate::framework::model::{Attr, FromValue, ObjectReader};
use crate::framework::{AttributePath, Diagnostics, Value};

use super::schema::attr;

/// The provider block as written. An unknown value counts as unset, as it always has for
/// this provider; environment fallbacks come later, in `configure`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProviderModel {
    pub region: Option<String>,
    pub project_id: Option<String>,
    pub access_key: Option<String>,
    pub secret_key: Option<Secret>,
    pub security_token: Option<Secret>,
    pub shared_config_file: Option<String>,
    pub profile: Option<String>,
    pub assume_role: Option<AssumeRoleModel>,
    pub cloud: Option<String>,
    pub auth_url: Option<String>,
    pub endpoints: BTreeMap<String, String>,
    pub insecure: Option<bool>,
    pub cacert_file: Option<String>,
    pub cert: Option<String>,
    pub key: Option<Secret>,
    pub max_retries: Option<f64>,
}

/// The `assume_role` block.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct AssumeRoleModel {
    pub agency_name: Option<String>,
    pub domain_name: Option<String>,
    pub duration: Option<f64>,
}

impl ProviderModel {
    /// Reads the provider block; a value of the wrong type is an error at its path.
    pub fn read(v: &Value) -> Result<ProviderModel, Diagnostics> {
        match v {
            // No block at all reads as a block with nothing set.
            Value::Null | Value::Unknown => Ok(ProviderModel::default()),
            v => ProviderModel::from_value(v, &AttributePath::root()),
        }
    }
}

/// The value when known and not null.
fn set<T>(a: Attr<T>) -> Option<T> {
    match a {
        Attr::Known(t) => Some(t),
        Attr::Null | Attr::Unknown => None,
    }
}

impl FromValue for ProviderModel {
    fn from_value(v: &Value, path: &AttributePath) -> Result<Self, Diagnostics> {
        let mut r = ObjectReader::new(v, path)?;
        let endpoints: Attr<BTreeMap<String, Attr<String>>> = r.attr(attr::ENDPOINTS);
        let m = ProviderModel {
            region: set(r.attr(attr::REGION)),
            project_id: set(r.attr(attr::PROJECT_ID)),
            access_key: set(r.attr(attr::ACCESS_KEY)),
            secret_key: set::<String>(r.attr(attr::SECRET_KEY)).map(Secret::new),
            security_token: set::<String>(r.attr(attr::SECURITY_TOKEN)).map(Secret::new),
            shared_config_file: set(r.attr(attr::SHARED_CONFIG_FILE)),
            profile: set(r.attr(attr::PROFILE)),
            assume_role: set(r.attr(attr::ASSUME_ROLE)),
            cloud: set(r.attr(attr::CLOUD)),
            auth_url: set(r.attr(attr::AUTH_URL)),
            endpoints: set(endpoints)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(service, e)| Some((service, set(e)?)))
                .collect(),
            insecure: set(r.attr(attr::INSECURE)),
            cacert_file: set(r.attr(attr::CACERT_FILE)),
            cert: set(r.attr(attr::CERT)),
            key: set::<String>(r.attr(attr::KEY)).map(Secret::new),
            max_retries: set(r.attr(attr::MAX_RETRIES)),
        };
        r.finish(m)
    }
}

impl FromValue for AssumeRoleModel {
    fn from_value(v: &Value, path: &AttributePath) -> Result<Self, Diagnostics> {
        let mut r = ObjectReader::new(v, path)?;
        let m = AssumeRoleModel {
            agency_name: set(r.attr(attr::AGENCY_NAME)),
            domain_name: set(r.attr(attr::DOMAIN_NAME)),
            duration: set(r.attr(attr::DURATION)),
        };
        r.finish(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::config::schema::config_with;

    #[test]
    fn the_model_reports_the_path_of_a_mismatched_value() {
        let mut block = std::collections::BTreeMap::new();
        block.insert(attr::AGENCY_NAME.to_string(), Value::Bool(true));
        let v = config_with(&[
            (attr::REGION, Value::int(4)),
            (attr::ASSUME_ROLE, Value::Object(block)),
            (attr::SECRET_KEY, Value::string("sk")),
        ]);
        let Err(d) = ProviderModel::read(&v) else {
            unreachable!("mismatches")
        };
        let paths: Vec<_> = d.iter().filter_map(|x| x.path.clone()).collect();
        assert!(paths.contains(&AttributePath::attr(attr::REGION)));
        assert!(
            paths.contains(&AttributePath::attr(attr::ASSUME_ROLE).then_attr(attr::AGENCY_NAME))
        );
        let ok = config_with(&[
            (attr::REGION, Value::string("cn-north-4")),
            (attr::SECRET_KEY, Value::string("sk")),
            (attr::MAX_RETRIES, Value::Unknown),
        ]);
        let m = ProviderModel::read(&ok);
        let Ok(m) = m else { unreachable!("valid") };
        assert_eq!(m.region.as_deref(), Some("cn-north-4"));
        assert_eq!(m.secret_key.as_ref().map(Secret::expose), Some("sk"));
        assert_eq!(m.max_retries, None);
        assert!(!format!("{m:?}").contains("sk\""));
    }
}
