//! The dashboard's view of records: lists with filters and pages, review, history, scope.

use crate::helpers::*;
use crate::sync::{Phone, created, observation, updated};
use serde_json::{Value, json};

fn activity(id: &str, started_at: i64) -> Value {
    json!({
        "id": id,
        "activity_type": "summer_cafe",
        "unit": "falt",
        "started_at": started_at,
        "ended_at": started_at + 3 * 3_600_000,
        "girls": 12, "boys": 9, "gender_other": 1, "gender_unknown": 0,
        "age_under_13": 4, "age_13_15": 10, "age_16_17": 6, "age_18_24": 2, "age_25_plus": 0, "age_unknown": 0,
        "note": "Lugnt, många nya besökare",
    })
}

#[tokio::test]
async fn coordinators_list_filter_and_page_observations() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let phone = Phone::new(&app, &tenant.field.tokens.access);
    let now = chrono::Utc::now().timestamp_millis();
    let mut records = Vec::new();
    for n in 0..12 {
        let mut record = observation(&format!("00000000-0000-7000-8000-{n:012}"), "x");
        record["observed_at"] = json!(now - (n + 1) * 3_600_000);
        record["category"] = json!(if n % 3 == 0 { "graffiti" } else { "vandalism" });
        records.push(record);
    }
    phone.push(created("observations", records)).await;
    let coordinator = &tenant.coordinator.tokens.access;

    let mut seen = Vec::new();
    let mut url = "/api/v1/observations?limit=5".to_owned();
    loop {
        let page: Value = app.get(&url, coordinator).await.json().await.unwrap();
        for item in page["items"].as_array().unwrap() {
            seen.push(item["observed_at"].as_i64().unwrap());
        }
        match page["next"].as_str() {
            Some(next) => url = format!("/api/v1/observations?limit=5&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 12);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first, each once");

    let graffiti: Value = app.get("/api/v1/observations?category=graffiti", coordinator).await.json().await.unwrap();
    assert_eq!(graffiti["items"].as_array().unwrap().len(), 4);
    let from = chrono::DateTime::from_timestamp_millis(now - 5 * 3_600_000 - 1).unwrap().to_rfc3339();
    let recent: Value = app
        .get(&format!("/api/v1/observations?from={}", from.replace('+', "%2B")), coordinator)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(recent["items"].as_array().unwrap().len(), 5);
    let by_unit: Value = app.get("/api/v1/observations?unit=falt&status=new", coordinator).await.json().await.unwrap();
    assert_eq!(by_unit["items"].as_array().unwrap().len(), 12);
    let bad = app.get("/api/v1/observations?from=last+tuesday", coordinator).await;
    assert_eq!(assert_problem(bad, 422, "validation_failed").await["errors"][0]["field"], "from");
}

#[tokio::test]
async fn a_review_reaches_the_reporters_phone_and_the_history_keeps_what_it_replaced() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let mut phone = Phone::new(&app, &tenant.field.tokens.access);
    phone.pull().await;
    let id = "00000000-0000-7000-8000-00000000abcd";
    let original = observation(id, "Klotter på tunneln");
    phone.push(created("observations", vec![original.clone()])).await;
    phone.pull().await;
    let mut edited = original.clone();
    edited["note"] = json!("Klotter på tunneln, även på bron");
    edited["_status"] = json!("updated");
    phone.push(updated("observations", vec![edited])).await;

    let path = format!("/api/v1/observations/{id}");
    let reviewed = app
        .patch(
            &path,
            &tenant.coordinator.tokens.access,
            &json!({ "status": "forwarded", "review_comment": "Till Tybo, ring 070-123 45 67" }),
        )
        .await;
    assert_eq!(reviewed.status(), 200);
    let reviewed: Value = reviewed.json().await.unwrap();
    assert_eq!(reviewed["status"], "forwarded");
    assert!(!reviewed["review_comment"].as_str().unwrap().contains("070"), "comments are redacted too");
    assert_eq!(reviewed["reviewed_by"], tenant.coordinator.id.as_str());

    let changes = phone.pull().await;
    let on_phone = &changes["observations"]["updated"][0];
    assert_eq!(on_phone["status"], "forwarded");
    assert_eq!(on_phone["note"], "Klotter på tunneln, även på bron");

    let history: Vec<Value> =
        app.get(&format!("{path}/history"), &tenant.coordinator.tokens.access).await.json().await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["change"], "update");
    assert_eq!(history[0]["previous"]["note"], "Klotter på tunneln");
    assert_eq!(history[0]["fields"], json!(["note", "updated_at"]));
    assert_eq!(history[0]["device_id"], tenant.field.device.as_str());
    assert_eq!(history[1]["change"], "review");
    assert_eq!(history[1]["previous"]["status"], "new");
    assert_eq!(history[1]["changed_by_username"], "coord");

    let bad = app.patch(&path, &tenant.coordinator.tokens.access, &json!({ "status": "lost" })).await;
    assert_eq!(assert_problem(bad, 422, "validation_failed").await["errors"][0]["field"], "status");
    let field_review = app.patch(&path, &tenant.field.tokens.access, &json!({ "status": "closed" })).await;
    assert_problem(field_review, 403, "forbidden").await;
}

#[tokio::test]
async fn field_users_see_only_their_own_records_and_partners_none() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let now = chrono::Utc::now().timestamp_millis();
    let phone = Phone::new(&app, &tenant.field.tokens.access);
    phone.push(created("observations", vec![observation("00000000-0000-7000-8000-0000000000a1", "mine")])).await;
    phone.push(created("activity_logs", vec![activity("00000000-0000-7000-8000-0000000000b1", now - 7_200_000)])).await;
    app.seed_user(&tenant.org_id, "other", lagesbild::domain::identity::Role::Field, None);
    let other = app.login("tyreso", "other", PASSWORD, "other-phone").await;

    let own: Value = app.get("/api/v1/observations", &tenant.field.tokens.access).await.json().await.unwrap();
    assert_eq!(own["items"].as_array().unwrap().len(), 1);
    let theirs: Value = app.get("/api/v1/observations", &other.access).await.json().await.unwrap();
    assert!(theirs["items"].as_array().unwrap().is_empty());
    for path in [
        "/api/v1/observations/00000000-0000-7000-8000-0000000000a1",
        "/api/v1/observations/00000000-0000-7000-8000-0000000000a1/history",
        "/api/v1/activities/00000000-0000-7000-8000-0000000000b1",
    ] {
        assert_problem(app.get(path, &other.access).await, 404, "not_found").await;
        assert_eq!(app.get(path, &tenant.coordinator.tokens.access).await.status(), 200, "{path}");
    }
    assert_problem(app.get("/api/v1/observations", &tenant.partner.tokens.access).await, 403, "forbidden").await;

    let activities: Value = app
        .get("/api/v1/activities?activity_type=summer_cafe&unit=falt", &tenant.coordinator.tokens.access)
        .await
        .json()
        .await
        .unwrap();
    let item = &activities["items"][0];
    assert_eq!(item["girls"], 12);
    assert_eq!(item["age_13_15"], 10);

    // Another organisation's coordinator gets 404 for these ids.
    let nacka = app.tenant("nacka").await;
    assert_problem(
        app.get("/api/v1/observations/00000000-0000-7000-8000-0000000000a1", &nacka.coordinator.tokens.access).await,
        404,
        "not_found",
    )
    .await;
    let patch = app
        .patch(
            "/api/v1/observations/00000000-0000-7000-8000-0000000000a1",
            &nacka.coordinator.tokens.access,
            &json!({ "status": "closed" }),
        )
        .await;
    assert_problem(patch, 404, "not_found").await;
}

#[tokio::test]
async fn activity_logs_are_validated_field_by_field() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let phone = Phone::new(&app, &tenant.field.tokens.access);
    let now = chrono::Utc::now().timestamp_millis();
    let mut uneven = activity("00000000-0000-7000-8000-0000000000c1", now - 7_200_000);
    uneven["age_unknown"] = json!(5);
    let mut backwards = activity("00000000-0000-7000-8000-0000000000c2", now - 7_200_000);
    backwards["ended_at"] = json!(now - 10_800_000);
    let mut unknown = activity("00000000-0000-7000-8000-0000000000c3", now - 7_200_000);
    unknown["unit"] = json!("vakt");
    unknown["activity_type"] = json!("party");
    let mut future = activity("00000000-0000-7000-8000-0000000000c4", now + 3 * 86_400_000);
    future["girls"] = json!(-1);
    let body = phone.push(created("activity_logs", vec![uneven, backwards, unknown, future])).await;
    let fields = |id: &str| -> Vec<String> {
        let result = body["results"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap();
        assert_eq!(result["status"], "quarantined");
        result["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(fields("00000000-0000-7000-8000-0000000000c1"), ["age_unknown"]);
    assert_eq!(fields("00000000-0000-7000-8000-0000000000c2"), ["ended_at"]);
    assert_eq!(fields("00000000-0000-7000-8000-0000000000c3"), ["activity_type", "unit"]);
    assert_eq!(fields("00000000-0000-7000-8000-0000000000c4"), ["started_at", "ended_at", "girls"]);
}

#[tokio::test]
async fn an_activity_from_a_skewed_clock_keeps_both_times() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let now = chrono::Utc::now().timestamp_millis();
    let hour = 3_600_000;
    let device_start = now - hour - 4 * hour;
    let response = app
        .client
        .post(app.url("/api/v1/sync/push?last_pulled_at=null"))
        .bearer_auth(&tenant.field.tokens.access)
        .header("x-client-time", (now - hour).to_string())
        .json(&created("activity_logs", vec![activity("00000000-0000-7000-8000-0000000000d9", device_start)]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let stored: Value = app
        .get("/api/v1/activities/00000000-0000-7000-8000-0000000000d9", &tenant.coordinator.tokens.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["clock_corrected"], true);
    assert_eq!(stored["started_at_device"].as_i64().unwrap(), device_start);
    assert_eq!(stored["ended_at_device"].as_i64().unwrap(), device_start + 3 * hour);
    let corrected = stored["started_at"].as_i64().unwrap();
    assert!((corrected - (device_start + hour)).abs() < 5_000, "moved by the device's skew: {stored}");
}

#[tokio::test]
async fn a_filtered_selection_is_reviewed_in_one_action_with_one_history_entry_per_record() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let mut phone = Phone::new(&app, &tenant.field.tokens.access);
    phone.pull().await;
    let now = chrono::Utc::now().timestamp_millis();
    let ids: Vec<String> = (0..6).map(|n| format!("00000000-0000-7000-8000-{n:012}")).collect();
    let records = ids
        .iter()
        .enumerate()
        .map(|(n, id)| {
            let mut record = observation(id, "Trasig lampa");
            record["observed_at"] = json!(now - (n as i64 + 1) * 3_600_000);
            record["category"] = json!(if n < 4 { "lighting" } else { "graffiti" });
            record
        })
        .collect();
    phone.push(created("observations", records)).await;
    phone.pull().await;
    let coordinator = &tenant.coordinator.tokens.access;

    // The queue filtered to one category, as the dashboard asks for it; one of them is already closed.
    let one = format!("/api/v1/observations/{}", ids[0]);
    app.patch(&one, coordinator, &json!({ "status": "closed", "review_comment": "Lagat av Tyresö Bostäder" })).await;
    let queue: Value = app.get("/api/v1/observations?category=lighting", coordinator).await.json().await.unwrap();
    let selected: Vec<Value> = queue["items"].as_array().unwrap().iter().map(|item| item["id"].clone()).collect();
    assert_eq!(selected.len(), 4);

    let response = app
        .post(
            "/api/v1/observations/review",
            coordinator,
            &json!({ "ids": selected, "status": "closed", "review_comment": "Lagat av Tyresö Bostäder" }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!((body["changed"].as_i64(), body["unchanged"].as_i64()), (Some(3), Some(1)));
    assert!(body["items"].as_array().unwrap().iter().all(|item| item["status"] == "closed"));

    for (n, id) in ids.iter().enumerate() {
        let record: Value = app.get(&format!("/api/v1/observations/{id}"), coordinator).await.json().await.unwrap();
        let history: Vec<Value> =
            app.get(&format!("/api/v1/observations/{id}/history"), coordinator).await.json().await.unwrap();
        let reviews = history.iter().filter(|entry| entry["change"] == "review").count();
        if n < 4 {
            assert_eq!(record["status"], "closed", "{id}");
            assert_eq!(reviews, 1, "one history entry for {id}");
        } else {
            assert_eq!(record["status"], "new", "outside the selection: {id}");
            assert_eq!(reviews, 0, "{id}");
        }
    }
    // The reporter's phone gets every review on its next pull (the one closed alone, and the three).
    let changes = phone.pull().await;
    let closed =
        changes["observations"]["updated"].as_array().unwrap().iter().filter(|o| o["status"] == "closed").count();
    assert_eq!(closed, 4);
}

#[tokio::test]
async fn a_bulk_review_is_all_or_nothing_and_names_what_is_wrong() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let other = app.tenant("haninge").await;
    let phone = Phone::new(&app, &tenant.field.tokens.access);
    let theirs = Phone::new(&app, &other.field.tokens.access);
    let mine = "00000000-0000-7000-8000-000000000001";
    let foreign = "00000000-0000-7000-8000-000000000002";
    phone.push(created("observations", vec![observation(mine, "x")])).await;
    theirs.push(created("observations", vec![observation(foreign, "x")])).await;
    let coordinator = &tenant.coordinator.tokens.access;
    let app = &app;
    let review = |body: Value| async move { app.post("/api/v1/observations/review", coordinator, &body).await };

    // Another organisation's observation is unknown here, and nothing of the selection changes.
    let problem =
        assert_problem(review(json!({ "ids": [mine, foreign], "status": "closed" })).await, 422, "validation_failed")
            .await;
    assert_eq!(problem["errors"][0]["field"], "ids[1]");
    assert_eq!(problem["errors"][0]["code"], "unknown_observation");
    let record: Value = app.get(&format!("/api/v1/observations/{mine}"), coordinator).await.json().await.unwrap();
    assert_eq!(record["status"], "new");
    let theirs_now: Value = app
        .get(&format!("/api/v1/observations/{foreign}"), &other.coordinator.tokens.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs_now["status"], "new");

    let too_many: Vec<String> = (0..1001).map(|n| format!("id-{n}")).collect();
    for (body, field, code) in [
        (json!({ "status": "closed" }), "ids", "required"),
        (json!({ "ids": [], "status": "closed" }), "ids", "out_of_range"),
        (json!({ "ids": too_many, "status": "closed" }), "ids", "out_of_range"),
        (json!({ "ids": "all", "status": "closed" }), "ids", "required"),
        (json!({ "ids": [mine, 7], "status": "closed" }), "ids[1]", "invalid_id"),
        (json!({ "ids": [mine] }), "status", "nothing_to_change"),
        (json!({ "ids": [mine], "status": "lost" }), "status", "invalid_value"),
    ] {
        let problem = assert_problem(review(body.clone()).await, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
        if code != "invalid_value" {
            assert_eq!(problem["errors"][0]["code"], code, "{body}");
        }
    }
    for token in [&tenant.field.tokens.access, &tenant.partner.tokens.access] {
        let refused =
            app.post("/api/v1/observations/review", token, &json!({ "ids": [mine], "status": "closed" })).await;
        assert_problem(refused, 403, "forbidden").await;
    }
    // A repeated id counts once.
    let body: Value = review(json!({ "ids": [mine, mine], "status": "reviewed" })).await.json().await.unwrap();
    assert_eq!((body["changed"].as_i64(), body["unchanged"].as_i64()), (Some(1), Some(0)));
}
