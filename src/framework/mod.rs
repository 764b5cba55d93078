//! Protocol-neutral building blocks for resources: values, schemas, diagnostics,
//! validators, plan modifiers and the plan order, typed models and
//! timeouts, the provider/resource traits (and their typed forms), and the server that runs
//! each RPC's logic over them.

pub mod attribute_hooks;
pub mod diag;
pub mod model;
#[cfg(test)]
pub mod oracle;
pub mod plan;
pub mod resource;
pub mod schema;
pub mod server;
pub mod timeouts;
pub mod typed;
pub mod validate;
pub mod value;

pub use diag::{AttributePath, Diagnostic, Diagnostics, PathStep, Severity};
pub use resource::{ApplyOutcome, DataSource, Provider, ReadOutcome, Resource};
pub use schema::{Attribute, Block, DescriptionKind, NestedBlock, Nesting, Schema};
pub use typed::{
    typed, typed_data_source, PlanChange, Private, StateOutcome, TypedDataSource, TypedResource,
};
pub use value::{Number, Refinements, Type, Value};
