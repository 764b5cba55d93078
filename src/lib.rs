//! terraform-provider-mrs: a Terraform provider for Huawei Cloud MRS IAM synchronization,
//! speaking Terraform plugin protocol v6 itself, plus `mrs-sim`, a local MRS API.
//!
//! # Layout
//! Data flows one way: Terraform → [`protocol`] → [`framework`] → [`provider`] → [`api`] → MRS.
//! Each layer knows only the one below it.
//!
//! - [`protocol`]: the only place protobuf/gRPC types appear. The go-plugin handshake
//!   (cookie, unix socket or TCP, AutoMTLS), the tonic `Provider` service that decodes each
//!   request, calls the framework and encodes the answer, and the DynamicValue codec.
//! - [`framework`]: protocol-neutral building blocks any resource needs: values that may be
//!   null or unknown, schemas, diagnostics with attribute paths, validators, plan modifiers,
//!   the plan order, and the `Resource`/`DataSource`/`Provider` traits.
//! - [`provider`]: this provider's configuration, the `mrs_iam_sync` resource and the
//!   `mrs_iam_sync_users` data source. No wire types.
//! - [`api`]: the signed MRS HTTP client. No Terraform types.
//! - [`sim`]: `mrs-sim`, a faithful local MRS API used by the demo and the tests.
//! - [`log`]: hclog-compatible JSON lines on stderr, which Terraform re-emits.

pub mod api;
pub mod framework;
pub mod log;
pub mod protocol;
pub mod provider;
pub mod sim;
