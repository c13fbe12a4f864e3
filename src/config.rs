//! Settings: defaults, then an optional TOML file, then `LAGESBILD_*` environment variables,
//! then `DATABASE_URL`, then command-line flags. Secrets never appear in `Debug` output.

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Whether the server may invent what it lacks (development) or must be told (production).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// The embedded default: a signing key is generated on first run.
    Development,
    /// Every secret must come from configuration.
    Production,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON when standard error is not a terminal, readable text when it is.
    Auto,
    /// One JSON object per line.
    Json,
    /// Readable text.
    Pretty,
}

/// The reverse proxies whose forwarding header is believed, as addresses or CIDR blocks
/// (`10.0.0.0/8`, `127.0.0.1`, `2001:db8::/32`). Written as a list in TOML, or comma-separated in
/// `LAGESBILD_TRUSTED_PROXIES`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    /// Parses a comma-separated list.
    pub fn parse(text: &str) -> Result<Self, String> {
        text.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(Self::one)
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn one(item: &str) -> Result<ipnet::IpNet, String> {
        item.parse::<ipnet::IpNet>()
            .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| format!("trusted_proxies: `{item}` is not an address or a CIDR block"))
    }

    /// Whether `address` is one of the proxies.
    pub fn contains(&self, address: std::net::IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|net| net.contains(&address))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for TrustedProxies {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(ToString::to_string))
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Text(String),
            List(Vec<String>),
        }
        let text = match Written::deserialize(deserializer)? {
            Written::Text(text) => text,
            Written::List(items) => items.join(","),
        };
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Which header a trusted proxy names the client in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1` (nginx, HAProxy, Caddy, Traefik, Apache).
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

/// A secret string that never prints.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Everything the server and the command line can be configured with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Where the SQLite database and the generated signing key live.
    pub data_dir: PathBuf,
    /// `postgres://…` for PostgreSQL; empty means SQLite in `data_dir`.
    pub database_url: Option<Secret>,
    /// `development` (default) or `production`.
    pub env: Environment,
    /// The token signing key (at least 32 bytes); required in production unless a file is given.
    pub jwt_secret: Option<Secret>,
    /// A file holding the token signing key.
    pub jwt_secret_file: Option<PathBuf>,
    /// The `iss` claim of access tokens.
    pub jwt_issuer: String,
    /// The `aud` claim of access tokens.
    pub jwt_audience: String,
    /// Lifetime of an access token.
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh token.
    pub refresh_token_ttl_days: u64,
    /// Login attempts one account may make per `login_window_secs`.
    pub login_attempts_per_account: u32,
    /// Login attempts one client address may make per `login_window_secs`.
    pub login_attempts_per_address: u32,
    /// Reverse proxies whose forwarding header names the client (default: none, the TCP peer is
    /// the client).
    pub trusted_proxies: TrustedProxies,
    /// The header those proxies write: `x-forwarded-for` (default) or `forwarded`. Only this one
    /// is read, so a client cannot slip in the other past a proxy that does not overwrite it.
    pub forwarded_header: ForwardedHeader,
    /// The window of the two login limits.
    pub login_window_secs: u64,
    /// Largest request body accepted by the JSON API.
    pub max_body_bytes: usize,
    /// Largest push body accepted, both as sent and once decompressed.
    pub max_push_bytes: usize,
    /// Most records accepted in one push.
    pub max_push_records: usize,
    /// Largest page a pull may ask for.
    pub max_pull_limit: i64,
    /// Page size of a pull that does not ask for one.
    pub default_pull_limit: i64,
    /// Days tombstones are kept; a device whose cursor is older gets a replacement snapshot.
    pub tombstone_horizon_days: u64,
    /// How often tombstones past the horizon are removed.
    pub tombstone_purge_interval_secs: u64,
    /// How often each organisation's retention runs (one process of several runs it).
    pub retention_interval_secs: u64,
    /// How long a process's claim on an area reassignment job holds without being renewed;
    /// every process looks for expired claims to take over twice as often.
    pub area_job_lease_secs: u64,
    /// Device clock differences within this are not corrected.
    pub clock_skew_tolerance_ms: i64,
    /// Rows of the change feed the picture index reads per round trip while it catches up.
    pub picture_catch_up_rows: i64,
    /// Database connections in the pool (default: 8 on SQLite, 16 on PostgreSQL).
    pub db_pool_size: Option<u32>,
    /// How often each process looks for revocations made by other processes.
    pub revocation_poll_ms: u64,
    /// argon2id memory cost in KiB.
    pub argon2_memory_kib: u32,
    /// argon2id passes.
    pub argon2_iterations: u32,
    /// argon2id lanes.
    pub argon2_parallelism: u32,
    /// HTTP worker threads (default: one per core).
    pub workers: Option<usize>,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub shutdown_timeout_secs: u64,
    /// `auto`, `json` or `pretty`.
    pub log_format: LogFormat,
    /// A map tile URL template (`https://tiles.example.org/{z}/{x}/{y}.png`) the dashboard draws
    /// under its heat map; without one it draws the areas and hexagons alone and loads nothing
    /// from elsewhere.
    pub tile_url: Option<String>,
    /// The attribution the tile provider requires, shown under the map.
    pub tile_attribution: Option<String>,
    /// The municipality's own base map: an MBTiles file of raster tiles (png, jpg or webp), served
    /// as `/tiles/{z}/{x}/{y}` to the dashboard and drawn under the printed report's heat map.
    /// Instead of `tile_url`, not beside it.
    pub basemap: Option<PathBuf>,
    /// Largest photo accepted, as uploaded.
    pub photo_max_bytes: u64,
    /// Most pixels (width × height) an uploaded photo may declare: checked in its header, before
    /// anything is decoded.
    pub photo_max_pixels: u64,
    /// The long edge photos are stored with at most (larger ones are scaled down).
    pub photo_max_edge: u32,
    /// Most photos on one observation.
    pub photos_per_observation: u32,
    /// Largest chunk of an upload.
    pub photo_chunk_bytes: usize,
    /// Bytes of photos one organisation may keep stored.
    pub photo_quota_bytes: u64,
    /// Where photos are kept: none for `photos/` in the data directory, or an S3-compatible
    /// bucket, `s3://bucket` or `s3://bucket/prefix`. Its credentials come from the photo_s3_*
    /// settings or the usual `AWS_*` environment variables.
    pub photo_store_url: Option<String>,
    /// The S3 endpoint, for a store other than AWS (MinIO, Ceph, a municipal cloud).
    pub photo_s3_endpoint: Option<String>,
    /// The S3 region.
    pub photo_s3_region: Option<String>,
    /// The S3 access key id.
    pub photo_s3_access_key_id: Option<String>,
    /// The S3 secret access key.
    pub photo_s3_secret_access_key: Option<Secret>,
    /// Whether the endpoint may be plain HTTP (a store on the same host or network).
    pub photo_s3_allow_http: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            env: Environment::Development,
            jwt_secret: None,
            jwt_secret_file: None,
            jwt_issuer: "lagesbild".to_owned(),
            jwt_audience: "lagesbild-api".to_owned(),
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_days: 60,
            login_attempts_per_account: 10,
            login_attempts_per_address: 30,
            trusted_proxies: TrustedProxies::default(),
            forwarded_header: ForwardedHeader::XForwardedFor,
            login_window_secs: 300,
            max_body_bytes: 1024 * 1024,
            max_push_bytes: 4 * 1024 * 1024,
            max_push_records: 1000,
            max_pull_limit: 10_000,
            default_pull_limit: 5_000,
            tombstone_horizon_days: 90,
            tombstone_purge_interval_secs: 3600,
            retention_interval_secs: 86_400,
            area_job_lease_secs: 60,
            clock_skew_tolerance_ms: 120_000,
            picture_catch_up_rows: crate::picture::index::CATCH_UP_ROWS,
            db_pool_size: None,
            revocation_poll_ms: 1000,
            argon2_memory_kib: 46 * 1024,
            argon2_iterations: 1,
            argon2_parallelism: 1,
            workers: None,
            shutdown_timeout_secs: 30,
            log_format: LogFormat::Auto,
            tile_url: None,
            tile_attribution: None,
            basemap: None,
            photo_max_bytes: 15 * 1024 * 1024,
            photo_max_pixels: 50_000_000,
            photo_max_edge: 2000,
            photos_per_observation: 5,
            photo_chunk_bytes: 1024 * 1024,
            photo_quota_bytes: 20 * 1024 * 1024 * 1024,
            photo_store_url: None,
            photo_s3_endpoint: None,
            photo_s3_region: None,
            photo_s3_access_key_id: None,
            photo_s3_secret_access_key: None,
            photo_s3_allow_http: false,
        }
    }
}

/// Values given on the command line, which win over every other source.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--data-dir`
    pub data_dir: Option<PathBuf>,
    /// `--listen`
    pub listen: Option<SocketAddr>,
}

impl Settings {
    /// Reads the settings from `lagesbild.toml` (or the file named by `LAGESBILD_CONFIG`), the
    /// environment and the command line.
    pub fn load(overrides: &Overrides) -> anyhow::Result<Self> {
        let file =
            std::env::var_os("LAGESBILD_CONFIG").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("lagesbild.toml"));
        let mut figment = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(&file))
            .merge(Env::prefixed("LAGESBILD_").ignore(&["config", "listen"]));
        if let Some(url) = std::env::var("DATABASE_URL").ok().filter(|url| !url.is_empty()) {
            figment = figment.merge(Serialized::default("database_url", url));
        }
        if let Some(dir) = &overrides.data_dir {
            figment = figment.merge(Serialized::default("data_dir", dir));
        }
        if let Some(listen) = overrides.listen {
            figment = figment.merge(Serialized::default("listen", listen));
        }
        let settings: Settings = figment.extract().context("invalid configuration")?;
        settings.check()?;
        Ok(settings)
    }

    /// Refuses combinations that cannot work.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.access_token_ttl_secs >= 30, "access_token_ttl_secs must be at least 30");
        anyhow::ensure!(self.refresh_token_ttl_days >= 1, "refresh_token_ttl_days must be at least 1");
        anyhow::ensure!(self.login_window_secs >= 1, "login_window_secs must be at least 1");
        anyhow::ensure!(
            self.login_attempts_per_account >= 1 && self.login_attempts_per_address >= 1,
            "login attempt limits must be at least 1"
        );
        anyhow::ensure!(self.max_body_bytes >= 1024, "max_body_bytes must be at least 1024");
        anyhow::ensure!(self.max_push_bytes >= 1024, "max_push_bytes must be at least 1024");
        anyhow::ensure!(self.max_push_records >= 1, "max_push_records must be at least 1");
        anyhow::ensure!(self.photo_max_bytes >= 1024, "photo_max_bytes must be at least 1024");
        anyhow::ensure!(self.photo_max_pixels >= 1, "photo_max_pixels must be at least 1");
        anyhow::ensure!((64..=10_000).contains(&self.photo_max_edge), "photo_max_edge must be between 64 and 10000");
        anyhow::ensure!(self.photos_per_observation >= 1, "photos_per_observation must be at least 1");
        anyhow::ensure!(self.photo_chunk_bytes >= 1024, "photo_chunk_bytes must be at least 1024");
        if let Some(url) = &self.photo_store_url {
            anyhow::ensure!(
                url.strip_prefix("s3://").is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/')),
                "photo_store_url must be s3://bucket or s3://bucket/prefix"
            );
        }
        anyhow::ensure!(self.retention_interval_secs >= 1, "retention_interval_secs must be at least 1");
        anyhow::ensure!(self.area_job_lease_secs >= 1, "area_job_lease_secs must be at least 1");
        anyhow::ensure!(self.picture_catch_up_rows >= 1, "picture_catch_up_rows must be at least 1");
        anyhow::ensure!(
            (1..=self.max_pull_limit).contains(&self.default_pull_limit),
            "default_pull_limit must be between 1 and max_pull_limit"
        );
        anyhow::ensure!(
            self.tile_url.is_none() || self.basemap.is_none(),
            "give tile_url (an external tile server) or basemap (an MBTiles file served here), not both"
        );
        if let Some(url) = &self.tile_url {
            anyhow::ensure!(
                tile_origin(url).is_some(),
                "tile_url must be an http(s) URL template with {{z}}, {{x}} and {{y}} in its path"
            );
        }
        Ok(())
    }

    /// The origin of the configured map tiles (`https://tiles.example.org`), which the dashboard's
    /// content security policy lets images come from.
    pub fn tile_origin(&self) -> Option<&str> {
        self.tile_url.as_deref().and_then(tile_origin)
    }

    /// The PostgreSQL URL, when one is configured.
    pub fn postgres_url(&self) -> Option<&str> {
        self.database_url
            .as_ref()
            .map(Secret::expose)
            .filter(|url| url.starts_with("postgres://") || url.starts_with("postgresql://"))
    }
}

/// The origin of a tile URL template, when the template is usable: http(s), a plain host, and
/// `{z}`, `{x}` and `{y}` after it. The origin goes into a response header, so nothing that could
/// end or extend the header value passes.
fn tile_origin(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let host_end = rest.find('/')?;
    let host = &rest[..host_end];
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':');
    let safe = |c: char| c.is_ascii_graphic() && !matches!(c, ';' | ',' | '\'' | '"');
    let usable = !host.is_empty()
        && host.chars().all(plain)
        && url.chars().all(safe)
        && ["{z}", "{x}", "{y}"].iter().all(|part| rest[host_end..].contains(part));
    usable.then(|| &url[..url.len() - rest.len() + host_end])
}

#[cfg(test)]
mod tests {
    use super::tile_origin;

    #[test]
    fn a_tile_template_gives_its_origin() {
        assert_eq!(tile_origin("https://tile.example.org/{z}/{x}/{y}.png"), Some("https://tile.example.org"));
        assert_eq!(tile_origin("http://127.0.0.1:9000/t/{z}/{x}/{y}.png?k=1"), Some("http://127.0.0.1:9000"));
    }

    #[test]
    fn a_template_that_could_break_the_policy_header_is_refused() {
        for url in [
            "ftp://tile.example.org/{z}/{x}/{y}.png",
            "https://tile.example.org/{z}/{x}.png",
            "https://{s}.tile.example.org/{z}/{x}/{y}.png",
            "https://tile.example.org/{z}/{x}/{y}.png; script-src *",
            "https://tile.example.org",
        ] {
            assert_eq!(tile_origin(url), None, "{url}");
        }
    }
}
