//! The provider block's schema: its attribute names and what each one means.

use crate::framework::validate::not_empty;
use crate::framework::{Attribute, Block, NestedBlock, Nesting, Schema};
use crate::provider::ids::{project_id_validator, region_validator};

/// The attribute names, used by the schema, the model and diagnostics' paths alone.
pub mod attr {
    pub const REGION: &str = "region";
    pub const PROJECT_ID: &str = "project_id";
    pub const ACCESS_KEY: &str = "access_key";
    pub const SECRET_KEY: &str = "secret_key";
    pub const SECURITY_TOKEN: &str = "security_token";
    pub const SHARED_CONFIG_FILE: &str = "shared_config_file";
    pub const PROFILE: &str = "profile";
    pub const ASSUME_ROLE: &str = "assume_role";
    pub const AGENCY_NAME: &str = "agency_name";
    pub const DOMAIN_NAME: &str = "domain_name";
    pub const DURATION: &str = "duration";
    pub const CLOUD: &str = "cloud";
    pub const AUTH_URL: &str = "auth_url";
    pub const ENDPOINTS: &str = "endpoints";
    pub const INSECURE: &str = "insecure";
    pub const CACERT_FILE: &str = "cacert_file";
    pub const CERT: &str = "cert";
    pub const KEY: &str = "key";
    pub const MAX_RETRIES: &str = "max_retries";
    /// Keys of `endpoints`.
    pub const MRS: &str = "mrs";
    pub const IAM: &str = "iam";
    pub const METADATA: &str = "metadata";
}

/// The provider block: every argument and its environment fallback, as the docs show them.
pub fn schema() -> Schema {
    Schema::new(
        0,
        Block::new(
            "The mrs provider manages which Huawei Cloud IAM users and groups are synchronized to the Manager of an MRS (MapReduce Service) cluster. Every argument can also come from an environment variable, named in its description; an argument in the configuration wins. Credentials are looked for in this order: `access_key` and `secret_key`, the environment, the shared config file, the ECS metadata service; `assume_role` then applies on top of them.",
        )
        .attribute(
            Attribute::string(attr::REGION)
                .optional()
                .validator(not_empty())
                .validator(region_validator())
                .description("The region of the MRS clusters, e.g. `cn-north-4`: lower-case words and digits joined by `-`. Also `HW_REGION_NAME`, or the profile's `region`. Resources default to it, it selects the endpoints `https://mrs.{region}.{cloud}` and `https://iam.{region}.{cloud}`, and the project ID is looked up from it when `project_id` is not set."),
        )
        .attribute(
            Attribute::string(attr::PROJECT_ID)
                .optional()
                .validator(project_id_validator())
                .description("The project ID of `region`, which resources in that region use by default. Also `HW_PROJECT_ID`, or the profile's `projectId`. When none is set, the provider asks IAM for the project named after `region`; a resource or data source in another region gets the project IAM names after its own region. Each region is looked up once per run."),
        )
        .attribute(
            Attribute::string(attr::ACCESS_KEY)
                .optional()
                .sensitive()
                .description("The access key (AK) used to sign requests. Also `HW_ACCESS_KEY`."),
        )
        .attribute(
            Attribute::string(attr::SECRET_KEY)
                .optional()
                .sensitive()
                .description("The secret key (SK) used to sign requests. Also `HW_SECRET_KEY`."),
        )
        .attribute(
            Attribute::string(attr::SECURITY_TOKEN)
                .optional()
                .sensitive()
                .description("The security token of temporary credentials; sent as `X-Security-Token`. Also `HW_SECURITY_TOKEN`."),
        )
        .attribute(
            Attribute::string(attr::SHARED_CONFIG_FILE)
                .optional()
                .description("The path of a shared config file written by KooCLI (`hcloud`), used when no keys are set. Also `HW_SHARED_CONFIG_FILE`. Defaults to `~/.hcloud/config.json` when `profile` is set."),
        )
        .attribute(
            Attribute::string(attr::PROFILE)
                .optional()
                .description("The profile to use from the shared config file. Also `HW_PROFILE`. Defaults to the file's `current` profile."),
        )
        .attribute(
            Attribute::string(attr::CLOUD)
                .optional()
                .description("The domain of the endpoints, a domain name. Also `HW_CLOUD`. Defaults to `myhuaweicloud.com` (`myhuaweicloud.cn` or `myhuaweicloud.eu` for the regions served there)."),
        )
        .attribute(
            Attribute::string(attr::AUTH_URL)
                .optional()
                .description("The IAM (Identity) URL. Also `HW_AUTH_URL`. Defaults to `https://iam.{region}.{cloud}/v3`."),
        )
        .attribute(
            Attribute::string_map(attr::ENDPOINTS)
                .optional()
                .description("Custom endpoints by service: `mrs` (also `HW_MRS_ENDPOINT`), `iam` (wins over `auth_url`) and `metadata`, the ECS metadata service (also `HW_METADATA_ENDPOINT`; default `http://169.254.169.254`). E.g. `{ mrs = \"http://127.0.0.1:8080\" }` for the local simulator `mrs-sim`. Each is an `https://` URL without user name or password; plain `http://` to a host other than this machine draws a warning (the metadata service excepted, which is link-local)."),
        )
        .attribute(
            Attribute::bool(attr::INSECURE)
                .optional()
                .description("Skip TLS certificate verification: the only way to turn it off. Only for test endpoints; a warning is shown when set. Also `HW_INSECURE`."),
        )
        .attribute(
            Attribute::string(attr::CACERT_FILE)
                .optional()
                .description("A PEM file of CA certificates trusted in addition to the usual roots (Mozilla's, built in, and the machine's: `SSL_CERT_FILE` or the system bundle, `SSL_CERT_DIR` or the system certificate directories, found as Go programs find them), for endpoints whose certificate a private CA signed (Huawei Cloud Stack, a company proxy) that the machine does not trust. Also `HW_CACERT_FILE`. The PEM text itself is accepted too."),
        )
        .attribute(
            Attribute::string(attr::CERT)
                .optional()
                .description("A PEM client certificate (file or text) shown to endpoints that ask for one; needs `key`. Also `HW_CERT`."),
        )
        .attribute(
            Attribute::string(attr::KEY)
                .optional()
                .sensitive()
                .description("The PEM private key (file or text, with its `-----BEGIN` line) of `cert`; one that does not belong to `cert` is an error at configure. Never quoted in a message. Also `HW_KEY`."),
        )
        .attribute(
            Attribute::number(attr::MAX_RETRIES)
                .optional()
                .description("How many times a request is retried after throttling (429), a server error (500, 502, 503, 504), a timeout or a connection failure; each retry writes a warning to the log. What no retry can change (a certificate refused, a redirect, a malformed answer, a value that cannot be sent) fails at once. Retries, backoff and `Retry-After` never go past a resource's `timeouts`, and never past 2 minutes for one call of a refresh, a data source or an IAM lookup. Defaults to 5. Also `HW_MAX_RETRIES`."),
        )
        .block(NestedBlock {
            type_name: attr::ASSUME_ROLE.to_string(),
            block: Block::new("Assume an IAM agency with the credentials found otherwise: requests are then signed with the agency's temporary keys, renewed before they expire.")
                .attribute(Attribute::string(attr::AGENCY_NAME).optional().description("The agency's name. Also `HW_ASSUME_ROLE_AGENCY_NAME`."))
                .attribute(Attribute::string(attr::DOMAIN_NAME).optional().description("The name of the account (domain) that created the agency. Also `HW_ASSUME_ROLE_DOMAIN_NAME`."))
                .attribute(Attribute::number(attr::DURATION).optional().description("How long each set of temporary keys lives, in seconds, from 900 to 86400. Also `HW_ASSUME_ROLE_DURATION`. Defaults to 900; the provider renews them before they expire.")),
            nesting: Nesting::Single,
            min_items: 0,
            max_items: 0,
        }),
    )
}

/// A provider block with `pairs` set and every other attribute null, as Terraform sends it.
#[cfg(test)]
pub(super) fn config_with(pairs: &[(&str, crate::framework::Value)]) -> crate::framework::Value {
    let mut v = crate::framework::Value::object(
        schema()
            .block
            .attributes
            .iter()
            .map(|a| (a.name.clone(), crate::framework::Value::Null))
            .chain([(attr::ASSUME_ROLE.to_string(), crate::framework::Value::Null)]),
    );
    for (k, x) in pairs {
        v.set_attr(k, x.clone());
    }
    v
}
