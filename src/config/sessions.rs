//! How long sessions last, how their cookie and the client's address are read, and how long a
//! sign-in waits for a password check.

use std::time::Duration;

use super::source::{ConfigError, Source};

/// Session lifetimes and the trust placed in the request's headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    /// A session ends after this long without a request. `[app] session-idle-timeout-secs` (30 min).
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, however active.
    /// `[app] session-absolute-timeout-secs` (12 h).
    pub absolute_timeout: Duration,
    /// Mark cookies `Secure` (default: in production). Requests arriving as https through a
    /// proxy (`X-Forwarded-Proto: https`) get `Secure` cookies regardless. `[app] secure-cookies`.
    pub secure_cookies: bool,
    /// Trust `X-Forwarded-For` for the client address (only behind your own proxy).
    /// `[app] trust-proxy` (default false).
    pub trust_proxy: bool,
    /// How many proxies of yours append to `X-Forwarded-For` (a CDN in front of a load balancer
    /// is 2): the client is that many hops from the right. `[app] trust-proxy-hops` (1, 1–10).
    pub trust_proxy_hops: u32,
    /// How long a sign-in waits for a password check to come free (they run one per core at a
    /// time) before it is answered 503 with `Retry-After`. `[app] password-check-wait-ms` (2000,
    /// 0–30000).
    pub password_check_wait: Duration,
}

impl SessionSettings {
    pub fn load(source: &Source, production: bool) -> Result<SessionSettings, ConfigError> {
        Ok(SessionSettings {
            idle_timeout: source.secs("session-idle-timeout-secs", 30 * 60)?,
            absolute_timeout: source.secs("session-absolute-timeout-secs", 12 * 60 * 60)?,
            secure_cookies: source.or("secure-cookies", production)?,
            trust_proxy: source.or("trust-proxy", false)?,
            trust_proxy_hops: source.within("trust-proxy-hops", 1, 1..=10)?,
            password_check_wait: Duration::from_millis(source.within(
                "password-check-wait-ms",
                2_000,
                0..=30_000,
            )?),
        })
    }
}
