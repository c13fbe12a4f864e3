//! The server, the database and seeding: organisations, users and their logged-in devices.

use super::*;

pub fn secret(text: &str) -> anyhow::Result<Secret> {
    Ok(serde_json::from_value(json!(text))?)
}

pub struct Seeded {
    pub organisation_id: String,
    /// Field users' usernames.
    pub users: Vec<String>,
    pub first_sync_user: String,
    pub storage_user: String,
    pub storage_user_id: String,
}

/// The organisation (with its default reference data), a unit and the field users.
pub fn seed(target: &DatabaseTarget, users: usize, slug: &str) -> anyhow::Result<Seeded> {
    let mut conn = target.connect()?;
    let organisation_id = seed::organisation(&mut conn, slug)?;
    seed::unit(&mut conn, &organisation_id, "falt", "Fält")?;
    let passwords = Passwords::new(1024, 1, 1)?;
    let mut create = |username: &str| {
        let user = User { username, password: PASSWORD, role: Role::Field, unit: Some("falt") };
        seed::user(&mut conn, &passwords, &organisation_id, user)
    };
    let mut names = Vec::with_capacity(users);
    for i in 0..users {
        let name = format!("field-{i:03}");
        create(&name)?;
        names.push(name);
    }
    create("first-sync")?;
    let storage_user_id = create("storage")?;
    Ok(Seeded {
        organisation_id,
        users: names,
        first_sync_user: "first-sync".to_owned(),
        storage_user: "storage".to_owned(),
        storage_user_id,
    })
}

/// A logged-in device and the cursor of its first pull.
pub struct Device {
    pub token: String,
    pub cursor: i64,
}

pub struct Bench {
    pub client: reqwest::Client,
    pub base: String,
    /// The organisation the devices log in to.
    pub organisation: String,
}

impl Bench {
    pub async fn login(&self, username: &str, device_id: &str) -> anyhow::Result<String> {
        let login = Login { organisation: &self.organisation, username, password: PASSWORD, device_id };
        login::access_token(&self.client, &self.base, login).await
    }

    /// A complete first pull (every page); returns the body of the last page and the cursor.
    pub async fn first_pull(&self, token: &str) -> anyhow::Result<(Value, i64)> {
        let mut page_token: Option<String> = None;
        for _ in 0..1000 {
            let mut url = format!("{}/api/v1/sync/pull?last_pulled_at=null&schema_version=1", self.base);
            if let Some(t) = &page_token {
                url.push_str(&format!("&page_token={t}"));
            }
            let response = self.client.get(url).bearer_auth(token).send().await?;
            let status = response.status();
            let body: Value = response.json().await?;
            anyhow::ensure!(status == 200, "pull: {status} {body}");
            if body["has_more"] == true {
                page_token = body["page_token"].as_str().map(str::to_owned);
                continue;
            }
            let cursor = body["timestamp"].as_i64().context("no timestamp")?;
            return Ok((body, cursor));
        }
        anyhow::bail!("a first pull of more than 1000 pages")
    }

    pub async fn push(&self, token: &str, cursor: i64, body: String) -> anyhow::Result<usize> {
        let response = self
            .client
            .post(format!("{}/api/v1/sync/push?last_pulled_at={cursor}", self.base))
            .bearer_auth(token)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        anyhow::ensure!(status == 200, "push: {status} {text}");
        // A retried push answers what the lost attempt stored `unchanged`.
        Ok(text.matches(APPLIED).count() + text.matches(r#""status":"unchanged""#).count())
    }
}

pub fn client() -> anyhow::Result<reqwest::Client> {
    // No proxy (only 127.0.0.1 is reached) and no transparent decompression (sizes are on the wire).
    Ok(reqwest::Client::builder()
        .no_proxy()
        .no_gzip()
        .no_brotli()
        .no_zstd()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(2048)
        .timeout(Duration::from_secs(60))
        .build()?)
}
