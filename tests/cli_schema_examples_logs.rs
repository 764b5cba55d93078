//! Real Terraform 1.0.3 reading the provider's schema, validating the repository's
//! examples, and re-emitting the provider's debug log lines.

mod common;

use common::sim::{Sim, SK};
use common::terraform::TfWorkdir;
use serde_json::Value;

const HEADER: &str = r#"terraform {
  required_providers {
    mrs = {
      source = "terraform.local/mrs/mrs"
    }
  }
}
"#;

fn example(rel: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[test]
fn providers_schema_json_has_both_types_with_descriptions() {
    let tf = TfWorkdir::new();
    tf.write_main_tf(&format!("{HEADER}\nprovider \"mrs\" {{}}\n"));
    let out = tf.ok(&["providers", "schema", "-json"]);
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", out.stdout));
    let schemas = &v["provider_schemas"];
    let (addr, p) = schemas
        .as_object()
        .and_then(|m| m.iter().find(|(k, _)| k.ends_with("mrs/mrs")))
        .unwrap_or_else(|| panic!("no mrs provider in {schemas}"));
    assert_eq!(addr, "terraform.local/mrs/mrs");

    let provider_attrs = &p["provider"]["block"]["attributes"];
    for secret in ["access_key", "secret_key", "security_token"] {
        assert_eq!(provider_attrs[secret]["sensitive"], true, "{secret}");
    }

    let check = |block: &Value, expected: &[(&str, Value)], what: &str| {
        let attrs = block["attributes"]
            .as_object()
            .unwrap_or_else(|| panic!("{what}: no attributes in {block}"));
        for (name, ty) in expected {
            let a = attrs
                .get(*name)
                .unwrap_or_else(|| panic!("{what}: no attribute {name}"));
            assert_eq!(&a["type"], ty, "{what}.{name}");
            let d = a["description"].as_str().unwrap_or("");
            assert!(!d.is_empty(), "{what}.{name} has no description");
        }
        let d = block["description"].as_str().unwrap_or("");
        assert!(!d.is_empty(), "{what} has no description");
    };
    let string = Value::from("string");
    let set = serde_json::json!(["set", "string"]);
    let resource = &p["resource_schemas"]["mrs_iam_sync"]["block"];
    check(
        resource,
        &[
            ("region", string.clone()),
            ("project_id", string.clone()),
            ("cluster_id", string.clone()),
            ("user_names", set.clone()),
            ("group_names", set.clone()),
            ("is_all_sync", Value::from("bool")),
        ],
        "mrs_iam_sync",
    );
    assert_eq!(resource["attributes"]["cluster_id"]["required"], true);
    // The location attributes are the identity; no `id` repeats them in every object.
    assert!(resource["attributes"].get("id").is_none(), "{resource}");
    let timeouts = &resource["block_types"]["timeouts"];
    assert_eq!(timeouts["nesting_mode"], "single", "{timeouts}");
    check(
        &timeouts["block"],
        &[
            ("create", string.clone()),
            ("update", string.clone()),
            ("delete", string.clone()),
        ],
        "mrs_iam_sync.timeouts",
    );
    let data = &p["data_source_schemas"]["mrs_iam_sync_users"]["block"];
    check(
        data,
        &[
            ("cluster_id", string.clone()),
            ("user_names", set.clone()),
            ("group_names", set),
            ("is_synchronizing", Value::from("bool")),
        ],
        "mrs_iam_sync_users",
    );
    assert_eq!(data["attributes"]["user_names"]["computed"], true);
}

/// Every registry example (examples/provider, examples/resources/TYPE,
/// examples/data-sources/TYPE), found on disk, as (path below examples/, content).
fn registry_examples() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let tf_files = |dir: &std::path::Path| -> Vec<std::path::PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "tf"))
            .collect();
        files.sort();
        files
    };
    let mut dirs = vec![root.join("provider")];
    for kind in ["resources", "data-sources"] {
        let mut types: Vec<_> = std::fs::read_dir(root.join(kind))
            .unwrap_or_else(|e| panic!("reading examples/{kind}: {e}"))
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        types.sort();
        dirs.extend(types);
    }
    dirs.iter()
        .flat_map(|d| tf_files(d))
        .map(|p| {
            let rel = p
                .strip_prefix(&root)
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or_else(|_| p.display().to_string());
            (rel.clone(), example(&rel))
        })
        .collect()
}

#[test]
fn examples_validate() {
    let tf = TfWorkdir::new();
    let examples = registry_examples();
    let names: Vec<&str> = examples.iter().map(|(p, _)| p.as_str()).collect();
    // What the walk must find at least, so a walk that finds nothing cannot pass.
    for must in [
        "provider/provider.tf",
        "resources/mrs_iam_sync/resource.tf",
        "data-sources/mrs_iam_sync_users/data-source.tf",
    ] {
        assert!(names.contains(&must), "{must} not found among {names:?}");
    }
    // `import` blocks need Terraform 1.5: an older one validates the other examples, and
    // the run on the newer Terraform validates these too.
    let import_block = |c: &str| c.lines().any(|l| l.trim_start().starts_with("import {"));
    for (path, content) in &examples {
        if import_block(content) && !common::terraform::at_least(1, 5) {
            println!("{path} not validated: its import block needs Terraform >= 1.5");
            continue;
        }
        // One directory for all: each file under a name its path makes unique.
        tf.write_file(&path.replace('/', "--"), content);
    }
    let out = tf.ok(&["validate"]);
    assert!(
        out.stdout.contains("The configuration is valid"),
        "{}",
        out.combined()
    );

    // The same check fails on a broken copy, so the success above means something.
    tf.write_file(
        "broken.tf",
        "resource \"mrs_iam_sync\" \"broken\" {\n  cluster_id = \"not a cluster id\"\n  user_names = [\"x\"]\n}\n",
    );
    let out = tf.fail(&["validate"]);
    assert!(out.combined().contains("cluster_id"), "{}", out.combined());
}

#[test]
fn tf_log_debug_shows_provider_lines_without_secrets() {
    let sim = Sim::start(&[]);
    let mut tf = TfWorkdir::new();
    for (k, v) in sim.provider_env() {
        tf.set_env(k, &v);
    }
    tf.set_env("TF_LOG", "debug");
    tf.write_main_tf(&format!(
        "{HEADER}
provider \"mrs\" {{}}

data \"mrs_iam_sync_users\" \"c\" {{
  cluster_id = \"c1\"
}}

resource \"mrs_iam_sync\" \"x\" {{
  cluster_id = \"c1\"
  user_names = [\"alice\"]
}}
"
    ));
    let out = tf.ok(&["plan"]);
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("provider.terraform-provider-mrs"))
        .collect();
    let find = |needle: &str| {
        lines
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| {
                panic!(
                    "no provider line with {needle:?}; provider lines:\n{}",
                    lines.join("\n")
                )
            })
    };
    // Parsed as hclog JSON: level kept, fields printed as key=value, @module shown.
    let rpc = find("RPC served");
    assert!(rpc.contains("[DEBUG]"), "{rpc}");
    assert!(rpc.contains("@module=provider"), "{rpc}");
    assert!(rpc.contains("elapsed_ms="), "{rpc}");
    find("rpc=GetProviderSchema");
    find("rpc=ConfigureProvider");
    let plan = find("rpc=PlanResourceChange");
    assert!(plan.contains("type_name=mrs_iam_sync"), "{plan}");
    // The RPC's span fields, named as terraform-plugin-go names them.
    for field in [
        "tf_rpc=PlanResourceChange",
        "tf_resource_type=mrs_iam_sync",
        "tf_req_id=",
    ] {
        assert!(plan.contains(field), "{field} missing: {plan}");
    }
    let read = find("rpc=ReadDataSource");
    assert!(
        read.contains("tf_data_source_type=mrs_iam_sync_users"),
        "{read}"
    );
    let api = find("MRS API call");
    assert!(api.contains("method=GET"), "{api}");
    assert!(api.contains("path=/v2/"), "{api}");
    assert!(api.contains("status=200"), "{api}");
    assert!(api.contains("attempt=1"), "{api}");
    assert!(
        !api.contains("request_id=-"),
        "the simulator sends X-Request-Id: {api}"
    );
    // Other crates (h2, rustls...) speak only at trace.
    assert!(
        !lines.iter().any(|l| l.contains("@module=provider.")),
        "a dependency's line at debug:\n{}",
        lines.join("\n")
    );
    // Not a raw line re-logged as text: that would mean the JSON was not accepted.
    assert!(
        !lines.iter().any(|l| l.contains("\"@message\"")),
        "unparsed JSON lines:\n{}",
        lines.join("\n")
    );
    assert!(
        !out.stderr.contains(SK),
        "the secret key leaked into the log"
    );
    assert!(!out.stderr.contains("Authorization"), "headers leaked");
}
