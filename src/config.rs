//! One typed configuration: `Leptos.toml` plus environment overrides, validated at start.
//!
//! Leptos's own keys (`site-addr`, `site-root`, `env`, …) live under `[package.metadata.leptos]`
//! and are overridden by the standard `LEPTOS_*` variables. The app's keys live under `[app]`
//! and are overridden by the variables named beside each field.

use std::{
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use leptos::config::{Env, LeptosOptions, get_config_from_str};
use serde::Deserialize;

use crate::{
    retry::RetryPolicy,
    storage::{
        MAX_SIGNED_URL_TTL,
        s3::{DEFAULT_PART_SIZE, S3Settings},
    },
};

/// Everything the server needs to start, already validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Leptos's options: address, site root, bundle name, environment.
    pub leptos_options: LeptosOptions,
    /// Where the embedded default keeps its files. Env: `DATA_DIR`.
    pub data_dir: PathBuf,
    /// `sqlite:…` or `postgres://…`; defaults to `sqlite://<data_dir>/exports.db`. Env: `DATABASE_URL`.
    pub database_url: String,
    /// Connections per process. Env: `DATABASE_MAX_CONNECTIONS`.
    pub database_max_connections: u32,
    /// A session ends after this long without a request. Env: `SESSION_IDLE_TIMEOUT_SECS`.
    pub session_idle_timeout: Duration,
    /// A session ends this long after sign-in, however active. Env: `SESSION_ABSOLUTE_TIMEOUT_SECS`.
    pub session_absolute_timeout: Duration,
    /// Mark cookies `Secure` (default: in production). Requests arriving as https through a
    /// proxy (`X-Forwarded-Proto: https`) get `Secure` cookies regardless. Env: `SECURE_COOKIES`.
    pub secure_cookies: bool,
    /// Trust `X-Forwarded-For` for the client address (only behind your own proxy). Env: `TRUST_PROXY`.
    pub trust_proxy: bool,
    /// Seed the demo organisations into an empty database at start (never in production). Env: `SEED_DEMO`.
    pub seed_demo: bool,
    /// Where finished exports are stored. Env: `STORAGE_URL` (`file://…` or `s3://bucket?endpoint=…`).
    pub storage: StorageSettings,
    /// How long a download link stays valid (default one hour, at most 7 days). Env: `SIGNED_URL_TTL_SECS`.
    pub signed_url_ttl: Duration,
    /// Key for the local store's download links (32+ bytes). Required in production; in
    /// development one is generated under the data directory. Env: `SIGNING_SECRET`.
    pub signing_secret: Option<String>,
    /// The export worker's settings.
    pub worker: WorkerSettings,
    /// How many exports may be requested.
    pub export_limits: ExportLimits,
    /// When set, `/metrics` answers only `Authorization: Bearer <token>`. Env: `METRICS_TOKEN`.
    pub metrics_token: Option<String>,
}

/// Limits on requesting exports (each refusal is a 429 with a message saying which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportLimits {
    /// Per user, per rolling hour (default 30). Env: `EXPORT_LIMIT_PER_USER_PER_HOUR`.
    pub per_user_per_hour: u32,
    /// Per organisation, per rolling hour (default 200). Env: `EXPORT_LIMIT_PER_ORGANIZATION_PER_HOUR`.
    pub per_organization_per_hour: u32,
    /// Pending or processing at once per organisation (default 20). Env: `EXPORT_MAX_ACTIVE_PER_ORGANIZATION`.
    pub active_per_organization: u32,
}

/// How export workers run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSettings {
    /// `serve` also runs a worker (default). Off when dedicated `worker` processes do the work.
    /// Env: `WORKER_IN_PROCESS`.
    pub in_process: bool,
    /// Exports one process produces at a time (default 2). Env: `WORKER_CONCURRENCY`.
    pub concurrency: usize,
    /// A claim's lease; renewed every third of it while the export runs, and a worker that
    /// dies loses its claim when it runs out (default 30 s). Env: `WORKER_LEASE_SECS`.
    pub lease: Duration,
    /// How often an idle worker looks for work; Postgres also wakes it with NOTIFY (default 2 s).
    /// Env: `WORKER_POLL_SECS`.
    pub poll_interval: Duration,
    /// On SIGTERM, how long running exports may take to finish before they are handed back
    /// (default 20 s). Env: `WORKER_SHUTDOWN_GRACE_SECS`.
    pub shutdown_grace: Duration,
    /// Rows read per query (default 2000). Env: `EXPORT_BATCH_ROWS`.
    pub batch_rows: u32,
    /// Start CSV files with a UTF-8 byte-order mark so Excel reads accents right (default true).
    /// Env: `EXPORT_CSV_BOM`.
    pub csv_bom: bool,
    /// How an export that failed for a passing reason (database or store unreachable, worker
    /// killed) is tried again: waits of 5 s, 20 s, 60 s, 3 min, then 5 min (±20 %), six attempts
    /// in all. Env: `WORKER_RETRY_BACKOFF_SECS` (comma-separated; the last repeats),
    /// `WORKER_MAX_ATTEMPTS`.
    pub retry: RetryPolicy,
}

/// The object store to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageSettings {
    /// Files under `root/<bucket>/`, served by the app through signed URLs.
    Fs { root: PathBuf, bucket: String },
    /// An S3-compatible store.
    S3(S3Settings),
}

/// A configuration that cannot be used, with a message that says which key and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid configuration in {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid value for {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

/// The `[app]` table of `Leptos.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
struct AppSection {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    database_max_connections: Option<u32>,
    session_idle_timeout_secs: Option<u64>,
    session_absolute_timeout_secs: Option<u64>,
    secure_cookies: Option<bool>,
    trust_proxy: Option<bool>,
    seed_demo: Option<bool>,
    storage_url: Option<String>,
    storage_bucket: Option<String>,
    signed_url_ttl_secs: Option<u64>,
    worker_in_process: Option<bool>,
    worker_concurrency: Option<usize>,
    worker_lease_secs: Option<u64>,
    worker_poll_secs: Option<u64>,
    worker_shutdown_grace_secs: Option<u64>,
    export_batch_rows: Option<u32>,
    export_csv_bom: Option<bool>,
    worker_retry_backoff_secs: Option<String>,
    worker_max_attempts: Option<i32>,
    export_limit_per_user_per_hour: Option<u32>,
    export_limit_per_organization_per_hour: Option<u32>,
    export_max_active_per_organization: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
struct FileLayout {
    #[serde(default)]
    app: AppSection,
}

impl Config {
    /// Reads `path` and applies the process environment on top.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, path, |key| std::env::var(key).ok())
    }

    /// Builds the configuration from the file's text; `env` looks up the app's overrides
    /// (Leptos reads its own `LEPTOS_*` variables from the process environment).
    pub fn from_toml(
        text: &str,
        path: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let parse_error = |message: String| ConfigError::Parse {
            path: path.to_owned(),
            message,
        };
        let file: FileLayout = toml::from_str(text).map_err(|e| parse_error(e.message().to_owned()))?;
        let leptos_options = get_config_from_str(text).map_err(|e| parse_error(e.to_string()))?;

        let app = file.app;
        let data_dir = env("DATA_DIR")
            .map(PathBuf::from)
            .or(app.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        if data_dir.as_os_str().is_empty() {
            return Err(ConfigError::Invalid {
                key: "DATA_DIR",
                message: "must name a directory".into(),
            });
        }

        let production = matches!(leptos_options.env, Env::PROD);
        let database_url = match env("DATABASE_URL").or(app.database_url) {
            Some(url) => url,
            None => format!("sqlite://{}", data_dir.join("exports.db").display()),
        };
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid {
                key: "DATABASE_URL",
                message: "must start with sqlite: or postgres://".into(),
            });
        }
        let database_max_connections =
            parse(&env, "DATABASE_MAX_CONNECTIONS", app.database_max_connections)?.unwrap_or(10);
        if database_max_connections == 0 {
            return Err(ConfigError::Invalid {
                key: "DATABASE_MAX_CONNECTIONS",
                message: "must be at least 1".into(),
            });
        }
        let seconds = |key, file_value, default| -> Result<Duration, ConfigError> {
            let value = parse(&env, key, file_value)?.unwrap_or(default);
            if value == 0 {
                return Err(ConfigError::Invalid {
                    key,
                    message: "must be at least 1 second".into(),
                });
            }
            Ok(Duration::from_secs(value))
        };
        let session_idle_timeout = seconds(
            "SESSION_IDLE_TIMEOUT_SECS",
            app.session_idle_timeout_secs,
            30 * 60,
        )?;
        let session_absolute_timeout = seconds(
            "SESSION_ABSOLUTE_TIMEOUT_SECS",
            app.session_absolute_timeout_secs,
            12 * 60 * 60,
        )?;
        let secure_cookies = parse(&env, "SECURE_COOKIES", app.secure_cookies)?.unwrap_or(production);
        let trust_proxy = parse(&env, "TRUST_PROXY", app.trust_proxy)?.unwrap_or(false);
        let seed_demo = parse(&env, "SEED_DEMO", app.seed_demo)?.unwrap_or(false);
        if seed_demo && production {
            return Err(ConfigError::Invalid {
                key: "SEED_DEMO",
                message: "the demo (with its published password) is never seeded in production".into(),
            });
        }

        let bucket = env("STORAGE_BUCKET")
            .or(app.storage_bucket)
            .unwrap_or_else(|| "pf-exports".into());
        let storage = match env("STORAGE_URL").or(app.storage_url) {
            Some(url) => parse_storage_url(&url, &bucket, &env)?,
            None => StorageSettings::Fs {
                root: data_dir.join("storage"),
                bucket,
            },
        };
        let signed_url_ttl = seconds("SIGNED_URL_TTL_SECS", app.signed_url_ttl_secs, 3600)?;
        if signed_url_ttl > MAX_SIGNED_URL_TTL {
            return Err(ConfigError::Invalid {
                key: "SIGNED_URL_TTL_SECS",
                message: "must be at most 604800 (7 days), the longest S3 allows".into(),
            });
        }
        let signing_secret = env("SIGNING_SECRET").filter(|secret| !secret.is_empty());
        if let Some(secret) = &signing_secret
            && secret.len() < 32
        {
            return Err(ConfigError::Invalid {
                key: "SIGNING_SECRET",
                message: "must be at least 32 bytes".into(),
            });
        }
        if production && signing_secret.is_none() && matches!(storage, StorageSettings::Fs { .. }) {
            return Err(ConfigError::Invalid {
                key: "SIGNING_SECRET",
                message: "production mode signs download links with a secret you provide (32+ random bytes)"
                    .into(),
            });
        }

        let worker = WorkerSettings {
            in_process: parse(&env, "WORKER_IN_PROCESS", app.worker_in_process)?.unwrap_or(true),
            concurrency: parse(&env, "WORKER_CONCURRENCY", app.worker_concurrency)?.unwrap_or(2),
            lease: seconds("WORKER_LEASE_SECS", app.worker_lease_secs, 30)?,
            poll_interval: seconds("WORKER_POLL_SECS", app.worker_poll_secs, 2)?,
            shutdown_grace: seconds("WORKER_SHUTDOWN_GRACE_SECS", app.worker_shutdown_grace_secs, 20)?,
            batch_rows: parse(&env, "EXPORT_BATCH_ROWS", app.export_batch_rows)?.unwrap_or(2000),
            csv_bom: parse(&env, "EXPORT_CSV_BOM", app.export_csv_bom)?.unwrap_or(true),
            retry: retry_policy(&env, app.worker_retry_backoff_secs, app.worker_max_attempts)?,
        };
        if !(1..=64).contains(&worker.concurrency) {
            return Err(ConfigError::Invalid {
                key: "WORKER_CONCURRENCY",
                message: "must be between 1 and 64".into(),
            });
        }
        if !(1..=50_000).contains(&worker.batch_rows) {
            return Err(ConfigError::Invalid {
                key: "EXPORT_BATCH_ROWS",
                message: "must be between 1 and 50000".into(),
            });
        }
        let export_limits = ExportLimits {
            per_user_per_hour: parse(
                &env,
                "EXPORT_LIMIT_PER_USER_PER_HOUR",
                app.export_limit_per_user_per_hour,
            )?
            .unwrap_or(30),
            per_organization_per_hour: parse(
                &env,
                "EXPORT_LIMIT_PER_ORGANIZATION_PER_HOUR",
                app.export_limit_per_organization_per_hour,
            )?
            .unwrap_or(200),
            active_per_organization: parse(
                &env,
                "EXPORT_MAX_ACTIVE_PER_ORGANIZATION",
                app.export_max_active_per_organization,
            )?
            .unwrap_or(20),
        };

        Ok(Config {
            leptos_options,
            data_dir,
            database_url,
            database_max_connections,
            session_idle_timeout,
            session_absolute_timeout,
            secure_cookies,
            trust_proxy,
            seed_demo,
            storage,
            signed_url_ttl,
            signing_secret,
            worker,
            export_limits,
            metrics_token: env("METRICS_TOKEN").filter(|token| !token.is_empty()),
        })
    }

    /// Production mode (`LEPTOS_ENV=PROD`): no demo data, no generated secrets.
    pub fn production(&self) -> bool {
        matches!(self.leptos_options.env, Env::PROD)
    }
}

/// `file://path` (relative paths allowed) or `s3://bucket?endpoint=…&region=…&style=path|virtual`,
/// with S3 credentials from `S3_ACCESS_KEY_ID` / `S3_SECRET_ACCESS_KEY`.
fn parse_storage_url(
    text: &str,
    bucket: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<StorageSettings, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        key: "STORAGE_URL",
        message,
    };
    if let Some(path) = text.strip_prefix("file://") {
        if path.is_empty() {
            return Err(invalid("file:// needs a directory".into()));
        }
        return Ok(StorageSettings::Fs {
            root: PathBuf::from(path),
            bucket: bucket.to_owned(),
        });
    }
    let url = url::Url::parse(text).map_err(|e| invalid(format!("not a URL ({e})")))?;
    if url.scheme() != "s3" {
        return Err(invalid("must start with file:// or s3://".into()));
    }
    let bucket = url
        .host_str()
        .filter(|host| !host.is_empty())
        .unwrap_or(bucket)
        .to_owned();
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    let region = query.get("region").cloned().unwrap_or_else(|| "us-east-1".into());
    let endpoint = match query.get("endpoint") {
        Some(endpoint) => endpoint.clone(),
        None => format!("https://s3.{region}.amazonaws.com"),
    };
    let endpoint = url::Url::parse(&endpoint).map_err(|e| invalid(format!("endpoint is not a URL ({e})")))?;
    let path_style = match query.get("style").map(String::as_str) {
        Some("path") => true,
        Some("virtual") => false,
        None => query.contains_key("endpoint"),
        Some(other) => return Err(invalid(format!("style must be path or virtual, not {other:?}"))),
    };
    let credential = |key: &'static str, aws: &str| {
        env(key).or_else(|| env(aws)).ok_or(ConfigError::Invalid {
            key,
            message: "is required with an s3:// STORAGE_URL".into(),
        })
    };
    Ok(StorageSettings::S3(S3Settings {
        endpoint,
        bucket,
        region,
        path_style,
        access_key_id: credential("S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID")?,
        secret_access_key: credential("S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY")?,
        part_size: parse(env, "S3_PART_SIZE", None)?.unwrap_or(DEFAULT_PART_SIZE),
    }))
}

/// `WORKER_RETRY_BACKOFF_SECS` and `WORKER_MAX_ATTEMPTS` over the defaults.
fn retry_policy(
    env: &impl Fn(&str) -> Option<String>,
    file_steps: Option<String>,
    file_max_attempts: Option<i32>,
) -> Result<RetryPolicy, ConfigError> {
    let default = RetryPolicy::default();
    let steps = match env("WORKER_RETRY_BACKOFF_SECS").or(file_steps) {
        Some(text) => RetryPolicy::parse_steps(&text).map_err(|message| ConfigError::Invalid {
            key: "WORKER_RETRY_BACKOFF_SECS",
            message,
        })?,
        None => (1..=5).map(|n| default.nominal(n)).collect(),
    };
    let max_attempts = parse(env, "WORKER_MAX_ATTEMPTS", file_max_attempts)?.unwrap_or(default.max_attempts);
    RetryPolicy::new(steps, max_attempts).map_err(|message| ConfigError::Invalid {
        key: if message.contains("budget") {
            "WORKER_MAX_ATTEMPTS"
        } else {
            "WORKER_RETRY_BACKOFF_SECS"
        },
        message,
    })
}

/// The environment's value for `key` if set (parsed), else the file's.
fn parse<T: FromStr>(
    env: &impl Fn(&str) -> Option<String>,
    key: &'static str,
    file_value: Option<T>,
) -> Result<Option<T>, ConfigError> {
    match env(key) {
        Some(text) => text.trim().parse().map(Some).map_err(|_| ConfigError::Invalid {
            key,
            message: format!("cannot read {text:?} as a {}", std::any::type_name::<T>()),
        }),
        None => Ok(file_value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[app]
data-dir = "var/exports"

[package.metadata.leptos]
output-name = "data-exports"
site-root = "target/site"
site-addr = "127.0.0.1:3000"
env = "DEV"
"#;

    fn load(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_toml(text, Path::new("Leptos.toml"), |key| {
            vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn reads_the_file_and_lets_the_environment_override_it() {
        let config = load(FILE, &[]).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("var/exports"));
        assert_eq!(config.leptos_options.output_name.as_ref(), "data-exports");
        assert!(!config.production());

        let config = load(FILE, &[("DATA_DIR", "/srv/exports")]).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/srv/exports"));
    }

    #[test]
    fn defaults_the_data_dir() {
        let text = FILE.replace("data-dir = \"var/exports\"", "");
        assert_eq!(load(&text, &[]).unwrap().data_dir, PathBuf::from("data"));
    }

    #[test]
    fn rejects_unknown_keys_and_empty_values_with_a_clear_message() {
        let text = FILE.replace("data-dir", "data-dri");
        let message = load(&text, &[]).unwrap_err().to_string();
        assert!(message.contains("data-dri"), "{message}");

        let message = load(FILE, &[("DATA_DIR", "")]).unwrap_err().to_string();
        assert!(message.contains("DATA_DIR"), "{message}");

        let message = load(FILE, &[("DATABASE_URL", "mysql://x")])
            .unwrap_err()
            .to_string();
        assert!(message.contains("DATABASE_URL"), "{message}");

        let message = load(FILE, &[("SESSION_IDLE_TIMEOUT_SECS", "soon")])
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("SESSION_IDLE_TIMEOUT_SECS") && message.contains("soon"),
            "{message}"
        );
    }

    #[test]
    fn defaults_to_an_sqlite_file_in_the_data_dir() {
        let config = load(FILE, &[]).unwrap();
        assert_eq!(config.database_url, "sqlite://var/exports/exports.db");
        assert_eq!(config.session_idle_timeout, Duration::from_secs(1800));
        assert!(!config.secure_cookies);
    }

    #[test]
    fn storage_defaults_to_the_data_dir_and_parses_s3_urls() {
        let config = load(FILE, &[]).unwrap();
        assert_eq!(
            config.storage,
            StorageSettings::Fs {
                root: PathBuf::from("var/exports/storage"),
                bucket: "pf-exports".into()
            }
        );
        assert_eq!(config.signed_url_ttl, Duration::from_secs(3600));

        let vars = [
            (
                "STORAGE_URL",
                "s3://exports-bucket?endpoint=http://127.0.0.1:9000&region=eu-west-1",
            ),
            ("S3_ACCESS_KEY_ID", "AK"),
            ("S3_SECRET_ACCESS_KEY", "SK"),
        ];
        let StorageSettings::S3(s3) = load(FILE, &vars).unwrap().storage else {
            panic!("expected S3");
        };
        assert_eq!(
            (s3.bucket.as_str(), s3.region.as_str(), s3.path_style),
            ("exports-bucket", "eu-west-1", true)
        );
        assert_eq!(s3.endpoint.as_str(), "http://127.0.0.1:9000/");

        let message = load(FILE, &vars[..2]).unwrap_err().to_string();
        assert!(message.contains("S3_SECRET_ACCESS_KEY"), "{message}");
        let message = load(FILE, &[("STORAGE_URL", "ftp://x")]).unwrap_err().to_string();
        assert!(message.contains("STORAGE_URL"), "{message}");
        let message = load(FILE, &[("SIGNED_URL_TTL_SECS", "604801")])
            .unwrap_err()
            .to_string();
        assert!(message.contains("SIGNED_URL_TTL_SECS"), "{message}");
    }

    #[test]
    fn the_retry_policy_defaults_and_can_be_set() {
        let config = load(FILE, &[]).unwrap();
        assert_eq!(config.worker.retry, RetryPolicy::default());
        let config = load(
            FILE,
            &[("WORKER_RETRY_BACKOFF_SECS", "1,2"), ("WORKER_MAX_ATTEMPTS", "4")],
        )
        .unwrap();
        assert_eq!(
            (config.worker.retry.nominal(3), config.worker.retry.max_attempts),
            (Duration::from_secs(2), 4)
        );
        for (key, value) in [
            ("WORKER_RETRY_BACKOFF_SECS", ""),
            ("WORKER_RETRY_BACKOFF_SECS", "1,x"),
            ("WORKER_MAX_ATTEMPTS", "0"),
        ] {
            let message = load(FILE, &[(key, value)]).unwrap_err().to_string();
            assert!(message.contains(key), "{key}={value}: {message}");
        }
    }

    #[test]
    fn production_refuses_the_demo_seed() {
        let text = FILE.replace("env = \"DEV\"", "env = \"PROD\"");
        let secret = ("SIGNING_SECRET", "0123456789abcdef0123456789abcdef");
        let config = load(&text, &[secret]).unwrap();
        assert!(config.production() && config.secure_cookies);
        let message = load(&text, &[secret, ("SEED_DEMO", "true")])
            .unwrap_err()
            .to_string();
        assert!(message.contains("SEED_DEMO"), "{message}");
        // Production never signs download links with a generated key.
        let message = load(&text, &[]).unwrap_err().to_string();
        assert!(message.contains("SIGNING_SECRET"), "{message}");
    }
}
