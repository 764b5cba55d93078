//! The schema of `mrs_iam_sync_exclusive`, and the name of each attribute: the one place
//! besides the model where its attribute names are written.

use crate::framework::validate::{each_element, size_at_most};
use crate::framework::{timeouts, Attribute, Block, Schema, Value};
use crate::provider::cluster_sync::MAX_NAMES;
use crate::provider::clusters::{location_attributes, Holder};
use crate::provider::iam_names;

pub use crate::provider::clusters::{CLUSTER_ID, PROJECT_ID, REGION};

pub const USER_NAMES: &str = "user_names";
pub const GROUP_NAMES: &str = "group_names";
pub const IMPLICIT_GROUP_NAMES: &str = "implicit_group_names";
pub const ALLOW_EMPTY: &str = "allow_empty";
pub const CANCEL_ON_DESTROY: &str = "cancel_on_destroy";
pub const RESYNC_TRIGGERS: &str = "resync_triggers";

pub fn schema() -> Schema {
    let users = Attribute::string_set(USER_NAMES)
        .optional()
        .validator(size_at_most(MAX_NAMES))
        .validator(each_element(iam_names::user_name()))
        .description("Every IAM user the cluster may hold, at most 1,000. A synced user this list leaves out is cancelled by the apply whose plan shows it. Leaving the argument out and `[]` mean the same: no user.");
    let groups = Attribute::string_set(GROUP_NAMES)
        .optional()
        .validator(size_at_most(MAX_NAMES))
        .validator(each_element(iam_names::group_name()))
        .description("Every IAM group the cluster may hold besides the groups of the listed users (`implicit_group_names`), at most 1,000. A synced group left out of both is cancelled by the apply whose plan shows it.");
    let flag = |name: &str, text: &str| {
        Attribute::bool(name)
            .optional()
            .default_value(Value::Bool(false))
            .description(text)
    };
    Schema::new(
        0,
        Block::new(
            "Makes the IAM users and groups synced to the Manager of an MRS cluster exactly the ones it lists: names synced by other means are cancelled, each shown in the plan first. One per cluster.",
        )
        .attributes(location_attributes(Holder::Resource))
        .attribute(users)
        .attribute(groups)
        .attribute(
            Attribute::string_set(IMPLICIT_GROUP_NAMES)
                .computed()
                .description("The IAM groups of the listed users, as IAM answered at plan: syncing a user syncs its groups, so these stay synced without being listed and are never cancelled. When IAM cannot be read, every synced group stays (with a warning)."),
        )
        .attribute(flag(ALLOW_EMPTY, "Allow lists with no name at all, which cancel every synced name. Defaults to `false`: empty lists are an error, since they are more often a mistake than a wish to empty the cluster."))
        .attribute(flag(CANCEL_ON_DESTROY, "Cancel the listed names when the resource is destroyed or removed from the configuration, except those another resource of the run declares. Defaults to `false`: they stay synced, no longer managed."))
        .attribute(
            Attribute::string_map(RESYNC_TRIGGERS)
                .optional()
                .description("Arbitrary values; any change syncs every listed name again, in place, in one request, cancelling nothing it would not cancel anyway. MRS turns a user's IAM policies into Manager roles only when the user is synced: wire this to the role assignments so that a change of permissions reaches the cluster."),
        )
        .block(timeouts::block(
            "How long each step may take, every request and the wait for the synchronization included, as durations like `30s`, `10m` or `1h30m`. Each defaults to `10m`.",
        )),
    )
}
