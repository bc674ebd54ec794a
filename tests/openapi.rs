//! `docs/openapi.yaml` and the router list the same routes and methods.
//!
//! The spec is read by indentation (paths at two spaces, methods at four), which
//! is how the file is written; a YAML parser would be a dependency for one test.

use std::collections::BTreeSet;

use minijwt::http::router::ROUTES;

fn spec_routes() -> BTreeSet<(String, String)> {
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.yaml")).unwrap();
    let mut in_paths = false;
    let mut path = None;
    let mut routes = BTreeSet::new();
    for line in spec.lines() {
        if !line.starts_with(' ') {
            in_paths = line == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  /").and_then(|l| l.strip_suffix(':')) {
            path = Some(format!("/{p}"));
        } else if let Some(method) = line.strip_prefix("    ").and_then(|l| l.strip_suffix(':')) {
            if ["get", "post", "put", "patch", "delete", "head", "options"].contains(&method) {
                routes.insert((
                    path.clone().expect("method before any path"),
                    method.to_uppercase(),
                ));
            }
        }
    }
    routes
}

#[test]
fn spec_and_router_have_the_same_routes() {
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .flat_map(|r| r.methods.iter().map(|m| (r.path.to_owned(), (*m).to_owned())))
        .collect();
    let spec = spec_routes();
    assert!(spec.len() >= 10, "the spec parser found too little: {spec:?}");
    assert_eq!(spec, served);
}
