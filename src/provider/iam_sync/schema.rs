//! The schema of `mrs_iam_sync`, and the name of each attribute: the one place besides the
//! model where attribute names are written.

use std::sync::Arc;

use crate::framework::attribute_hooks::Validator;
use crate::framework::validate::{conflicts_with, each_element, size_at_most};
use crate::framework::{timeouts, Attribute, Block, Schema, Value};
use crate::provider::iam_names;

use crate::provider::cluster_sync::MAX_NAMES;
use crate::provider::clusters::{location_attributes, Holder};
pub use crate::provider::clusters::{CLUSTER_ID, PROJECT_ID, REGION};

pub const USER_NAMES: &str = "user_names";
pub const GROUP_NAMES: &str = "group_names";
pub const IS_ALL_SYNC: &str = "is_all_sync";
pub const RESYNC_TRIGGERS: &str = "resync_triggers";

pub fn schema() -> Schema {
    let names = |name: &str, what: &str, rule: Arc<dyn Validator>| {
        Attribute::string_set(name)
            .optional()
            .validator(size_at_most(MAX_NAMES))
            .validator(each_element(rule))
            .description(&format!(
                "Names of the IAM {what} to synchronize to the cluster, at most 1,000 (names known only at apply are counted then, before any change), each 1 to 64 characters without leading or trailing whitespace or control characters. Only these are managed: other synced names (including the groups a synced user belongs to) are left alone. An empty set (`[]`) and leaving the argument out mean the same: no {what} managed."
            ))
    };
    Schema::new(
        0,
        Block::new(
            // The registry's one-line summary; the rules are sections of the page
            // (examples/resources/mrs_iam_sync/guide.md).
            "Synchronizes IAM users and groups to the Manager of an MRS cluster, managing exactly the names it lists. Names synced by other means are never touched.",
        )
        .attributes(location_attributes(Holder::Resource))
        .attribute(names(USER_NAMES, "users", iam_names::user_name()))
        .attribute(names(GROUP_NAMES, "groups", iam_names::group_name()))
        .attribute(
            Attribute::bool(IS_ALL_SYNC)
                .optional()
                .default_value(Value::Bool(false))
                .validator(conflicts_with(&[USER_NAMES, GROUP_NAMES]))
                .description("Synchronize every IAM user and group of the account. Conflicts with `user_names` and `group_names`; destroying the resource then cancels every synced name. Defaults to `false`. Changes in place: turning it on syncs everything and cancels nothing; turning it off cancels nothing either, syncs the listed names, and from then on the resource manages only those."),
        )
        .attribute(
            Attribute::string_map(RESYNC_TRIGGERS)
                .optional()
                .description("Arbitrary values; any change syncs every listed name again (with `is_all_sync`, runs a full synchronization again), in place and in one request, cancelling nothing. MRS turns a user's IAM policies into Manager roles only when the user is synced: wire this to the role assignments so that a change of permissions reaches the cluster."),
        )
        .block(timeouts::block(
            "How long to wait for the synchronization to finish, as durations like `30s`, `10m` or `1h30m`. Each defaults to `10m`.",
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::validate::validate_block;
    use crate::framework::{AttributePath, Diagnostics};

    #[test]
    fn schema_validation_table() {
        let s = schema();
        let base = |pairs: &[(&str, Value)]| {
            let mut v = Value::object(
                s.block
                    .attributes
                    .iter()
                    .map(|a| (a.name.clone(), Value::Null)),
            );
            v.set_attr(CLUSTER_ID, Value::string("c1"));
            for (k, x) in pairs {
                v.set_attr(k, x.clone());
            }
            v
        };
        let too_many = Value::string_set((0..1001).map(|i| format!("u{i}")));
        let cases = [
            ("ok", base(&[(USER_NAMES, Value::string_set(["a"]))]), None),
            (
                "bad cluster",
                base(&[
                    (CLUSTER_ID, Value::string("c 1")),
                    (USER_NAMES, Value::string_set(["a"])),
                ]),
                Some(CLUSTER_ID),
            ),
            (
                "bad project",
                base(&[
                    (PROJECT_ID, Value::string("p-1")),
                    (USER_NAMES, Value::string_set(["a"])),
                ]),
                Some(PROJECT_ID),
            ),
            (
                "too many",
                base(&[(USER_NAMES, too_many)]),
                Some(USER_NAMES),
            ),
            (
                "empty name",
                base(&[(GROUP_NAMES, Value::string_set([""]))]),
                Some(GROUP_NAMES),
            ),
            (
                "conflict",
                base(&[
                    (IS_ALL_SYNC, Value::Bool(true)),
                    (USER_NAMES, Value::string_set(["a"])),
                ]),
                Some(IS_ALL_SYNC),
            ),
            (
                "unknown cluster skipped",
                base(&[
                    (CLUSTER_ID, Value::Unknown),
                    (USER_NAMES, Value::string_set(["a"])),
                ]),
                None,
            ),
        ];
        for (name, config, want) in cases {
            let mut d = Diagnostics::new();
            validate_block(&s.block, &config, &AttributePath::root(), &mut d);
            match want {
                None => assert!(!d.has_errors(), "{name}: {d:?}"),
                Some(attr) => {
                    let hit = d.iter().any(|x| x.path == Some(AttributePath::attr(attr)));
                    assert!(hit, "{name}: {d:?}");
                }
            }
        }
    }
}
