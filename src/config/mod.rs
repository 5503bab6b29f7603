//! One typed configuration: `Leptos.toml` plus environment overrides, validated at start.
//!
//! Leptos's own keys (`site-addr`, `site-root`, `env`, …) live under `[package.metadata.leptos]`
//! and are overridden by the standard `LEPTOS_*` variables. The app's keys live under `[app]`,
//! each overridden by its environment variable ([`source`]), and each area declares its own
//! section with its keys, defaults and checks: [`server`], [`sessions`], [`storage`], [`worker`],
//! [`limits`].

pub mod limits;
pub mod server;
pub mod sessions;
pub mod source;
pub mod storage;
pub mod worker;

use std::path::Path;

use leptos::config::{Env, LeptosOptions, get_config_from_str};

pub use self::{
    limits::ExportLimits,
    server::ServerSettings,
    sessions::SessionSettings,
    source::ConfigError,
    storage::{StorageBackend, StorageSettings},
    worker::WorkerSettings,
};
use source::Source;

/// Everything the server needs to start, already validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Leptos's options: address, site root, bundle name (and its files' hashes), environment.
    pub leptos_options: LeptosOptions,
    /// Where the bundle's files are served, by their hashed names.
    pub bundle: Bundle,
    pub server: ServerSettings,
    pub sessions: SessionSettings,
    pub storage: StorageSettings,
    pub worker: WorkerSettings,
    pub limits: ExportLimits,
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
        let mut file: toml::Table = toml::from_str(text).map_err(|e| parse_error(e.message().to_owned()))?;
        let app = match file.remove("app") {
            None => toml::Table::new(),
            Some(toml::Value::Table(app)) => app,
            Some(_) => return Err(parse_error("[app] must be a table".into())),
        };
        let (leptos_options, bundle) =
            with_hashed_bundle(get_config_from_str(text).map_err(|e| parse_error(e.to_string()))?);
        let production = matches!(leptos_options.env, Env::PROD);

        let source = Source::new(app, &env);
        let server = ServerSettings::load(&source, production)?;
        let config = Config {
            sessions: SessionSettings::load(&source, production)?,
            storage: StorageSettings::load(&source, &server.data_dir, production)?,
            worker: WorkerSettings::load(&source)?,
            limits: ExportLimits::load(&source)?,
            server,
            leptos_options,
            bundle,
        };
        if let Some(key) = source.unknown_key() {
            return Err(parse_error(format!("unknown key `{key}` in [app]")));
        }
        Ok(config)
    }

    /// Production mode (`LEPTOS_ENV=PROD`): no demo data, no generated secrets.
    pub fn production(&self) -> bool {
        matches!(self.leptos_options.env, Env::PROD)
    }
}

/// The paths of the bundle's files: `/pkg/data-exports.<hash>.{js,wasm,css}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub script: String,
    pub wasm: String,
    pub stylesheet: String,
}

/// `options` naming the bundle's files by their content hashes when the built site lists them
/// (`<site-root>/hash.txt`, written by cargo-leptos with `hash-files`; as built otherwise), and
/// the files' paths.
fn with_hashed_bundle(mut options: LeptosOptions) -> (LeptosOptions, Bundle) {
    let listed = std::path::Path::new(&*options.site_root).join("hash.txt");
    let hashes = match (std::path::absolute(&listed), std::fs::read_to_string(&listed)) {
        (Ok(path), Ok(hashes)) => {
            options.hash_files = true;
            options.hash_file = path.to_string_lossy().into();
            hashes
        }
        _ => String::new(),
    };
    let path = |kind: &str| {
        let hash = hashes
            .lines()
            .filter_map(|line| line.split_once(':'))
            .find_map(|(file, hash)| (file.trim() == kind).then(|| format!(".{}", hash.trim())))
            .unwrap_or_default();
        format!("/{}/{}{hash}.{kind}", options.site_pkg_dir, options.output_name)
    };
    let bundle = Bundle {
        script: path("js"),
        wasm: path("wasm"),
        stylesheet: path("css"),
    };
    (options, bundle)
}

#[cfg(test)]
mod tests {
    use std::{path::PathBuf, time::Duration};

    use super::*;
    use crate::retry::RetryPolicy;

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
        assert_eq!(config.server.data_dir, PathBuf::from("var/exports"));
        assert_eq!(config.leptos_options.output_name.as_ref(), "data-exports");
        assert!(!config.production());

        let config = load(FILE, &[("DATA_DIR", "/srv/exports")]).unwrap();
        assert_eq!(config.server.data_dir, PathBuf::from("/srv/exports"));
    }

    #[test]
    fn defaults_the_data_dir() {
        let text = FILE.replace("data-dir = \"var/exports\"", "");
        assert_eq!(load(&text, &[]).unwrap().server.data_dir, PathBuf::from("data"));
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
        assert_eq!(config.server.database_url, "sqlite://var/exports/exports.db");
        assert_eq!(config.sessions.idle_timeout, Duration::from_secs(1800));
        assert!(!config.sessions.secure_cookies);
    }

    #[test]
    fn storage_defaults_to_the_data_dir_and_parses_s3_urls() {
        let config = load(FILE, &[]).unwrap();
        assert_eq!(
            config.storage.backend,
            StorageBackend::Fs {
                root: PathBuf::from("var/exports/storage"),
                bucket: "pf-exports".into()
            }
        );
        assert_eq!(config.storage.signed_url_ttl, Duration::from_secs(3600));

        let vars = [
            (
                "STORAGE_URL",
                "s3://exports-bucket?endpoint=http://127.0.0.1:9000&region=eu-west-1",
            ),
            ("S3_ACCESS_KEY_ID", "AK"),
            ("S3_SECRET_ACCESS_KEY", "SK"),
        ];
        let StorageBackend::S3(s3) = load(FILE, &vars).unwrap().storage.backend else {
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
    fn server_side_encryption_is_aes256_or_kms_with_an_optional_key() {
        use crate::config::storage::Encryption;
        let s3 = |extra: &[(&'static str, &'static str)]| {
            let mut vars = vec![
                ("STORAGE_URL", "s3://b?endpoint=http://127.0.0.1:9000"),
                ("S3_ACCESS_KEY_ID", "AK"),
                ("S3_SECRET_ACCESS_KEY", "SK"),
            ];
            vars.extend_from_slice(extra);
            load(FILE, &vars).map(|config| match config.storage.backend {
                StorageBackend::S3(s3) => s3.encryption,
                other => panic!("{other:?}"),
            })
        };
        assert_eq!(s3(&[]).unwrap(), None);
        assert_eq!(s3(&[("S3_SSE", "AES256")]).unwrap(), Some(Encryption::Aes256));
        assert_eq!(
            s3(&[("S3_SSE", "aws:kms")]).unwrap(),
            Some(Encryption::Kms { key_id: None })
        );
        assert_eq!(
            s3(&[("S3_SSE", "aws:kms"), ("S3_SSE_KMS_KEY_ID", "alias/exports")]).unwrap(),
            Some(Encryption::Kms {
                key_id: Some("alias/exports".into())
            })
        );
        for (bad, key) in [
            (&[("S3_SSE", "aes256")][..], "S3_SSE"),
            (&[("S3_SSE_KMS_KEY_ID", "alias/exports")][..], "S3_SSE_KMS_KEY_ID"),
            (
                &[("S3_SSE", "AES256"), ("S3_SSE_KMS_KEY_ID", "alias/exports")][..],
                "S3_SSE_KMS_KEY_ID",
            ),
        ] {
            let message = s3(bad).unwrap_err().to_string();
            assert!(message.contains(key), "{bad:?}: {message}");
        }
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
    fn debug_output_never_shows_a_secret() {
        let vars = [
            ("SIGNING_SECRET", "0123456789abcdef0123456789abcdef-signing"),
            ("METRICS_TOKEN", "metrics-token-value"),
            (
                "DATABASE_URL",
                "postgres://exports:db-password@db.internal/exports",
            ),
        ];
        let printed = format!("{:?}", load(FILE, &vars).unwrap());
        for (_, secret) in [vars[0], vars[1]] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(!printed.contains("db-password"), "{printed}");
        let s3 = [
            ("STORAGE_URL", "s3://b?endpoint=http://127.0.0.1:9000"),
            ("S3_ACCESS_KEY_ID", "AK"),
            ("S3_SECRET_ACCESS_KEY", "the-s3-secret"),
        ];
        let printed = format!("{:?}", load(FILE, &s3).unwrap());
        assert!(!printed.contains("the-s3-secret"), "{printed}");
    }

    #[test]
    fn production_refuses_the_demo_seed() {
        let text = FILE.replace("env = \"DEV\"", "env = \"PROD\"");
        let secret = ("SIGNING_SECRET", "0123456789abcdef0123456789abcdef");
        let token = ("METRICS_TOKEN", "a-metrics-token");
        let config = load(&text, &[secret, token]).unwrap();
        assert!(config.production() && config.sessions.secure_cookies);
        let message = load(&text, &[secret, token, ("SEED_DEMO", "true")])
            .unwrap_err()
            .to_string();
        assert!(message.contains("SEED_DEMO"), "{message}");
        // Production never signs download links with a generated key.
        let message = load(&text, &[token]).unwrap_err().to_string();
        assert!(message.contains("SIGNING_SECRET"), "{message}");
    }

    #[test]
    fn production_refuses_open_metrics() {
        let text = FILE.replace("env = \"DEV\"", "env = \"PROD\"");
        let secret = ("SIGNING_SECRET", "0123456789abcdef0123456789abcdef");
        let message = load(&text, &[secret]).unwrap_err().to_string();
        assert!(message.contains("METRICS_TOKEN"), "{message}");
        // Development keeps them open for the demo.
        assert_eq!(load(FILE, &[]).unwrap().server.metrics_token, None);
    }
}
