//! The RPC logic under the protocol layer, in framework values only: dispatch by type
//! name, validation, the plan order, which CRUD call an apply is, and what each answer
//! holds on failure (the split of terraform-plugin-framework's `fwserver`).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::diag::{AttributePath, Diagnostics};
use super::plan::{plan_change, PlanOutcome};
use super::resource::{ApplyOutcome, DataSource, Provider, ReadOutcome, Resource};
use super::schema::Schema;
use super::validate::validate_block;
use super::value::{Type, Value};

struct ResourceEntry {
    resource: Arc<dyn Resource>,
    ty: Type,
}

struct DataSourceEntry {
    data_source: Arc<dyn DataSource>,
    ty: Type,
}

/// A provider's resources and data sources by type name, and one method per RPC.
///
/// Every state it returns has every attribute of its type present (null where unset),
/// as Terraform requires.
pub struct FrameworkServer {
    provider: Arc<dyn Provider>,
    provider_name: String,
    provider_ty: Type,
    resources: BTreeMap<String, ResourceEntry>,
    data_sources: BTreeMap<String, DataSourceEntry>,
}

/// PlanResourceChange's values. A null `proposed_new_state` plans a destroy; a null
/// `prior_state` a create.
#[derive(Debug, Default)]
pub struct PlanRequest {
    pub prior_state: Value,
    pub proposed_new_state: Value,
    pub config: Value,
    /// What Terraform stored privately for the instance.
    pub prior_private: Vec<u8>,
}

/// ApplyResourceChange's values. A null `planned_state` deletes; a null `prior_state`
/// creates; otherwise it is an update.
#[derive(Debug, Default)]
pub struct ApplyRequest {
    pub prior_state: Value,
    pub planned_state: Value,
    pub config: Value,
    /// The private bytes the plan returned.
    pub planned_private: Vec<u8>,
}

/// ReadDataSource's answer.
#[derive(Debug, Default)]
pub struct DataSourceRead {
    /// `None` when the read failed without producing a state: Terraform then keeps no
    /// value rather than a null object it would check against the configuration.
    pub state: Option<Value>,
    pub diags: Diagnostics,
}

impl FrameworkServer {
    /// Indexes `provider`'s resources and data sources. `provider_name` (e.g. `mrs`)
    /// names the provider in messages about what it does not offer.
    pub fn new(provider: Arc<dyn Provider>, provider_name: &str) -> Self {
        let resources = provider
            .resources()
            .into_iter()
            .map(|resource| {
                let entry = ResourceEntry {
                    ty: resource.schema().object_type(),
                    resource,
                };
                (entry.resource.type_name().to_string(), entry)
            })
            .collect();
        let data_sources = provider
            .data_sources()
            .into_iter()
            .map(|data_source| {
                let entry = DataSourceEntry {
                    ty: data_source.schema().object_type(),
                    data_source,
                };
                (entry.data_source.type_name().to_string(), entry)
            })
            .collect();
        FrameworkServer {
            provider_ty: provider.schema().object_type(),
            provider,
            provider_name: provider_name.to_string(),
            resources,
            data_sources,
        }
    }

    pub fn provider_schema(&self) -> &Schema {
        self.provider.schema()
    }

    /// The type provider configurations decode to.
    pub fn provider_type(&self) -> &Type {
        &self.provider_ty
    }

    /// Every resource type's schema, by type name in order.
    pub fn resource_schemas(&self) -> impl Iterator<Item = (&str, &Schema)> {
        self.resources
            .iter()
            .map(|(name, e)| (name.as_str(), e.resource.schema()))
    }

    /// Every data source type's schema, by type name in order.
    pub fn data_source_schemas(&self) -> impl Iterator<Item = (&str, &Schema)> {
        self.data_sources
            .iter()
            .map(|(name, e)| (name.as_str(), e.data_source.schema()))
    }

    /// The type a resource's configurations and states decode to.
    pub fn resource_type(&self, type_name: &str) -> Result<&Type, Diagnostics> {
        self.resource(type_name).map(|e| &e.ty)
    }

    /// The type a data source's configurations and states decode to.
    pub fn data_source_type(&self, type_name: &str) -> Result<&Type, Diagnostics> {
        self.data_source(type_name).map(|e| &e.ty)
    }

    fn resource(&self, type_name: &str) -> Result<&ResourceEntry, Diagnostics> {
        self.resources.get(type_name).ok_or_else(|| {
            Diagnostics::single_error(
                "Unknown resource type",
                format!("This provider has no resource type {type_name:?}."),
            )
        })
    }

    fn data_source(&self, type_name: &str) -> Result<&DataSourceEntry, Diagnostics> {
        self.data_sources.get(type_name).ok_or_else(|| {
            Diagnostics::single_error(
                "Unknown data source type",
                format!("This provider has no data source type {type_name:?}."),
            )
        })
    }

    pub fn validate_provider_config(&self, config: &Value) -> Diagnostics {
        let p = &self.provider;
        validate(p.schema(), config, |c, d| p.validate_config(c, d))
    }

    pub fn validate_resource_config(&self, type_name: &str, config: &Value) -> Diagnostics {
        self.resource(type_name)
            .map(|e| {
                let r = &e.resource;
                validate(r.schema(), config, |c, d| r.validate_config(c, d))
            })
            .unwrap_or_else(|d| d)
    }

    pub fn validate_data_source_config(&self, type_name: &str, config: &Value) -> Diagnostics {
        self.data_source(type_name)
            .map(|e| {
                let ds = &e.data_source;
                validate(ds.schema(), config, |c, d| ds.validate_config(c, d))
            })
            .unwrap_or_else(|d| d)
    }

    /// A stored state written with schema `version`, already decoded with the current
    /// schema, as the current schema's state.
    pub fn upgrade_resource_state(
        &self,
        type_name: &str,
        version: i64,
        state: Value,
    ) -> Result<Value, Diagnostics> {
        let e = self.resource(type_name)?;
        let upgraded = e.resource.upgrade_state(version, state)?;
        Ok(upgraded.conform(&e.ty))
    }

    pub async fn configure_provider(&self, terraform_version: &str, config: &Value) -> Diagnostics {
        self.provider.configure(terraform_version, config).await
    }

    /// The resource's state as it is now (null when the object is gone), and the private
    /// bytes to store with it. On an unknown type the state is null and the diagnostics
    /// say why.
    pub async fn read_resource(
        &self,
        type_name: &str,
        current_state: &Value,
        private: &[u8],
    ) -> (ReadOutcome, Vec<u8>) {
        let mut private = private.to_vec();
        let e = match self.resource(type_name) {
            Ok(e) => e,
            Err(diags) => {
                let out = ReadOutcome {
                    state: Value::Null,
                    diags,
                };
                return (out, private);
            }
        };
        let out = e.resource.read(current_state, &mut private).await;
        let out = ReadOutcome {
            state: out.state.conform(&e.ty),
            diags: out.diags,
        };
        (out, private)
    }

    /// Plans in the framework's order (see [`plan_change`]), the resource's own
    /// `modify_plan` last, for destroys too (but not when nothing exists nor is proposed);
    /// with the planned private bytes, which the apply of this plan receives.
    pub async fn plan_resource_change(
        &self,
        type_name: &str,
        req: &PlanRequest,
    ) -> (PlanOutcome, Vec<u8>) {
        let mut private = req.prior_private.clone();
        let e = match self.resource(type_name) {
            Ok(e) => e,
            Err(diags) => {
                let out = PlanOutcome {
                    diags,
                    ..PlanOutcome::default()
                };
                return (out, private);
            }
        };
        let r = &e.resource;
        let mut out = plan_change(
            r.schema(),
            &req.prior_state,
            &req.proposed_new_state,
            &req.config,
        );
        let destroying = req.proposed_new_state.is_null();
        if !(destroying && req.prior_state.is_null()) {
            r.modify_plan(
                &req.prior_state,
                &req.config,
                &mut out.planned,
                &mut private,
                &mut out.diags,
            )
            .await;
            if destroying {
                out.planned = Value::Null;
            }
        }
        out.planned = std::mem::take(&mut out.planned).conform(&e.ty);
        (out, private)
    }

    /// Deletes, creates or updates as the states say, and returns the private bytes to
    /// store with the new state. A create that answers neither a state nor an error is
    /// an error: nothing would record what it made. On an unknown type nothing is done and the prior state
    /// is returned: it is still the truth.
    pub async fn apply_resource_change(
        &self,
        type_name: &str,
        req: &ApplyRequest,
    ) -> (ApplyOutcome, Vec<u8>) {
        let mut private = req.planned_private.clone();
        let e = match self.resource(type_name) {
            Ok(e) => e,
            Err(diags) => {
                let out = ApplyOutcome {
                    state: req.prior_state.clone(),
                    diags,
                };
                return (out, private);
            }
        };
        let r = &e.resource;
        if !req.planned_state.is_null() {
            // Values unknown at plan time (a set's unknown elements among them) are known
            // now: the attribute validators run again before the resource writes anything.
            let mut diags = Diagnostics::new();
            validate_block(
                &r.schema().block,
                &req.config,
                &AttributePath::root(),
                &mut diags,
            );
            if diags.has_errors() {
                let out = ApplyOutcome {
                    state: req.prior_state.clone(),
                    diags,
                };
                return (out, private);
            }
        }
        let out = if req.planned_state.is_null() {
            r.delete(&req.prior_state, &mut private).await
        } else if req.prior_state.is_null() {
            let mut out = r
                .create(&req.planned_state, &req.config, &mut private)
                .await;
            // Terraform would record nothing, while the object may exist remotely.
            if out.state.is_null() && !out.diags.has_errors() {
                out.diags.error(
                    "Missing Resource State After Create",
                    "The Terraform Provider unexpectedly returned no resource state after having no errors in the resource creation. This is always an issue in the Terraform Provider and should be reported to the provider developers.",
                );
            }
            out
        } else {
            r.update(
                &req.prior_state,
                &req.planned_state,
                &req.config,
                &mut private,
            )
            .await
        };
        let out = ApplyOutcome {
            state: out.state.conform(&e.ty),
            diags: out.diags,
        };
        (out, private)
    }

    /// The state of an existing object named by an import ID, and its private bytes.
    pub async fn import_resource_state(
        &self,
        type_name: &str,
        id: &str,
    ) -> Result<(Value, Vec<u8>), Diagnostics> {
        let e = self.resource(type_name)?;
        let mut private = Vec::new();
        let state = e.resource.import(id, &mut private).await?;
        Ok((state.conform(&e.ty), private))
    }

    pub async fn read_data_source(&self, type_name: &str, config: &Value) -> DataSourceRead {
        let e = match self.data_source(type_name) {
            Ok(e) => e,
            Err(diags) => return DataSourceRead { state: None, diags },
        };
        let out = e.data_source.read(config).await;
        let state = if out.diags.has_errors() && out.state.is_null() {
            None
        } else {
            Some(out.state.conform(&e.ty))
        };
        DataSourceRead {
            state,
            diags: out.diags,
        }
    }

    /// The answer to an RPC for a feature this framework does not offer, e.g.
    /// "Ephemeral resources".
    pub fn unsupported(&self, feature: &str) -> Diagnostics {
        Diagnostics::single_error(
            format!("{feature} not supported"),
            format!(
                "The {} provider does not offer {feature}.",
                self.provider_name
            ),
        )
    }

    /// The error text of CallFunction: the provider has no functions.
    pub fn unknown_function(&self, name: &str) -> String {
        format!(
            "The {} provider has no function {name:?}.",
            self.provider_name
        )
    }

    /// Terraform asked to stop: in-flight operations should end promptly.
    pub fn stop(&self) {
        self.provider.stop();
    }
}

/// The schema's own validators first, then the type's cross-attribute checks.
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::framework::plan::{requires_replace, use_state_for_unknown};
    use crate::framework::schema::{Attribute, Block, NestedBlock, Nesting};
    use crate::framework::validate::not_empty;

    const RESOURCE: &str = "test_thing";
    const DATA_SOURCE: &str = "test_lookup";

    /// A resource whose every answer says which call produced it.
    struct Thing {
        schema: Schema,
    }

    impl Thing {
        fn new() -> Self {
            let timeouts = Block::new("").attribute(
                Attribute::string("create")
                    .optional()
                    .default_value(Value::string("10m")),
            );
            Thing {
                schema: Schema::new(
                    1,
                    Block::new("a thing")
                        .attribute(
                            Attribute::string("id")
                                .computed()
                                .plan_modifier(use_state_for_unknown()),
                        )
                        .attribute(
                            Attribute::string("name")
                                .required()
                                .validator(not_empty())
                                .plan_modifier(requires_replace()),
                        )
                        .attribute(
                            Attribute::bool("flag")
                                .optional()
                                .default_value(Value::Bool(false)),
                        )
                        .block(NestedBlock {
                            type_name: "timeouts".into(),
                            block: timeouts,
                            nesting: Nesting::Single,
                            min_items: 0,
                            max_items: 0,
                        }),
                ),
            }
        }
    }

    fn with_id(state: &Value, id: &str) -> Value {
        let mut state = state.clone();
        state.set_attr("id", Value::string(id));
        state
    }

    #[async_trait]
    impl Resource for Thing {
        fn type_name(&self) -> &str {
            RESOURCE
        }

        fn schema(&self) -> &Schema {
            &self.schema
        }

        fn validate_config(&self, config: &Value, diags: &mut Diagnostics) {
            if config.get("name").as_str() == Some("forbidden") {
                diags.error("Forbidden name", "");
            }
        }

        async fn modify_plan(
            &self,
            prior: &Value,
            _config: &Value,
            planned: &mut Value,
            private: &mut Vec<u8>,
            diags: &mut Diagnostics,
        ) {
            if planned.get("name").as_str() == Some("remember") {
                private.extend_from_slice(b"+planned");
            }
            if planned.is_null() {
                match prior.get("name").as_str() {
                    Some("protected") => {
                        diags.error("Protected", "this thing may not be destroyed")
                    }
                    // A hook that writes a destroy plan anyway: the server keeps it null.
                    Some("scribble") => {
                        *planned = Value::string("scribbled");
                        diags.warning("Scribbled", "the plan was written on");
                    }
                    _ => {}
                }
                return;
            }
            if prior.is_null() {
                if let Some(name) = planned.get("name").as_str() {
                    let id = format!("id-{name}");
                    planned.set_attr("id", Value::string(id));
                }
            }
        }

        async fn create(
            &self,
            planned: &Value,
            _config: &Value,
            private: &mut Vec<u8>,
        ) -> ApplyOutcome {
            if planned.get("name").as_str() == Some("remember") {
                private.extend_from_slice(b"+created");
            }
            if planned.get("name").as_str() == Some("vanish") {
                return ApplyOutcome::default();
            }
            ApplyOutcome {
                state: Value::object([("id", Value::string("created"))]).merged_with(planned),
                diags: Diagnostics::new(),
            }
        }

        async fn read(&self, state: &Value, _private: &mut Vec<u8>) -> ReadOutcome {
            let gone = state.get("name").as_str() == Some("gone");
            ReadOutcome {
                state: if gone { Value::Null } else { state.clone() },
                diags: Diagnostics::new(),
            }
        }

        async fn update(
            &self,
            _prior: &Value,
            planned: &Value,
            _config: &Value,
            _private: &mut Vec<u8>,
        ) -> ApplyOutcome {
            ApplyOutcome {
                state: with_id(planned, "updated"),
                diags: Diagnostics::new(),
            }
        }

        async fn delete(&self, _prior: &Value, _private: &mut Vec<u8>) -> ApplyOutcome {
            ApplyOutcome::default()
        }

        async fn import(&self, id: &str, private: &mut Vec<u8>) -> Result<Value, Diagnostics> {
            private.extend_from_slice(format!("imported {id}").as_bytes());
            Ok(Value::object([("id", Value::string(id))]))
        }
    }

    trait MergedWith {
        fn merged_with(self, base: &Value) -> Value;
    }

    impl MergedWith for Value {
        /// `base` with this object's attributes laid over it.
        fn merged_with(self, base: &Value) -> Value {
            let mut out = base.clone();
            if let Value::Object(m) = self {
                for (k, v) in m {
                    out.set_attr(&k, v);
                }
            }
            out
        }
    }

    struct Lookup {
        schema: Schema,
    }

    #[async_trait]
    impl DataSource for Lookup {
        fn type_name(&self) -> &str {
            DATA_SOURCE
        }

        fn schema(&self) -> &Schema {
            &self.schema
        }

        async fn read(&self, config: &Value) -> ReadOutcome {
            let key = config.get("key").as_str().unwrap_or_default().to_string();
            let mut out = ReadOutcome::default();
            match key.as_str() {
                "fail" => out.diags.error("Lookup failed", ""),
                "fail-with-state" => {
                    out.diags.error("Lookup failed", "");
                    out.state = Value::object([("key", Value::string(key))]);
                }
                _ => {
                    out.state = Value::object([
                        ("key", Value::string(&key)),
                        ("value", Value::string(key.to_uppercase())),
                    ])
                }
            }
            out
        }
    }

    struct TestProvider {
        schema: Schema,
        stopped: Arc<AtomicBool>,
    }

    #[async_trait]
    impl Provider for TestProvider {
        fn schema(&self) -> &Schema {
            &self.schema
        }

        fn validate_config(&self, config: &Value, diags: &mut Diagnostics) {
            if config.get("region").as_str() == Some("moon") {
                diags.error("No such region", "");
            }
        }

        async fn configure(&self, terraform_version: &str, _config: &Value) -> Diagnostics {
            let mut d = Diagnostics::new();
            d.warning("Configured", terraform_version);
            d
        }

        fn resources(&self) -> Vec<Arc<dyn Resource>> {
            vec![Arc::new(Thing::new())]
        }

        fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
            vec![Arc::new(Lookup {
                schema: Schema::new(
                    0,
                    Block::new("a lookup")
                        .attribute(Attribute::string("key").required().validator(not_empty()))
                        .attribute(Attribute::string("value").computed()),
                ),
            })]
        }

        fn stop(&self) {
            self.stopped.store(true, Ordering::SeqCst);
        }
    }

    fn server() -> (FrameworkServer, Arc<AtomicBool>) {
        let stopped = Arc::new(AtomicBool::new(false));
        let provider = TestProvider {
            schema: Schema::new(
                0,
                Block::new("p").attribute(
                    Attribute::string("region")
                        .optional()
                        .validator(not_empty()),
                ),
            ),
            stopped: stopped.clone(),
        };
        (FrameworkServer::new(Arc::new(provider), "test"), stopped)
    }

    /// A `test_thing` object; `timeouts` null when `create` is `None`.
    fn thing(id: Value, name: Value, flag: Value, create: Option<Value>) -> Value {
        let timeouts = match create {
            Some(c) => Value::object([("create", c)]),
            None => Value::Null,
        };
        Value::object([
            ("id", id),
            ("name", name),
            ("flag", flag),
            ("timeouts", timeouts),
        ])
    }

    fn config(name: Value) -> Value {
        thing(Value::Null, name, Value::Null, None)
    }

    fn s(text: &str) -> Value {
        Value::string(text)
    }

    fn summaries(d: &Diagnostics) -> Vec<String> {
        d.iter().map(|x| x.summary.clone()).collect()
    }

    #[tokio::test]
    async fn unknown_type_names_are_diagnostics_in_every_rpc() {
        let (fw, _) = server();
        let any = config(s("a"));
        let unknown_resource = "Unknown resource type".to_string();
        let unknown_data = "Unknown data source type".to_string();

        let cases: Vec<(&str, Diagnostics, &String)> = vec![
            (
                "resource_type",
                fw.resource_type("nope").unwrap_err(),
                &unknown_resource,
            ),
            (
                "validate resource",
                fw.validate_resource_config("nope", &any),
                &unknown_resource,
            ),
            (
                "upgrade",
                fw.upgrade_resource_state("nope", 0, any.clone())
                    .unwrap_err(),
                &unknown_resource,
            ),
            (
                "read resource",
                fw.read_resource("nope", &any, b"").await.0.diags,
                &unknown_resource,
            ),
            (
                "plan",
                fw.plan_resource_change("nope", &PlanRequest::default())
                    .await
                    .0
                    .diags,
                &unknown_resource,
            ),
            (
                "import",
                fw.import_resource_state("nope", "x").await.unwrap_err(),
                &unknown_resource,
            ),
            (
                "a data source is not a resource",
                fw.validate_resource_config(DATA_SOURCE, &any),
                &unknown_resource,
            ),
            (
                "data_source_type",
                fw.data_source_type("nope").unwrap_err(),
                &unknown_data,
            ),
            (
                "validate data source",
                fw.validate_data_source_config("nope", &any),
                &unknown_data,
            ),
            (
                "read data source",
                fw.read_data_source("nope", &any).await.diags,
                &unknown_data,
            ),
            (
                "a resource is not a data source",
                fw.validate_data_source_config(RESOURCE, &any),
                &unknown_data,
            ),
        ];
        for (name, d, want) in cases {
            assert_eq!(summaries(&d), vec![want.clone()], "{name}");
            assert!(d.has_errors(), "{name}");
        }

        // An apply for an unknown type does nothing and keeps the prior state.
        let prior = thing(s("i"), s("a"), Value::Bool(false), None);
        let (out, private) = fw
            .apply_resource_change(
                "nope",
                &ApplyRequest {
                    prior_state: prior.clone(),
                    planned_private: b"kept".to_vec(),
                    ..ApplyRequest::default()
                },
            )
            .await;
        assert_eq!(out.state, prior);
        assert_eq!(private, b"kept");
        assert_eq!(summaries(&out.diags), vec![unknown_resource]);
        assert!(fw.read_data_source("nope", &any).await.state.is_none());
    }

    #[test]
    fn validate_table() {
        let (fw, _) = server();
        let cases = [
            ("good", config(s("a")), vec![]),
            ("null config", Value::Null, vec![]),
            ("unknown config", Value::Unknown, vec![]),
            ("unknown name", config(Value::Unknown), vec![]),
            (
                "missing name",
                config(Value::Null),
                vec!["Missing required argument"],
            ),
            ("empty name", config(s("")), vec!["Empty string"]),
            ("hook", config(s("forbidden")), vec!["Forbidden name"]),
        ];
        for (name, config, want) in cases {
            let d = fw.validate_resource_config(RESOURCE, &config);
            assert_eq!(summaries(&d), want, "{name}");
        }

        let ds = |key: Value| Value::object([("key", key), ("value", Value::Null)]);
        let cases = [
            ("good", ds(s("k")), vec![]),
            ("unknown", ds(Value::Unknown), vec![]),
            ("null config", Value::Null, vec![]),
            ("empty", ds(s("")), vec!["Empty string"]),
        ];
        for (name, config, want) in cases {
            let d = fw.validate_data_source_config(DATA_SOURCE, &config);
            assert_eq!(summaries(&d), want, "data source {name}");
        }

        let region = |r: Value| Value::object([("region", r)]);
        let cases = [
            ("good", region(s("eu")), vec![]),
            ("unknown", region(Value::Unknown), vec![]),
            ("null", Value::Null, vec![]),
            ("empty", region(s("")), vec!["Empty string"]),
            ("hook", region(s("moon")), vec!["No such region"]),
        ];
        for (name, config, want) in cases {
            let d = fw.validate_provider_config(&config);
            assert_eq!(summaries(&d), want, "provider {name}");
        }
    }

    #[tokio::test]
    async fn plan_table() {
        let (fw, _) = server();
        let f = Value::Bool(false);
        let n = || Value::Null;
        let existing = thing(s("id-a"), s("a"), f.clone(), None);
        struct Case {
            name: &'static str,
            prior: Value,
            proposed: Value,
            config: Value,
            planned: Value,
            replace: Vec<AttributePath>,
            errors: Vec<&'static str>,
        }
        let cases = [
            Case {
                name: "create: defaults, then the hook fills the id",
                prior: n(),
                proposed: config(s("a")),
                config: config(s("a")),
                planned: thing(s("id-a"), s("a"), f.clone(), None),
                replace: vec![],
                errors: vec![],
            },
            Case {
                name: "create with an unknown name leaves the id unknown",
                prior: n(),
                proposed: config(Value::Unknown),
                config: config(Value::Unknown),
                planned: thing(Value::Unknown, Value::Unknown, f.clone(), None),
                replace: vec![],
                errors: vec![],
            },
            Case {
                name: "no change plans the prior state",
                prior: existing.clone(),
                proposed: existing.clone(),
                config: config(s("a")),
                planned: existing.clone(),
                replace: vec![],
                errors: vec![],
            },
            Case {
                name: "a changed name replaces; the id keeps its prior value",
                prior: existing.clone(),
                proposed: thing(s("id-a"), s("b"), f.clone(), None),
                config: config(s("b")),
                planned: thing(s("id-a"), s("b"), f.clone(), None),
                replace: vec![AttributePath::attr("name")],
                errors: vec![],
            },
            Case {
                name: "an unknown name replaces",
                prior: existing.clone(),
                proposed: thing(s("id-a"), Value::Unknown, f.clone(), None),
                config: config(Value::Unknown),
                planned: thing(s("id-a"), Value::Unknown, f.clone(), None),
                replace: vec![AttributePath::attr("name")],
                errors: vec![],
            },
            Case {
                name: "the timeouts block gets its default",
                prior: existing.clone(),
                proposed: thing(s("id-a"), s("a"), f.clone(), Some(n())),
                config: thing(n(), s("a"), n(), Some(n())),
                planned: thing(s("id-a"), s("a"), f.clone(), Some(s("10m"))),
                replace: vec![],
                errors: vec![],
            },
            Case {
                name: "destroy plans null",
                prior: existing.clone(),
                proposed: n(),
                config: n(),
                planned: n(),
                replace: vec![],
                errors: vec![],
            },
            Case {
                name: "destroy still asks the resource, which may refuse",
                prior: thing(s("id-p"), s("protected"), f.clone(), None),
                proposed: n(),
                config: n(),
                planned: n(),
                replace: vec![],
                errors: vec!["Protected"],
            },
            Case {
                name: "destroy plans null whatever the resource writes",
                prior: thing(s("id-s"), s("scribble"), f.clone(), None),
                proposed: n(),
                config: n(),
                planned: n(),
                replace: vec![],
                errors: vec!["Scribbled"],
            },
            Case {
                name: "nothing to plan asks no resource",
                prior: n(),
                proposed: n(),
                config: n(),
                planned: n(),
                replace: vec![],
                errors: vec![],
            },
        ];
        for c in cases {
            let (out, private) = fw
                .plan_resource_change(
                    RESOURCE,
                    &PlanRequest {
                        prior_state: c.prior,
                        proposed_new_state: c.proposed,
                        config: c.config,
                        prior_private: b"prior".to_vec(),
                    },
                )
                .await;
            assert_eq!(private, b"prior", "{}: left as it was", c.name);
            assert_eq!(out.planned, c.planned, "{}", c.name);
            assert_eq!(out.requires_replace, c.replace, "{}", c.name);
            assert_eq!(summaries(&out.diags), c.errors, "{}", c.name);
        }
    }

    #[tokio::test]
    async fn apply_table() {
        let (fw, _) = server();
        let f = Value::Bool(false);
        let a = thing(s("id-a"), s("a"), f.clone(), None);
        let b = thing(s("id-a"), s("b"), f.clone(), None);
        // What the fake resource answers for each call; timeouts present though it left
        // them out: the server fills every attribute.
        let created = thing(s("created"), s("a"), f.clone(), None);
        let cases = [
            ("create", Value::Null, a.clone(), created),
            ("update", a.clone(), b.clone(), with_id(&b, "updated")),
            ("delete", a.clone(), Value::Null, Value::Null),
        ];
        for (name, prior, planned, want) in cases {
            let mut planned_partial = planned.clone();
            if let Value::Object(m) = &mut planned_partial {
                m.remove("timeouts");
            }
            let (out, private) = fw
                .apply_resource_change(
                    RESOURCE,
                    &ApplyRequest {
                        prior_state: prior,
                        planned_state: planned_partial,
                        config: Value::Null,
                        planned_private: b"planned".to_vec(),
                    },
                )
                .await;
            assert_eq!(private, b"planned", "{name}: left as it was");
            assert_eq!(out.state, want, "{name}");
            assert!(out.diags.is_empty(), "{name}");
        }
    }

    #[tokio::test]
    async fn a_create_without_state_or_error_is_an_error() {
        let (fw, _) = server();
        let vanish = thing(s("id-v"), s("vanish"), Value::Bool(false), None);
        let (out, _) = fw
            .apply_resource_change(
                RESOURCE,
                &ApplyRequest {
                    prior_state: Value::Null,
                    planned_state: vanish,
                    config: config(s("vanish")),
                    planned_private: Vec::new(),
                },
            )
            .await;
        assert!(out.state.is_null());
        assert_eq!(
            summaries(&out.diags),
            vec!["Missing Resource State After Create"]
        );
        assert!(out.diags.has_errors());
    }

    #[tokio::test]
    async fn private_bytes_flow_from_plan_to_apply() {
        let (fw, _) = server();
        let remember = config(s("remember"));
        let (plan, private) = fw
            .plan_resource_change(
                RESOURCE,
                &PlanRequest {
                    prior_state: Value::Null,
                    proposed_new_state: remember.clone(),
                    config: remember.clone(),
                    prior_private: Vec::new(),
                },
            )
            .await;
        assert_eq!(private, b"+planned");
        let (_, private) = fw
            .apply_resource_change(
                RESOURCE,
                &ApplyRequest {
                    prior_state: Value::Null,
                    planned_state: plan.planned,
                    config: remember,
                    planned_private: private,
                },
            )
            .await;
        assert_eq!(private, b"+planned+created");
    }

    #[tokio::test]
    async fn read_import_and_upgrade_answer_whole_states() {
        let (fw, _) = server();
        let whole = |id: &str, name: Value| thing(s(id), name, Value::Null, None);
        let partial = Value::object([("id", s("i")), ("name", s("a"))]);

        let (read, private) = fw.read_resource(RESOURCE, &partial, b"p").await;
        assert_eq!(read.state, whole("i", s("a")));
        assert_eq!(
            private, b"p",
            "a read that leaves the private bytes keeps them"
        );
        let gone = Value::object([("name", s("gone"))]);
        assert!(fw
            .read_resource(RESOURCE, &gone, b"")
            .await
            .0
            .state
            .is_null());

        let (imported, private) = fw.import_resource_state(RESOURCE, "x-1").await.unwrap();
        assert_eq!(imported, whole("x-1", Value::Null));
        assert_eq!(private, b"imported x-1");

        let cases = [
            ("older", 0, Ok(whole("i", s("a")))),
            ("current", 1, Ok(whole("i", s("a")))),
            (
                "newer",
                2,
                Err(vec!["State from a newer provider".to_string()]),
            ),
        ];
        for (name, version, want) in cases {
            let got = fw
                .upgrade_resource_state(RESOURCE, version, partial.clone())
                .map_err(|d| summaries(&d));
            assert_eq!(got, want, "{name}");
        }
    }

    #[tokio::test]
    async fn data_source_read_table() {
        let (fw, _) = server();
        let key = |k: &str| Value::object([("key", s(k))]);
        let cases = [
            (
                "found",
                "k",
                Some(Value::object([("key", s("k")), ("value", s("K"))])),
                vec![],
            ),
            (
                "failed without a state: no state at all",
                "fail",
                None,
                vec!["Lookup failed"],
            ),
            (
                "failed with a state: the state is kept",
                "fail-with-state",
                Some(Value::object([
                    ("key", s("fail-with-state")),
                    ("value", Value::Null),
                ])),
                vec!["Lookup failed"],
            ),
        ];
        for (name, k, want_state, want_errors) in cases {
            let out = fw.read_data_source(DATA_SOURCE, &key(k)).await;
            assert_eq!(out.state, want_state, "{name}");
            assert_eq!(summaries(&out.diags), want_errors, "{name}");
        }
    }

    #[tokio::test]
    async fn provider_level_calls() {
        let (fw, stopped) = server();
        let names: Vec<&str> = fw.resource_schemas().map(|(n, _)| n).collect();
        assert_eq!(names, vec![RESOURCE]);
        let names: Vec<&str> = fw.data_source_schemas().map(|(n, _)| n).collect();
        assert_eq!(names, vec![DATA_SOURCE]);
        assert_eq!(fw.provider_type(), &fw.provider_schema().object_type());
        assert_eq!(
            fw.resource_type(RESOURCE).unwrap(),
            &Thing::new().schema.object_type()
        );

        let d = fw
            .configure_provider("1.0.3", &Value::object([("region", s("eu"))]))
            .await;
        assert_eq!(d.iter().next().map(|x| x.detail.as_str()), Some("1.0.3"));

        let d = fw.unsupported("Ephemeral resources");
        assert_eq!(summaries(&d), vec!["Ephemeral resources not supported"]);
        assert!(d.iter().all(|x| x.detail.contains("The test provider")));
        assert!(fw
            .unknown_function("f")
            .contains("The test provider has no function \"f\""));

        assert!(!stopped.load(Ordering::SeqCst));
        fw.stop();
        assert!(stopped.load(Ordering::SeqCst));
    }
}
