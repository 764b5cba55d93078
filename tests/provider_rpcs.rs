//! Every RPC of the tfplugin6 Provider service against the real provider binary over
//! AutoMTLS, and mrs-sim behind it where an RPC reaches the API: metadata and schemas,
//! validation with attribute paths, configure, plan, apply, read, import, the data
//! source, state upgrades, the RPCs the provider does not support, StopProvider, and
//! malformed DynamicValues, which must come back as diagnostics while the provider keeps
//! serving. User-facing failures must arrive as diagnostics: a gRPC error here is a bug,
//! so every call unwraps the transport result with `expect`.

mod common;

use std::collections::HashMap;

use common::rpc::*;
use common::sim::{Sim, PROJECT, REGION};
use common::tfplugin6 as pb;
use common::{check, serving, start_provider, StartOptions, EXIT_TIMEOUT};

#[tokio::test]
async fn get_metadata_lists_capabilities_and_types() {
    let p = start_provider(StartOptions::mtls()).await;
    let m = p
        .provider()
        .get_metadata(pb::get_metadata::Request {})
        .await
        .expect("GetMetadata")
        .into_inner();
    let caps = m.server_capabilities.expect("capabilities");
    assert!(caps.plan_destroy);
    assert!(caps.get_provider_schema_optional);
    assert!(m.diagnostics.is_empty(), "{:?}", m.diagnostics);
    let resources: Vec<_> = m.resources.iter().map(|r| r.type_name.as_str()).collect();
    let data_sources: Vec<_> = m
        .data_sources
        .iter()
        .map(|r| r.type_name.as_str())
        .collect();
    // Every type the provider registers, in order, whatever their number.
    assert_eq!(resources, resource_type_names());
    assert_eq!(data_sources, data_source_type_names());
    assert!(resources.contains(&"mrs_iam_sync"));
    assert!(data_sources.contains(&"mrs_iam_sync_users"));
    assert!(m.functions.is_empty());
    assert!(m.ephemeral_resources.is_empty());
}

#[tokio::test]
async fn get_provider_schema_has_json_types_sensitive_keys_and_timeouts() {
    let p = start_provider(StartOptions::mtls()).await;
    let s = p
        .provider()
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .expect("GetProviderSchema")
        .into_inner();
    assert!(s.diagnostics.is_empty(), "{:?}", s.diagnostics);
    let caps = s.server_capabilities.expect("capabilities");
    assert!(caps.plan_destroy && caps.get_provider_schema_optional);

    let attrs = |schema: &pb::Schema| -> HashMap<String, pb::schema::Attribute> {
        let block = schema.block.as_ref().expect("block");
        for a in &block.attributes {
            let t: serde_json::Value = serde_json::from_slice(&a.r#type)
                .unwrap_or_else(|e| panic!("type of {} is not JSON: {e}", a.name));
            assert!(t.is_string() || t.is_array(), "{}: {t}", a.name);
            assert!(!a.description.is_empty(), "{} has no description", a.name);
        }
        block
            .attributes
            .iter()
            .map(|a| (a.name.clone(), a.clone()))
            .collect()
    };
    let provider = attrs(s.provider.as_ref().expect("provider schema"));
    for secret in ["access_key", "secret_key", "security_token"] {
        assert!(provider[secret].sensitive, "{secret} must be sensitive");
        assert!(provider[secret].optional);
    }
    for plain in [
        "region",
        "project_id",
        "endpoints",
        "insecure",
        "max_retries",
    ] {
        assert!(!provider[plain].sensitive, "{plain}");
    }
    assert_eq!(provider["endpoints"].r#type, br#"["map","string"]"#);
    assert_eq!(provider["max_retries"].r#type, br#""number""#);

    let r = &s.resource_schemas["mrs_iam_sync"];
    let ra = attrs(r);
    assert_eq!(ra["cluster_id"].r#type, br#""string""#);
    assert!(ra["cluster_id"].required);
    assert_eq!(ra["user_names"].r#type, br#"["set","string"]"#);
    assert_eq!(ra["is_all_sync"].r#type, br#""bool""#);
    assert!(
        !ra.contains_key("id"),
        "the location attributes are the identity"
    );
    assert!(ra["region"].optional && ra["region"].computed);
    let block = r.block.as_ref().unwrap();
    let timeouts = block
        .block_types
        .iter()
        .find(|b| b.type_name == "timeouts")
        .expect("timeouts block");
    assert_eq!(
        timeouts.nesting,
        pb::schema::nested_block::NestingMode::Single as i32
    );
    let mut ops: Vec<_> = timeouts
        .block
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .map(|a| {
            assert_eq!(a.r#type, br#""string""#);
            assert!(a.optional);
            a.name.as_str()
        })
        .collect();
    ops.sort();
    assert_eq!(ops, ["create", "delete", "update"]);

    let d = attrs(&s.data_source_schemas["mrs_iam_sync_users"]);
    assert!(d["cluster_id"].required);
    assert!(d["is_synchronizing"].computed);
    assert_eq!(d["group_names"].r#type, br#"["set","string"]"#);
}

#[tokio::test]
async fn validate_provider_config_checks_known_values() {
    let p = start_provider(bare_options()).await;
    let mut c = p.provider();
    let validate = |config: Value| {
        let mut c = c.clone();
        async move {
            c.validate_provider_config(pb::validate_provider_config::Request {
                config: dv(&config, &provider_ty()),
            })
            .await
            .expect("ValidateProviderConfig answers")
            .into_inner()
            .diagnostics
        }
    };
    let good = validate(object(&[
        ("region", Value::string(REGION)),
        ("project_id", Value::string(PROJECT)),
    ]))
    .await;
    no_errors(&good, "good provider config");
    // Nothing set is valid at validation time: the environment may supply it later.
    no_errors(&validate(object(&[])).await, "empty provider config");
    let bad = validate(object(&[("project_id", Value::string("not-valid!"))])).await;
    assert!(has_error_at(&bad, "project_id"), "{bad:#?}");
    let unknown = validate(object(&[
        ("project_id", Value::Unknown),
        ("region", Value::Unknown),
    ]))
    .await;
    no_errors(&unknown, "unknown provider config");
    metadata_still_served(&mut c).await;
}

#[tokio::test]
async fn validate_resource_config_points_at_bad_attribute_and_accepts_unknowns() {
    let p = start_provider(bare_options()).await;
    let mut c = p.provider();
    let validate = |config: Option<pb::DynamicValue>, type_name: &str| {
        let mut c = c.clone();
        let type_name = type_name.to_string();
        async move {
            c.validate_resource_config(pb::validate_resource_config::Request {
                type_name,
                config,
                client_capabilities: None,
            })
            .await
            .expect("ValidateResourceConfig answers")
            .into_inner()
            .diagnostics
        }
    };
    let ty = resource_ty();
    no_errors(
        &validate(dv(&sync_config("c1", &["alice"]), &ty), "mrs_iam_sync").await,
        "good config",
    );

    let bad = validate(
        dv(&sync_config("c 1/../x", &["alice"]), &ty),
        "mrs_iam_sync",
    )
    .await;
    assert!(has_error_at(&bad, "cluster_id"), "{bad:#?}");
    let e = errors(&bad);
    assert_eq!(e.len(), 1, "{bad:#?}");
    assert!(!e[0].summary.is_empty());

    // Timeouts are checked inside their block, with the nested path.
    let mut with_timeout = sync_config("c1", &["alice"]);
    with_attr(
        &mut with_timeout,
        "timeouts",
        object(&[("create", Value::string("soon"))]),
    );
    let d = validate(dv(&with_timeout, &ty), "mrs_iam_sync").await;
    assert!(has_error_at(&d, "timeouts.create"), "{d:#?}");

    // Unknown values: plain (d4 00 00), refined (extension 12, "not null"; and "not
    // null, prefix c-"), a wholly unknown set and a set with an unknown element.
    for raw_unknown in [
        &[0xd4, 0x00, 0x00][..],
        &[0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc3][..],
        &[0xc7, 0x07, 0x0c, 0x82, 0x01, 0xc3, 0x02, 0xa2, b'c', b'-'][..],
    ] {
        let d = validate(
            raw(&resource_config_with_raw_cluster_id(raw_unknown)),
            "mrs_iam_sync",
        )
        .await;
        assert!(d.is_empty(), "unknown {raw_unknown:02x?}: {d:#?}");
    }
    let all_unknown = object(&[
        ("cluster_id", Value::Unknown),
        ("user_names", Value::Unknown),
        ("group_names", set_with_one_unknown_element()),
        ("is_all_sync", Value::Unknown),
        ("project_id", Value::Unknown),
        ("region", Value::Unknown),
    ]);
    let d = validate(dv(&all_unknown, &ty), "mrs_iam_sync").await;
    assert!(d.is_empty(), "{d:#?}");

    // Nothing to sync is an error without a path (the resource header line).
    let d = validate(
        dv(&object(&[("cluster_id", Value::string("c1"))]), &ty),
        "mrs_iam_sync",
    )
    .await;
    assert_eq!(errors(&d).len(), 1, "{d:#?}");

    let d = validate(dv(&sync_config("c1", &["a"]), &ty), "mrs_nonexistent").await;
    assert_eq!(errors(&d).len(), 1, "{d:#?}");
    assert!(errors(&d)[0].summary.contains("Unknown resource type"));
    metadata_still_served(&mut c).await;
}

#[tokio::test]
async fn validate_data_resource_config() {
    let p = start_provider(bare_options()).await;
    let mut c = p.provider();
    let ty = data_ty();
    let validate = |config: Value, type_name: &'static str| {
        let mut c = c.clone();
        let config = dv(&config, &ty);
        async move {
            c.validate_data_resource_config(pb::validate_data_resource_config::Request {
                type_name: type_name.into(),
                config,
            })
            .await
            .expect("ValidateDataResourceConfig answers")
            .into_inner()
            .diagnostics
        }
    };
    let good = object(&[("cluster_id", Value::string("c1"))]);
    no_errors(&validate(good.clone(), "mrs_iam_sync_users").await, "good");
    let unknown = object(&[("cluster_id", Value::Unknown), ("region", Value::Unknown)]);
    assert!(validate(unknown, "mrs_iam_sync_users").await.is_empty());
    let bad = validate(
        object(&[
            ("cluster_id", Value::string("has space")),
            ("project_id", Value::string("p-1")),
        ]),
        "mrs_iam_sync_users",
    )
    .await;
    assert!(has_error_at(&bad, "cluster_id"), "{bad:#?}");
    assert!(has_error_at(&bad, "project_id"), "{bad:#?}");
    let d = validate(good, "mrs_iam_sync").await;
    assert!(
        errors(&d)[0].summary.contains("Unknown data source type"),
        "{d:#?}"
    );
    metadata_still_served(&mut c).await;
}

#[tokio::test]
async fn configure_provider_without_credentials_points_at_access_key() {
    let p = start_provider(bare_options()).await;
    let mut c = p.provider();
    let d = configure(&mut c, &object(&[("region", Value::string(REGION))])).await;
    assert!(has_error_at(&d, "access_key"), "{d:#?}");
    let d = configure(
        &mut c,
        &object(&[
            ("region", Value::string(REGION)),
            ("access_key", Value::string("AK")),
        ]),
    )
    .await;
    assert!(has_error_at(&d, "secret_key"), "{d:#?}");
    // No region and no endpoint: pointed at region.
    let d = configure(
        &mut c,
        &object(&[
            ("access_key", Value::string("AK")),
            ("secret_key", Value::string("SK")),
        ]),
    )
    .await;
    assert!(has_error_at(&d, "region"), "{d:#?}");
    // The secret never comes back in a diagnostic.
    for x in &d {
        assert!(
            !x.detail.contains("SK\"") && !x.summary.contains("SK\""),
            "{x:?}"
        );
    }
    // Not configured: using a resource is a diagnostic, not a crash.
    let r = c
        .import_resource_state(pb::import_resource_state::Request {
            type_name: "mrs_iam_sync".into(),
            id: "p1/c1".into(),
            ..Default::default()
        })
        .await
        .expect("ImportResourceState answers")
        .into_inner();
    assert!(r.imported_resources.is_empty());
    assert_eq!(errors(&r.diagnostics).len(), 1, "{:#?}", r.diagnostics);
}

/// A sync test: a simulator, a provider configured against it in its own runtime, and
/// the simulator's blocking helpers called outside that runtime.
struct SimHarness {
    rt: tokio::runtime::Runtime,
    p: common::RunningProvider,
    c: Client,
    sim: Sim,
}

impl SimHarness {
    fn start() -> Self {
        // Only c1 and c2 exist, so a read of another cluster finds it gone.
        let sim = Sim::start(&["--clusters", "c1,c2"]);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (p, c) = Self::provider(&rt, &sim);
        SimHarness { rt, p, c, sim }
    }

    /// A configured provider process. Region and project from the provider configuration;
    /// keys and endpoint from the environment (as HW_* variables).
    fn provider(rt: &tokio::runtime::Runtime, sim: &Sim) -> (common::RunningProvider, Client) {
        let p = rt.block_on(start_provider(sim_options(sim)));
        let mut c = p.provider();
        let d = rt.block_on(configure(
            &mut c,
            &object(&[
                ("region", Value::string(REGION)),
                ("project_id", Value::string(PROJECT)),
            ]),
        ));
        assert!(d.is_empty(), "configuring against mrs-sim: {d:#?}");
        (p, c)
    }

    /// The next graph walk: as Terraform does, a new provider process, configured.
    fn next_walk(&mut self) {
        let (p, c) = Self::provider(&self.rt, &self.sim);
        self.p = p;
        self.c = c;
    }

    fn plan(&self, prior: &Value, config: &Value) -> pb::plan_resource_change::Response {
        let ty = resource_ty();
        // For a create Terraform proposes the configuration itself; for a destroy, null.
        let proposed = if config.is_null() {
            Value::Null
        } else {
            config.clone()
        };
        let mut c = self.c.clone();
        self.rt
            .block_on(c.plan_resource_change(pb::plan_resource_change::Request {
                type_name: "mrs_iam_sync".into(),
                prior_state: dv(prior, &ty),
                proposed_new_state: dv(&proposed, &ty),
                config: dv(config, &ty),
                ..Default::default()
            }))
            .expect("PlanResourceChange answers")
            .into_inner()
    }

    fn apply(
        &self,
        prior: &Value,
        planned: Option<pb::DynamicValue>,
        config: &Value,
    ) -> pb::apply_resource_change::Response {
        self.apply_with_private(prior, planned, config, Vec::new())
    }

    /// ApplyResourceChange with the private bytes Terraform keeps for the object.
    fn apply_with_private(
        &self,
        prior: &Value,
        planned: Option<pb::DynamicValue>,
        config: &Value,
        planned_private: Vec<u8>,
    ) -> pb::apply_resource_change::Response {
        let ty = resource_ty();
        let mut c = self.c.clone();
        self.rt
            .block_on(c.apply_resource_change(pb::apply_resource_change::Request {
                type_name: "mrs_iam_sync".into(),
                prior_state: dv(prior, &ty),
                planned_state: planned,
                config: dv(config, &ty),
                planned_private,
                ..Default::default()
            }))
            .expect("ApplyResourceChange answers")
            .into_inner()
    }

    fn import(&self, id: &str) -> pb::import_resource_state::Response {
        let mut c = self.c.clone();
        self.rt
            .block_on(c.import_resource_state(pb::import_resource_state::Request {
                type_name: "mrs_iam_sync".into(),
                id: id.into(),
                ..Default::default()
            }))
            .expect("ImportResourceState answers")
            .into_inner()
    }
}

#[test]
fn plan_create_computes_defaults_from_provider_and_destroy_plans_null() {
    let h = SimHarness::start();
    let ty = resource_ty();
    let config = sync_config("c1", &["alice"]);
    let plan = h.plan(&Value::Null, &config);
    assert!(plan.diagnostics.is_empty(), "{:#?}", plan.diagnostics);
    let planned = decoded(&plan.planned_state, &ty);
    assert_eq!(planned.get("region"), &Value::string(REGION));
    assert_eq!(planned.get("project_id"), &Value::string(PROJECT));
    assert_eq!(planned.get("cluster_id"), &Value::string("c1"));
    assert_eq!(planned.get("user_names"), &string_set(["alice"]));
    assert_eq!(planned.get("group_names"), &Value::Null);
    assert_eq!(planned.get("is_all_sync"), &Value::Bool(false));
    assert!(plan.requires_replace.is_empty());

    // An unknown cluster stays unknown, but the provider's defaults are known.
    let mut unknown_cluster = config.clone();
    with_attr(&mut unknown_cluster, "cluster_id", Value::Unknown);
    let plan = h.plan(&Value::Null, &unknown_cluster);
    assert!(plan.diagnostics.is_empty(), "{:#?}", plan.diagnostics);
    let planned2 = decoded(&plan.planned_state, &ty);
    assert_eq!(planned2.get("cluster_id"), &Value::Unknown);
    assert_eq!(planned2.get("project_id"), &Value::string(PROJECT));

    // Destroy: planned state is null.
    let destroy = h.plan(&planned, &Value::Null);
    assert!(destroy.diagnostics.is_empty(), "{:#?}", destroy.diagnostics);
    assert_eq!(decoded(&destroy.planned_state, &ty), Value::Null);

    // Changing the cluster of an existing resource forces replacement.
    let moved = h.plan(&planned, &sync_config("c2", &["alice"]));
    let replace: Vec<_> = moved
        .requires_replace
        .iter()
        .map(|p| {
            path_of(&pb::Diagnostic {
                attribute: Some(p.clone()),
                ..Default::default()
            })
        })
        .collect();
    assert!(replace.contains(&"cluster_id".to_string()), "{replace:?}");
    drop(h.p);
}

#[test]
fn apply_read_import_and_destroy_against_mrs_sim() {
    let mut h = SimHarness::start();
    let ty = resource_ty();
    let config = sync_config("c1", &["alice", "bob"]);
    let plan = h.plan(&Value::Null, &config);
    assert!(plan.diagnostics.is_empty(), "{:#?}", plan.diagnostics);

    // Create.
    let created = h.apply(&Value::Null, plan.planned_state.clone(), &config);
    assert!(created.diagnostics.is_empty(), "{:#?}", created.diagnostics);
    let state = decoded(&created.new_state, &ty);
    let planned = decoded(&plan.planned_state, &ty);
    // Every known planned value comes back unchanged.
    for attr in [
        "region",
        "project_id",
        "cluster_id",
        "user_names",
        "is_all_sync",
    ] {
        assert_eq!(state.get(attr), planned.get(attr), "{attr}");
    }
    assert_eq!(h.sim.names("c1").0, ["alice", "bob"]);

    // Read: unchanged remotely, unchanged state.
    let mut c = h.c.clone();
    let read =
        h.rt.block_on(c.read_resource(pb::read_resource::Request {
            type_name: "mrs_iam_sync".into(),
            current_state: created.new_state.clone(),
            private: b"opaque".to_vec(),
            ..Default::default()
        }))
        .expect("ReadResource answers")
        .into_inner();
    assert!(read.diagnostics.is_empty(), "{:#?}", read.diagnostics);
    assert_eq!(decoded(&read.new_state, &ty), state);
    assert_eq!(read.private, b"opaque", "private data is passed through");

    // Import, with and without the project in the ID.
    for id in [format!("{PROJECT}/c1"), "c1".to_string()] {
        let imp = h.import(&id);
        assert!(imp.diagnostics.is_empty(), "{id}: {:#?}", imp.diagnostics);
        assert_eq!(imp.imported_resources.len(), 1);
        let r = &imp.imported_resources[0];
        assert_eq!(r.type_name, "mrs_iam_sync");
        let s = decoded(&r.state, &ty);
        assert_eq!(s.get("region"), &Value::string(REGION));
        assert_eq!(s.get("project_id"), &Value::string(PROJECT));
        assert_eq!(s.get("cluster_id"), &Value::string("c1"));
        assert_eq!(s.get("user_names"), &string_set(["alice", "bob"]));
        // Unset until the first apply, whose change hands the adopted names over.
        assert_eq!(s.get("is_all_sync"), &Value::Null);
        assert_eq!(s.get("timeouts"), &Value::Null);
    }
    // Malformed IDs are diagnostics.
    for bad in ["p-x/c1", "p1/c 1", "p1/", "/c1", "p1/c1/extra", ""] {
        let imp = h.import(bad);
        assert!(imp.imported_resources.is_empty(), "{bad:?}");
        let e = errors(&imp.diagnostics);
        assert_eq!(e.len(), 1, "{bad:?}: {:#?}", imp.diagnostics);
        assert_eq!(e[0].summary, "Invalid import ID", "{bad:?}");
    }

    // Data source: sees alice's implicit groups too.
    let mut c = h.c.clone();
    let ds =
        h.rt.block_on(c.read_data_source(pb::read_data_source::Request {
            type_name: "mrs_iam_sync_users".into(),
            config: dv(&object(&[("cluster_id", Value::string("c1"))]), &data_ty()),
            ..Default::default()
        }))
        .expect("ReadDataSource answers")
        .into_inner();
    assert!(ds.diagnostics.is_empty(), "{:#?}", ds.diagnostics);
    let s = decoded(&ds.state, &data_ty());
    assert_eq!(s.get("cluster_id"), &Value::string("c1"));
    assert_eq!(s.get("user_names"), &string_set(["alice", "bob"]));
    assert_eq!(s.get("group_names"), &string_set(["admins", "dev"]));
    assert_eq!(s.get("is_synchronizing"), &Value::Bool(false));
    assert_eq!(s.get("region"), &Value::string(REGION));

    // Destroy, in the next walk's process as with Terraform (which never destroys an
    // object in the process that planned it): planned state null, new state null, names
    // cancelled.
    h.next_walk();
    let destroyed = h.apply_with_private(
        &state,
        dv(&Value::Null, &ty),
        &Value::Null,
        created.private.clone(),
    );
    assert!(
        destroyed.diagnostics.is_empty(),
        "{:#?}",
        destroyed.diagnostics
    );
    assert_eq!(decoded(&destroyed.new_state, &ty), Value::Null);
    assert!(h.sim.names("c1").0.is_empty(), "{:?}", h.sim.names("c1"));

    // A cluster MRS does not know: ReadResource answers a null state, meaning "gone".
    let mut c = h.c.clone();
    let gone =
        h.rt.block_on(c.read_resource(pb::read_resource::Request {
            type_name: "mrs_iam_sync".into(),
            current_state: dv(
                &object(&[
                    ("project_id", Value::string(PROJECT)),
                    ("region", Value::string(REGION)),
                    ("cluster_id", Value::string("nosuchcluster")),
                    ("user_names", string_set(["alice"])),
                    ("is_all_sync", Value::Bool(false)),
                ]),
                &ty,
            ),
            ..Default::default()
        }))
        .expect("ReadResource answers")
        .into_inner();
    assert!(gone.diagnostics.is_empty(), "{:#?}", gone.diagnostics);
    assert_eq!(decoded(&gone.new_state, &ty), Value::Null);
    let mut c = h.c.clone();
    h.rt.block_on(metadata_still_served(&mut c));
}

#[tokio::test]
async fn upgrade_resource_state_takes_json_and_refuses_flatmap() {
    let p = start_provider(bare_options()).await;
    let mut c = p.provider();
    let ty = resource_ty();
    // Written by an older build: its `id` and an attribute of an older schema are dropped.
    let json = serde_json::json!({
        "id": "p1/c1",
        "region": "cn-north-4",
        "project_id": "p1",
        "cluster_id": "c1",
        "user_names": ["bob", "alice"],
        "group_names": null,
        "is_all_sync": false,
        "timeouts": {"create": "5m", "update": null, "delete": null},
        "attribute_of_an_older_schema": "dropped"
    });
    let r = c
        .upgrade_resource_state(pb::upgrade_resource_state::Request {
            type_name: "mrs_iam_sync".into(),
            version: 0,
            raw_state: Some(pb::RawState {
                json: json.to_string().into_bytes(),
                flatmap: HashMap::new(),
            }),
        })
        .await
        .expect("UpgradeResourceState answers")
        .into_inner();
    assert!(r.diagnostics.is_empty(), "{:#?}", r.diagnostics);
    let s = decoded(&r.upgraded_state, &ty);
    assert_eq!(s.get("cluster_id"), &Value::string("c1"));
    assert!(
        matches!(&s, Value::Object(m) if !m.contains_key("id")),
        "{s:?}"
    );
    assert_eq!(s.get("user_names"), &string_set(["alice", "bob"]));
    assert_eq!(s.get("group_names"), &Value::Null);
    assert_eq!(s.get("timeouts").get("create"), &Value::string("5m"));

    let flatmap = c
        .upgrade_resource_state(pb::upgrade_resource_state::Request {
            type_name: "mrs_iam_sync".into(),
            version: 0,
            raw_state: Some(pb::RawState {
                json: vec![],
                flatmap: HashMap::from([
                    ("id".to_string(), "p1/c1".to_string()),
                    ("user_names.#".to_string(), "1".to_string()),
                ]),
            }),
        })
        .await
        .expect("UpgradeResourceState answers")
        .into_inner();
    assert!(flatmap.upgraded_state.is_none());
    assert_eq!(
        errors(&flatmap.diagnostics).len(),
        1,
        "{:#?}",
        flatmap.diagnostics
    );
    assert!(flatmap.diagnostics[0].summary.contains("state format"));

    let unknown_type = c
        .upgrade_resource_state(pb::upgrade_resource_state::Request {
            type_name: "mrs_other".into(),
            version: 0,
            raw_state: Some(pb::RawState {
                json: b"{}".to_vec(),
                flatmap: HashMap::new(),
            }),
        })
        .await
        .expect("UpgradeResourceState answers")
        .into_inner();
    assert_eq!(errors(&unknown_type.diagnostics).len(), 1);
    metadata_still_served(&mut c).await;
}

#[tokio::test]
async fn unsupported_rpcs_answer_with_diagnostics_not_grpc_errors() {
    let p = start_provider(bare_options()).await;
    let mut c = p.provider();

    let f = c
        .get_functions(pb::get_functions::Request {})
        .await
        .expect("GetFunctions")
        .into_inner();
    assert!(f.functions.is_empty() && f.diagnostics.is_empty());

    let call = c
        .call_function(pb::call_function::Request {
            name: "no_such_function".into(),
            arguments: vec![pb::DynamicValue {
                msgpack: vec![0xc1],
                json: vec![],
            }],
        })
        .await
        .expect("CallFunction")
        .into_inner();
    assert!(call.result.is_none());
    let err = call.error.expect("a function error");
    assert!(err.text.contains("no_such_function"), "{}", err.text);

    let ids = c
        .get_resource_identity_schemas(pb::get_resource_identity_schemas::Request {})
        .await
        .expect("GetResourceIdentitySchemas")
        .into_inner();
    assert!(ids.identity_schemas.is_empty() && ids.diagnostics.is_empty());

    let up = c
        .upgrade_resource_identity(pb::upgrade_resource_identity::Request {
            type_name: "mrs_iam_sync".into(),
            version: 0,
            raw_identity: b"{}".to_vec(),
        })
        .await
        .expect("UpgradeResourceIdentity")
        .into_inner();
    assert!(up.upgraded_identity.is_none());
    assert_eq!(errors(&up.diagnostics).len(), 1, "{:#?}", up.diagnostics);

    let mv = c
        .move_resource_state(pb::move_resource_state::Request {
            source_provider_address: "registry.terraform.io/hashicorp/null".into(),
            source_type_name: "null_resource".into(),
            source_schema_version: 0,
            source_state: Some(pb::RawState {
                json: b"{\"id\":\"1\"}".to_vec(),
                flatmap: HashMap::new(),
            }),
            target_type_name: "mrs_iam_sync".into(),
            source_private: vec![],
            source_identity: None,
        })
        .await
        .expect("MoveResourceState")
        .into_inner();
    assert!(mv.target_state.is_none());
    assert_eq!(errors(&mv.diagnostics).len(), 1, "{:#?}", mv.diagnostics);

    let config = dv(&object(&[]), &resource_ty());
    let v = c
        .validate_ephemeral_resource_config(pb::validate_ephemeral_resource_config::Request {
            type_name: "mrs_token".into(),
            config: config.clone(),
        })
        .await
        .expect("ValidateEphemeralResourceConfig")
        .into_inner();
    assert!(errors(&v.diagnostics)[0].summary.contains("not supported"));
    let o = c
        .open_ephemeral_resource(pb::open_ephemeral_resource::Request {
            type_name: "mrs_token".into(),
            config,
            client_capabilities: None,
        })
        .await
        .expect("OpenEphemeralResource")
        .into_inner();
    assert!(errors(&o.diagnostics)[0].summary.contains("not supported"));
    assert!(o.result.is_none());
    let r = c
        .renew_ephemeral_resource(pb::renew_ephemeral_resource::Request {
            type_name: "mrs_token".into(),
            private: Some(b"x".to_vec()),
        })
        .await
        .expect("RenewEphemeralResource")
        .into_inner();
    assert!(errors(&r.diagnostics)[0].summary.contains("not supported"));
    let cl = c
        .close_ephemeral_resource(pb::close_ephemeral_resource::Request {
            type_name: "mrs_token".into(),
            private: None,
        })
        .await
        .expect("CloseEphemeralResource")
        .into_inner();
    assert!(errors(&cl.diagnostics)[0].summary.contains("not supported"));
    metadata_still_served(&mut c).await;
}

#[tokio::test]
async fn stop_provider_answers_and_keeps_serving() {
    let p = start_provider(bare_options()).await;
    let mut c = p.provider();
    for _ in 0..2 {
        let r = c
            .stop_provider(pb::stop_provider::Request {})
            .await
            .expect("StopProvider")
            .into_inner();
        assert_eq!(r.error, "");
    }
    // Stopping cancels operations, not the process: Terraform still calls
    // GRPCController.Shutdown afterwards.
    metadata_still_served(&mut c).await;
    assert_eq!(check(&p, "plugin").await.unwrap(), serving());
}

#[tokio::test]
async fn malformed_dynamic_values_are_diagnostics_and_the_provider_keeps_serving() {
    let p = start_provider(bare_options()).await;
    let mut c = p.provider();
    let ty = resource_ty();
    let good = dv(&sync_config("c1", &["alice"]), &ty);
    let json_garbage = [
        b"{not json".to_vec(),
        b"[1,2,3]".to_vec(),
        // Wrong types for an attribute every schema here has.
        br#"{"region": 5, "cluster_id": 5}"#.to_vec(),
        br#"{"region": ["cn-north-4"]}"#.to_vec(),
    ];
    let mut cases: Vec<(String, pb::DynamicValue)> = malformed_msgpack()
        .into_iter()
        .map(|(name, bytes)| {
            (
                name.to_string(),
                pb::DynamicValue {
                    msgpack: bytes,
                    json: vec![],
                },
            )
        })
        .collect();
    for j in &json_garbage {
        cases.push((
            format!("json {}", String::from_utf8_lossy(j)),
            pb::DynamicValue {
                msgpack: vec![],
                json: j.clone(),
            },
        ));
    }

    for (name, bad) in &cases {
        let bad = Some(bad.clone());
        let one_error = |what: &str, d: &[pb::Diagnostic]| {
            assert!(
                !errors(d).is_empty(),
                "{what} with {name}: no error diagnostic in {d:#?}"
            );
        };

        let d = c
            .validate_provider_config(pb::validate_provider_config::Request {
                config: bad.clone(),
            })
            .await
            .expect("ValidateProviderConfig answers")
            .into_inner()
            .diagnostics;
        one_error("ValidateProviderConfig", &d);

        let d = c
            .validate_resource_config(pb::validate_resource_config::Request {
                type_name: "mrs_iam_sync".into(),
                config: bad.clone(),
                client_capabilities: None,
            })
            .await
            .expect("ValidateResourceConfig answers")
            .into_inner()
            .diagnostics;
        one_error("ValidateResourceConfig", &d);

        let d = c
            .validate_data_resource_config(pb::validate_data_resource_config::Request {
                type_name: "mrs_iam_sync_users".into(),
                config: bad.clone(),
            })
            .await
            .expect("ValidateDataResourceConfig answers")
            .into_inner()
            .diagnostics;
        one_error("ValidateDataResourceConfig", &d);

        let d = c
            .configure_provider(pb::configure_provider::Request {
                terraform_version: "1.0.3".into(),
                config: bad.clone(),
                client_capabilities: None,
            })
            .await
            .expect("ConfigureProvider answers")
            .into_inner()
            .diagnostics;
        one_error("ConfigureProvider", &d);

        for slot in 0..3 {
            let mut values = [dv(&Value::Null, &ty), good.clone(), good.clone()];
            values[slot] = bad.clone();
            let [prior, proposed, config] = values;
            let r = c
                .plan_resource_change(pb::plan_resource_change::Request {
                    type_name: "mrs_iam_sync".into(),
                    prior_state: prior,
                    proposed_new_state: proposed,
                    config,
                    ..Default::default()
                })
                .await
                .expect("PlanResourceChange answers")
                .into_inner();
            one_error(&format!("PlanResourceChange slot {slot}"), &r.diagnostics);
            assert!(r.planned_state.is_none(), "no plan from bad input");
        }

        let r = c
            .apply_resource_change(pb::apply_resource_change::Request {
                type_name: "mrs_iam_sync".into(),
                prior_state: dv(&Value::Null, &ty),
                planned_state: bad.clone(),
                config: good.clone(),
                ..Default::default()
            })
            .await
            .expect("ApplyResourceChange answers")
            .into_inner();
        one_error("ApplyResourceChange", &r.diagnostics);
        // Nothing was done: the (null) prior state comes back.
        assert_eq!(decoded(&r.new_state, &ty), Value::Null);

        let r = c
            .read_resource(pb::read_resource::Request {
                type_name: "mrs_iam_sync".into(),
                current_state: bad.clone(),
                ..Default::default()
            })
            .await
            .expect("ReadResource answers")
            .into_inner();
        one_error("ReadResource", &r.diagnostics);

        let r = c
            .read_data_source(pb::read_data_source::Request {
                type_name: "mrs_iam_sync_users".into(),
                config: bad.clone(),
                ..Default::default()
            })
            .await
            .expect("ReadDataSource answers")
            .into_inner();
        one_error("ReadDataSource", &r.diagnostics);
        assert!(r.state.is_none());

        metadata_still_served(&mut c).await;
    }

    // Garbage raw state JSON for UpgradeResourceState.
    for j in &json_garbage {
        let r = c
            .upgrade_resource_state(pb::upgrade_resource_state::Request {
                type_name: "mrs_iam_sync".into(),
                version: 0,
                raw_state: Some(pb::RawState {
                    json: j.clone(),
                    flatmap: HashMap::new(),
                }),
            })
            .await
            .expect("UpgradeResourceState answers")
            .into_inner();
        assert_eq!(
            errors(&r.diagnostics).len(),
            1,
            "{}: {:#?}",
            String::from_utf8_lossy(j),
            r.diagnostics
        );
        assert!(r.upgraded_state.is_none());
    }

    metadata_still_served(&mut c).await;
    let mut p = p;
    assert!(p.child.try_wait().unwrap().is_none(), "still running");
    assert!(!p.stderr().contains("panicked"), "{}", p.stderr());
    let status = p.shutdown(EXIT_TIMEOUT).await.expect("exits");
    assert!(status.success());
}
