//! Where settings come from: the `[app]` table of `Leptos.toml`, each key overridden by its
//! environment variable (the key in upper case with `_` for `-`: `worker-lease-secs` is
//! `WORKER_LEASE_SECS`). A section reads its keys through [`Source`], which names the key in every
//! error and remembers which keys were read, so that an unknown one is refused.

use std::{
    cell::RefCell, collections::BTreeSet, fmt::Display, ops::RangeInclusive, path::PathBuf, str::FromStr,
    time::Duration,
};

/// A configuration that cannot be used, with a message that says which key and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid configuration in {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid value for {key}: {message}")]
    Invalid { key: String, message: String },
}

impl ConfigError {
    pub fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// The `[app]` table and the environment, as the sections read them.
pub struct Source<'a> {
    table: toml::Table,
    env: &'a dyn Fn(&str) -> Option<String>,
    read: RefCell<BTreeSet<String>>,
}

/// The environment variable that overrides `[app] key`.
pub fn env_name(key: &str) -> String {
    key.to_ascii_uppercase().replace('-', "_")
}

impl<'a> Source<'a> {
    pub fn new(table: toml::Table, env: &'a dyn Fn(&str) -> Option<String>) -> Source<'a> {
        Source {
            table,
            env,
            read: RefCell::default(),
        }
    }

    /// `[app] key` as text: its environment variable if set, else the file's value.
    fn text(&self, key: &str) -> Result<Option<(String, String)>, ConfigError> {
        self.read.borrow_mut().insert(key.to_owned());
        let name = env_name(key);
        if let Some(value) = (self.env)(&name) {
            return Ok(Some((value, name)));
        }
        let origin = format!("[app] {key}");
        Ok(match self.table.get(key) {
            None => None,
            Some(toml::Value::String(text)) => Some((text.clone(), origin)),
            Some(toml::Value::Integer(n)) => Some((n.to_string(), origin)),
            Some(toml::Value::Float(n)) => Some((n.to_string(), origin)),
            Some(toml::Value::Boolean(b)) => Some((b.to_string(), origin)),
            Some(_) => return Err(ConfigError::invalid(origin, "must be a single value")),
        })
    }

    /// `[app] key` parsed, or `None` when neither the file nor the environment sets it.
    pub fn get<T: FromStr>(&self, key: &str) -> Result<Option<T>, ConfigError> {
        self.text(key)?
            .map(|(text, origin)| parse(&text, origin))
            .transpose()
    }

    /// `[app] key`, or `default`.
    pub fn or<T: FromStr>(&self, key: &str, default: T) -> Result<T, ConfigError> {
        Ok(self.get(key)?.unwrap_or(default))
    }

    /// `[app] key` (or `default`), which must lie in `range`.
    pub fn within<T: FromStr + PartialOrd + Display>(
        &self,
        key: &str,
        default: T,
        range: RangeInclusive<T>,
    ) -> Result<T, ConfigError> {
        let value = self.or(key, default)?;
        if !range.contains(&value) {
            return Err(ConfigError::invalid(
                env_name(key),
                format!("must be between {} and {}", range.start(), range.end()),
            ));
        }
        Ok(value)
    }

    /// `[app] key` in whole seconds (or `default_secs`), at least one.
    pub fn secs(&self, key: &str, default_secs: u64) -> Result<Duration, ConfigError> {
        let secs = self.or(key, default_secs)?;
        if secs == 0 {
            return Err(ConfigError::invalid(env_name(key), "must be at least 1 second"));
        }
        Ok(Duration::from_secs(secs))
    }

    /// An environment variable with no key in the file (secrets, credentials); empty is unset.
    pub fn env_only(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|value| !value.is_empty())
    }

    /// An environment-only variable, parsed.
    pub fn env_only_parsed<T: FromStr>(&self, name: &str) -> Result<Option<T>, ConfigError> {
        self.env_only(name).map(|text| parse(&text, name)).transpose()
    }

    /// The first key of the file that no section read.
    pub fn unknown_key(&self) -> Option<String> {
        let read = self.read.borrow();
        self.table.keys().find(|key| !read.contains(*key)).cloned()
    }
}

/// `text` as a `T`, or an error naming where it came from.
fn parse<T: FromStr>(text: &str, origin: impl Into<String>) -> Result<T, ConfigError> {
    text.trim().parse().map_err(|_| {
        ConfigError::invalid(
            origin,
            format!("cannot read {text:?} as a {}", std::any::type_name::<T>()),
        )
    })
}

/// Shows whether a secret is set, never what it is (for `Debug` of settings that hold one).
pub fn redacted(secret: &Option<String>) -> &'static str {
    if secret.is_some() { "[redacted]" } else { "None" }
}
