//! The registry docs in docs/ are generated from the schema (`make docs`); this test fails
//! when they drift, and rewrites them when UPDATE_DOCS=1.

use std::path::Path;

use terraform_provider_mrs::provider::docs::render;

#[test]
fn docs_match_the_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| std::fs::read_to_string(root.join("examples").join(p)).ok();
    let pages = render(&read);
    assert_eq!(pages.len(), 3);
    let update = std::env::var("UPDATE_DOCS").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for p in pages {
        let path = root.join(&p.path);
        if update {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).expect("create docs dir");
            }
            std::fs::write(&path, &p.content).expect("write doc page");
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(p.content.as_str()) {
            stale.push(p.path);
        }
    }
    assert!(
        stale.is_empty(),
        "docs out of date: {stale:?}; run `make docs`"
    );
}
