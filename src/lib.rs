//! terraform-provider-mrs: a Terraform provider for Huawei Cloud MRS IAM synchronization,
//! speaking Terraform plugin protocol v6 itself, plus `mrs-sim`, a local MRS API.
//!
//! # Layout
//! Data flows one way: Terraform → [`protocol`] → [`framework`] → [`provider`] → [`api`] → MRS.
//! Each layer knows only the one below it.
//!
//! - [`protocol`]: the only place protobuf/gRPC types appear, and no provider names: the
//!   binary passes those in. The go-plugin start-up, one job per file (`cli`: command line,
//!   cookie, handshake line; `listen`: private socket dir, TCP, accept loop; `mtls`:
//!   AutoMTLS; `shutdown`: the stop signal and OS signals), the tonic `Provider` service
//!   that only translates (decode, call the framework server, encode), and the
//!   DynamicValue codec.
//! - [`framework`]: protocol-neutral building blocks any resource needs: values that may be
//!   null or unknown, schemas, diagnostics with attribute paths, validators, plan modifiers,
//!   the plan order, typed models (`model`) and the `timeouts` block, the
//!   `Resource`/`DataSource`/`Provider` traits, and `server`: each RPC's logic (dispatch by
//!   type name, validation, planning, apply), tested in process.
//! - [`provider`]: this provider's configuration and credential sources, the kit every
//!   resource on a cluster starts from (`clusters/`: address, client, import-ID grammar,
//!   diagnostics), the IAM sync engine (`cluster_sync/`), the `mrs_iam_sync` resource
//!   (`iam_sync/`: schema, model, one `TypedResource` impl with its steps, import) and the
//!   `mrs_iam_sync_users` data source. No wire types.
//! - [`api`]: the signed MRS, IAM and ECS-metadata HTTP clients, and the validated
//!   `ProjectId`/`ClusterId`. No Terraform types.
//! - [`sim`]: `mrs-sim`, a faithful local MRS API (with IAM's project list, agency tokens and
//!   the metadata service) used by the demo and the tests.
//!
//! docs/architecture.md draws the layers and says where each kind of change goes.
//! - [`log`]: hclog-compatible JSON lines on stderr, which Terraform re-emits.
//! - [`shown`]: the one rule by which any value from outside enters a message (hidden
//!   characters escaped, long values cut); every layer uses it, it uses nothing.

pub mod api;
pub mod framework;
pub mod log;
pub mod protocol;
pub mod provider;
pub mod shown;
pub mod sim;
