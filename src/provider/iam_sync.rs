//! Resource `mrs_iam_sync`, in lifecycle order: schema, validate, plan, create, read,
//! update, delete, import. It is non-authoritative: it manages the names in its
//! configuration and never treats or cancels names synced by others or implicitly (the
//! groups of a synced user) as its own.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::config::{Shared, PROJECT_ID_PATTERN, PROJECT_ID_RULE};
use super::iam_names;
use crate::api::client::human_duration;
use crate::api::{ApiError, CancelSyncRequest, Client, SyncedNames, UpdateSyncRequest};
use crate::framework::plan::{requires_replace, use_state_for_unknown};
use crate::framework::validate::{
    conflicts_with, each_element, not_empty, regex_matches, size_at_most, validate_block,
    ValidateRequest, Validator,
};
use crate::framework::{
    ApplyOutcome, Attribute, AttributePath, Block, Diagnostics, NestedBlock, Nesting, ReadOutcome,
    Resource, Schema, Value,
};

pub const TYPE_NAME: &str = "mrs_iam_sync";
/// The API takes at most this many names of each kind in one call.
pub const MAX_NAMES: usize = 1000;
pub const CLUSTER_ID_PATTERN: &str = "^[A-Za-z0-9_-]{1,64}$";
pub const CLUSTER_ID_RULE: &str = "1 to 64 letters, digits, `_` or `-`";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// How often the sync status is polled while a sync runs. Short at first, because the
/// simulator and small syncs finish fast, then backing off to spare the API.
const POLL_FIRST: Duration = Duration::from_millis(50);
const POLL_MAX: Duration = Duration::from_secs(2);
/// Bound on the read that records the outcome of an apply. That read ignores StopProvider:
/// after Ctrl-C the state must still say what the cluster holds, and Terraform waits for
/// the apply to return, so it has to be short.
const FINAL_READ_TIMEOUT: Duration = Duration::from_secs(3);

// ---------------------------------------------------------------- schema

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
            "Synchronizes IAM users and groups to the Manager of an MRS cluster. The resource manages exactly the names it lists: adding a name syncs it, removing a name cancels its sync, and destroying the resource cancels every name it manages. Names synced by other means are never touched.",
        )
        .attribute(
            Attribute::string("id")
                .computed()
                .plan_modifier(use_state_for_unknown())
                .description("`{project_id}/{cluster_id}`."),
        )
        .attribute(
            Attribute::string("region")
                .optional()
                .computed()
                .validator(not_empty())
                .plan_modifier(use_state_for_unknown())
                .plan_modifier(requires_replace())
                .description("The region of the cluster. Defaults to the provider's `region`. Changing it forces a new resource."),
        )
        .attribute(
            Attribute::string("project_id")
                .optional()
                .computed()
                .validator(regex_matches(PROJECT_ID_PATTERN, PROJECT_ID_RULE))
                .plan_modifier(use_state_for_unknown())
                .plan_modifier(requires_replace())
                .description("The project ID, 1 to 64 letters or digits. Defaults to the provider's `project_id`. Changing it forces a new resource."),
        )
        .attribute(
            Attribute::string("cluster_id")
                .required()
                .validator(regex_matches(CLUSTER_ID_PATTERN, CLUSTER_ID_RULE))
                .plan_modifier(requires_replace())
                .description("The ID of the MRS cluster, 1 to 64 letters, digits, `_` or `-`. Changing it forces a new resource."),
        )
        .attribute(names("user_names", "users", iam_names::user_name()))
        .attribute(names("group_names", "groups", iam_names::group_name()))
        .attribute(
            Attribute::bool("is_all_sync")
                .optional()
                .default_value(Value::Bool(false))
                .validator(conflicts_with(&["user_names", "group_names"]))
                .plan_modifier(requires_replace())
                .description("Synchronize every IAM user and group of the account. Conflicts with `user_names` and `group_names`; destroying the resource then cancels every synced name. Defaults to `false`. Changing it forces a new resource."),
        )
        .block(NestedBlock {
            type_name: "timeouts".to_string(),
            block: Block::new("How long to wait for the synchronization to finish, as durations like `30s`, `10m` or `1h30m`. Each defaults to `10m`.")
                .attribute(Attribute::string("create").optional().validator(Arc::new(DurationValidator)).description("For create."))
                .attribute(Attribute::string("update").optional().validator(Arc::new(DurationValidator)).description("For update."))
                .attribute(Attribute::string("delete").optional().validator(Arc::new(DurationValidator)).description("For destroy.")),
            nesting: Nesting::Single,
            min_items: 0,
            max_items: 0,
        }),
    )
}

/// Parses a Go-style duration: one or more `<number><unit>` with units h, m, s, ms.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let (mult, unit_len) = if rest.starts_with("ms") {
            (0.001, 2)
        } else if rest.starts_with('h') {
            (3600.0, 1)
        } else if rest.starts_with('m') {
            (60.0, 1)
        } else if rest.starts_with('s') {
            (1.0, 1)
        } else {
            return None;
        };
        total += n * mult;
        rest = &rest[unit_len..];
    }
    (total.is_finite() && total < 1.0e9).then(|| Duration::from_secs_f64(total))
}

struct DurationValidator;

impl Validator for DurationValidator {
    fn description(&self) -> String {
        "a duration such as `30s`, `10m` or `1h30m`".to_string()
    }

    fn validate(&self, req: &ValidateRequest<'_>, diags: &mut Diagnostics) {
        let Some(s) = req.value.as_str() else {
            return;
        };
        if parse_duration(s).is_none() {
            diags.error_at(
                req.path.clone(),
                "Invalid duration",
                format!("{s:?} is not a duration; write it like \"30s\", \"10m\" or \"1h30m\"."),
            );
        }
    }
}

// ---------------------------------------------------------------- helpers

/// The names a resource manages, or that a cluster holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    pub users: BTreeSet<String>,
    pub groups: BTreeSet<String>,
}

impl Names {
    fn of(v: &Value) -> Names {
        let set = |a: &str| -> BTreeSet<String> {
            v.get(a)
                .as_strings()
                .unwrap_or_default()
                .into_iter()
                .collect()
        };
        Names {
            users: set("user_names"),
            groups: set("group_names"),
        }
    }

    fn from_remote(r: SyncedNames) -> Names {
        Names {
            users: r.user_names.into_iter().collect(),
            groups: r.group_names.into_iter().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }

    fn minus(&self, other: &Names) -> Names {
        Names {
            users: self.users.difference(&other.users).cloned().collect(),
            groups: self.groups.difference(&other.groups).cloned().collect(),
        }
    }

    fn intersect(&self, other: &Names) -> Names {
        Names {
            users: self.users.intersection(&other.users).cloned().collect(),
            groups: self.groups.intersection(&other.groups).cloned().collect(),
        }
    }

    fn union(&self, other: &Names) -> Names {
        Names {
            users: self.users.union(&other.users).cloned().collect(),
            groups: self.groups.union(&other.groups).cloned().collect(),
        }
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.users.is_empty() {
            parts.push(format!("users {}", quote_list(&self.users)));
        }
        if !self.groups.is_empty() {
            parts.push(format!("groups {}", quote_list(&self.groups)));
        }
        parts.join(" and ")
    }
}

fn quote_list(s: &BTreeSet<String>) -> String {
    s.iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The calls that bring a cluster from `remote` to holding `desired`, given what this
/// resource managed before (`prior`). Adds only what is missing remotely; cancels only
/// names this resource managed and no longer wants, and only while they are still synced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdatePlan {
    pub add: Names,
    pub remove: Names,
}

pub fn plan_update(prior: &Names, desired: &Names, remote: &Names) -> UpdatePlan {
    UpdatePlan {
        add: desired.minus(remote),
        remove: prior.minus(desired).intersect(remote),
    }
}

/// Splits names into DELETE bodies of at most MAX_NAMES users and MAX_NAMES groups each.
pub fn cancel_batches(n: &Names) -> Vec<CancelSyncRequest> {
    let users: Vec<String> = n.users.iter().cloned().collect();
    let groups: Vec<String> = n.groups.iter().cloned().collect();
    let batches = users
        .len()
        .div_ceil(MAX_NAMES)
        .max(groups.len().div_ceil(MAX_NAMES));
    (0..batches)
        .map(|i| {
            let part = |v: &[String]| -> Vec<String> {
                v.iter()
                    .skip(i * MAX_NAMES)
                    .take(MAX_NAMES)
                    .cloned()
                    .collect()
            };
            CancelSyncRequest {
                user_names: part(&users),
                group_names: part(&groups),
            }
        })
        .collect()
}

/// Replaces a set attribute with its elements that are in `keep`; null stays null.
fn filter_set(v: &Value, keep: &BTreeSet<String>) -> Value {
    match v.as_strings() {
        Some(names) => Value::string_set(names.into_iter().filter(|n| keep.contains(n))),
        None => v.clone(),
    }
}

/// Keeps in a state's name sets only the names the cluster still holds.
fn retain_synced(state: &mut Value, remote: &Names) {
    for (attr, keep) in [
        ("user_names", &remote.users),
        ("group_names", &remote.groups),
    ] {
        let v = filter_set(state.get(attr), keep);
        state.set_attr(attr, v);
    }
}

/// Where a resource lives.
struct Target {
    region: Option<String>,
    project_id: String,
    cluster_id: String,
}

impl Target {
    fn of(v: &Value) -> Option<Target> {
        Some(Target {
            region: v.get("region").as_str().map(str::to_string),
            project_id: v.get("project_id").as_str()?.to_string(),
            cluster_id: v.get("cluster_id").as_str()?.to_string(),
        })
    }
}

fn api_diag(d: &mut Diagnostics, action: &str, t: &Target, e: &ApiError) {
    let advice = match e {
        ApiError::ClusterNotFound { .. } => "Check cluster_id and project_id, and that the cluster still exists.",
        ApiError::Timeout { .. } => "The sync may still be running: run terraform apply again later, or raise the timeouts.",
        ApiError::Cancelled => "Terraform was interrupted; the state records what is known to be true.",
        _ if e.is_auth() => "Check access_key, secret_key and security_token, and that they may use MRS in this project.",
        _ => "Run terraform apply again; if it keeps failing, give the request ID to Huawei Cloud support.",
    };
    d.error(
        format!("Cannot {action} on MRS cluster {:?}", t.cluster_id),
        format!("{e}\n\n{advice}"),
    );
}

/// The client reports the time left of a wait, which after earlier waits is less than the
/// configured timeout; a person needs the configured one to know what to raise.
fn configured_timeout(e: ApiError, t: &Target, timeout: Duration) -> ApiError {
    match e {
        ApiError::Timeout { .. } => ApiError::Timeout {
            message: format!(
                "cluster {} was still synchronizing when the {} timeout ran out",
                t.cluster_id,
                human_duration(timeout)
            ),
        },
        e => e,
    }
}

fn timeout_of(v: &Value, which: &str) -> Duration {
    v.get("timeouts")
        .get(which)
        .as_str()
        .and_then(parse_duration)
        .unwrap_or(DEFAULT_TIMEOUT)
}

// ---------------------------------------------------------------- resource

pub struct IamSync {
    shared: Arc<Shared>,
    schema: Schema,
}

impl IamSync {
    pub fn new(shared: Arc<Shared>) -> Self {
        IamSync {
            shared,
            schema: schema(),
        }
    }

    fn client(&self, t: &Target) -> Result<Client, Diagnostics> {
        self.shared.configured()?.client(t.region.as_deref())
    }

    /// Waits until the cluster reports no sync running, polling with backoff.
    async fn wait_idle(&self, c: &Client, t: &Target, deadline: Instant) -> Result<(), ApiError> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        c.wait_until_idle(
            &t.project_id,
            &t.cluster_id,
            POLL_FIRST,
            POLL_MAX,
            remaining,
            &self.shared.cancel,
        )
        .await
    }

    async fn remote(&self, c: &Client, t: &Target) -> Result<Names, ApiError> {
        c.show_sync(&t.project_id, &t.cluster_id, &self.shared.cancel)
            .await
            .map(Names::from_remote)
    }

    /// The names synced now, for recording an apply's outcome: not cancelled by
    /// StopProvider, but bounded by FINAL_READ_TIMEOUT.
    async fn remote_for_state(&self, c: &Client, t: &Target) -> Result<Names, ApiError> {
        let uncancelled = tokio_util::sync::CancellationToken::new();
        let read = c.show_sync(&t.project_id, &t.cluster_id, &uncancelled);
        match tokio::time::timeout(FINAL_READ_TIMEOUT, read).await {
            Ok(r) => r.map(Names::from_remote),
            Err(_) => Err(ApiError::Timeout {
                message: format!(
                    "reading the synced names of cluster {} took over {}",
                    t.cluster_id,
                    human_duration(FINAL_READ_TIMEOUT)
                ),
            }),
        }
    }

    /// Sends the calls of `plan` and waits for the last sync to end. The caller has just
    /// seen the cluster idle while holding its lock, so only later calls wait first.
    /// Sets `wrote` once a POST or DELETE has gone out, whatever its answer: from then on
    /// the cluster may have changed even if the call seemed to fail.
    async fn send(
        &self,
        c: &Client,
        t: &Target,
        plan: &UpdatePlan,
        all_sync: bool,
        deadline: Instant,
        wrote: &mut bool,
    ) -> Result<(), ApiError> {
        let cancel = &self.shared.cancel;
        if all_sync || !plan.add.is_empty() {
            let body = UpdateSyncRequest {
                is_all_sync: all_sync,
                user_names: plan.add.users.iter().cloned().collect(),
                group_names: plan.add.groups.iter().cloned().collect(),
            };
            *wrote = true;
            c.update_sync(&t.project_id, &t.cluster_id, &body, cancel)
                .await?;
        }
        for batch in cancel_batches(&plan.remove) {
            if *wrote {
                self.wait_idle(c, t, deadline).await?;
            }
            *wrote = true;
            c.cancel_sync(&t.project_id, &t.cluster_id, &batch, cancel)
                .await?;
        }
        if *wrote {
            self.wait_idle(c, t, deadline).await?;
        }
        Ok(())
    }

    /// Brings the cluster to `desired` (what `planned` lists) from `prior_managed`, and
    /// returns the state that is then true remotely, with diagnostics for what failed.
    async fn converge(
        &self,
        planned: &Value,
        prior_managed: &Names,
        prior_state: &Value,
        timeout: Duration,
        action: &str,
    ) -> ApplyOutcome {
        let mut out = ApplyOutcome {
            state: prior_state.clone(),
            diags: Diagnostics::new(),
        };
        let Some(t) = Target::of(planned) else {
            out.diags.error(
                "Unknown project or cluster",
                "project_id and cluster_id must be known when applying. Set project_id on the resource or the provider (HW_PROJECT_ID).",
            );
            return out;
        };
        let client = match self.client(&t) {
            Ok(c) => c,
            Err(d) => {
                out.diags = d;
                return out;
            }
        };
        let deadline = Instant::now() + timeout;
        let desired = Names::of(planned);
        let all_sync = planned.get("is_all_sync").as_bool() == Some(true);
        let _guard = client.lock_cluster(&t.project_id, &t.cluster_id).await;

        let mut wrote = false;
        let sent = async {
            self.wait_idle(&client, &t, deadline).await?;
            let remote = self.remote(&client, &t).await?;
            let plan = plan_update(prior_managed, &desired, &remote);
            self.send(&client, &t, &plan, all_sync, deadline, &mut wrote)
                .await
        }
        .await
        .map_err(|e| configured_timeout(e, &t, timeout));
        if let Err(e) = &sent {
            api_diag(&mut out.diags, action, &t, e);
        }

        // Record what is true now. If the cluster cannot be read, assume every name sent
        // may have been added and nothing cancelled: a name wrongly kept in state is
        // dropped by the next refresh, whereas a name wrongly dropped would stay synced
        // and unmanaged.
        let remote = match self.remote_for_state(&client, &t).await {
            Ok(r) => r,
            Err(e) => {
                if sent.is_ok() {
                    api_diag(&mut out.diags, "read the synced names", &t, &e);
                }
                let maybe = if wrote {
                    desired.union(prior_managed)
                } else {
                    prior_managed.clone()
                };
                if prior_state.is_null() && maybe.is_empty() {
                    return out;
                }
                let mut state = planned.clone();
                for (attr, names) in [("user_names", &maybe.users), ("group_names", &maybe.groups)]
                {
                    let v = if planned.get(attr).is_null() && names.is_empty() {
                        Value::Null
                    } else {
                        Value::string_set(names.iter().cloned())
                    };
                    state.set_attr(attr, v);
                }
                out.state = state;
                return out;
            }
        };
        let keep = desired.union(prior_managed).intersect(&remote);
        let mut state = planned.clone();
        state.set_attr(
            "id",
            Value::string(format!("{}/{}", t.project_id, t.cluster_id)),
        );
        // Names cancelled unsuccessfully are still synced and still ours, so they stay.
        for (attr, names) in [("user_names", &keep.users), ("group_names", &keep.groups)] {
            let v = if planned.get(attr).is_null() && names.is_empty() {
                Value::Null
            } else {
                Value::string_set(names.iter().cloned())
            };
            state.set_attr(attr, v);
        }
        if sent.is_ok() {
            let missing = desired.minus(&remote);
            if !missing.is_empty() {
                out.diags.error(
                    format!("Some names did not sync to MRS cluster {:?}", t.cluster_id),
                    format!(
                        "MRS accepted the request but did not synchronize {}. Check that they exist in IAM in this account. The state records only the names that are synced.",
                        missing.describe()
                    ),
                );
            }
            let lingering = prior_managed.minus(&desired).intersect(&remote);
            if !lingering.is_empty() {
                out.diags.error(
                    format!("Some names are still synced to MRS cluster {:?}", t.cluster_id),
                    format!(
                        "MRS accepted the cancellation but still lists {}. They stay in the state, so the next apply tries again.",
                        lingering.describe()
                    ),
                );
            }
        }
        if out.diags.has_errors() && prior_state.is_null() && keep.is_empty() && !all_sync {
            // A failed create that left nothing synced leaves nothing to record.
            out.state = Value::Null;
            return out;
        }
        if all_sync && sent.is_err() && prior_state.is_null() {
            out.state = Value::Null;
            return out;
        }
        out.state = state;
        out
    }
}

#[async_trait]
impl Resource for IamSync {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate_config(&self, config: &Value, diags: &mut Diagnostics) {
        let all = config.get("is_all_sync");
        let users = config.get("user_names");
        let groups = config.get("group_names");
        if all.is_unknown() || users.is_unknown() || groups.is_unknown() {
            return;
        }
        // `[]` and an absent argument mean the same: no names.
        let none = |v: &Value| v.is_null() || v.elements().is_some_and(<[Value]>::is_empty);
        if all.as_bool() != Some(true) && none(users) && none(groups) {
            diags.error(
                "Nothing to synchronize",
                "Set user_names, group_names, or is_all_sync = true.",
            );
        }
    }

    fn modify_plan(
        &self,
        prior: &Value,
        config: &Value,
        planned: &mut Value,
        diags: &mut Diagnostics,
    ) {
        if !prior.is_null() {
            return;
        }
        // New resource: region and project_id default to the provider's.
        let configured = self.shared.configured().ok();
        if config.get("region").is_null() {
            let region = configured.as_ref().and_then(|c| c.region.clone());
            planned.set_attr("region", region.map(Value::string).unwrap_or(Value::Null));
        }
        if config.get("project_id").is_null() {
            match configured.as_ref().and_then(|c| c.project_id.clone()) {
                Some(p) => planned.set_attr("project_id", Value::string(p)),
                None => diags.error_at(
                    AttributePath::attr("project_id"),
                    "Missing project ID",
                    "Set project_id on this resource or on the provider (or HW_PROJECT_ID).",
                ),
            }
        }
        if let (Some(p), Some(c)) = (
            planned.get("project_id").as_str(),
            planned.get("cluster_id").as_str(),
        ) {
            let id = format!("{p}/{c}");
            planned.set_attr("id", Value::string(id));
        }
    }

    async fn create(&self, planned: &Value, config: &Value) -> ApplyOutcome {
        let mut d = Diagnostics::new();
        // Values unknown at plan time are known now: check them before any call.
        validate_block(&self.schema.block, config, &AttributePath::root(), &mut d);
        if d.has_errors() {
            return ApplyOutcome {
                state: Value::Null,
                diags: d,
            };
        }
        self.converge(
            planned,
            &Names::default(),
            &Value::Null,
            timeout_of(planned, "create"),
            "sync IAM names",
        )
        .await
    }

    async fn read(&self, state: &Value) -> ReadOutcome {
        let mut out = ReadOutcome {
            state: state.clone(),
            diags: Diagnostics::new(),
        };
        let Some(t) = Target::of(state) else {
            return out;
        };
        let client = match self.client(&t) {
            Ok(c) => c,
            Err(d) => {
                out.diags = d;
                return out;
            }
        };
        match self.remote(&client, &t).await {
            Ok(remote) => retain_synced(&mut out.state, &remote),
            Err(ApiError::ClusterNotFound { .. }) => out.state = Value::Null,
            Err(e) => api_diag(&mut out.diags, "read the synced names", &t, &e),
        }
        out
    }

    async fn update(&self, prior: &Value, planned: &Value, config: &Value) -> ApplyOutcome {
        let mut d = Diagnostics::new();
        validate_block(&self.schema.block, config, &AttributePath::root(), &mut d);
        if d.has_errors() {
            return ApplyOutcome {
                state: prior.clone(),
                diags: d,
            };
        }
        if planned.get("is_all_sync").as_bool() == Some(true) {
            // Only timeouts can change without replacement: nothing to send.
            return ApplyOutcome {
                state: planned.clone(),
                diags: d,
            };
        }
        self.converge(
            planned,
            &Names::of(prior),
            prior,
            timeout_of(planned, "update"),
            "update IAM names",
        )
        .await
    }

    async fn delete(&self, prior: &Value) -> ApplyOutcome {
        let mut out = ApplyOutcome {
            state: prior.clone(),
            diags: Diagnostics::new(),
        };
        let Some(t) = Target::of(prior) else {
            out.state = Value::Null;
            return out;
        };
        let client = match self.client(&t) {
            Ok(c) => c,
            Err(d) => {
                out.diags = d;
                return out;
            }
        };
        let deadline = Instant::now() + timeout_of(prior, "delete");
        let all_sync = prior.get("is_all_sync").as_bool() == Some(true);
        let managed = Names::of(prior);
        let _guard = client.lock_cluster(&t.project_id, &t.cluster_id).await;
        let result = async {
            self.wait_idle(&client, &t, deadline).await?;
            let remote = self.remote(&client, &t).await?;
            let remove = if all_sync {
                remote
            } else {
                managed.intersect(&remote)
            };
            let plan = UpdatePlan {
                add: Names::default(),
                remove,
            };
            let mut wrote = false;
            self.send(&client, &t, &plan, false, deadline, &mut wrote)
                .await
        }
        .await
        .map_err(|e| configured_timeout(e, &t, timeout_of(prior, "delete")));
        match result {
            Ok(()) | Err(ApiError::ClusterNotFound { .. }) => out.state = Value::Null,
            Err(e) => {
                api_diag(&mut out.diags, "cancel the IAM sync", &t, &e);
                // Keep in state whatever is still synced, so nothing is lost.
                if let Ok(remote) = self.remote_for_state(&client, &t).await {
                    if !all_sync {
                        retain_synced(&mut out.state, &remote);
                    }
                }
            }
        }
        out
    }

    async fn import(&self, id: &str) -> Result<Value, Diagnostics> {
        let configured = self.shared.configured()?;
        let (project_id, cluster_id) = parse_import_id(id, configured.project_id.as_deref())?;
        let region = configured.region.clone();
        let t = Target {
            region: region.clone(),
            project_id: project_id.clone(),
            cluster_id: cluster_id.clone(),
        };
        let client = configured.client(region.as_deref())?;
        let remote = match self.remote(&client, &t).await {
            Ok(r) => r,
            Err(e) => {
                let mut d = Diagnostics::new();
                api_diag(&mut d, "import the IAM sync", &t, &e);
                return Err(d);
            }
        };
        let set_or_null = |s: &BTreeSet<String>| {
            if s.is_empty() {
                Value::Null
            } else {
                Value::string_set(s.iter().cloned())
            }
        };
        Ok(Value::object([
            ("id", Value::string(format!("{project_id}/{cluster_id}"))),
            ("region", region.map(Value::string).unwrap_or(Value::Null)),
            ("project_id", Value::string(project_id)),
            ("cluster_id", Value::string(cluster_id)),
            ("user_names", set_or_null(&remote.users)),
            ("group_names", set_or_null(&remote.groups)),
            ("is_all_sync", Value::Bool(false)),
            ("timeouts", Value::Null),
        ]))
    }
}

/// `PROJECT_ID/CLUSTER_ID`, or `CLUSTER_ID` with the provider's project.
pub fn parse_import_id(
    id: &str,
    default_project: Option<&str>,
) -> Result<(String, String), Diagnostics> {
    let bad = |why: String| {
        Diagnostics::single_error(
            "Invalid import ID",
            format!("{why} Use `terraform import ADDRESS PROJECT_ID/CLUSTER_ID`, or `CLUSTER_ID` when the provider sets project_id."),
        )
    };
    let project_ok =
        |p: &str| !p.is_empty() && p.len() <= 64 && p.chars().all(|c| c.is_ascii_alphanumeric());
    let cluster_ok = |c: &str| {
        !c.is_empty()
            && c.len() <= 64
            && c.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    let (project, cluster) = match id.split_once('/') {
        Some((p, c)) => (p.to_string(), c.to_string()),
        None => match default_project {
            Some(p) => (p.to_string(), id.to_string()),
            None => {
                return Err(bad(format!(
                    "{id:?} has no project ID and the provider sets none."
                )))
            }
        },
    };
    if !project_ok(&project) {
        return Err(bad(format!(
            "The project ID {project:?} must be {PROJECT_ID_RULE}."
        )));
    }
    if !cluster_ok(&cluster) {
        return Err(bad(format!(
            "The cluster ID {cluster:?} must be {CLUSTER_ID_RULE}."
        )));
    }
    Ok((project, cluster))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(users: &[&str], groups: &[&str]) -> Names {
        Names {
            users: users.iter().map(|s| s.to_string()).collect(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn update_adds_missing_and_cancels_only_removed_managed_names() {
        let prior = names(&["alice", "bob"], &["dev"]);
        let desired = names(&["alice", "carol"], &["ops"]);
        // "admins" is synced implicitly (alice's group) and "zed" by someone else.
        let remote = names(&["alice", "bob", "zed"], &["dev", "admins"]);
        let p = plan_update(&prior, &desired, &remote);
        assert_eq!(p.add, names(&["carol"], &["ops"]));
        assert_eq!(p.remove, names(&["bob"], &["dev"]));
    }

    #[test]
    fn nothing_to_send_when_converged() {
        let n = names(&["a"], &["g"]);
        let p = plan_update(&n, &n, &names(&["a", "x"], &["g", "y"]));
        assert!(p.add.is_empty() && p.remove.is_empty());
    }

    #[test]
    fn removed_names_no_longer_synced_are_not_cancelled() {
        let p = plan_update(
            &names(&["a", "b"], &[]),
            &names(&["a"], &[]),
            &names(&["a"], &[]),
        );
        assert!(p.remove.is_empty());
    }

    #[test]
    fn batches_hold_at_most_1000_of_each() {
        let users: Vec<String> = (0..2500).map(|i| format!("u{i}")).collect();
        let n = Names {
            users: users.into_iter().collect(),
            groups: ["g".to_string()].into(),
        };
        let b = cancel_batches(&n);
        assert_eq!(b.len(), 3);
        assert!(b
            .iter()
            .all(|r| r.user_names.len() <= MAX_NAMES && r.group_names.len() <= MAX_NAMES));
        assert_eq!(b.iter().map(|r| r.user_names.len()).sum::<usize>(), 2500);
        assert_eq!(b.iter().map(|r| r.group_names.len()).sum::<usize>(), 1);
        assert!(cancel_batches(&Names::default()).is_empty());
    }

    #[test]
    fn timeout_errors_name_the_configured_timeout() {
        let t = Target {
            region: None,
            project_id: "p1".into(),
            cluster_id: "c1".into(),
        };
        // The client reports the time left (here 1s of a 2s timeout): say 2s.
        let left = ApiError::Timeout {
            message: "cluster c1 was still synchronizing after 1s".into(),
        };
        let e = configured_timeout(left, &t, Duration::from_secs(2));
        assert_eq!(
            e.to_string(),
            "timed out: cluster c1 was still synchronizing when the 2s timeout ran out"
        );
        assert_eq!(
            configured_timeout(ApiError::Cancelled, &t, Duration::from_secs(2)),
            ApiError::Cancelled
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        for bad in ["", "10", "m", "10x", "1e400s", "-1s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn import_ids() {
        assert_eq!(
            parse_import_id("p1/c-1", None).ok(),
            Some(("p1".into(), "c-1".into()))
        );
        assert_eq!(
            parse_import_id("c_1", Some("p1")).ok(),
            Some(("p1".into(), "c_1".into()))
        );
        for bad in ["c1", "/c", "p/", "p-x/c", "p/c/d", "p/c d", ""] {
            assert!(parse_import_id(bad, None).is_err(), "{bad}");
        }
    }

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
            v.set_attr("cluster_id", Value::string("c1"));
            for (k, x) in pairs {
                v.set_attr(k, x.clone());
            }
            v
        };
        let too_many = Value::string_set((0..1001).map(|i| format!("u{i}")));
        let cases = [
            (
                "ok",
                base(&[("user_names", Value::string_set(["a"]))]),
                None,
            ),
            (
                "bad cluster",
                base(&[
                    ("cluster_id", Value::string("c 1")),
                    ("user_names", Value::string_set(["a"])),
                ]),
                Some("cluster_id"),
            ),
            (
                "bad project",
                base(&[
                    ("project_id", Value::string("p-1")),
                    ("user_names", Value::string_set(["a"])),
                ]),
                Some("project_id"),
            ),
            (
                "too many",
                base(&[("user_names", too_many)]),
                Some("user_names"),
            ),
            (
                "empty name",
                base(&[("group_names", Value::string_set([""]))]),
                Some("group_names"),
            ),
            (
                "conflict",
                base(&[
                    ("is_all_sync", Value::Bool(true)),
                    ("user_names", Value::string_set(["a"])),
                ]),
                Some("is_all_sync"),
            ),
            (
                "unknown cluster skipped",
                base(&[
                    ("cluster_id", Value::Unknown),
                    ("user_names", Value::string_set(["a"])),
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

#[cfg(test)]
mod props {
    //! Property tests of the pure update planner: whatever the prior state, the config and
    //! the cluster hold, the calls add and cancel exactly the right names.
    use std::collections::BTreeSet;

    use proptest::collection::btree_set;
    use proptest::prelude::*;

    use super::{cancel_batches, plan_update, Names, MAX_NAMES};

    /// Names from a small pool, so prior, desired and remote overlap often.
    fn names() -> impl Strategy<Value = Names> {
        let set = || btree_set("[a-f]{1,2}", 0..12);
        (set(), set()).prop_map(|(users, groups)| Names { users, groups })
    }

    /// Up to 3,500 names of each kind, to cross the 1,000 limit several times.
    fn many() -> impl Strategy<Value = Names> {
        (0usize..3500, 0usize..3500).prop_map(|(u, g)| Names {
            users: (0..u).map(|i| format!("u{i}")).collect(),
            groups: (0..g).map(|i| format!("g{i}")).collect(),
        })
    }

    fn check_kind(
        prior: &BTreeSet<String>,
        desired: &BTreeSet<String>,
        remote: &BTreeSet<String>,
        add: &BTreeSet<String>,
        remove: &BTreeSet<String>,
    ) -> Result<(), TestCaseError> {
        let missing: BTreeSet<String> = desired.difference(remote).cloned().collect();
        prop_assert_eq!(add, &missing, "adds exactly the desired names not synced");
        let removed_still_synced: BTreeSet<String> = prior
            .difference(desired)
            .filter(|n| remote.contains(*n))
            .cloned()
            .collect();
        prop_assert_eq!(remove, &removed_still_synced);
        for n in remove {
            prop_assert!(prior.contains(n), "cancels {} which it never managed", n);
            prop_assert!(!desired.contains(n), "cancels {} which is still wanted", n);
        }
        prop_assert!(add.is_disjoint(remove));
        Ok(())
    }

    proptest! {
        #[test]
        fn plan_adds_missing_and_cancels_only_removed_managed_names(
            prior in names(),
            desired in names(),
            remote in names(),
        ) {
            let p = plan_update(&prior, &desired, &remote);
            check_kind(&prior.users, &desired.users, &remote.users, &p.add.users, &p.remove.users)?;
            check_kind(&prior.groups, &desired.groups, &remote.groups, &p.add.groups, &p.remove.groups)?;
            // Applying the plan to the remote gives a cluster holding every desired name
            // and none of the removed managed ones; unmanaged names are untouched.
            let after = remote.minus(&p.remove).union(&p.add);
            prop_assert!(desired.minus(&after).is_empty());
            prop_assert!(prior.minus(&desired).intersect(&after).is_empty());
            let unmanaged = remote.minus(&prior).minus(&desired);
            prop_assert_eq!(unmanaged.intersect(&after), unmanaged);
            // Converged: a second plan against the result sends nothing.
            let again = plan_update(&desired, &desired, &after);
            prop_assert!(again.add.is_empty() && again.remove.is_empty());
        }

        #[test]
        fn cancel_batches_respect_the_limit_and_partition_the_names(n in many()) {
            let batches = cancel_batches(&n);
            let mut users = BTreeSet::new();
            let mut groups = BTreeSet::new();
            for b in &batches {
                prop_assert!(b.user_names.len() <= MAX_NAMES && b.group_names.len() <= MAX_NAMES);
                prop_assert!(!(b.user_names.is_empty() && b.group_names.is_empty()), "empty batch");
                for u in &b.user_names {
                    prop_assert!(users.insert(u.clone()), "user {} in two batches", u);
                }
                for g in &b.group_names {
                    prop_assert!(groups.insert(g.clone()), "group {} in two batches", g);
                }
            }
            prop_assert_eq!(&users, &n.users);
            prop_assert_eq!(&groups, &n.groups);
            let fewest = n.users.len().div_ceil(MAX_NAMES).max(n.groups.len().div_ceil(MAX_NAMES));
            prop_assert_eq!(batches.len(), fewest, "no more calls than needed");
        }
    }
}
