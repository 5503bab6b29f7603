//! One typed configuration: `Leptos.toml` plus environment overrides, validated at start.
//!
//! Leptos's own keys (`site-addr`, `site-root`, `env`, …) live under `[package.metadata.leptos]`
//! and are overridden by the standard `LEPTOS_*` variables. The app's keys live under `[app]`
//! and are overridden by the variables named beside each field.

use std::path::{Path, PathBuf};

use leptos::config::{Env, LeptosOptions, get_config_from_str};
use serde::Deserialize;

/// Everything the server needs to start, already validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Leptos's options: address, site root, bundle name, environment.
    pub leptos_options: LeptosOptions,
    /// Where the embedded default keeps its files. Env: `DATA_DIR`.
    pub data_dir: PathBuf,
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

        let data_dir = env("DATA_DIR")
            .map(PathBuf::from)
            .or(file.app.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        if data_dir.as_os_str().is_empty() {
            return Err(ConfigError::Invalid {
                key: "DATA_DIR",
                message: "must name a directory".into(),
            });
        }

        Ok(Config {
            leptos_options,
            data_dir,
        })
    }

    /// Production mode (`LEPTOS_ENV=PROD`): no demo data, no generated secrets.
    pub fn production(&self) -> bool {
        matches!(self.leptos_options.env, Env::PROD)
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
    }
}
