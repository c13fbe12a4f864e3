//! The deployment files in `deploy/`: the environment file's settings start a production server
//! (migrate first, then serve), and the systemd unit verifies.

use crate::cli::serve_in_background;
use crate::helpers::*;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The `KEY=VALUE` lines of the deployment's environment file.
fn environment_file() -> Vec<(String, String)> {
    std::fs::read_to_string(format!("{ROOT}/deploy/lagesbild.env"))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (key, value) = line.split_once('=').unwrap_or_else(|| panic!("not KEY=VALUE: {line}"));
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn the_deployment_settings_start_a_production_server_after_migrate() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("signing.key");
    std::fs::write(&key, "a-signing-key-of-the-installation-with-enough-entropy-0123456789").unwrap();
    let (data_dir, key_path, database_url) = (dir.path().join("data"), key.clone(), app.database_url());
    let command = move || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lagesbild"));
        command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
        for (name, value) in environment_file() {
            // The machine's own paths and database stand in for /etc, /var/lib and the server's.
            let value = match name.as_str() {
                "LAGESBILD_DATA_DIR" => data_dir.display().to_string(),
                "LAGESBILD_JWT_SECRET_FILE" => key_path.display().to_string(),
                "DATABASE_URL" | "PGPASSFILE" => continue,
                _ => value,
            };
            command.env(name, value);
        }
        if let Some(url) = &database_url {
            command.env("DATABASE_URL", url);
        }
        command
    };
    let migrate = command.clone();
    let migrated = tokio::task::spawn_blocking(move || migrate().arg("migrate").output().unwrap());
    let migrated = migrated.await.unwrap();
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));
    let (mut server, address) = serve_in_background(&mut command());
    let ready = app.client.get(format!("http://{address}/readyz")).send().await;
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(ready.unwrap().status(), 200);

    // Production refuses to start without the key file rather than generate one.
    let mut serve = command();
    serve.env_remove("LAGESBILD_JWT_SECRET_FILE").args(["serve", "--listen", "127.0.0.1:0"]);
    let refused = tokio::task::spawn_blocking(move || serve.output().unwrap()).await.unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("key"), "{}", String::from_utf8_lossy(&refused.stderr));
}

#[test]
fn the_systemd_unit_verifies() {
    let found =
        Command::new("sh").args(["-c", "command -v systemd-analyze"]).output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var_os("LAGESBILD_TEST_NEEDS_TOOLS").is_none(), "the unit check needs systemd-analyze");
        eprintln!("skipped: no systemd-analyze on this machine");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The unit as written, with the built binary and the repository's environment file in place
    // of the installed ones.
    let unit = std::fs::read_to_string(format!("{ROOT}/deploy/lagesbild.service"))
        .unwrap()
        .replace("/usr/local/bin/lagesbild", env!("CARGO_BIN_EXE_lagesbild"))
        .replace("/etc/lagesbild/lagesbild.env", &format!("{ROOT}/deploy/lagesbild.env"));
    let path = dir.path().join("lagesbild.service");
    std::fs::write(&path, unit).unwrap();
    let output = Command::new("systemd-analyze").arg("verify").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let complaints: Vec<&str> = stderr.lines().filter(|line| line.contains("lagesbild.service")).collect();
    assert!(complaints.is_empty(), "systemd-analyze: {complaints:?}");
}
