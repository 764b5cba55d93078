//! What a schema attribute's validators and plan modifiers are: the two traits, what
//! each is given and what a plan modifier may change. Their implementations live in
//! `validate` and `plan`.

use super::diag::{AttributePath, Diagnostics};
use super::value::Value;

/// What a validator sees: the attribute's value and path, and the object holding it, for
/// validators that compare siblings.
pub struct ValidateRequest<'a> {
    pub path: &'a AttributePath,
    pub value: &'a Value,
    pub parent: &'a Value,
}

pub trait Validator: Send + Sync {
    /// One sentence for documentation, e.g. "at most 1000 elements".
    fn description(&self) -> String;
    fn validate(&self, req: &ValidateRequest<'_>, diags: &mut Diagnostics);
}

/// What an attribute plan modifier sees.
pub struct ModifyRequest<'a> {
    pub path: &'a AttributePath,
    pub config: &'a Value,
    pub prior: &'a Value,
    /// The whole prior object is null: this plan creates the resource.
    pub creating: bool,
}

/// What an attribute plan modifier may change.
pub struct ModifyResponse {
    pub planned: Value,
    pub requires_replace: bool,
}

pub trait PlanModifier: Send + Sync {
    fn description(&self) -> String;
    fn modify(&self, req: &ModifyRequest<'_>, resp: &mut ModifyResponse, diags: &mut Diagnostics);
}
