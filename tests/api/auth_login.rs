//! Login: tokens, no user enumeration, disabled accounts, rate limits.

use crate::helpers::*;
use lagesbild::domain::identity::Role;
use serde_json::{Value, json};

#[tokio::test]
async fn login_returns_bearer_tokens_bound_to_the_device() {
    let app = spawn_app().await;
    let org = app.seed_org("tyreso");
    app.seed_user(&org, "anna", Role::Coordinator, None);
    let response = app.login_response("tyreso", "Anna", PASSWORD, "phone-1").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let tokens = tokens_of(body);
    let me: Value = app.get("/api/v1/me", &tokens.access).await.json().await.unwrap();
    assert_eq!(me["username"], "anna");
    assert_eq!(me["role"], "coordinator");
    assert_eq!(me["device_id"], "phone-1");
    assert_eq!(me["organisation"]["slug"], "tyreso");
}

#[tokio::test]
async fn wrong_password_unknown_user_and_unknown_organisation_look_the_same() {
    let app = spawn_app().await;
    let org = app.seed_org("tyreso");
    app.seed_user(&org, "anna", Role::Field, None);
    let mut bodies = Vec::new();
    for (org, user, password) in
        [("tyreso", "anna", "wrong password!"), ("tyreso", "nobody", PASSWORD), ("nowhere", "anna", PASSWORD)]
    {
        let response = app.login_response(org, user, password, "phone-1").await;
        let mut body = assert_problem(response, 401, "invalid_credentials").await;
        body.as_object_mut().unwrap().remove("request_id");
        bodies.push(body);
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[1], bodies[2]);
}

#[tokio::test]
async fn a_disabled_user_learns_it_only_with_the_right_password() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let patched = app
        .patch(&format!("/api/v1/users/{}", tenant.field.id), &tenant.admin.tokens.access, &json!({ "disabled": true }))
        .await;
    assert_eq!(patched.status(), 200);
    let wrong = app.login_response("tyreso", "field", "not the password", "phone-9").await;
    assert_problem(wrong, 401, "invalid_credentials").await;
    let right = app.login_response("tyreso", "field", PASSWORD, "phone-9").await;
    assert_problem(right, 401, "account_disabled").await;
}

#[tokio::test]
async fn login_fields_are_checked() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "organisation": "", "username": "anna", "password": "x", "device_id": "bad device id!" }))
        .send()
        .await
        .unwrap();
    let body = assert_problem(response, 422, "validation_failed").await;
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["organisation", "device_id"]);
}

#[tokio::test]
async fn login_is_limited_per_account_with_retry_after() {
    let app = spawn_app_with(|settings| {
        settings.login_attempts_per_account = 3;
        settings.login_window_secs = 60;
    })
    .await;
    let org = app.seed_org("tyreso");
    app.seed_user(&org, "anna", Role::Field, None);
    app.seed_user(&org, "bo", Role::Field, None);
    for _ in 0..3 {
        let response = app.login_response("tyreso", "anna", "wrong password", "phone-1").await;
        assert_eq!(response.status(), 401);
    }
    let limited = app.login_response("tyreso", "ANNA", PASSWORD, "phone-1").await;
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After is {retry_after}");
    assert_problem(limited, 429, "too_many_requests").await;
    // Another account from the same address is not locked out by anna's limit.
    assert_eq!(app.login_response("tyreso", "bo", PASSWORD, "phone-2").await.status(), 200);
}

#[tokio::test]
async fn login_is_limited_per_client_address() {
    let app = spawn_app_with(|settings| {
        settings.login_attempts_per_address = 4;
        settings.login_window_secs = 60;
    })
    .await;
    let org = app.seed_org("tyreso");
    app.seed_user(&org, "anna", Role::Field, None);
    for n in 0..4 {
        let response = app.login_response("tyreso", &format!("guess{n}"), "wrong password", "phone-1").await;
        assert_eq!(response.status(), 401);
    }
    let limited = app.login_response("tyreso", "anna", PASSWORD, "phone-1").await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_problem(limited, 429, "too_many_requests").await;
}

/// Several servers on one database (processes behind a load balancer) count the same attempts:
/// an account that used its allowance on one server is refused on the other, and so is an address.
/// The stored keys name no account and no address.
#[tokio::test]
async fn login_limits_hold_across_servers_sharing_the_database() {
    let app = spawn_app_with(|settings| {
        settings.login_attempts_per_account = 3;
        settings.login_attempts_per_address = 5;
        settings.login_window_secs = 60;
    })
    .await;
    let org = app.seed_org("tyreso");
    app.seed_user(&org, "anna", Role::Field, None);
    app.seed_user(&org, "bo", Role::Field, None);
    let other = lagesbild::startup::Application::build(app.settings.clone()).unwrap();
    let other_login = format!("http://127.0.0.1:{}/api/v1/auth/login", other.port());
    let _other = crate::helpers::run(other);
    let login_on_other = |username: &str| {
        app.client
            .post(&other_login)
            .json(&json!({ "organisation": "tyreso", "username": username, "password": PASSWORD, "device_id": "phone-9" }))
            .send()
    };

    for _ in 0..3 {
        assert_eq!(app.login_response("tyreso", "anna", "wrong password", "phone-1").await.status(), 401);
    }
    assert_problem(login_on_other("anna").await.unwrap(), 429, "too_many_requests").await;
    // The address has used four of its five attempts (the refused one counts too): bo's login on
    // the other server is its last, and after it the address is refused for every account.
    assert_eq!(login_on_other("bo").await.unwrap().status(), 200);
    assert_problem(app.login_response("tyreso", "bo", PASSWORD, "phone-2").await, 429, "too_many_requests").await;

    use diesel::prelude::*;
    use lagesbild::db::schema::login_limits;
    let keys: Vec<String> = login_limits::table.select(login_limits::key).load(&mut app.conn()).unwrap();
    assert_eq!(keys.len(), 3, "one address and two accounts: {keys:?}");
    for key in keys {
        assert!(key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
    }
}

/// Password checks run a few at a time (one per core); a burst of logins waits its turn rather
/// than being refused, and every login in it gets its tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_logins_waits_for_password_checks_and_every_login_succeeds() {
    let app = spawn_app().await;
    let org = app.seed_org("tyreso");
    app.seed_user(&org, "anna", Role::Field, None);
    let logins = (0..24).map(|i| {
        let password = if i % 4 == 3 { "wrong horse battery" } else { PASSWORD };
        let app = &app;
        async move { (i, app.login_response("tyreso", "anna", password, &format!("phone-{i}")).await.status()) }
    });
    for (i, status) in futures_util::future::join_all(logins).await {
        assert_eq!(status, if i % 4 == 3 { 401 } else { 200 }, "login {i}");
    }
}

/// The limits' arithmetic on the stored arrival times, with the clock given: an allowance is
/// available at once, comes back one attempt per interval, and a refusal says how long to wait.
#[tokio::test]
async fn an_allowance_is_spent_at_once_and_comes_back_one_attempt_per_interval() {
    use lagesbild::db::queries::login_limits::{Limit, Refusal, forget_idle, take};
    let app = spawn_app().await;
    let mut conn = app.conn();
    // Three attempts per minute.
    let limit = |key: &str| Limit { key: key.to_owned(), interval_ms: 20_000, tolerance_ms: 40_000 };
    // The clock starts now: the server's own purge of idle limits, which runs on a thread of its
    // own with the real clock, then finds none of these keys idle while the test runs.
    let start = chrono::Utc::now().timestamp_millis();
    for _ in 0..3 {
        assert_eq!(take(&mut conn, &[limit("a")], start).unwrap(), Ok(()));
    }
    assert_eq!(take(&mut conn, &[limit("a")], start).unwrap(), Err(Refusal { limit: 0, wait_ms: 20_000 }));
    assert_eq!(
        take(&mut conn, &[limit("a")], start + 5_000).unwrap(),
        Err(Refusal { limit: 0, wait_ms: 15_000 }),
        "refusals cost nothing"
    );
    assert_eq!(take(&mut conn, &[limit("a")], start + 20_000).unwrap(), Ok(()), "one attempt is back");
    assert_eq!(take(&mut conn, &[limit("a")], start + 20_000).unwrap(), Err(Refusal { limit: 0, wait_ms: 20_000 }));
    // A refusal by a later limit keeps the attempt counted by the earlier ones; a refusal by the
    // first touches none after it.
    assert_eq!(
        take(&mut conn, &[limit("b"), limit("a")], start + 20_000).unwrap(),
        Err(Refusal { limit: 1, wait_ms: 20_000 })
    );
    assert_eq!(
        take(&mut conn, &[limit("a"), limit("c")], start + 20_000).unwrap(),
        Err(Refusal { limit: 0, wait_ms: 20_000 })
    );
    for _ in 0..2 {
        assert_eq!(take(&mut conn, &[limit("b")], start + 20_000).unwrap(), Ok(()));
    }
    assert_eq!(
        take(&mut conn, &[limit("b")], start + 20_000).unwrap(),
        Err(Refusal { limit: 0, wait_ms: 20_000 }),
        "b had one attempt counted"
    );
    assert_eq!(take(&mut conn, &[limit("c")], start + 20_000).unwrap(), Ok(()));
    // Once a whole minute passed after the last attempt, every allowance is full and its key is
    // forgotten.
    assert_eq!(forget_idle(&mut conn, start + 60_000).unwrap(), 1, "c is full again; a and b are not");
    assert_eq!(forget_idle(&mut conn, start + 100_000).unwrap(), 2);
    for _ in 0..3 {
        assert_eq!(take(&mut conn, &[limit("a")], start + 100_000).unwrap(), Ok(()));
    }
}
