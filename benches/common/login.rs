//! Logging in over HTTP, as the benches that drive the real server do.

use anyhow::Context;
use serde_json::{Value, json};

/// Who logs in, and on which device.
pub struct Login<'a> {
    pub organisation: &'a str,
    pub username: &'a str,
    pub password: &'a str,
    pub device_id: &'a str,
}

/// Logs in and returns the access token; anything but 200 is an error that names the user.
pub async fn access_token(client: &reqwest::Client, base: &str, login: Login<'_>) -> anyhow::Result<String> {
    let Login { organisation, username, password, device_id } = login;
    let response = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({
            "organisation": organisation,
            "username": username,
            "password": password,
            "device_id": device_id,
            "device_name": format!("{device_id} (bench)"),
        }))
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await?;
    anyhow::ensure!(status == 200, "login of {username} on {device_id}: {status} {body}");
    body["access_token"].as_str().map(str::to_owned).context("no access_token in the login answer")
}
