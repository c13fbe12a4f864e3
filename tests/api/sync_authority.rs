//! Who may write what through sync: a field user owns their own records only, a partner writes
//! nothing, and another organisation's ids are out of reach whether pushed, deleted or pulled.
//! Each refusal is checked by reading what is stored afterwards.

use crate::helpers::*;
use crate::sync::{Phone, created, observation, updated};
use lagesbild::domain::identity::Role;
use serde_json::{Value, json};

const OBSERVATION: &str = "00000000-0000-7000-8000-00000000f001";
const ACTIVITY: &str = "00000000-0000-7000-8000-00000000f002";

fn activity(id: &str, note: &str) -> Value {
    let now = chrono::Utc::now().timestamp_millis();
    json!({
        "id": id, "activity_type": "outreach_shift", "unit": "falt", "started_at": now - 7_200_000,
        "ended_at": now - 3_600_000, "note": note, "girls": 1, "boys": 1, "age_13_15": 2,
    })
}

fn status(answer: &Value, id: &str) -> String {
    let result = answer["results"].as_array().unwrap().iter().find(|r| r["id"] == id);
    result.map_or_else(|| format!("no result in {answer}"), |r| r["status"].as_str().unwrap().to_owned())
}

/// Field user A's observation and activity log, as stored.
async fn arrange(app: &TestApp, tenant: &Tenant) -> (Value, Value) {
    let owner = Phone::new(app, &tenant.field.tokens.access);
    let mut push = created("observations", vec![observation(OBSERVATION, "A:s anteckning")]);
    push["activity_logs"] = json!({ "created": [activity(ACTIVITY, "A:s pass")], "updated": [], "deleted": [] });
    let answer = owner.push(push).await;
    assert_eq!(
        (status(&answer, OBSERVATION), status(&answer, ACTIVITY)),
        ("applied".into(), "applied".into()),
        "{answer}"
    );
    stored(app, tenant).await
}

async fn stored(app: &TestApp, tenant: &Tenant) -> (Value, Value) {
    let coordinator = &tenant.coordinator.tokens.access;
    let observation: Value =
        app.get(&format!("/api/v1/observations/{OBSERVATION}"), coordinator).await.json().await.unwrap();
    let activity: Value = app.get(&format!("/api/v1/activities/{ACTIVITY}"), coordinator).await.json().await.unwrap();
    (observation, activity)
}

#[tokio::test]
async fn a_field_user_cannot_create_over_update_or_delete_another_users_records() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let before = arrange(&app, &tenant).await;
    app.seed_user(&tenant.org_id, "other", Role::Field, None);
    let other = app.login("tyreso", "other", PASSWORD, "other-phone").await;
    let intruder = Phone::new(&app, &other.access);

    for bucket in ["created", "updated"] {
        let mut push = json!({
            "observations": { "created": [], "updated": [], "deleted": [] },
            "activity_logs": { "created": [], "updated": [], "deleted": [] },
        });
        push["observations"][bucket] = json!([observation(OBSERVATION, "B skrev över")]);
        push["activity_logs"][bucket] = json!([activity(ACTIVITY, "B skrev över")]);
        let answer = intruder.push(push).await;
        assert_eq!(status(&answer, OBSERVATION), "forbidden", "{bucket}: {answer}");
        assert_eq!(status(&answer, ACTIVITY), "forbidden", "{bucket}: {answer}");
    }
    let deletes = json!({
        "observations": { "created": [], "updated": [], "deleted": [OBSERVATION] },
        "activity_logs": { "created": [], "updated": [], "deleted": [ACTIVITY] },
    });
    let answer = intruder.push(deletes).await;
    assert_eq!((status(&answer, OBSERVATION), status(&answer, ACTIVITY)), ("forbidden".into(), "forbidden".into()));

    let after = stored(&app, &tenant).await;
    assert_eq!(after, before, "nothing of A's records changed");
    let history: Value = app
        .get(&format!("/api/v1/observations/{OBSERVATION}/history"), &tenant.coordinator.tokens.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history.as_array().map(Vec::len), Some(0), "no change is recorded: {history}");
    // And B's own phone gets nothing of A's.
    let mut phone = Phone::new(&app, &other.access);
    let pulled = phone.pull().await;
    assert!(!pulled.to_string().contains(OBSERVATION) && !pulled.to_string().contains(ACTIVITY), "{pulled}");
}

#[tokio::test]
async fn a_partners_push_stores_nothing() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let partner = &tenant.partner.tokens.access;
    let mut push = created("observations", vec![observation("00000000-0000-7000-8000-00000000f101", "partner")]);
    push["activity_logs"] = json!({ "created": [activity("00000000-0000-7000-8000-00000000f102", "partner")], "updated": [], "deleted": [] });
    let response = app.post("/api/v1/sync/push?last_pulled_at=null", partner, &push).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    for id in ["00000000-0000-7000-8000-00000000f101", "00000000-0000-7000-8000-00000000f102"] {
        assert_eq!(status(&answer, id), "forbidden", "{answer}");
    }
    let observations: Value =
        app.get("/api/v1/observations", &tenant.coordinator.tokens.access).await.json().await.unwrap();
    assert_eq!(observations["items"].as_array().map(Vec::len), Some(0), "{observations}");
    let activities: Value =
        app.get("/api/v1/activities", &tenant.coordinator.tokens.access).await.json().await.unwrap();
    assert_eq!(activities["items"].as_array().map(Vec::len), Some(0), "{activities}");
}

#[tokio::test]
async fn another_organisations_record_ids_are_out_of_reach_through_sync() {
    let app = spawn_app().await;
    let tyreso = app.tenant("tyreso").await;
    let nacka = app.tenant("nacka").await;
    let before = arrange(&app, &tyreso).await;

    // Ids are the organisation's own: Nacka's creates, updates and deletes of Tyresö's ids make
    // and change Nacka's own records; Tyresö's are never reached.
    for token in [&nacka.field.tokens.access, &nacka.coordinator.tokens.access, &nacka.admin.tokens.access] {
        let phone = Phone::new(&app, token);
        let mut push = created("observations", vec![observation(OBSERVATION, "Nacka skapade")]);
        push["activity_logs"] = json!({ "created": [activity(ACTIVITY, "Nacka")], "updated": [], "deleted": [] });
        phone.push(push).await;
        let mut push = updated("observations", vec![observation(OBSERVATION, "Nacka ändrade")]);
        push["activity_logs"] =
            json!({ "created": [], "updated": [activity(ACTIVITY, "Nacka ändrade")], "deleted": [] });
        phone.push(push).await;
        let deletes = json!({
            "observations": { "created": [], "updated": [], "deleted": [OBSERVATION] },
            "activity_logs": { "created": [], "updated": [], "deleted": [ACTIVITY] },
        });
        phone.push(deletes).await;
        assert_eq!(stored(&app, &tyreso).await, before, "Tyresö's records are untouched");
    }
    // Nacka's pulls and reads never show Tyresö's records.
    for token in [&nacka.field.tokens.access, &nacka.coordinator.tokens.access] {
        let mut phone = Phone::new(&app, token);
        let pulled = phone.pull().await.to_string();
        assert!(!pulled.contains("A:s anteckning") && !pulled.contains("A:s pass"), "{pulled}");
        assert_problem(app.get(&format!("/api/v1/observations/{OBSERVATION}"), token).await, 404, "not_found").await;
    }
    // Tyresö's coordinator sees no trace of Nacka's attempts.
    let mut phone = Phone::new(&app, &tyreso.coordinator.tokens.access);
    let pulled = phone.pull().await.to_string();
    assert!(!pulled.contains("Nacka"), "{pulled}");
}

#[tokio::test]
async fn a_refresh_token_past_its_lifetime_is_refused_and_ends_nothing_else() {
    use diesel::prelude::*;
    use lagesbild::db::schema::refresh_tokens;
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let old = app.login("tyreso", "field", PASSWORD, "old-phone").await;
    // The lifetime passes for the old phone's token only.
    let past = chrono::Utc::now().naive_utc() - chrono::Duration::seconds(1);
    let devices = refresh_tokens::device_id.like("%old-phone");
    let changed = diesel::update(refresh_tokens::table.filter(devices))
        .set(refresh_tokens::expires_at.eq(past))
        .execute(&mut app.conn());
    assert_eq!(changed.unwrap(), 1);
    assert_problem(app.refresh_response(&old.refresh).await, 401, "invalid_token").await;
    // The other phone of the same user refreshes as before.
    let response = app.refresh_response(&tenant.field.tokens.refresh).await;
    assert_eq!(response.status(), 200);
}
