//! The test harness: a real server on port 0 with a fresh database per test (SQLite in a temporary
//! directory, or a fresh PostgreSQL database when `LAGESBILD_TEST_POSTGRES_URL` is set, dropped
//! afterwards), and builders for the organisations and users a test needs.

use diesel::connection::SimpleConnection;
use lagesbild::accounts::{self, NewUser};
use lagesbild::config::{Secret, Settings};
use lagesbild::db::{DatabaseTarget, DbConnection};
use lagesbild::domain::identity::{Name, NewPassword, Role, Slug, TimeZone, Username};
use lagesbild::domain::password::Passwords;
use lagesbild::startup::Application;
use serde_json::{Value, json};
use std::sync::Once;
use tempfile::TempDir;

/// The signing key every test server uses, so tests can forge tokens.
pub const TEST_KEY: &str = "test-signing-key-with-at-least-32-bytes-of-entropy";
/// The password every seeded user has.
pub const PASSWORD: &str = "correct horse battery";

static TRACING: Once = Once::new();

/// A running server and what it stands on.
pub struct TestApp {
    /// Stops the server and joins its background threads when the test ends, before its data
    /// directory and its database go (fields drop in order).
    _server: Running,
    pub address: String,
    pub client: reqwest::Client,
    pub settings: Settings,
    pub data_dir: TempDir,
    postgres: Option<PostgresDatabase>,
}

/// A server running in the test's runtime; dropping it stops the server and joins its
/// background threads, so a test's threads end with the test.
pub struct Running(lagesbild::startup::Stopper);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.stop_now();
    }
}

/// Runs a built server in the test's runtime until the returned guard is dropped.
pub fn run(application: Application) -> Running {
    let stopper = application.stopper();
    tokio::spawn(application.run_until_stopped());
    Running(stopper)
}

pub struct PostgresDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        match lagesbild::db::connect_postgres(&self.admin_url) {
            Ok(mut conn) => {
                if let Err(error) =
                    conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name))
                {
                    eprintln!("could not drop test database {}: {error}", self.name);
                }
            }
            Err(error) => eprintln!("could not connect to drop test database {}: {error}", self.name),
        }
    }
}

/// The PostgreSQL server tests run against, if any.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var("LAGESBILD_TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty())
}

/// Creates a fresh, uniquely named PostgreSQL database; returns its URL and the guard that drops it.
pub fn fresh_postgres(admin_url: &str) -> (String, PostgresDatabase) {
    let name = format!("lagesbild_test_{}", uuid::Uuid::now_v7().simple());
    let mut admin =
        lagesbild::db::connect_postgres(admin_url).expect("LAGESBILD_TEST_POSTGRES_URL must reach PostgreSQL");
    admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).expect("cannot create a test database");
    let (base, _) = admin_url.rsplit_once('/').expect("the PostgreSQL URL needs a database path");
    (format!("{base}/{name}"), PostgresDatabase { admin_url: admin_url.to_owned(), name })
}

/// Settings for a test server: port 0, cheap password hashing, generous login limits.
pub fn test_settings(data_dir: &std::path::Path) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().expect("a literal address"),
        data_dir: data_dir.to_owned(),
        jwt_secret: Some(serde_json::from_value(json!(TEST_KEY)).expect("a secret")),
        argon2_memory_kib: 1024,
        argon2_iterations: 1,
        login_attempts_per_account: 1000,
        login_attempts_per_address: 1000,
        revocation_poll_ms: 100,
        workers: Some(1),
        ..Settings::default()
    }
}

/// A server with the default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A server whose settings the test adjusts first.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    TRACING.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            lagesbild::telemetry::init(lagesbild::config::LogFormat::Pretty);
        }
    });
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let mut settings = test_settings(data_dir.path());
    let postgres = postgres_admin_url().map(|admin_url| {
        let (url, guard) = fresh_postgres(&admin_url);
        settings.database_url = Some(secret(&url));
        guard
    });
    adjust(&mut settings);
    let application = Application::build(settings.clone()).expect("the application builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    let server = run(application);
    // Idle connections are let go well before the server's 5 s keep-alive ends them, so a
    // request is never sent on a connection the server is closing at that moment.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .build()
        .expect("an HTTP client");
    TestApp { _server: server, address, client, settings, data_dir, postgres }
}

/// A configuration secret from text.
pub fn secret(text: &str) -> Secret {
    serde_json::from_value(json!(text)).expect("a secret")
}

/// Tokens from a login or refresh.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

/// An organisation with one user of each role, all logged in on their own device.
pub struct Tenant {
    pub org_id: String,
    pub unit_id: String,
    pub admin: Member,
    pub coordinator: Member,
    pub field: Member,
    pub partner: Member,
}

/// A seeded user and their session.
pub struct Member {
    pub id: String,
    pub username: String,
    pub device: String,
    pub tokens: Tokens,
}

impl TestApp {
    /// The database URL the server uses, if not the default SQLite file.
    pub fn database_url(&self) -> Option<String> {
        self.settings.database_url.as_ref().map(|url| url.expose().to_owned())
    }

    /// The full URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Whether this server runs on PostgreSQL.
    pub fn on_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// A direct connection to the server's database, for arranging what tests need.
    pub fn conn(&self) -> DbConnection {
        DatabaseTarget::from_settings(&self.settings)
            .and_then(|target| target.connect())
            .expect("a database connection")
    }

    /// Creates an organisation; returns its id.
    pub fn seed_org(&self, slug: &str) -> String {
        let mut conn = self.conn();
        accounts::create_organisation(
            &mut conn,
            &Slug::parse("slug", slug).expect("a slug"),
            &Name::parse("name", &format!("Organisation {slug}")).expect("a name"),
            TimeZone::parse("tz", "Europe/Stockholm").expect("a zone"),
        )
        .expect("the organisation is created")
        .id
    }

    /// Creates a unit; returns its id.
    pub fn seed_unit(&self, organisation_id: &str, slug: &str) -> String {
        let mut conn = self.conn();
        accounts::create_unit(
            &mut conn,
            organisation_id,
            &Slug::parse("slug", slug).expect("a slug"),
            &Name::parse("name", &format!("Unit {slug}")).expect("a name"),
        )
        .expect("the unit is created")
        .id
    }

    /// Creates a user with `PASSWORD`; returns their id.
    pub fn seed_user(&self, organisation_id: &str, username: &str, role: Role, unit: Option<&str>) -> String {
        let mut conn = self.conn();
        let passwords = Passwords::new(1024, 1, 1).expect("argon2 parameters");
        accounts::create_user(
            &mut conn,
            &passwords,
            organisation_id,
            NewUser {
                username: Username::parse("username", username).expect("a username"),
                display_name: None,
                password: NewPassword::parse("password", PASSWORD).expect("a password"),
                role,
                unit: unit.map(|slug| Slug::parse("unit", slug).expect("a slug")),
            },
        )
        .expect("the user is created")
        .id
    }

    /// An organisation with an admin, a coordinator, a field user and a partner, all logged in.
    pub async fn tenant(&self, slug: &str) -> Tenant {
        let id = self.seed_org(slug);
        let unit_id = self.seed_unit(&id, "falt");
        let mut members = Vec::new();
        for (username, role) in
            [("admin", Role::Admin), ("coord", Role::Coordinator), ("field", Role::Field), ("partner", Role::Partner)]
        {
            let user_id = self.seed_user(&id, username, role, Some("falt"));
            let device = format!("{slug}-{username}-phone");
            let tokens = self.login(slug, username, PASSWORD, &device).await;
            members.push(Member { id: user_id, username: username.to_owned(), device, tokens });
        }
        let mut members = members.into_iter();
        let mut next = || members.next().expect("four members");
        Tenant { org_id: id, unit_id, admin: next(), coordinator: next(), field: next(), partner: next() }
    }

    /// Posts a login and returns the raw response.
    pub async fn login_response(&self, org: &str, username: &str, password: &str, device: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({
                "organisation": org,
                "username": username,
                "password": password,
                "device_id": device,
                "device_name": format!("{username}'s phone"),
            }))
            .send()
            .await
            .expect("the login request is answered")
    }

    /// Logs in and returns the tokens; panics unless the login succeeds.
    pub async fn login(&self, org: &str, username: &str, password: &str, device: &str) -> Tokens {
        let response = self.login_response(org, username, password, device).await;
        assert_eq!(response.status(), 200, "login of {username} failed");
        tokens_of(response.json().await.expect("a JSON body"))
    }

    /// Posts a refresh and returns the raw response.
    pub async fn refresh_response(&self, refresh_token: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/auth/refresh"))
            .json(&json!({ "refresh_token": refresh_token }))
            .send()
            .await
            .expect("the refresh request is answered")
    }

    /// GET with a bearer token.
    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(token).send().await.expect("answered")
    }

    /// POST JSON with a bearer token.
    pub async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client.post(self.url(path)).bearer_auth(token).json(body).send().await.expect("answered")
    }

    /// PATCH JSON with a bearer token.
    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client.patch(self.url(path)).bearer_auth(token).json(body).send().await.expect("answered")
    }
}

/// The tokens of a login or refresh body.
pub fn tokens_of(body: Value) -> Tokens {
    Tokens {
        access: body["access_token"].as_str().expect("an access token").to_owned(),
        refresh: body["refresh_token"].as_str().expect("a refresh token").to_owned(),
    }
}

/// Asserts a problem document with the status and code, and returns its body.
pub async fn assert_problem(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status, "unexpected status for expected code {code}");
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("a JSON problem");
    assert_eq!(body["code"], code, "problem body: {body}");
    assert_eq!(body["status"], status);
    for key in ["type", "title", "detail"] {
        assert!(body[key].is_string(), "problem without {key}: {body}");
    }
    body
}

/// Every observation id the dashboard list shows, page by page, from the server at `base`
/// (duplicates kept, so a test can check there are none).
pub async fn list_observation_ids(client: &reqwest::Client, base: &str, token: &str) -> Vec<String> {
    let mut listed = Vec::new();
    let mut url = format!("{base}/api/v1/observations?limit=1000");
    loop {
        let page: Value =
            client.get(&url).bearer_auth(token).send().await.expect("answered").json().await.expect("JSON");
        listed.extend(
            page["items"].as_array().expect("items").iter().map(|item| item["id"].as_str().expect("an id").to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => url = format!("{base}/api/v1/observations?limit=1000&after={next}"),
            None => return listed,
        }
    }
}
