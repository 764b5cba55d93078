//! Where a cluster is (region, project, cluster ID): the attributes every resource and data
//! source on a cluster declares for it, the address read from them, and how a failed API
//! call on it reads as a diagnostic.

use crate::api::{ApiError, ClusterId, ProjectId};
use crate::framework::plan::{requires_replace, use_state_for_unknown};
use crate::framework::validate::not_empty;
use crate::framework::{Attribute, AttributePath, Diagnostics};
use crate::provider::ids::{
    cluster_id_validator, parse_at, project_id_validator, region_validator,
};

/// The attribute names every cluster resource and data source shares.
pub const REGION: &str = "region";
pub const PROJECT_ID: &str = "project_id";
pub const CLUSTER_ID: &str = "cluster_id";

/// What declares the location attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    /// A resource: the location is fixed for the object's life (a change replaces it).
    Resource,
    /// A data source: read anew each time.
    DataSource,
}

/// `region`, `project_id` and `cluster_id`, with their rules and descriptions: one
/// definition for every resource and data source on a cluster. They are the object's
/// identity: there is no `id` attribute, which would repeat them in every object's state
/// (the import ID is written from them, [`Address::import_id`]).
pub fn location_attributes(holder: Holder) -> Vec<Attribute> {
    let kind = match holder {
        Holder::Resource => "resource",
        Holder::DataSource => "data source",
    };
    let replaces = |a: Attribute, text: &str| match holder {
        Holder::Resource => a
            .plan_modifier(requires_replace())
            .description(&format!("{text} Changing it forces a new resource.")),
        Holder::DataSource => a.description(text),
    };
    let kept = |a: Attribute| match holder {
        Holder::Resource => a.plan_modifier(use_state_for_unknown()),
        Holder::DataSource => a,
    };
    vec![
        replaces(
            kept(
                Attribute::string(REGION)
                    .optional()
                    .computed()
                    .validator(not_empty())
                    .validator(region_validator()),
            ),
            "The region of the cluster, lower-case words and digits joined by `-` (`cn-north-4`). Defaults to the provider's `region`.",
        ),
        replaces(
            kept(
                Attribute::string(PROJECT_ID)
                    .optional()
                    .computed()
                    .validator(project_id_validator()),
            ),
            &format!("The project ID, 1 to 64 letters or digits. Defaults to the project of the {kind}'s region: the provider's `project_id` in the provider's region, else the project IAM names after the region (looked up once per region per run)."),
        ),
        replaces(
            Attribute::string(CLUSTER_ID)
                .required()
                .validator(cluster_id_validator()),
            "The ID of the MRS cluster, 1 to 64 letters, digits, `_` or `-`.",
        ),
    ]
}

/// Where an object's cluster is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// None: the provider's region.
    pub region: Option<String>,
    pub project_id: ProjectId,
    pub cluster_id: ClusterId,
}

impl Address {
    /// The address a plan names: None while the project or the cluster is not yet known;
    /// an error at the attribute for an ID that breaks its rule.
    pub fn planned(
        region: Option<&String>,
        project_id: Option<&String>,
        cluster_id: Option<&String>,
    ) -> Result<Option<Address>, Diagnostics> {
        let (Some(p), Some(c)) = (project_id, cluster_id) else {
            return Ok(None);
        };
        Ok(Some(Address {
            region: region.cloned(),
            project_id: parse_at(p, PROJECT_ID, ProjectId::parse)?,
            cluster_id: parse_at(c, CLUSTER_ID, ClusterId::parse)?,
        }))
    }

    /// The address a state records. A state always has both IDs; one without (written by
    /// hand or by another tool) cannot be read or destroyed, which is an error at the
    /// attribute, never a silent success.
    pub fn recorded(
        region: Option<&String>,
        project_id: Option<&String>,
        cluster_id: Option<&String>,
    ) -> Result<Address, Diagnostics> {
        match Address::planned(region, project_id, cluster_id)? {
            Some(a) => Ok(a),
            None => Err(missing(if project_id.is_none() {
                PROJECT_ID
            } else {
                CLUSTER_ID
            })),
        }
    }

    /// `PROJECT_ID/CLUSTER_ID`: the import ID of an object on this cluster.
    pub fn import_id(&self) -> String {
        format!("{}/{}", self.project_id, self.cluster_id)
    }
}

fn missing(attr: &str) -> Diagnostics {
    let mut d = Diagnostics::new();
    d.error_at(
        AttributePath::attr(attr),
        format!("The state has no {attr}"),
        "This object's state does not say which cluster it is on, so the provider cannot read, change or remove what it manages there, and will not report success without doing so. Remove it from the state (`terraform state rm ADDRESS`) and import it again (`terraform import ADDRESS ID`, the ID starting `PROJECT_ID/CLUSTER_ID`).",
    );
    d
}

/// An error diagnostic for a failed `action` on the cluster at `address`, with what to do.
pub fn api_error(d: &mut Diagnostics, action: &str, address: &Address, e: &ApiError) {
    api_error_with(d, action, address, e, "")
}

/// `api_error` with `more` said before the advice.
pub fn api_error_with(
    d: &mut Diagnostics,
    action: &str,
    address: &Address,
    e: &ApiError,
    more: &str,
) {
    let more = if more.is_empty() {
        String::new()
    } else {
        format!("{more}\n\n")
    };
    d.error(
        format!(
            "Cannot {action} on MRS cluster {:?}",
            address.cluster_id.as_str()
        ),
        format!("{e}\n\n{more}{}", advice(e)),
    );
}

fn advice(e: &ApiError) -> &'static str {
    match e {
        ApiError::ClusterNotFound { .. } => "Check cluster_id and project_id, and that the cluster still exists.",
        ApiError::Timeout { .. } => "The sync may still be running: run terraform apply again later, or raise the timeouts.",
        ApiError::Cancelled => "Terraform was interrupted; the state records what is known to be true.",
        ApiError::Transport { .. } => "Nothing answered, so there is no request ID: check `region`, `cloud` and `endpoints`, and that this machine can reach the endpoint, then run terraform apply again.",
        ApiError::Credentials { .. } => "Check the credential source named above; the provider renews temporary keys before they expire.",
        ApiError::Unusable { .. } | ApiError::Config { .. } => "The message above names the cause and the fix; trying again will not help until it is fixed.",
        _ if e.is_auth() => "Check access_key, secret_key and security_token, and that they may use MRS in this project.",
        _ => "Run terraform apply again; if it keeps failing, give the request ID to Huawei Cloud support.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address() -> Address {
        let (Ok(project_id), Ok(cluster_id)) = (ProjectId::parse("p1"), ClusterId::parse("c1"))
        else {
            unreachable!("valid IDs")
        };
        Address {
            region: None,
            project_id,
            cluster_id,
        }
    }

    #[test]
    fn errors_no_retry_can_change_do_not_advise_a_retry() {
        let mut d = Diagnostics::new();
        let e = ApiError::Unusable {
            message: "the certificate was refused; set cacert_file".into(),
        };
        api_error(&mut d, "read the synced names", &address(), &e);
        let detail: String = d.iter().map(|x| x.detail.clone()).collect();
        assert!(detail.contains("will not help"), "{detail}");
        assert!(!detail.contains("Run terraform apply again"), "{detail}");
    }

    #[test]
    fn a_recorded_address_needs_both_ids() {
        let (p, c) = ("p1".to_string(), "c1".to_string());
        assert_eq!(
            Address::recorded(None, Some(&p), Some(&c)).ok(),
            Some(address())
        );
        let Err(d) = Address::recorded(None, None, Some(&c)) else {
            unreachable!("no project_id is an error")
        };
        let text = format!("{d:?}");
        assert!(text.contains("The state has no project_id"), "{text}");
        assert!(text.contains("terraform state rm"), "{text}");
        assert!(Address::recorded(None, Some(&p), None).is_err());
        assert_eq!(Address::planned(None, None, Some(&c)).ok(), Some(None));
    }
}
