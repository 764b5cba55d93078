//! The provider configuration: the rooms of its schema, model, endpoints, keys,
//! projects, users' groups and configuring, and what the rest of the provider uses from
//! them.

pub mod configure;
pub mod endpoints;
mod env;
pub mod keys;
pub mod model;
pub mod projects;
pub mod schema;
pub mod state;
pub mod user_groups;

pub use configure::configure;
#[cfg(test)]
pub use configure::configured_for_tests;
pub use schema::schema;
pub use state::{Configured, ProviderState};
