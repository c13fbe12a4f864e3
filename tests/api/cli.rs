//! The command line, run as a user would: the built binary, its output and its exit status.

use crate::helpers::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The binary, pointed at the test app's database.
pub fn lagesbild(app: &TestApp) -> Command {
    in_app_environment(Command::new(env!("CARGO_BIN_EXE_lagesbild")), app)
}

/// A command with a clean environment in which `lagesbild` is the built binary and uses the
/// test app's database.
pub fn in_app_environment(mut command: Command, app: &TestApp) -> Command {
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_lagesbild")).parent().unwrap().to_owned();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(&path))).unwrap();
    command
        .env_clear()
        .env("PATH", path)
        .env("LAGESBILD_DATA_DIR", app.data_dir.path())
        .env("LAGESBILD_ARGON2_MEMORY_KIB", "1024")
        .env("LAGESBILD_ARGON2_ITERATIONS", "1")
        .env("RUST_LOG", "warn");
    if let Some(url) = app.database_url() {
        command.env("DATABASE_URL", url);
    }
    command
}

/// Runs `serve --listen 127.0.0.1:0` from the command and returns the process and the address it
/// logged.
pub fn serve_in_background(command: &mut Command) -> (std::process::Child, String) {
    serve_listening_on(command, "127.0.0.1:0")
}

/// Runs `serve --listen LISTEN` from the command and returns the process and the address it
/// logged.
fn serve_listening_on(command: &mut Command, listen: &str) -> (std::process::Child, String) {
    let mut server = command
        .env("LAGESBILD_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .args(["serve", "--listen", listen])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let address = loop {
        let line = lines.next().expect("the server logs its address").unwrap();
        if let Some(rest) = line.split("\"address\":\"").nth(1) {
            break rest.split('"').next().unwrap().to_owned();
        }
    };
    // Keep reading so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (server, address)
}

/// Runs the command with `stdin`; returns its exit code, standard output and standard error.
pub fn run(command: &mut Command, stdin: &str) -> (i32, String, String) {
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn an_installer_sets_up_an_organisation_from_the_command_line() {
    let app = spawn_app().await;
    let (code, out, _) = run(lagesbild(&app).args(["org", "add", "--slug", "tyreso", "--name", "Tyresö kommun"]), "");
    assert_eq!(code, 0);
    assert!(out.contains("created organisation tyreso"), "{out}");
    let (code, _, _) = run(
        lagesbild(&app).args(["unit", "add", "--org", "tyreso", "--slug", "falt", "--name", "Fältassistenter"]),
        "",
    );
    assert_eq!(code, 0);
    let (code, out, err) = run(
        lagesbild(&app).args([
            "user",
            "add",
            "--org",
            "tyreso",
            "--username",
            "anna",
            "--role",
            "coordinator",
            "--unit",
            "falt",
        ]),
        "ett långt lösenord\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("created user anna (coordinator)"), "{out}");
    let (code, _, err) = run(
        lagesbild(&app)
            .args([
                "user",
                "add",
                "--org",
                "tyreso",
                "--username",
                "bo",
                "--role",
                "admin",
                "--password-env",
                "BO_PASSWORD",
            ])
            .env("BO_PASSWORD", "bos hemliga lösen"),
        "",
    );
    assert_eq!(code, 0, "{err}");

    let anna = app.login("tyreso", "anna", "ett långt lösenord", "phone-a").await;
    let me: serde_json::Value = app.get("/api/v1/me", &anna.access).await.json().await.unwrap();
    assert_eq!(me["unit"]["slug"], "falt");
    assert_eq!(me["organisation"]["name"], "Tyresö kommun");
    app.login("tyreso", "bo", "bos hemliga lösen", "phone-b").await;

    // What was set up can be listed.
    let (code, out, _) = run(lagesbild(&app).args(["org", "list"]), "");
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l.starts_with("tyreso") && l.contains("Tyresö kommun")), "{out}");
    let (_, out, _) = run(lagesbild(&app).args(["unit", "list", "--org", "tyreso"]), "");
    assert!(out.lines().any(|l| l.starts_with("falt") && l.contains("Fältassistenter")), "{out}");
    let (_, out, _) = run(lagesbild(&app).args(["user", "list", "--org", "tyreso"]), "");
    let line = |name: &str| out.lines().find(|l| l.starts_with(name)).map(|l| l.split_whitespace().collect::<Vec<_>>());
    assert_eq!(line("anna"), Some(vec!["anna", "coordinator", "falt"]), "{out}");
    assert_eq!(line("bo"), Some(vec!["bo", "admin", "-"]), "{out}");

    // The only administrator forgot the password: a new one from the command line ends the old
    // sessions, and the old password no longer works.
    let bo = app.login("tyreso", "bo", "bos hemliga lösen", "phone-b").await;
    let (code, out, err) =
        run(lagesbild(&app).args(["user", "passwd", "--org", "tyreso", "--username", "bo"]), "ett nytt långt lösen\n");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("new password set for bo"), "{out}");
    assert_eq!(app.login_response("tyreso", "bo", "bos hemliga lösen", "phone-b").await.status(), 401);
    assert_eq!(app.refresh_response(&bo.refresh).await.status(), 401, "the old session ended");
    app.login("tyreso", "bo", "ett nytt långt lösen", "phone-b").await;
    let (code, _, err) = run(lagesbild(&app).args(["user", "passwd", "--org", "tyreso", "--username", "bo"]), "kort\n");
    assert_eq!(code, 1);
    assert!(err.contains("at least 10"), "{err}");
}

#[tokio::test]
async fn refused_commands_exit_1_with_a_clear_message() {
    let app = spawn_app().await;
    let org = ["org", "add", "--slug", "tyreso", "--name", "Tyresö kommun"];
    assert_eq!(run(lagesbild(&app).args(org), "").0, 0);
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (org.to_vec(), "", "already exists"),
        (vec!["org", "add", "--slug", "Bad Slug", "--name", "x"], "", "--slug"),
        (vec!["org", "add", "--slug", "x", "--name", "x", "--time-zone", "Mars/Olympus"], "", "--time-zone"),
        (
            vec!["user", "add", "--org", "nowhere", "--username", "a", "--role", "field"],
            "long password 1\n",
            "no organisation `nowhere`",
        ),
        (
            vec!["user", "add", "--org", "tyreso", "--username", "a", "--role", "king"],
            "long password 1\n",
            "unknown role",
        ),
        (vec!["user", "add", "--org", "tyreso", "--username", "a", "--role", "field"], "short\n", "at least 10"),
        (
            vec!["user", "add", "--org", "tyreso", "--username", "a", "--role", "field", "--unit", "nope"],
            "long password 1\n",
            "no unit `nope`",
        ),
        (
            vec!["user", "add", "--org", "tyreso", "--username", "a", "--role", "field", "--password-env", "UNSET_VAR"],
            "",
            "UNSET_VAR",
        ),
        (vec!["user", "disable", "--org", "tyreso", "--username", "ghost"], "", "no user `ghost`"),
        (vec!["device", "revoke", "--org", "tyreso", "--device", "no-such-phone"], "", "no device `no-such-phone`"),
    ];
    for (args, stdin, message) in cases {
        let (code, _, err) = run(lagesbild(&app).args(&args), stdin);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.starts_with("error: ") && err.contains(message), "{args:?}: {err}");
    }
    let (code, _, _) = run(
        lagesbild(&app).args(["user", "add", "--org", "tyreso", "--username", "a", "--role", "field"]),
        "long password 1\n",
    );
    assert_eq!(code, 0);
    let (code, _, err) = run(
        lagesbild(&app).args(["user", "add", "--org", "tyreso", "--username", "A", "--role", "field"]),
        "long password 1\n",
    );
    assert_eq!(code, 1);
    assert!(err.contains("already taken"), "{err}");
    assert_eq!(run(lagesbild(&app).args(["org", "frobnicate"]), "").0, 2, "wrong usage is exit 2");
}

#[tokio::test]
async fn disabling_from_the_command_line_reaches_the_running_server() {
    let app = spawn_app().await;
    let tenant = app.tenant("tyreso").await;
    let (code, out, _) = run(lagesbild(&app).args(["user", "disable", "--org", "tyreso", "--username", "field"]), "");
    assert_eq!(code, 0);
    assert!(out.contains("disabled user field"), "{out}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.get("/api/v1/me", &tenant.field.tokens.access).await.status() == 200 {
        assert!(Instant::now() < deadline, "the server never saw the change");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_problem(app.get("/api/v1/me", &tenant.field.tokens.access).await, 401, "account_disabled").await;
    assert_eq!(run(lagesbild(&app).args(["user", "enable", "--org", "tyreso", "--username", "field"]), "").0, 0);
    app.login("tyreso", "field", PASSWORD, "phone-new").await;
}

#[tokio::test]
async fn migrate_reports_what_it_applied() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_lagesbild"));
    command.env_clear().env("LAGESBILD_DATA_DIR", dir.path()).env("RUST_LOG", "warn");
    let _drop_afterwards = postgres_admin_url().map(|admin| {
        let (url, guard) = fresh_postgres(&admin);
        command.env("DATABASE_URL", url);
        guard
    });
    let (code, out, _) = run(command.args(["migrate", "--status"]), "");
    assert_eq!(code, 0);
    assert!(out.contains("pending"), "{out}");
    let (code, out, _) = run(&mut command_args(&command, &["migrate"]), "");
    assert_eq!(code, 0);
    assert!(out.contains("applied") && out.contains("20261125000001"), "{out}");
    let (code, out, _) = run(&mut command_args(&command, &["migrate"]), "");
    assert_eq!(code, 0);
    assert!(out.contains("up to date"), "{out}");
}

fn command_args(template: &Command, args: &[&str]) -> Command {
    let mut command = Command::new(template.get_program());
    command.env_clear();
    for (key, value) in template.get_envs() {
        if let Some(value) = value {
            command.env(key, value);
        }
    }
    command.args(args);
    command
}

#[test]
fn production_refuses_to_start_without_a_configured_key() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_lagesbild"))
        .env_clear()
        .env("LAGESBILD_DATA_DIR", dir.path())
        .env("LAGESBILD_ENV", "production")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("LAGESBILD_JWT_SECRET"), "{err}");
    assert!(!dir.path().join("signing.key").exists(), "no key is generated in production");
}

#[tokio::test]
async fn the_generated_signing_key_is_private_and_survives_a_restart() {
    let first = spawn_app_with(|settings| settings.jwt_secret = None).await;
    let key = first.data_dir.path().join("signing.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let tenant = first.tenant("tyreso").await;
    // A second server over the same data sees the same key: the token it did not issue works.
    let settings = first.settings.clone();
    let second = lagesbild::startup::Application::build(settings).unwrap();
    let url = format!("http://127.0.0.1:{}/api/v1/me", second.port());
    let _second = crate::helpers::run(second);
    let response = first.client.get(url).bearer_auth(&tenant.field.tokens.access).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish() {
    let app = spawn_app().await;
    app.seed_org("tyreso");
    // A login for an unknown user verifies the decoy hash at the server's own cost; an expensive
    // cost keeps the request in flight long enough to signal the server.
    let (mut server, address) = serve_in_background(
        lagesbild(&app)
            .env("LAGESBILD_JWT_SECRET", TEST_KEY)
            .env("LAGESBILD_ARGON2_MEMORY_KIB", "1024")
            .env("LAGESBILD_ARGON2_ITERATIONS", "3000"),
    );
    let client = reqwest::Client::new();
    // The address is logged once the socket is bound; wait until the workers answer, so the
    // signal cannot arrive while the request still waits in the listen queue.
    for _ in 0..200 {
        let ready = client.get(format!("http://{address}/healthz")).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let login = tokio::spawn(async move {
        client
            .post(format!("http://{address}/api/v1/auth/login"))
            .json(&serde_json::json!({ "organisation": "tyreso", "username": "nobody", "password": PASSWORD, "device_id": "p" }))
            .send()
            .await
            .map(|response| response.status().as_u16())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = login.await.unwrap().expect("the in-flight request is answered, not dropped");
    assert_eq!(status, 401);
    let exit = server.wait().unwrap();
    assert!(exit.success(), "the server exits cleanly after draining: {exit:?}");
}

#[tokio::test]
async fn migrate_status_changes_nothing_and_a_port_in_use_is_found_before_anything_is_written() {
    let app = spawn_app().await;
    let fresh = tempfile::tempdir().unwrap();
    let data_dir = fresh.path().join("data");
    let in_fresh = |command: &mut Command| {
        command.env("LAGESBILD_DATA_DIR", &data_dir).env_remove("DATABASE_URL");
    };
    let mut status = lagesbild(&app);
    in_fresh(status.args(["migrate", "--status"]));
    let (code, out, err) = run(&mut status, "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pending") && out.contains("_identity"), "{out}");
    assert!(!data_dir.exists(), "migrate --status created {}", data_dir.display());

    // Another process holds the port: serve says so and leaves no database and no key behind.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = holder.local_addr().unwrap().to_string();
    let mut serve = lagesbild(&app);
    in_fresh(serve.args(["serve", "--listen", &address]));
    let (code, _, err) = run(&mut serve, "");
    assert_eq!(code, 1);
    assert!(err.contains("cannot listen on") && err.contains(&address), "{err}");
    let left: Vec<_> =
        std::fs::read_dir(&data_dir).map(|dir| dir.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "serve wrote {left:?} before finding the port in use");

    // With the database in place, --status reads it without writing to it.
    let mut migrate = lagesbild(&app);
    in_fresh(migrate.args(["migrate"]));
    assert_eq!(run(&mut migrate, "").0, 0);
    let database = data_dir.join("lagesbild.db");
    let before = std::fs::read(&database).unwrap();
    let mut status = lagesbild(&app);
    in_fresh(status.args(["migrate", "--status"]));
    let (code, out, _) = run(&mut status, "");
    assert_eq!(code, 0);
    assert!(out.contains("up to date"), "{out}");
    assert_eq!(std::fs::read(&database).unwrap(), before);
}

#[tokio::test]
async fn a_database_the_server_cannot_write_is_said_at_start_with_how_to_fix_it() {
    let app = spawn_app().await;
    let fresh = tempfile::tempdir().unwrap();
    let data_dir = fresh.path().join("data");
    let mut migrate = lagesbild(&app);
    migrate.env("LAGESBILD_DATA_DIR", &data_dir).env_remove("DATABASE_URL").args(["migrate"]);
    assert_eq!(run(&mut migrate, "").0, 0);
    // The same file opened read-only stands for one whose owner is another user (root, after a
    // `sudo lagesbild …`): it reads, and refuses every write.
    let read_only = format!("sqlite://file:{}?mode=ro", data_dir.join("lagesbild.db").display());
    let mut serve = lagesbild(&app);
    serve
        .current_dir(fresh.path())
        .env("LAGESBILD_DATA_DIR", &data_dir)
        .env("DATABASE_URL", &read_only)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = serve.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(1), "the server must refuse to start: {err}");
    assert!(err.contains("cannot be written") && err.contains("chown"), "{err}");
}

#[tokio::test]
async fn listen_takes_a_host_name_and_says_what_it_expects_otherwise() {
    let app = spawn_app().await;
    let (mut server, address) = serve_listening_on(&mut lagesbild(&app), "localhost:0");
    let health = app.client.get(format!("http://{address}/healthz")).send().await;
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(health.unwrap().status(), 200, "served on {address}");
    for bad in ["localhost", "8080", "no-such-host.invalid:8080"] {
        let (code, _, err) = run(lagesbild(&app).args(["serve", "--listen", bad]), "");
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(err.contains("use ADDRESS:PORT") && err.contains("localhost:8080"), "{bad}: {err}");
    }
}
