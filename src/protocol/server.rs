//! The tfplugin6 Provider service: each RPC decodes its request, calls the framework, and
//! encodes the answer. Every user-facing failure travels as a diagnostic, never as a gRPC
//! error, so Terraform shows it to the person with its summary, detail and attribute line.

use std::collections::HashMap;
use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert::{self, decode, encode};
use super::proto::tfplugin6 as pb;
use crate::framework::plan::plan_change;
use crate::framework::validate::validate_block;
use crate::framework::{
    AttributePath, DataSource, Diagnostics, Provider, Resource, Schema, Type, Value,
};

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

#[tonic::async_trait]
impl pb::provider_server::Provider for ProviderService {
    async fn get_metadata(
        &self,
        _: Request<pb::get_metadata::Request>,
    ) -> Reply<pb::get_metadata::Response> {
        reply(self.inner.metadata_response.clone())
    }

    async fn get_provider_schema(
        &self,
        _: Request<pb::get_provider_schema::Request>,
    ) -> Reply<pb::get_provider_schema::Response> {
        reply(self.inner.schema_response.clone())
    }

    async fn validate_provider_config(
        &self,
        req: Request<pb::validate_provider_config::Request>,
    ) -> Reply<pb::validate_provider_config::Response> {
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
    }

    async fn validate_resource_config(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> Reply<pb::validate_resource_config::Response> {
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
    }

    async fn validate_data_resource_config(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> Reply<pb::validate_data_resource_config::Response> {
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
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> Reply<pb::upgrade_resource_state::Response> {
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

    async fn get_resource_identity_schemas(
        &self,
        _: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Reply<pb::get_resource_identity_schemas::Response> {
        reply(pb::get_resource_identity_schemas::Response::default())
    }

    async fn upgrade_resource_identity(
        &self,
        _: Request<pb::upgrade_resource_identity::Request>,
    ) -> Reply<pb::upgrade_resource_identity::Response> {
        reply(pb::upgrade_resource_identity::Response {
            upgraded_identity: None,
            diagnostics: not_supported("Resource identity"),
        })
    }

    async fn configure_provider(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> Reply<pb::configure_provider::Response> {
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

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> Reply<pb::read_resource::Response> {
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

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> Reply<pb::plan_resource_change::Response> {
        let req = req.into_inner();
        let decoded = self.resource(&req.type_name).and_then(|e| {
            let prior = decode(req.prior_state.as_ref(), &e.ty, "prior state")?;
            let proposed = decode(req.proposed_new_state.as_ref(), &e.ty, "proposed new state")?;
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

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> Reply<pb::apply_resource_change::Response> {
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

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> Reply<pb::import_resource_state::Response> {
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

    async fn move_resource_state(
        &self,
        _: Request<pb::move_resource_state::Request>,
    ) -> Reply<pb::move_resource_state::Response> {
        reply(pb::move_resource_state::Response {
            diagnostics: not_supported("Moving resource state between types"),
            ..Default::default()
        })
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> Reply<pb::read_data_source::Response> {
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

    async fn validate_ephemeral_resource_config(
        &self,
        _: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Reply<pb::validate_ephemeral_resource_config::Response> {
        reply(pb::validate_ephemeral_resource_config::Response {
            diagnostics: not_supported("Ephemeral resources"),
        })
    }

    async fn open_ephemeral_resource(
        &self,
        _: Request<pb::open_ephemeral_resource::Request>,
    ) -> Reply<pb::open_ephemeral_resource::Response> {
        reply(pb::open_ephemeral_resource::Response {
            diagnostics: not_supported("Ephemeral resources"),
            ..Default::default()
        })
    }

    async fn renew_ephemeral_resource(
        &self,
        _: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Reply<pb::renew_ephemeral_resource::Response> {
        reply(pb::renew_ephemeral_resource::Response {
            diagnostics: not_supported("Ephemeral resources"),
            ..Default::default()
        })
    }

    async fn close_ephemeral_resource(
        &self,
        _: Request<pb::close_ephemeral_resource::Request>,
    ) -> Reply<pb::close_ephemeral_resource::Response> {
        reply(pb::close_ephemeral_resource::Response {
            diagnostics: not_supported("Ephemeral resources"),
        })
    }

    async fn get_functions(
        &self,
        _: Request<pb::get_functions::Request>,
    ) -> Reply<pb::get_functions::Response> {
        reply(pb::get_functions::Response::default())
    }

    async fn call_function(
        &self,
        req: Request<pb::call_function::Request>,
    ) -> Reply<pb::call_function::Response> {
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
    }

    async fn stop_provider(
        &self,
        _: Request<pb::stop_provider::Request>,
    ) -> Reply<pb::stop_provider::Response> {
        self.inner.provider.stop();
        reply(pb::stop_provider::Response {
            error: String::new(),
        })
    }
}
