//! The tfplugin6 Provider service: each RPC decodes its request, calls the framework
//! server, and encodes the answer; the logic lives in [`crate::framework::server`]. Every
//! user-facing failure travels as a diagnostic, never as a gRPC error, so Terraform shows
//! it to the person with its summary, detail and attribute line.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tonic::{Request, Response, Status};

use super::convert::{self, decode, encode};
use super::proto::tfplugin6 as pb;
use crate::framework::server::{ApplyRequest, FrameworkServer, PlanRequest};
use crate::framework::{Diagnostics, Schema};
use crate::log::{self, Level};
use crate::{log_debug, log_trace};

type Reply<T> = Result<Response<T>, Status>;

fn reply<T>(t: T) -> Reply<T> {
    Ok(Response::new(t))
}

struct Inner {
    server: FrameworkServer,
    schema_response: pb::get_provider_schema::Response,
    metadata_response: pb::get_metadata::Response,
}

/// The gRPC face of a framework provider.
#[derive(Clone)]
pub struct ProviderService {
    inner: Arc<Inner>,
}

fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: true,
        get_provider_schema_optional: true,
        move_resource_state: false,
    }
}

impl ProviderService {
    /// Serves `server`; its schemas are converted once here, as Terraform asks for them
    /// in every process.
    pub fn new(server: FrameworkServer) -> Self {
        let resource_schemas: HashMap<_, _> = server
            .resource_schemas()
            .map(|(name, s)| (name.to_string(), convert::schema(s)))
            .collect();
        let data_source_schemas: HashMap<_, _> = server
            .data_source_schemas()
            .map(|(name, s)| (name.to_string(), convert::schema(s)))
            .collect();
        let metadata_response = pb::get_metadata::Response {
            server_capabilities: Some(capabilities()),
            diagnostics: vec![],
            data_sources: server
                .data_source_schemas()
                .map(|(name, _)| pb::get_metadata::DataSourceMetadata {
                    type_name: name.to_string(),
                })
                .collect(),
            resources: server
                .resource_schemas()
                .map(|(name, _)| pb::get_metadata::ResourceMetadata {
                    type_name: name.to_string(),
                })
                .collect(),
            functions: vec![],
            ephemeral_resources: vec![],
        };
        let schema_response = pb::get_provider_schema::Response {
            provider: Some(convert::schema(server.provider_schema())),
            resource_schemas,
            data_source_schemas,
            functions: HashMap::new(),
            ephemeral_resource_schemas: HashMap::new(),
            diagnostics: vec![],
            provider_meta: Some(convert::schema(&Schema::default())),
            server_capabilities: Some(capabilities()),
        };
        ProviderService {
            inner: Arc::new(Inner {
                server,
                schema_response,
                metadata_response,
            }),
        }
    }

    fn fw(&self) -> &FrameworkServer {
        &self.inner.server
    }

    fn unsupported(&self, feature: &str) -> Vec<pb::Diagnostic> {
        diags(&self.fw().unsupported(feature))
    }
}

fn diags(d: &Diagnostics) -> Vec<pb::Diagnostic> {
    convert::diagnostics(d)
}

/// One RPC being served, for the debug log: its name, the resource type it concerns and
/// how long it took. Request values are never logged: configurations carry credentials.
struct ServedRpc {
    rpc: &'static str,
    /// Only copied when debug logging is on.
    type_name: Option<String>,
    started: Instant,
}

/// RPCs whose `type_name` names a data source rather than a resource.
const DATA_SOURCE_RPCS: [&str; 2] = ["ValidateDataResourceConfig", "ReadDataSource"];

/// The span every gRPC request runs in (tonic's `trace_fn`), with the fields
/// terraform-plugin-go puts on its RPC loggers, so each line logged while serving it
/// says which RPC, which provider and which request. At ERROR level because a span's
/// level is only its filter: its fields belong on every line written inside it.
pub fn rpc_span(req: &tonic::codegen::http::Request<()>, provider_addr: &str) -> tracing::Span {
    let path = req.uri().path();
    let rpc = path.rsplit('/').next().unwrap_or(path);
    tracing::error_span!(
        "rpc",
        tf_rpc = rpc,
        tf_provider_addr = provider_addr,
        tf_req_id = %request_id(),
        tf_resource_type = tracing::field::Empty,
        tf_data_source_type = tracing::field::Empty,
    )
}

/// A random version-4 UUID, as terraform-plugin-go gives each request; only made when
/// logging is on.
fn request_id() -> String {
    let (a, b) = (fastrand::u64(..), fastrand::u64(..));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

impl ServedRpc {
    fn start(rpc: &'static str, type_name: &str) -> ServedRpc {
        if log::enabled(Level::Error) && !type_name.is_empty() {
            let key = if DATA_SOURCE_RPCS.contains(&rpc) {
                "tf_data_source_type"
            } else {
                "tf_resource_type"
            };
            tracing::Span::current().record(key, type_name);
        }
        ServedRpc {
            rpc,
            type_name: (log::enabled(Level::Debug) && !type_name.is_empty())
                .then(|| type_name.to_string()),
            started: Instant::now(),
        }
    }

    fn finish<T: Diagnosed>(self, out: Reply<T>) -> Reply<T> {
        if !log::enabled(Level::Debug) {
            return out;
        }
        let elapsed_ms = format!("{:.3}", self.started.elapsed().as_secs_f64() * 1e3);
        match &self.type_name {
            Some(t) => log_debug!(
                "RPC served",
                rpc = self.rpc,
                type_name = t,
                elapsed_ms = elapsed_ms
            ),
            None => log_debug!("RPC served", rpc = self.rpc, elapsed_ms = elapsed_ms),
        }
        if let Ok(resp) = &out {
            let (total, errors) = resp.get_ref().diagnostic_counts();
            log_trace!(
                "RPC diagnostics",
                rpc = self.rpc,
                diagnostics = total,
                errors = errors
            );
        }
        out
    }
}

/// A response that carries diagnostics (or, for a few RPCs, a single error text).
trait Diagnosed {
    /// (all diagnostics, errors among them).
    fn diagnostic_counts(&self) -> (usize, usize);
}

fn count(d: &[pb::Diagnostic]) -> (usize, usize) {
    let errors = d
        .iter()
        .filter(|x| x.severity == pb::diagnostic::Severity::Error as i32)
        .count();
    (d.len(), errors)
}

macro_rules! diagnosed {
    ($($m:ident),* $(,)?) => {
        $(impl Diagnosed for pb::$m::Response {
            fn diagnostic_counts(&self) -> (usize, usize) {
                count(&self.diagnostics)
            }
        })*
    };
}

diagnosed!(
    get_metadata,
    get_provider_schema,
    validate_provider_config,
    validate_resource_config,
    validate_data_resource_config,
    upgrade_resource_state,
    get_resource_identity_schemas,
    upgrade_resource_identity,
    configure_provider,
    read_resource,
    plan_resource_change,
    apply_resource_change,
    import_resource_state,
    move_resource_state,
    read_data_source,
    validate_ephemeral_resource_config,
    open_ephemeral_resource,
    renew_ephemeral_resource,
    close_ephemeral_resource,
    get_functions,
);

impl Diagnosed for pb::call_function::Response {
    fn diagnostic_counts(&self) -> (usize, usize) {
        let n = usize::from(self.error.is_some());
        (n, n)
    }
}

impl Diagnosed for pb::stop_provider::Response {
    fn diagnostic_counts(&self) -> (usize, usize) {
        let n = usize::from(!self.error.is_empty());
        (n, n)
    }
}

#[tonic::async_trait]
impl pb::provider_server::Provider for ProviderService {
    async fn get_metadata(
        &self,
        _: Request<pb::get_metadata::Request>,
    ) -> Reply<pb::get_metadata::Response> {
        let rpc = ServedRpc::start("GetMetadata", "");
        rpc.finish(reply(self.inner.metadata_response.clone()))
    }

    async fn get_provider_schema(
        &self,
        _: Request<pb::get_provider_schema::Request>,
    ) -> Reply<pb::get_provider_schema::Response> {
        let rpc = ServedRpc::start("GetProviderSchema", "");
        rpc.finish(reply(self.inner.schema_response.clone()))
    }

    async fn validate_provider_config(
        &self,
        req: Request<pb::validate_provider_config::Request>,
    ) -> Reply<pb::validate_provider_config::Response> {
        let rpc = ServedRpc::start("ValidateProviderConfig", "");
        let req = req.into_inner();
        let fw = self.fw();
        let d = decode(
            req.config.as_ref(),
            fw.provider_type(),
            "provider configuration",
        )
        .map(|config| fw.validate_provider_config(&config))
        .unwrap_or_else(|d| d);
        rpc.finish(reply(pb::validate_provider_config::Response {
            diagnostics: diags(&d),
        }))
    }

    async fn validate_resource_config(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> Reply<pb::validate_resource_config::Response> {
        let rpc = ServedRpc::start("ValidateResourceConfig", &req.get_ref().type_name);
        let req = req.into_inner();
        let fw = self.fw();
        let d = fw
            .resource_type(&req.type_name)
            .and_then(|ty| decode(req.config.as_ref(), ty, "resource configuration"))
            .map(|config| fw.validate_resource_config(&req.type_name, &config))
            .unwrap_or_else(|d| d);
        rpc.finish(reply(pb::validate_resource_config::Response {
            diagnostics: diags(&d),
        }))
    }

    async fn validate_data_resource_config(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> Reply<pb::validate_data_resource_config::Response> {
        let rpc = ServedRpc::start("ValidateDataResourceConfig", &req.get_ref().type_name);
        let req = req.into_inner();
        let fw = self.fw();
        let d = fw
            .data_source_type(&req.type_name)
            .and_then(|ty| decode(req.config.as_ref(), ty, "data source configuration"))
            .map(|config| fw.validate_data_source_config(&req.type_name, &config))
            .unwrap_or_else(|d| d);
        rpc.finish(reply(pb::validate_data_resource_config::Response {
            diagnostics: diags(&d),
        }))
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> Reply<pb::upgrade_resource_state::Response> {
        let rpc = ServedRpc::start("UpgradeResourceState", &req.get_ref().type_name);
        let req = req.into_inner();
        let fw = self.fw();
        let upgraded = fw.resource_type(&req.type_name).and_then(|ty| {
            let raw = req.raw_state.unwrap_or_default();
            if raw.json.is_empty() && !raw.flatmap.is_empty() {
                return Err(Diagnostics::single_error(
                    "Unsupported state format",
                    "The stored state is in the legacy flatmap format, which this provider never wrote.",
                ));
            }
            let dv = pb::DynamicValue { msgpack: vec![], json: raw.json };
            let state = decode(Some(&dv), ty, "stored state")?;
            let state = fw.upgrade_resource_state(&req.type_name, req.version, state)?;
            Ok(encode(&state, ty))
        });
        rpc.finish(reply(match upgraded {
            Ok(v) => pb::upgrade_resource_state::Response {
                upgraded_state: Some(v),
                diagnostics: vec![],
            },
            Err(d) => pb::upgrade_resource_state::Response {
                upgraded_state: None,
                diagnostics: diags(&d),
            },
        }))
    }

    async fn get_resource_identity_schemas(
        &self,
        _: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Reply<pb::get_resource_identity_schemas::Response> {
        let rpc = ServedRpc::start("GetResourceIdentitySchemas", "");
        rpc.finish(reply(pb::get_resource_identity_schemas::Response::default()))
    }

    async fn upgrade_resource_identity(
        &self,
        req: Request<pb::upgrade_resource_identity::Request>,
    ) -> Reply<pb::upgrade_resource_identity::Response> {
        let rpc = ServedRpc::start("UpgradeResourceIdentity", &req.get_ref().type_name);
        rpc.finish(reply(pb::upgrade_resource_identity::Response {
            upgraded_identity: None,
            diagnostics: self.unsupported("Resource identity"),
        }))
    }

    async fn configure_provider(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> Reply<pb::configure_provider::Response> {
        let rpc = ServedRpc::start("ConfigureProvider", "");
        let req = req.into_inner();
        let fw = self.fw();
        let d = match decode(
            req.config.as_ref(),
            fw.provider_type(),
            "provider configuration",
        ) {
            Ok(config) => fw.configure_provider(&req.terraform_version, &config).await,
            Err(d) => d,
        };
        rpc.finish(reply(pb::configure_provider::Response {
            diagnostics: diags(&d),
        }))
    }

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> Reply<pb::read_resource::Response> {
        let rpc = ServedRpc::start("ReadResource", &req.get_ref().type_name);
        let req = req.into_inner();
        let fw = self.fw();
        let ty = match fw.resource_type(&req.type_name) {
            Ok(ty) => ty,
            Err(d) => {
                return rpc.finish(reply(pb::read_resource::Response {
                    diagnostics: diags(&d),
                    ..Default::default()
                }))
            }
        };
        let resp = match decode(req.current_state.as_ref(), ty, "current state") {
            // Undecodable: hand Terraform back exactly what it sent.
            Err(d) => pb::read_resource::Response {
                new_state: req.current_state,
                diagnostics: diags(&d),
                private: req.private,
                ..Default::default()
            },
            Ok(state) => {
                let (out, private) = fw.read_resource(&req.type_name, &state, &req.private).await;
                pb::read_resource::Response {
                    new_state: Some(encode(&out.state, ty)),
                    diagnostics: diags(&out.diags),
                    private,
                    deferred: None,
                    new_identity: None,
                }
            }
        };
        rpc.finish(reply(resp))
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> Reply<pb::plan_resource_change::Response> {
        let rpc = ServedRpc::start("PlanResourceChange", &req.get_ref().type_name);
        let req = req.into_inner();
        let fw = self.fw();
        let decoded = fw.resource_type(&req.type_name).and_then(|ty| {
            let plan = PlanRequest {
                prior_state: decode(req.prior_state.as_ref(), ty, "prior state")?,
                proposed_new_state: decode(
                    req.proposed_new_state.as_ref(),
                    ty,
                    "proposed new state",
                )?,
                config: decode(req.config.as_ref(), ty, "configuration")?,
                prior_private: req.prior_private.clone(),
            };
            Ok((ty, plan))
        });
        let resp = match decoded {
            Err(d) => pb::plan_resource_change::Response {
                diagnostics: diags(&d),
                ..Default::default()
            },
            Ok((ty, plan)) => {
                let (out, planned_private) = fw.plan_resource_change(&req.type_name, &plan).await;
                pb::plan_resource_change::Response {
                    planned_state: Some(encode(&out.planned, ty)),
                    requires_replace: out.requires_replace.iter().map(convert::path).collect(),
                    planned_private,
                    diagnostics: diags(&out.diags),
                    legacy_type_system: false,
                    deferred: None,
                    planned_identity: None,
                }
            }
        };
        rpc.finish(reply(resp))
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> Reply<pb::apply_resource_change::Response> {
        let rpc = ServedRpc::start("ApplyResourceChange", &req.get_ref().type_name);
        let req = req.into_inner();
        let fw = self.fw();
        let decoded = fw.resource_type(&req.type_name).and_then(|ty| {
            let apply = ApplyRequest {
                prior_state: decode(req.prior_state.as_ref(), ty, "prior state")?,
                planned_state: decode(req.planned_state.as_ref(), ty, "planned state")?,
                config: decode(req.config.as_ref(), ty, "configuration")?,
                planned_private: req.planned_private.clone(),
            };
            Ok((ty, apply))
        });
        let resp = match decoded {
            // Nothing was done: the prior state is still the truth.
            Err(d) => pb::apply_resource_change::Response {
                new_state: req.prior_state,
                diagnostics: diags(&d),
                private: req.planned_private,
                ..Default::default()
            },
            Ok((ty, apply)) => {
                let (out, private) = fw.apply_resource_change(&req.type_name, &apply).await;
                pb::apply_resource_change::Response {
                    new_state: Some(encode(&out.state, ty)),
                    private,
                    diagnostics: diags(&out.diags),
                    legacy_type_system: false,
                    new_identity: None,
                }
            }
        };
        rpc.finish(reply(resp))
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> Reply<pb::import_resource_state::Response> {
        let rpc = ServedRpc::start("ImportResourceState", &req.get_ref().type_name);
        let req = req.into_inner();
        let fw = self.fw();
        let imported = match fw.resource_type(&req.type_name) {
            Ok(ty) => fw
                .import_resource_state(&req.type_name, &req.id)
                .await
                .map(|(state, private)| (encode(&state, ty), private)),
            Err(d) => Err(d),
        };
        rpc.finish(reply(match imported {
            Ok((state, private)) => pb::import_resource_state::Response {
                imported_resources: vec![pb::import_resource_state::ImportedResource {
                    type_name: req.type_name,
                    state: Some(state),
                    private,
                    identity: None,
                }],
                diagnostics: vec![],
                deferred: None,
            },
            Err(d) => pb::import_resource_state::Response {
                imported_resources: vec![],
                diagnostics: diags(&d),
                deferred: None,
            },
        }))
    }

    async fn move_resource_state(
        &self,
        req: Request<pb::move_resource_state::Request>,
    ) -> Reply<pb::move_resource_state::Response> {
        let rpc = ServedRpc::start("MoveResourceState", &req.get_ref().target_type_name);
        rpc.finish(reply(pb::move_resource_state::Response {
            diagnostics: self.unsupported("Moving resource state between types"),
            ..Default::default()
        }))
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> Reply<pb::read_data_source::Response> {
        let rpc = ServedRpc::start("ReadDataSource", &req.get_ref().type_name);
        let req = req.into_inner();
        let fw = self.fw();
        let decoded = fw.data_source_type(&req.type_name).and_then(|ty| {
            let config = decode(req.config.as_ref(), ty, "data source configuration")?;
            Ok((ty, config))
        });
        let resp = match decoded {
            Err(d) => pb::read_data_source::Response {
                state: None,
                diagnostics: diags(&d),
                deferred: None,
            },
            Ok((ty, config)) => {
                let out = fw.read_data_source(&req.type_name, &config).await;
                pb::read_data_source::Response {
                    state: out.state.map(|state| encode(&state, ty)),
                    diagnostics: diags(&out.diags),
                    deferred: None,
                }
            }
        };
        rpc.finish(reply(resp))
    }

    async fn validate_ephemeral_resource_config(
        &self,
        req: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Reply<pb::validate_ephemeral_resource_config::Response> {
        let rpc = ServedRpc::start("ValidateEphemeralResourceConfig", &req.get_ref().type_name);
        rpc.finish(reply(pb::validate_ephemeral_resource_config::Response {
            diagnostics: self.unsupported("Ephemeral resources"),
        }))
    }

    async fn open_ephemeral_resource(
        &self,
        req: Request<pb::open_ephemeral_resource::Request>,
    ) -> Reply<pb::open_ephemeral_resource::Response> {
        let rpc = ServedRpc::start("OpenEphemeralResource", &req.get_ref().type_name);
        rpc.finish(reply(pb::open_ephemeral_resource::Response {
            diagnostics: self.unsupported("Ephemeral resources"),
            ..Default::default()
        }))
    }

    async fn renew_ephemeral_resource(
        &self,
        req: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Reply<pb::renew_ephemeral_resource::Response> {
        let rpc = ServedRpc::start("RenewEphemeralResource", &req.get_ref().type_name);
        rpc.finish(reply(pb::renew_ephemeral_resource::Response {
            diagnostics: self.unsupported("Ephemeral resources"),
            ..Default::default()
        }))
    }

    async fn close_ephemeral_resource(
        &self,
        req: Request<pb::close_ephemeral_resource::Request>,
    ) -> Reply<pb::close_ephemeral_resource::Response> {
        let rpc = ServedRpc::start("CloseEphemeralResource", &req.get_ref().type_name);
        rpc.finish(reply(pb::close_ephemeral_resource::Response {
            diagnostics: self.unsupported("Ephemeral resources"),
        }))
    }

    async fn get_functions(
        &self,
        _: Request<pb::get_functions::Request>,
    ) -> Reply<pb::get_functions::Response> {
        let rpc = ServedRpc::start("GetFunctions", "");
        rpc.finish(reply(pb::get_functions::Response::default()))
    }

    async fn call_function(
        &self,
        req: Request<pb::call_function::Request>,
    ) -> Reply<pb::call_function::Response> {
        let rpc = ServedRpc::start("CallFunction", &req.get_ref().name);
        rpc.finish(reply(pb::call_function::Response {
            result: None,
            error: Some(pb::FunctionError {
                text: self.fw().unknown_function(&req.into_inner().name),
                function_argument: None,
            }),
        }))
    }

    async fn stop_provider(
        &self,
        _: Request<pb::stop_provider::Request>,
    ) -> Reply<pb::stop_provider::Response> {
        let rpc = ServedRpc::start("StopProvider", "");
        self.fw().stop();
        rpc.finish(reply(pb::stop_provider::Response {
            error: String::new(),
        }))
    }
}
