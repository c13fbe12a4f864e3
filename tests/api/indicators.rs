//! Indicators: administrators define them, coordinators record values per year and group, and
//! every answer says how each group moved and whether it meets the target.

use crate::helpers::*;
use serde_json::{Value, json};

async fn put(app: &TestApp, path: &str, token: &str, body: &Value) -> reqwest::Response {
    app.client.put(app.url(path)).bearer_auth(token).json(body).send().await.expect("answered")
}

async fn delete(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client.delete(app.url(path)).bearer_auth(token).send().await.expect("answered")
}

fn safe_after_dark() -> Value {
    json!({
        "slug": "trygg-kvall-ak9",
        "name_sv": "Elever i årskurs 9 som känner sig trygga sent en kväll",
        "name_en": "Grade 9 pupils who feel safe late in the evening",
        "source": "Stockholmsenkäten",
        "unit": "percent",
        "groups": ["boys", "girls"],
        "target": { "kind": "maintain_or_improve" },
    })
}

/// Creates an indicator as the admin; returns its id.
async fn create(app: &TestApp, tenant: &Tenant, body: &Value) -> String {
    let response = app.post("/api/v1/indicators", &tenant.admin.tokens.access, body).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

fn status_of<'a>(indicator: &'a Value, group: Option<&str>) -> &'a Value {
    indicator["status"].as_array().unwrap().iter().find(|s| s["group"].as_str() == group).expect("the group's status")
}

#[tokio::test]
async fn admins_define_indicators_and_coordinators_record_values_per_year_and_group() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let response = app.post("/api/v1/indicators", &tenant.admin.tokens.access, &safe_after_dark()).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/indicators/{}", created["id"].as_str().unwrap()));
    assert_eq!(created["target"], json!({ "kind": "maintain_or_improve", "value": null }));
    assert_eq!(created["higher_is_better"], true);
    assert_eq!(status_of(&created, Some("girls"))["trend"], "no_data");
    assert_eq!(status_of(&created, Some("girls"))["reason"], "no_data");

    let coordinator = &tenant.coordinator.tokens.access;
    let values = |boys: f64, girls: f64| json!({ "values": [{ "group": "boys", "value": boys }, { "group": "girls", "value": girls, "note": "Skolenkät" }] });
    let path = |year: i32| format!("{location}/values/{year}");
    assert_eq!(put(&app, &path(2022), coordinator, &values(82.0, 65.0)).await.status(), 200);
    let response = put(&app, &path(2024), coordinator, &values(80.5, 69.0)).await;
    assert_eq!(response.status(), 200);
    let indicator: Value = response.json().await.unwrap();
    let girls = status_of(&indicator, Some("girls"));
    assert_eq!(
        (girls["latest_year"].clone(), girls["latest_value"].clone(), girls["previous_year"].clone()),
        (json!(2024), json!(69.0), json!(2022))
    );
    assert_eq!(
        (girls["change"].clone(), girls["trend"].clone(), girls["meets_target"].clone()),
        (json!(4.0), json!("improved"), json!(true))
    );
    let boys = status_of(&indicator, Some("boys"));
    assert_eq!((boys["change"].clone(), boys["trend"].clone()), (json!(-1.5), json!("worsened")));
    assert_eq!((boys["meets_target"].clone(), boys["reason"].clone()), (json!(false), json!("worsened")));
    assert_eq!(indicator["meets_target"], false, "one group below its previous value fails the indicator");
    assert_eq!(indicator["values"].as_array().unwrap().len(), 4);
    assert_eq!(indicator["values"][1]["note"], "Skolenkät");
    assert_eq!(indicator["values"][0]["recorded_by"], json!(tenant.coordinator.id));

    // PUT replaces the year: a year given again with one group keeps only that group.
    let response =
        put(&app, &path(2024), coordinator, &json!({ "values": [{ "group": "boys", "value": 83.0 }] })).await;
    let indicator: Value = response.json().await.unwrap();
    assert_eq!(status_of(&indicator, Some("boys"))["trend"], "improved");
    assert_eq!(status_of(&indicator, Some("girls"))["latest_year"], 2022);
    assert_eq!(indicator["meets_target"], Value::Null, "girls have one value: nothing to compare");

    // PATCH changes the definition, the list shows it.
    let response = app
        .patch(
            &location,
            &tenant.admin.tokens.access,
            &json!({ "name_en": "Grade 9, safe in the evening", "groups": ["boys", "girls", "other"] }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let list: Value = app.get("/api/v1/indicators", coordinator).await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name_en"], "Grade 9, safe in the evening");
    assert_eq!(list[0]["groups"], json!(["boys", "girls", "other"]));
    assert_eq!(status_of(&list[0], Some("other"))["trend"], "no_data");

    // DELETE removes a group's value, or a year's.
    assert_eq!(delete(&app, &format!("{}?group=boys", path(2024)), coordinator).await.status(), 204);
    assert_problem(delete(&app, &format!("{}?group=boys", path(2024)), coordinator).await, 404, "not_found").await;
    assert_eq!(delete(&app, &path(2022), coordinator).await.status(), 204);
    let indicator: Value = app.get(&location, coordinator).await.json().await.unwrap();
    assert!(indicator["values"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn every_target_rule_is_evaluated_in_the_direction_that_is_better() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let coordinator = &tenant.coordinator.tokens.access;
    let make = |slug: &str, unit: &str, target: Value, higher_is_better: bool| {
        json!({
            "slug": slug, "name_sv": slug, "name_en": slug, "source": "Mätning", "unit": unit,
            "target": target, "higher_is_better": higher_is_better,
        })
    };
    let cases = [
        // (indicator, values by year, meets_target, reason, trend)
        (
            make("minst-75", "percent", json!({"kind": "at_least", "value": 75}), true),
            vec![(2022, 74.0), (2024, 76.0)],
            json!(true),
            "at_or_above_target",
            "improved",
        ),
        (
            make("minst-80", "percent", json!({"kind": "at_least", "value": 80}), true),
            vec![(2022, 81.0), (2024, 79.5)],
            json!(false),
            "below_target",
            "worsened",
        ),
        (
            make("hogst-20", "percent", json!({"kind": "at_most", "value": 20}), false),
            vec![(2021, 19.0), (2023, 22.0)],
            json!(false),
            "above_target",
            "worsened",
        ),
        (
            make("hogst-25", "percent", json!({"kind": "at_most", "value": 25}), false),
            vec![(2021, 24.0), (2023, 21.0)],
            json!(true),
            "at_or_below_target",
            "improved",
        ),
        (
            make("otrygg", "percent", json!({"kind": "maintain_or_improve"}), false),
            vec![(2021, 19.0), (2023, 17.5)],
            json!(true),
            "maintained_or_improved",
            "improved",
        ),
        (
            make("index", "score", json!({"kind": "maintain_or_improve", "value": null}), true),
            vec![(2020, 80.5), (2022, 80.5)],
            json!(true),
            "maintained_or_improved",
            "unchanged",
        ),
        (
            make("en-matning", "percent", json!({"kind": "maintain_or_improve"}), true),
            vec![(2022, 51.0)],
            Value::Null,
            "no_previous_value",
            "no_data",
        ),
    ];
    for (body, values, meets, reason, trend) in cases {
        let id = create(&app, &tenant, &body).await;
        for (year, value) in values {
            let response = put(
                &app,
                &format!("/api/v1/indicators/{id}/values/{year}"),
                coordinator,
                &json!({ "values": [{ "value": value }] }),
            )
            .await;
            assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
        }
        let indicator: Value = app.get(&format!("/api/v1/indicators/{id}"), coordinator).await.json().await.unwrap();
        let status = status_of(&indicator, None);
        assert_eq!(
            (&status["meets_target"], status["reason"].as_str().unwrap(), status["trend"].as_str().unwrap()),
            (&meets, reason, trend),
            "{}",
            body["slug"]
        );
        assert_eq!(indicator["meets_target"], meets);
    }
}

#[tokio::test]
async fn invalid_indicators_and_values_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let admin = &tenant.admin.tokens.access;
    let with = |change: Value| {
        let mut body = safe_after_dark();
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    let cases = [
        (with(json!({ "slug": "Not a slug" })), "slug", "invalid_slug"),
        (with(json!({ "name_sv": "  " })), "name_sv", "required"),
        (with(json!({ "unit": "%" })), "unit", "invalid_unit"),
        (with(json!({ "groups": ["boys", "boys"] })), "groups[1]", "duplicate_group"),
        (with(json!({ "target": { "kind": "better" } })), "target.kind", "unknown_target_kind"),
        (with(json!({ "target": { "kind": "at_least" } })), "target.value", "required"),
        (with(json!({ "target": { "kind": "maintain_or_improve", "value": 3 } })), "target.value", "not_allowed"),
        (with(json!({ "target": { "value": 3 } })), "target.kind", "required"),
        (with(json!({ "higher_is_better": "yes" })), "higher_is_better", "invalid_type"),
    ];
    for (body, field, code) in cases {
        let problem =
            assert_problem(app.post("/api/v1/indicators", admin, &body).await, 422, "validation_failed").await;
        assert_eq!(
            (problem["errors"][0]["field"].as_str(), problem["errors"][0]["code"].as_str()),
            (Some(field), Some(code)),
            "{problem}"
        );
    }
    let id = create(&app, &tenant, &safe_after_dark()).await;
    assert_problem(app.post("/api/v1/indicators", admin, &safe_after_dark()).await, 409, "already_exists").await;

    let coordinator = &tenant.coordinator.tokens.access;
    let values = |value: Value| json!({ "values": [value] });
    let cases = [
        ("2024", values(json!({ "group": "cats", "value": 50 })), "values[0].group", "unknown_group"),
        ("2024", values(json!({ "group": "boys", "value": 120 })), "values[0].value", "out_of_range"),
        ("2024", values(json!({ "group": "boys", "value": null })), "values[0].value", "invalid_type"),
        (
            "2024",
            values(json!({ "group": "boys", "value": 50, "note": "x".repeat(501) })),
            "values[0].note",
            "too_long",
        ),
        ("2024", json!({ "values": [] }), "values", "required"),
        ("20x4", values(json!({ "group": "boys", "value": 50 })), "year", "invalid_year"),
        ("1850", values(json!({ "group": "boys", "value": 50 })), "year", "invalid_year"),
    ];
    for (year, body, field, code) in cases {
        let response = put(&app, &format!("/api/v1/indicators/{id}/values/{year}"), coordinator, &body).await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(
            (problem["errors"][0]["field"].as_str(), problem["errors"][0]["code"].as_str()),
            (Some(field), Some(code)),
            "{problem}"
        );
    }
    let path = format!("/api/v1/indicators/{id}");
    let body = json!({ "values": [{ "group": "girls", "value": 65 }] });
    assert_eq!(put(&app, &format!("{path}/values/2022"), coordinator, &body).await.status(), 200);
    let response = app.patch(&path, admin, &json!({ "groups": ["boys"] })).await;
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["code"], "group_has_values");
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("girls"));
    let response = app.patch(&path, admin, &json!({ "target": { "kind": "at_most" } })).await;
    assert_problem(response, 422, "validation_failed").await;
}

#[tokio::test]
async fn roles_and_organisations_bound_who_sees_and_changes_indicators() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let id = create(&app, &tenant, &safe_after_dark()).await;
    let path = format!("/api/v1/indicators/{id}");
    let values = json!({ "values": [{ "group": "boys", "value": 82 }] });

    let field = &tenant.field.tokens.access;
    assert_problem(app.get("/api/v1/indicators", field).await, 403, "forbidden").await;
    assert_problem(app.get(&path, field).await, 403, "forbidden").await;
    assert_problem(put(&app, &format!("{path}/values/2022"), field, &values).await, 403, "forbidden").await;
    assert_problem(
        app.post("/api/v1/indicators", &tenant.coordinator.tokens.access, &safe_after_dark()).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.patch(&path, &tenant.coordinator.tokens.access, &json!({ "unit": "score" })).await,
        403,
        "forbidden",
    )
    .await;

    let partner = &tenant.partner.tokens.access;
    assert_eq!(app.get("/api/v1/indicators", partner).await.status(), 200, "published aggregates");
    assert_problem(put(&app, &format!("{path}/values/2022"), partner, &values).await, 403, "forbidden").await;
    assert_problem(delete(&app, &format!("{path}/values/2022"), partner).await, 403, "forbidden").await;
    assert_eq!(put(&app, &format!("{path}/values/2022"), &tenant.admin.tokens.access, &values).await.status(), 200);
    assert_problem(app.get("/api/v1/indicators", "").await, 401, "invalid_token").await;

    let other = app.tenant("nacka").await;
    assert_problem(app.get(&path, &other.coordinator.tokens.access).await, 404, "not_found").await;
    assert_problem(
        put(&app, &format!("{path}/values/2022"), &other.admin.tokens.access, &values).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(app.patch(&path, &other.admin.tokens.access, &json!({ "unit": "score" })).await, 404, "not_found")
        .await;
    let list: Value = app.get("/api/v1/indicators", &other.coordinator.tokens.access).await.json().await.unwrap();
    assert!(list.as_array().unwrap().is_empty());
}
