//! The server's own settings: where its files are, its database, the demo seed, metrics and
//! the listener's limits.

use std::path::PathBuf;

use super::source::{ConfigError, Source, redacted};

/// Where the server keeps its data, and what it serves besides pages.
#[derive(Clone)]
pub struct ServerSettings {
    /// Where the embedded default keeps its files. `[app] data-dir` (default `data`).
    pub data_dir: PathBuf,
    /// `sqlite:…` or `postgres://…`. `[app] database-url` (default `sqlite://<data-dir>/exports.db`).
    pub database_url: String,
    /// Connections per process. `[app] database-max-connections` (default 10).
    pub database_max_connections: u32,
    /// Seed the demo organisations into an empty database at start (never in production).
    /// `[app] seed-demo` (default false).
    pub seed_demo: bool,
    /// When set, `/metrics` answers only `Authorization: Bearer <token>`. `METRICS_TOKEN`;
    /// required in production (the queue's depth is nobody else's business).
    pub metrics_token: Option<String>,
    /// Connections served at once; beyond, new ones wait in the kernel's backlog (so slow or idle
    /// clients cannot take every file descriptor). `[app] max-connections` (512, 1–100,000).
    pub max_connections: usize,
    /// How long a client has to send a request's headers (also the first request's, and the
    /// next one's on a kept-alive connection) before the connection is closed.
    /// `[app] header-read-timeout-secs` (10, 1–300).
    pub header_read_timeout: std::time::Duration,
}

impl std::fmt::Debug for ServerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSettings")
            .field("data_dir", &self.data_dir)
            .field("database_url", &crate::db::redact_url(&self.database_url))
            .field("database_max_connections", &self.database_max_connections)
            .field("seed_demo", &self.seed_demo)
            .field("metrics_token", &redacted(&self.metrics_token))
            .field("max_connections", &self.max_connections)
            .field("header_read_timeout", &self.header_read_timeout)
            .finish()
    }
}

impl ServerSettings {
    pub fn load(source: &Source, production: bool) -> Result<ServerSettings, ConfigError> {
        let data_dir: PathBuf = source.or("data-dir", PathBuf::from("data"))?;
        if data_dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid("DATA_DIR", "must name a directory"));
        }
        let database_url = match source.get::<String>("database-url")? {
            Some(url) => url,
            None => format!("sqlite://{}", data_dir.join("exports.db").display()),
        };
        if !["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| database_url.starts_with(scheme))
        {
            return Err(ConfigError::invalid(
                "DATABASE_URL",
                "must start with sqlite: or postgres://",
            ));
        }
        let seed_demo = source.or("seed-demo", false)?;
        if seed_demo && production {
            return Err(ConfigError::invalid(
                "SEED_DEMO",
                "the demo (with its published password) is never seeded in production",
            ));
        }
        let metrics_token = source.env_only("METRICS_TOKEN");
        if production && metrics_token.is_none() {
            return Err(ConfigError::invalid(
                "METRICS_TOKEN",
                "must be set in production: /metrics answers only requests bearing it",
            ));
        }
        Ok(ServerSettings {
            data_dir,
            database_url,
            database_max_connections: source.within("database-max-connections", 10, 1..=10_000)?,
            seed_demo,
            metrics_token,
            max_connections: source.within("max-connections", 512, 1..=100_000)?,
            header_read_timeout: std::time::Duration::from_secs(source.within(
                "header-read-timeout-secs",
                10,
                1..=300,
            )?),
        })
    }
}
