//! The traits a provider implements: Provider, Resource and DataSource, with defaults for
//! the optional parts (validation hooks, plan hook, import, state upgrade).

use std::sync::Arc;

use async_trait::async_trait;

use super::diag::Diagnostics;
use super::schema::Schema;
use super::value::Value;

/// The state after an apply step and what went wrong. On failure `state` is still what is
/// true remotely (null when nothing exists), so Terraform records no falsehood.
#[derive(Debug, Default)]
pub struct ApplyOutcome {
    pub state: Value,
    pub diags: Diagnostics,
}

/// The state read back (null: the object is gone) and diagnostics.
#[derive(Debug, Default)]
pub struct ReadOutcome {
    pub state: Value,
    pub diags: Diagnostics,
}

/// Each method that Terraform passes private bytes to gets them as `private`: on entry
/// what Terraform stored for this instance (for an apply: what the plan returned), on
/// return what it stores next. Terraform keeps them opaquely per instance, so a resource
/// records there what its state cannot show; leaving them untouched keeps them.
#[async_trait]
pub trait Resource: Send + Sync {
    /// The full type name, e.g. `mrs_iam_sync`.
    fn type_name(&self) -> &str;
    fn schema(&self) -> &Schema;

    /// Checks across attributes, beyond each attribute's own validators. Values may be unknown.
    fn validate_config(&self, _config: &Value, _diags: &mut Diagnostics) {}

    /// The last step of planning; may fill computed values (asking the network if it must)
    /// or add diagnostics. Destroy plans call it too, with `planned` (and `config`) null,
    /// so a resource can warn about or refuse a destroy; a destroy plan stays null
    /// whatever this does to `planned`.
    async fn modify_plan(
        &self,
        _prior: &Value,
        _config: &Value,
        _planned: &mut Value,
        _private: &mut Vec<u8>,
        _diags: &mut Diagnostics,
    ) {
    }

    async fn create(&self, planned: &Value, config: &Value, private: &mut Vec<u8>) -> ApplyOutcome;
    async fn read(&self, state: &Value, private: &mut Vec<u8>) -> ReadOutcome;
    async fn update(
        &self,
        prior: &Value,
        planned: &Value,
        config: &Value,
        private: &mut Vec<u8>,
    ) -> ApplyOutcome;
    /// Returns a null state when deleted; the prior state when nothing was removed.
    async fn delete(&self, prior: &Value, private: &mut Vec<u8>) -> ApplyOutcome;

    /// Builds the state of an existing object from an import ID; Terraform reads it next,
    /// with the private bytes this leaves in `private`.
    async fn import(&self, _id: &str, _private: &mut Vec<u8>) -> Result<Value, Diagnostics> {
        Err(Diagnostics::single_error(
            "Import not supported",
            format!("The resource type {} cannot be imported.", self.type_name()),
        ))
    }

    /// Turns a stored state of schema `version` (already decoded with the current schema)
    /// into the current schema's state.
    fn upgrade_state(&self, version: i64, state: Value) -> Result<Value, Diagnostics> {
        refuse_newer_state(self.type_name(), self.schema(), version, state)
    }
}

/// The default state upgrade: a state from an older schema version is taken as it is
/// (decoding it with the current schema filled what was missing); one from a newer
/// provider is refused.
pub fn refuse_newer_state(
    type_name: &str,
    schema: &Schema,
    version: i64,
    state: Value,
) -> Result<Value, Diagnostics> {
    if version > schema.version {
        return Err(Diagnostics::single_error(
            "State from a newer provider",
            format!(
                "The state of this {type_name} was written with schema version {version}, newer than this provider's {}. Upgrade the provider.",
                schema.version
            ),
        ));
    }
    Ok(state)
}

#[async_trait]
pub trait DataSource: Send + Sync {
    fn type_name(&self) -> &str;
    fn schema(&self) -> &Schema;
    fn validate_config(&self, _config: &Value, _diags: &mut Diagnostics) {}
    async fn read(&self, config: &Value) -> ReadOutcome;
}

#[async_trait]
pub trait Provider: Send + Sync {
    fn schema(&self) -> &Schema;
    fn validate_config(&self, _config: &Value, _diags: &mut Diagnostics) {}
    /// Called once per process before any resource operation. It may call the network (a
    /// provider may look up credentials or IDs there); its diagnostics stop the run.
    async fn configure(&self, terraform_version: &str, config: &Value) -> Diagnostics;
    fn resources(&self) -> Vec<Arc<dyn Resource>>;
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>>;
    /// Terraform asked to stop: end in-flight waits and retries promptly.
    fn stop(&self);
}
