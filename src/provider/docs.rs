//! Renders the registry documentation (docs/index.md, docs/resources/*.md,
//! docs/data-sources/*.md) from the schemas' descriptions and the files in examples/.
//! `make docs` writes it; a test fails when the checked-in docs drift from the schema.

use crate::framework::{Attribute, Block, Nesting, Schema, Type};

use super::{config, iam_sync, iam_sync_users};

/// One generated file: its path below the repository root and its content.
pub struct DocPage {
    pub path: String,
    pub content: String,
}

fn type_name(t: &Type) -> String {
    match t {
        Type::Bool => "Boolean".into(),
        Type::Number => "Number".into(),
        Type::String => "String".into(),
        Type::Dynamic => "Dynamic".into(),
        Type::List(e) => format!("List of {}", type_name(e)),
        Type::Set(e) => format!("Set of {}", type_name(e)),
        Type::Map(e) => format!("Map of {}", type_name(e)),
        Type::Object(_) => "Object".into(),
    }
}

fn attr_line(a: &Attribute) -> String {
    let mut tags = vec![type_name(&a.ty)];
    if a.sensitive {
        tags.push("Sensitive".into());
    }
    if a.deprecated {
        tags.push("Deprecated".into());
    }
    format!("- `{}` ({}) {}\n", a.name, tags.join(", "), a.description)
}

fn schema_section(block: &Block, out: &mut String) {
    type Pick = fn(&Attribute) -> bool;
    let groups: [(&str, Pick); 3] = [
        ("Required", |a| a.required),
        ("Optional", |a| a.optional),
        ("Read-Only", |a| a.computed && !a.optional && !a.required),
    ];
    for (title, pick) in groups {
        let attrs: Vec<_> = block.attributes.iter().filter(|a| pick(a)).collect();
        let blocks: Vec<_> = if title == "Optional" {
            block.blocks.iter().collect()
        } else {
            vec![]
        };
        if attrs.is_empty() && blocks.is_empty() {
            continue;
        }
        out.push_str(&format!("\n### {title}\n\n"));
        for a in attrs {
            out.push_str(&attr_line(a));
        }
        for b in blocks {
            let kind = match b.nesting {
                Nesting::Single => "Block",
                Nesting::List => "Block List",
                Nesting::Set => "Block Set",
            };
            out.push_str(&format!(
                "- `{}` ({kind}, Optional) {} (see [below for nested schema](#nestedblock--{}))\n",
                b.type_name, b.block.description, b.type_name
            ));
        }
    }
    for b in &block.blocks {
        out.push_str(&format!(
            "\n<a id=\"nestedblock--{0}\"></a>\n### Nested Schema for `{0}`\n",
            b.type_name
        ));
        schema_section(&b.block, out);
    }
}

fn example(code: &str, lang: &str) -> String {
    format!("```{lang}\n{}\n```\n", code.trim_end())
}

fn page(
    title: &str,
    subcategory: &str,
    heading: &str,
    schema: &Schema,
    example_tf: Option<String>,
    import: Option<String>,
    guide: Option<String>,
) -> String {
    let first_sentence = schema
        .block
        .description
        .split(". ")
        .next()
        .unwrap_or("")
        .trim_end_matches('.');
    let mut s = format!(
        "---\npage_title: \"{title}\"\nsubcategory: \"{subcategory}\"\ndescription: |-\n  {first_sentence}.\n---\n\n# {heading}\n\n{}\n",
        schema.block.description
    );
    if let Some(tf) = example_tf {
        s.push_str("\n## Example Usage\n\n");
        s.push_str(&example(&tf, "terraform"));
    }
    s.push_str("\n## Schema\n");
    schema_section(&schema.block, &mut s);
    if let Some(sh) = import {
        s.push_str("\n## Import\n\nImport is supported using the following syntax:\n\n");
        s.push_str(&example(&sh, "shell"));
    }
    // A hand-written section (markdown from examples/) for what a schema cannot say.
    if let Some(md) = guide {
        s.push('\n');
        s.push_str(md.trim_end());
        s.push('\n');
    }
    s
}

/// Renders every page. `read_example` returns the content of a file below examples/.
pub fn render(read_example: &dyn Fn(&str) -> Option<String>) -> Vec<DocPage> {
    vec![
        DocPage {
            path: "docs/index.md".into(),
            content: page(
                "Provider: mrs",
                "",
                "mrs Provider",
                &config::schema(),
                read_example("provider/provider.tf"),
                None,
                None,
            ),
        },
        DocPage {
            path: "docs/resources/iam_sync.md".into(),
            content: page(
                "mrs_iam_sync Resource - terraform-provider-mrs",
                "",
                "mrs_iam_sync (Resource)",
                &iam_sync::schema(),
                read_example("resources/mrs_iam_sync/resource.tf"),
                read_example("resources/mrs_iam_sync/import.sh"),
                read_example("resources/mrs_iam_sync/adopting.md"),
            ),
        },
        DocPage {
            path: "docs/data-sources/iam_sync_users.md".into(),
            content: page(
                "mrs_iam_sync_users Data Source - terraform-provider-mrs",
                "",
                "mrs_iam_sync_users (Data Source)",
                &iam_sync_users::schema(),
                read_example("data-sources/mrs_iam_sync_users/data-source.tf"),
                None,
                None,
            ),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_page_lists_every_attribute_and_the_import() {
        let pages = render(&|p| Some(format!("# example {p}")));
        let r = pages
            .iter()
            .find(|p| p.path.ends_with("iam_sync.md"))
            .expect("resource page");
        for a in [
            "cluster_id",
            "user_names",
            "group_names",
            "is_all_sync",
            "region",
            "project_id",
            "id",
            "timeouts",
            "create",
        ] {
            assert!(r.content.contains(&format!("`{a}`")), "{a} missing");
        }
        assert!(r.content.contains("## Import"));
        assert!(r.content.contains("### Required"));
        let i = pages
            .iter()
            .find(|p| p.path == "docs/index.md")
            .expect("index");
        assert!(i.content.contains("(String, Sensitive)"));
    }
}
