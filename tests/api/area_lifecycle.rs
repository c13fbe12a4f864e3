//! The life of areas after their import: delete and revival, and the reassignment jobs that
//! follow every change, racing with pushes, superseding each other and taken over when the
//! process running one stops.

use crate::areas::{area_of, observation, push, rect, tyreso, wait_for_jobs};
use crate::cli::{lagesbild, run};
use crate::helpers::*;
use diesel::prelude::*;
use lagesbild::db::queries::area_jobs::{self, Lease, Progress};
use lagesbild::db::queries::areas;
use lagesbild::db::schema::area_jobs as jobs_table;
use serde_json::{Value, json};

/// Another process's claim, long enough that the test server never takes its jobs over.
fn other_process() -> Lease {
    Lease { owner: "another-process".to_owned(), duration_ms: 600_000 }
}

async fn delete(app: &TestApp, token: &str, code: &str) -> reqwest::Response {
    app.client.delete(app.url(&format!("/api/v1/areas/{code}"))).bearer_auth(token).send().await.unwrap()
}

async fn listed_codes(app: &TestApp, token: &str) -> Vec<String> {
    let listed: Value = app.get("/api/v1/areas", token).await.json().await.unwrap();
    listed["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["code"].as_str().unwrap().to_owned())
        .collect()
}

async fn pull(app: &TestApp, token: &str, cursor: Option<i64>) -> Value {
    let cursor = cursor.map_or_else(|| "null".to_owned(), |c| c.to_string());
    app.get(&format!("/api/v1/sync/pull?last_pulled_at={cursor}"), token).await.json().await.unwrap()
}

const IN_GR: &str = "0193e000-0000-7000-8000-000000000001";
const IN_TB: &str = "0193e000-0000-7000-8000-000000000002";
const NEW_IN_TB: &str = "0193e000-0000-7000-8000-000000000003";

/// An organisation with the areas of `tyreso()` and one observation in Granängsringen, placed
/// and its job done. The push also leaves the server holding the rules (and areas) of this
/// moment.
async fn tenant_with_a_record_in_gr(app: &TestApp) -> Tenant {
    let tenant = app.tenant("tyreso").await;
    app.post("/api/v1/areas", &tenant.admin.tokens.access, &tyreso()).await;
    push(app, &tenant.field.tokens.access, vec![observation(IN_GR, 59.225, 18.23)]).await;
    wait_for_jobs(app, &tenant.coordinator.tokens.access).await;
    tenant
}

#[tokio::test]
async fn a_deleted_area_leaves_the_list_reaches_phones_as_deleted_and_its_records_move_up() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let (field, coordinator, admin) =
        (&tenant.field.tokens.access, &tenant.coordinator.tokens.access, &tenant.admin.tokens.access);
    app.post("/api/v1/areas", admin, &tyreso()).await;
    push(&app, field, vec![observation(IN_GR, 59.225, 18.23), observation(IN_TB, 59.23, 18.32)]).await;
    wait_for_jobs(&app, coordinator).await;
    assert_eq!(area_of(&app, coordinator, IN_GR).await, "GR");
    let first = pull(&app, field, None).await;
    let id_of = |code: &str| {
        first["changes"]["areas"]["created"].as_array().unwrap().iter().find(|a| a["code"] == code).unwrap()["id"]
            .clone()
    };
    let (gr, ty) = (id_of("GR"), id_of("TY"));
    let cursor = first["timestamp"].as_i64();

    // Only admins delete; unknown codes and parents of live areas are refused.
    assert_problem(delete(&app, coordinator, "GR").await, 403, "forbidden").await;
    let missing = assert_problem(delete(&app, admin, "NOPE").await, 404, "area_not_found").await;
    assert_eq!(missing["errors"][0]["field"], "code");
    let parent = assert_problem(delete(&app, admin, "TY").await, 409, "area_has_children").await;
    assert!(parent["detail"].as_str().unwrap().contains("`GR`"), "{parent}");
    assert_eq!(parent["errors"][0]["field"], "code");
    assert!(parent["errors"][0]["message"].as_str().unwrap().contains("Granängsringen"), "{parent}");

    let deleted = delete(&app, admin, "GR").await;
    assert_eq!(deleted.status(), 204);
    assert_problem(delete(&app, admin, "GR").await, 404, "area_not_found").await;
    assert_eq!(listed_codes(&app, admin).await, ["TB", "TY"]);
    let next = pull(&app, field, cursor).await;
    assert_eq!(next["changes"]["areas"]["deleted"], json!([gr]), "{next}");
    assert_eq!(next["changes"]["areas"]["updated"], json!([]));
    let fresh = pull(&app, field, None).await;
    assert_eq!(fresh["changes"]["areas"]["created"].as_array().unwrap().len(), 2, "a first sync gets no tombstones");

    // The job places the record in the parent; with the parent gone too, outside every area.
    let jobs = wait_for_jobs(&app, coordinator).await;
    assert_eq!((jobs[0]["state"].as_str(), jobs[0]["changed"].as_i64()), (Some("done"), Some(1)), "{jobs:?}");
    assert_eq!(area_of(&app, coordinator, IN_GR).await, "TY");
    assert_eq!(delete(&app, admin, "TY").await.status(), 204);
    wait_for_jobs(&app, coordinator).await;
    assert_eq!(area_of(&app, coordinator, IN_GR).await, Value::Null);
    assert_eq!(area_of(&app, coordinator, IN_TB).await, "TB", "records elsewhere stay");

    // Importing the codes again brings them back, with their ids, and their records.
    let cursor = next["timestamp"].as_i64();
    let revived: Value = app.post("/api/v1/areas", admin, &tyreso()).await.json().await.unwrap();
    assert_eq!((revived["created"].as_i64(), revived["updated"].as_i64()), (Some(0), Some(2)), "{revived}");
    assert_eq!(listed_codes(&app, admin).await, ["GR", "TB", "TY"]);
    wait_for_jobs(&app, coordinator).await;
    assert_eq!(area_of(&app, coordinator, IN_GR).await, "GR");
    let after = pull(&app, field, cursor).await;
    let mut back: Vec<Value> =
        after["changes"]["areas"]["updated"].as_array().unwrap().iter().map(|a| a["id"].clone()).collect();
    back.sort_by_key(ToString::to_string);
    let mut expected = vec![gr, ty];
    expected.sort_by_key(ToString::to_string);
    assert_eq!(back, expected);
    assert_eq!(after["changes"]["areas"]["deleted"], json!([]));
}

#[tokio::test]
async fn the_command_line_deletes_an_area_and_reassigns_its_records() {
    let app = spawn_app().await;
    let tenant = tenant_with_a_record_in_gr(&app).await;
    let (coordinator, admin) = (&tenant.coordinator.tokens.access, &tenant.admin.tokens.access);

    let (code, _, err) = run(lagesbild(&app).args(["areas", "delete", "TY", "--org", "tyreso"]), "");
    assert_ne!(code, 0);
    assert!(err.contains("GR"), "{err}");
    let (code, out, err) = run(lagesbild(&app).args(["areas", "delete", "GR", "--org", "tyreso"]), "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 of 1 record(s) reassigned"), "{out}");
    assert_eq!(area_of(&app, coordinator, IN_GR).await, "TY");
    assert_eq!(listed_codes(&app, admin).await, ["TB", "TY"]);
    let (code, _, err) = run(lagesbild(&app).args(["areas", "delete", "GR", "--org", "tyreso"]), "");
    assert_ne!(code, 0);
    assert!(err.contains("no live area"), "{err}");
}

#[tokio::test]
async fn a_record_moved_while_a_batch_runs_keeps_the_area_of_its_new_place() {
    let app = spawn_app().await;
    let tenant = tenant_with_a_record_in_gr(&app).await;
    let (field, coordinator) = (&tenant.field.tokens.access, &tenant.coordinator.tokens.access);
    let cursor = pull(&app, field, None).await["timestamp"].as_i64().unwrap();

    // Another process moves Granängsringen east, and its job reads the first batch: the record
    // is now outside Granängsringen and would move up to Tyresö.
    let mut moved = tyreso();
    moved["features"][1]["geometry"] = rect(18.25, 59.24, 0.02, 0.01);
    let mut conn = app.conn();
    let lease = other_process();
    let (_, job) = areas::import_collection(&mut conn, &tenant.org_id, &moved, &lease).unwrap();
    let mut job = job.expect("the import changed something");
    let index = areas::index(&mut conn, &tenant.org_id).unwrap();
    let plan = area_jobs::plan_batch(&mut conn, &job, &index).unwrap();
    assert_eq!(plan.moves.len(), 1, "{plan:?}");
    assert_eq!(plan.moves[0].area.as_deref(), Some("TY"));

    // Meanwhile the phone moves the record into the new Granängsringen. The server still holds
    // the old areas for its rules, but places the record with the current ones.
    let mut record = observation(IN_GR, 59.245, 18.26);
    record["note"] = json!("moved");
    let response = app
        .post(
            &format!("/api/v1/sync/push?last_pulled_at={cursor}"),
            field,
            &json!({ "observations": { "created": [], "updated": [record], "deleted": [] } }),
        )
        .await;
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["results"][0]["status"], "applied", "{answer}");
    assert_eq!(area_of(&app, coordinator, IN_GR).await, "GR", "placed at ingest with the current areas");
    // A record new since the job started: the job goes through it too, and its total grows.
    push(&app, field, vec![observation(NEW_IN_TB, 59.23, 18.32)]).await;

    // The batch then writes: the record changed since it was read, so the move is not applied.
    let now = chrono::Utc::now().timestamp_millis();
    assert_eq!(area_jobs::apply_batch(&mut conn, &mut job, &index, plan, &lease, now).unwrap(), Progress::More);
    assert_eq!((job.done, job.changed), (1, 0));
    assert_eq!(area_of(&app, coordinator, IN_GR).await, "GR", "the push wins over the batch");
    let (job, progress) = area_jobs::run_to_end(&mut conn, job, &lease).unwrap();
    assert_eq!((progress, job.state.as_str()), (Progress::Finished, "done"));
    assert_eq!((job.done, job.total), (2, 2), "counted when the job started: 1");
    assert_eq!(area_of(&app, coordinator, IN_GR).await, "GR");
    assert_eq!(area_of(&app, coordinator, NEW_IN_TB).await, "TB");
}

#[tokio::test]
async fn a_newer_job_supersedes_an_unfinished_one_whose_batches_then_write_nothing() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let (field, coordinator, admin) =
        (&tenant.field.tokens.access, &tenant.coordinator.tokens.access, &tenant.admin.tokens.access);
    push(&app, field, vec![observation(IN_GR, 59.225, 18.23)]).await;
    // Another process imports and has not yet run its job.
    let mut conn = app.conn();
    let lease = other_process();
    let (_, old) = areas::import_collection(&mut conn, &tenant.org_id, &tyreso(), &lease).unwrap();
    let old = old.unwrap();
    let old_index = areas::index(&mut conn, &tenant.org_id).unwrap();

    // Granängsringen is deleted here: the new job supersedes the old one and places the record.
    assert_eq!(delete(&app, admin, "GR").await.status(), 204);
    let jobs = wait_for_jobs(&app, coordinator).await;
    let states: Vec<&str> = jobs.iter().map(|job| job["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["done", "superseded"], "newest first: {jobs:?}");
    assert_eq!(jobs[1]["id"], old.id.as_str());
    assert!(jobs[1]["finished_at"].is_string());
    assert_eq!(area_of(&app, coordinator, IN_GR).await, "TY");

    // The old job's owner wakes up with its stale index: nothing is written.
    let mut stale = old.clone();
    let now = chrono::Utc::now().timestamp_millis();
    assert_eq!(area_jobs::run_batch(&mut conn, &mut stale, &old_index, &lease, now).unwrap(), Progress::Lost);
    assert_eq!(area_of(&app, coordinator, IN_GR).await, "TY", "the stale index would say GR");
    let state: String = jobs_table::table.find(&old.id).select(jobs_table::state).first(&mut conn).unwrap();
    assert_eq!(state, "superseded");
}

#[tokio::test]
async fn a_job_whose_lease_ran_out_is_taken_over_and_resumes_where_it_stopped() {
    let app = spawn_app_with(|settings| settings.area_job_lease_secs = 1).await;
    let tenant = app.tenant("tyreso").await;
    let (field, coordinator) = (&tenant.field.tokens.access, &tenant.coordinator.tokens.access);
    let ids = [
        "0193f000-0000-7000-8000-000000000001",
        "0193f000-0000-7000-8000-000000000002",
        "0193f000-0000-7000-8000-000000000003",
    ];
    push(&app, field, ids.iter().map(|id| observation(id, 59.225, 18.23)).collect()).await;
    // A process imported, placed the first record's batch position, and stopped.
    let mut conn = app.conn();
    let (_, job) = areas::import_collection(&mut conn, &tenant.org_id, &tyreso(), &other_process()).unwrap();
    let job = job.unwrap();
    let past = chrono::Utc::now().timestamp_millis() - 1_000;
    diesel::update(jobs_table::table.find(&job.id))
        .set((
            jobs_table::last_table.eq("observations"),
            jobs_table::last_id.eq(ids[0]),
            jobs_table::done.eq(1),
            jobs_table::lease_until.eq(past),
        ))
        .execute(&mut conn)
        .unwrap();

    let jobs = wait_for_jobs(&app, coordinator).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        (jobs[0]["state"].as_str(), jobs[0]["done"].as_i64(), jobs[0]["changed"].as_i64()),
        (Some("done"), Some(3), Some(2))
    );
    let owner: Option<String> = jobs_table::table.find(&job.id).select(jobs_table::owner).first(&mut conn).unwrap();
    assert!(owner.is_some_and(|owner| owner != "another-process"), "this server took it over");
    // Resumed after the first record, which the stopped process was taken to have done.
    assert_eq!(area_of(&app, coordinator, ids[0]).await, Value::Null);
    assert_eq!(area_of(&app, coordinator, ids[1]).await, "GR");
    assert_eq!(area_of(&app, coordinator, ids[2]).await, "GR");
}

#[tokio::test]
async fn a_deleted_area_leaves_the_picture_once_its_records_have_moved() {
    let app = spawn_app().await;
    let tenant = tenant_with_a_record_in_gr(&app).await;
    let (coordinator, admin) = (&tenant.coordinator.tokens.access, &tenant.admin.tokens.access);
    let codes = |picture: &Value| -> Vec<String> {
        picture["areas"].as_array().unwrap().iter().map(|row| row["area"].as_str().unwrap().to_owned()).collect()
    };
    // The picture is read (and so held in memory) before the delete.
    let before: Value = app.get("/api/v1/picture", coordinator).await.json().await.unwrap();
    assert_eq!(codes(&before), ["GR", "TB", "TY"]);
    assert_eq!(delete(&app, admin, "GR").await.status(), 204);
    wait_for_jobs(&app, coordinator).await;
    let after: Value = app.get("/api/v1/picture", coordinator).await.json().await.unwrap();
    assert_eq!(codes(&after), ["TB", "TY"], "{after}");
    let ty = after["areas"].as_array().unwrap().iter().find(|row| row["area"] == "TY").unwrap();
    assert_eq!(ty["observations"], 1, "the record moved up to the parent: {after}");
}
