//! The tfplugin6 Provider service: each RPC decodes its request, calls the framework, and
//! encodes the answer. Every user-facing failure travels as a diagnostic, never as a gRPC
//! error, so Terraform shows it to the person with its summary, detail and attribute line.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tonic::{Request, Response, Status};

use super::convert::{self, decode, encode};
use super::proto::tfplugin6 as pb;
use crate::framework::plan::plan_change;
use crate::framework::validate::validate_block;
use crate::framework::{
    AttributePath, DataSource, Diagnostics, Provider, Resource, Schema, Type, Value,
};
use crate::log::{self, Level};
use crate::{log_debug, log_trace};

type Reply<T> = Result<Response<T>, Status>;

fn reply<T>(t: T) -> Reply<T> {
    Ok(Response::new(t))
}

struct ResourceEntry {
    resource: Arc<dyn Resource>,
    ty: Type,
}

struct DataSourceEntry {
    data_source: Arc<dyn DataSource>,
    ty: Type,
}

struct Inner {
    provider: Arc<dyn Provider>,
    provider_ty: Type,
    resources: HashMap<String, ResourceEntry>,
    data_sources: HashMap<String, DataSourceEntry>,
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
    pub fn new(provider: Arc<dyn Provider>) -> Self {
        let mut resources = HashMap::new();
        let mut resource_schemas = HashMap::new();
        for r in provider.resources() {
            let name = r.type_name().to_string();
            resource_schemas.insert(name.clone(), convert::schema(r.schema()));
            resources.insert(
                name,
                ResourceEntry {
                    ty: r.schema().object_type(),
                    resource: r,
                },
            );
        }
        let mut data_sources = HashMap::new();
        let mut data_source_schemas = HashMap::new();
        for d in provider.data_sources() {
            let name = d.type_name().to_string();
            data_source_schemas.insert(name.clone(), convert::schema(d.schema()));
            data_sources.insert(
                name,
                DataSourceEntry {
                    ty: d.schema().object_type(),
                    data_source: d,
                },
            );
        }
        let mut resource_names: Vec<_> = resources.keys().cloned().collect();
        resource_names.sort();
        let mut ds_names: Vec<_> = data_sources.keys().cloned().collect();
        ds_names.sort();
        let metadata_response = pb::get_metadata::Response {
            server_capabilities: Some(capabilities()),
            diagnostics: vec![],
            data_sources: ds_names
                .into_iter()
                .map(|type_name| pb::get_metadata::DataSourceMetadata { type_name })
                .collect(),
            resources: resource_names
                .into_iter()
                .map(|type_name| pb::get_metadata::ResourceMetadata { type_name })
                .collect(),
            functions: vec![],
            ephemeral_resources: vec![],
        };
        let schema_response = pb::get_provider_schema::Response {
            provider: Some(convert::schema(provider.schema())),
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
                provider_ty: provider.schema().object_type(),
                provider,
                resources,
                data_sources,
                schema_response,
                metadata_response,
            }),
        }
    }

    fn resource(&self, name: &str) -> Result<&ResourceEntry, Diagnostics> {
        self.inner.resources.get(name).ok_or_else(|| {
            Diagnostics::single_error(
                "Unknown resource type",
                format!("This provider has no resource type {name:?}."),
            )
        })
    }

    fn data_source(&self, name: &str) -> Result<&DataSourceEntry, Diagnostics> {
        self.inner.data_sources.get(name).ok_or_else(|| {
            Diagnostics::single_error(
                "Unknown data source type",
                format!("This provider has no data source type {name:?}."),
            )
        })
    }
}

fn diags(d: &Diagnostics) -> Vec<pb::Diagnostic> {
    convert::diagnostics(d)
}

fn not_supported(what: &str) -> Vec<pb::Diagnostic> {
    diags(&Diagnostics::single_error(
        format!("{what} not supported"),
        format!("The mrs provider does not offer {what}."),
    ))
}

fn validate(
    schema: &Schema,
    config: &Value,
    hook: impl FnOnce(&Value, &mut Diagnostics),
) -> Diagnostics {
    let mut d = Diagnostics::new();
    validate_block(&schema.block, config, &AttributePath::root(), &mut d);
    hook(config, &mut d);
    d
}

/// One RPC being served, for the debug log: its name, the resource type it concerns and
/// how long it took. Request values are never logged: configurations carry credentials.
struct Call {
    rpc: &'static str,
    /// Only copied when debug logging is on.
    type_name: Option<String>,
    started: Instant,
}

impl Call {
    fn start(rpc: &'static str, type_name: &str) -> Call {
        Call {
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
        let call = Call::start("GetMetadata", "");
        let out = reply(self.inner.metadata_response.clone());
        call.finish(out)
    }

    async fn get_provider_schema(
        &self,
        _: Request<pb::get_provider_schema::Request>,
    ) -> Reply<pb::get_provider_schema::Response> {
        let call = Call::start("GetProviderSchema", "");
        let out = reply(self.inner.schema_response.clone());
        call.finish(out)
    }

    async fn validate_provider_config(
        &self,
        req: Request<pb::validate_provider_config::Request>,
    ) -> Reply<pb::validate_provider_config::Response> {
        let call = Call::start("ValidateProviderConfig", "");
        let out = {
            let req = req.into_inner();
            let p = &self.inner.provider;
            let d = match decode(
                req.config.as_ref(),
                &self.inner.provider_ty,
                "provider configuration",
            ) {
                Ok(config) => validate(p.schema(), &config, |c, d| p.validate_config(c, d)),
                Err(d) => d,
            };
            reply(pb::validate_provider_config::Response {
                diagnostics: diags(&d),
            })
        };
        call.finish(out)
    }

    async fn validate_resource_config(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> Reply<pb::validate_resource_config::Response> {
        let call = Call::start("ValidateResourceConfig", &req.get_ref().type_name);
        let out = {
            let req = req.into_inner();
            let d = self
                .resource(&req.type_name)
                .and_then(|e| {
                    let config = decode(req.config.as_ref(), &e.ty, "resource configuration")?;
                    Ok(validate(e.resource.schema(), &config, |c, d| {
                        e.resource.validate_config(c, d)
                    }))
                })
                .unwrap_or_else(|d| d);
            reply(pb::validate_resource_config::Response {
                diagnostics: diags(&d),
            })
        };
        call.finish(out)
    }

    async fn validate_data_resource_config(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> Reply<pb::validate_data_resource_config::Response> {
        let call = Call::start("ValidateDataResourceConfig", &req.get_ref().type_name);
        let out = {
            let req = req.into_inner();
            let d = self
                .data_source(&req.type_name)
                .and_then(|e| {
                    let config = decode(req.config.as_ref(), &e.ty, "data source configuration")?;
                    Ok(validate(e.data_source.schema(), &config, |c, d| {
                        e.data_source.validate_config(c, d)
                    }))
                })
                .unwrap_or_else(|d| d);
            reply(pb::validate_data_resource_config::Response {
                diagnostics: diags(&d),
            })
        };
        call.finish(out)
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> Reply<pb::upgrade_resource_state::Response> {
        let call = Call::start("UpgradeResourceState", &req.get_ref().type_name);
        let out = async move {
            let req = req.into_inner();
            let result = self.resource(&req.type_name).and_then(|e| {
                let raw = req.raw_state.unwrap_or_default();
                if raw.json.is_empty() && !raw.flatmap.is_empty() {
                    return Err(Diagnostics::single_error(
                        "Unsupported state format",
                        "The stored state is in the legacy flatmap format, which this provider never wrote.",
                    ));
                }
                let dv = pb::DynamicValue { msgpack: vec![], json: raw.json };
                let state = decode(Some(&dv), &e.ty, "stored state")?;
                let state = e.resource.upgrade_state(req.version, state)?;
                Ok(encode(&state.conform(&e.ty), &e.ty))
            });
            match result {
                Ok(v) => reply(pb::upgrade_resource_state::Response {
                    upgraded_state: Some(v),
                    diagnostics: vec![],
                }),
                Err(d) => reply(pb::upgrade_resource_state::Response {
                    upgraded_state: None,
                    diagnostics: diags(&d),
                }),
            }
        }
        .await;
        call.finish(out)
    }

    async fn get_resource_identity_schemas(
        &self,
        _: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Reply<pb::get_resource_identity_schemas::Response> {
        let call = Call::start("GetResourceIdentitySchemas", "");
        let out = reply(pb::get_resource_identity_schemas::Response::default());
        call.finish(out)
    }

    async fn upgrade_resource_identity(
        &self,
        req: Request<pb::upgrade_resource_identity::Request>,
    ) -> Reply<pb::upgrade_resource_identity::Response> {
        let call = Call::start("UpgradeResourceIdentity", &req.get_ref().type_name);
        let out = {
            reply(pb::upgrade_resource_identity::Response {
                upgraded_identity: None,
                diagnostics: not_supported("Resource identity"),
            })
        };
        call.finish(out)
    }

    async fn configure_provider(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> Reply<pb::configure_provider::Response> {
        let call = Call::start("ConfigureProvider", "");
        let out = async move {
            let req = req.into_inner();
            let d = match decode(
                req.config.as_ref(),
                &self.inner.provider_ty,
                "provider configuration",
            ) {
                Ok(config) => {
                    self.inner
                        .provider
                        .configure(&req.terraform_version, &config)
                        .await
                }
                Err(d) => d,
            };
            reply(pb::configure_provider::Response {
                diagnostics: diags(&d),
            })
        }
        .await;
        call.finish(out)
    }

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> Reply<pb::read_resource::Response> {
        let call = Call::start("ReadResource", &req.get_ref().type_name);
        let out = async move {
            let req = req.into_inner();
            let e = match self.resource(&req.type_name) {
                Ok(e) => e,
                Err(d) => {
                    return reply(pb::read_resource::Response {
                        diagnostics: diags(&d),
                        ..Default::default()
                    })
                }
            };
            let state = match decode(req.current_state.as_ref(), &e.ty, "current state") {
                Ok(s) => s,
                Err(d) => {
                    return reply(pb::read_resource::Response {
                        new_state: req.current_state,
                        diagnostics: diags(&d),
                        private: req.private,
                        ..Default::default()
                    })
                }
            };
            let out = e.resource.read(&state).await;
            reply(pb::read_resource::Response {
                new_state: Some(encode(&out.state.conform(&e.ty), &e.ty)),
                diagnostics: diags(&out.diags),
                private: req.private,
                deferred: None,
                new_identity: None,
            })
        }
        .await;
        call.finish(out)
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> Reply<pb::plan_resource_change::Response> {
        let call = Call::start("PlanResourceChange", &req.get_ref().type_name);
        let out = async move {
            let req = req.into_inner();
            let decoded = self.resource(&req.type_name).and_then(|e| {
                let prior = decode(req.prior_state.as_ref(), &e.ty, "prior state")?;
                let proposed =
                    decode(req.proposed_new_state.as_ref(), &e.ty, "proposed new state")?;
                let config = decode(req.config.as_ref(), &e.ty, "configuration")?;
                Ok((e, prior, proposed, config))
            });
            let (e, prior, proposed, config) = match decoded {
                Ok(x) => x,
                Err(d) => {
                    return reply(pb::plan_resource_change::Response {
                        diagnostics: diags(&d),
                        ..Default::default()
                    })
                }
            };
            let r = &e.resource;
            let out = plan_change(r.schema(), &prior, &proposed, &config, |planned, d| {
                r.modify_plan(&prior, &config, planned, d)
            });
            reply(pb::plan_resource_change::Response {
                planned_state: Some(encode(&out.planned.conform(&e.ty), &e.ty)),
                requires_replace: out.requires_replace.iter().map(convert::path).collect(),
                planned_private: req.prior_private,
                diagnostics: diags(&out.diags),
                legacy_type_system: false,
                deferred: None,
                planned_identity: None,
            })
        }
        .await;
        call.finish(out)
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> Reply<pb::apply_resource_change::Response> {
        let call = Call::start("ApplyResourceChange", &req.get_ref().type_name);
        let out = async move {
            let req = req.into_inner();
            let decoded = self.resource(&req.type_name).and_then(|e| {
                let prior = decode(req.prior_state.as_ref(), &e.ty, "prior state")?;
                let planned = decode(req.planned_state.as_ref(), &e.ty, "planned state")?;
                let config = decode(req.config.as_ref(), &e.ty, "configuration")?;
                Ok((e, prior, planned, config))
            });
            let (e, prior, planned, config) = match decoded {
                Ok(x) => x,
                Err(d) => {
                    // Nothing was done: the prior state is still the truth.
                    return reply(pb::apply_resource_change::Response {
                        new_state: req.prior_state,
                        diagnostics: diags(&d),
                        private: req.planned_private,
                        ..Default::default()
                    });
                }
            };
            let r = &e.resource;
            let out = if planned.is_null() {
                r.delete(&prior).await
            } else if prior.is_null() {
                r.create(&planned, &config).await
            } else {
                r.update(&prior, &planned, &config).await
            };
            reply(pb::apply_resource_change::Response {
                new_state: Some(encode(&out.state.conform(&e.ty), &e.ty)),
                private: req.planned_private,
                diagnostics: diags(&out.diags),
                legacy_type_system: false,
                new_identity: None,
            })
        }
        .await;
        call.finish(out)
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> Reply<pb::import_resource_state::Response> {
        let call = Call::start("ImportResourceState", &req.get_ref().type_name);
        let out = async move {
            let req = req.into_inner();
            let result = match self.resource(&req.type_name) {
                Ok(e) => e.resource.import(&req.id).await.map(|state| (e, state)),
                Err(d) => Err(d),
            };
            match result {
                Ok((e, state)) => reply(pb::import_resource_state::Response {
                    imported_resources: vec![pb::import_resource_state::ImportedResource {
                        type_name: req.type_name.clone(),
                        state: Some(encode(&state.conform(&e.ty), &e.ty)),
                        private: vec![],
                        identity: None,
                    }],
                    diagnostics: vec![],
                    deferred: None,
                }),
                Err(d) => reply(pb::import_resource_state::Response {
                    imported_resources: vec![],
                    diagnostics: diags(&d),
                    deferred: None,
                }),
            }
        }
        .await;
        call.finish(out)
    }

    async fn move_resource_state(
        &self,
        req: Request<pb::move_resource_state::Request>,
    ) -> Reply<pb::move_resource_state::Response> {
        let call = Call::start("MoveResourceState", &req.get_ref().target_type_name);
        let out = {
            reply(pb::move_resource_state::Response {
                diagnostics: not_supported("Moving resource state between types"),
                ..Default::default()
            })
        };
        call.finish(out)
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> Reply<pb::read_data_source::Response> {
        let call = Call::start("ReadDataSource", &req.get_ref().type_name);
        let out = async move {
            let req = req.into_inner();
            let result = self.data_source(&req.type_name).and_then(|e| {
                let config = decode(req.config.as_ref(), &e.ty, "data source configuration")?;
                Ok((e, config))
            });
            let (e, config) = match result {
                Ok(x) => x,
                Err(d) => {
                    return reply(pb::read_data_source::Response {
                        state: None,
                        diagnostics: diags(&d),
                        deferred: None,
                    })
                }
            };
            let out = e.data_source.read(&config).await;
            let state = if out.diags.has_errors() && out.state.is_null() {
                None
            } else {
                Some(encode(&out.state.conform(&e.ty), &e.ty))
            };
            reply(pb::read_data_source::Response {
                state,
                diagnostics: diags(&out.diags),
                deferred: None,
            })
        }
        .await;
        call.finish(out)
    }

    async fn validate_ephemeral_resource_config(
        &self,
        req: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Reply<pb::validate_ephemeral_resource_config::Response> {
        let call = Call::start("ValidateEphemeralResourceConfig", &req.get_ref().type_name);
        let out = {
            reply(pb::validate_ephemeral_resource_config::Response {
                diagnostics: not_supported("Ephemeral resources"),
            })
        };
        call.finish(out)
    }

    async fn open_ephemeral_resource(
        &self,
        req: Request<pb::open_ephemeral_resource::Request>,
    ) -> Reply<pb::open_ephemeral_resource::Response> {
        let call = Call::start("OpenEphemeralResource", &req.get_ref().type_name);
        let out = {
            reply(pb::open_ephemeral_resource::Response {
                diagnostics: not_supported("Ephemeral resources"),
                ..Default::default()
            })
        };
        call.finish(out)
    }

    async fn renew_ephemeral_resource(
        &self,
        req: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Reply<pb::renew_ephemeral_resource::Response> {
        let call = Call::start("RenewEphemeralResource", &req.get_ref().type_name);
        let out = {
            reply(pb::renew_ephemeral_resource::Response {
                diagnostics: not_supported("Ephemeral resources"),
                ..Default::default()
            })
        };
        call.finish(out)
    }

    async fn close_ephemeral_resource(
        &self,
        req: Request<pb::close_ephemeral_resource::Request>,
    ) -> Reply<pb::close_ephemeral_resource::Response> {
        let call = Call::start("CloseEphemeralResource", &req.get_ref().type_name);
        let out = {
            reply(pb::close_ephemeral_resource::Response {
                diagnostics: not_supported("Ephemeral resources"),
            })
        };
        call.finish(out)
    }

    async fn get_functions(
        &self,
        _: Request<pb::get_functions::Request>,
    ) -> Reply<pb::get_functions::Response> {
        let call = Call::start("GetFunctions", "");
        let out = reply(pb::get_functions::Response::default());
        call.finish(out)
    }

    async fn call_function(
        &self,
        req: Request<pb::call_function::Request>,
    ) -> Reply<pb::call_function::Response> {
        let call = Call::start("CallFunction", &req.get_ref().name);
        let out = {
            reply(pb::call_function::Response {
                result: None,
                error: Some(pb::FunctionError {
                    text: format!(
                        "The mrs provider has no function {:?}.",
                        req.into_inner().name
                    ),
                    function_argument: None,
                }),
            })
        };
        call.finish(out)
    }

    async fn stop_provider(
        &self,
        _: Request<pb::stop_provider::Request>,
    ) -> Reply<pb::stop_provider::Response> {
        let call = Call::start("StopProvider", "");
        let out = {
            self.inner.provider.stop();
            reply(pb::stop_provider::Response {
                error: String::new(),
            })
        };
        call.finish(out)
    }
}
