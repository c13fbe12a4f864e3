//! The contract: `api-spec/openapi.yaml` and the route table must agree, both ways.

use crate::helpers::*;
use serde_yaml_ng::Value;
use std::collections::BTreeSet;

const SPEC: &str = include_str!("../../api-spec/openapi.yaml");

fn spec_routes() -> BTreeSet<(String, String)> {
    let spec: Value = serde_yaml_ng::from_str(SPEC).expect("openapi.yaml is YAML");
    assert_eq!(spec["openapi"].as_str(), Some("3.1.0"));
    let mut routes = BTreeSet::new();
    for (path, item) in spec["paths"].as_mapping().expect("paths") {
        for (method, _) in item.as_mapping().expect("a path item") {
            let method = method.as_str().unwrap().to_uppercase();
            if ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method.as_str()) {
                routes.insert((method, path.as_str().unwrap().to_owned()));
            }
        }
    }
    routes
}

#[test]
fn the_route_table_and_the_spec_list_the_same_endpoints() {
    let served: BTreeSet<(String, String)> =
        lagesbild::routes::ROUTES.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    let described = spec_routes();
    let undocumented: Vec<_> = served.difference(&described).collect();
    let unserved: Vec<_> = described.difference(&served).collect();
    assert!(undocumented.is_empty(), "served but not in openapi.yaml: {undocumented:?}");
    assert!(unserved.is_empty(), "in openapi.yaml but not served: {unserved:?}");
}

#[test]
fn every_operation_states_its_auth_and_problem_responses() {
    let spec: Value = serde_yaml_ng::from_str(SPEC).unwrap();
    for (path, item) in spec["paths"].as_mapping().unwrap() {
        for (method, operation) in item.as_mapping().unwrap() {
            let name = format!("{} {}", method.as_str().unwrap(), path.as_str().unwrap());
            assert!(operation["operationId"].is_string(), "{name} has no operationId");
            let public = operation["security"].as_sequence().is_some_and(|s| s.is_empty());
            if !public {
                assert!(operation["x-required-role"].is_string(), "{name} does not state its role");
                assert!(operation["responses"]["401"].is_mapping(), "{name} does not describe 401");
            }
        }
    }
}

#[tokio::test]
async fn every_described_operation_is_routed() {
    let app = spawn_app().await;
    for (method, path) in spec_routes() {
        let concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000000");
        let request = app.client.request(method.parse().unwrap(), app.url(&concrete));
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        let code = serde_json::from_str::<serde_json::Value>(&body).ok().map(|problem| problem["code"].clone());
        assert!(
            code != Some(serde_json::json!("route_not_found")) && status != 405,
            "{method} {path} is described but answered {status}: {body}"
        );
    }
}

#[tokio::test]
async fn the_spec_and_its_reference_page_are_served_from_the_binary() {
    let app = spawn_app().await;
    let served = app.client.get(app.url("/api-spec/openapi.yaml")).send().await.unwrap();
    assert_eq!(served.headers()["content-type"], "application/yaml; charset=utf-8");
    assert_eq!(served.text().await.unwrap(), SPEC);
    let page = app.client.get(app.url("/api-docs")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("<script src=\"http"), "the page loads nothing from the network");
    for (_, path) in spec_routes() {
        assert!(page.contains(&format!("<code>{path}</code>")), "the reference page lacks {path}");
    }
}
