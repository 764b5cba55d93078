//! Resource `mrs_iam_sync`: its schema (schema.rs), its model and private record
//! (model.rs), its one `TypedResource` impl with the steps (crud.rs), and what an import
//! adopts (import.rs). It is non-authoritative: it manages the names in its configuration
//! and never treats or cancels names synced by others or implicitly (the groups of a
//! synced user) as its own. Its private state records names adopted at import, names
//! released by a plan, and names pending after a timeout or an interruption.

mod crud;
pub mod import;
pub mod model;
pub mod schema;

pub use crud::IamSync;
pub use schema::schema;

pub const TYPE_NAME: &str = "mrs_iam_sync";
