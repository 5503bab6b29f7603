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
        })
    }

    /// Production mode (`LEPTOS_ENV=PROD`): no demo data, no generated secrets.
    pub fn production(&self) -> bool {
        matches!(self.leptos_options.env, Env::PROD)
    }
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
    fn production_refuses_the_demo_seed() {
        let text = FILE.replace("env = \"DEV\"", "env = \"PROD\"");
        let config = load(&text, &[]).unwrap();
        assert!(config.production() && config.secure_cookies);
        let message = load(&text, &[("SEED_DEMO", "true")]).unwrap_err().to_string();
        assert!(message.contains("SEED_DEMO"), "{message}");
    }
}
