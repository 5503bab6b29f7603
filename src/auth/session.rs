//! Sessions stored in the database (so every web process shares them) and the cookie that
//! carries their token. Only the token's SHA-256 is stored.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, header};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::{Db, now, with_db};

pub const COOKIE_NAME: &str = "exports_session";

/// Its name when the cookie is `Secure`: the `__Host-` prefix makes browsers accept it only from
/// this host over HTTPS, with `Path=/` and no `Domain`, so no sibling subdomain can plant one.
pub const SECURE_COOKIE_NAME: &str = "__Host-exports_session";

/// The cookie's name for a connection that is `secure` or not.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure { SECURE_COOKIE_NAME } else { COOKIE_NAME }
}

/// Skip rewriting `last_seen_at` more often than this (or half the idle timeout, if shorter, so an
/// active session never idles out): reads stay reads.
const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Starts a session and returns its token (256 random bits, URL-safe base64).
pub async fn create(
    db: &Db,
    user_id: Uuid,
    organization_id: Uuid,
    absolute_timeout: Duration,
) -> Result<String, sqlx::Error> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let created = now();
    let expires =
        created + chrono::TimeDelta::from_std(absolute_timeout).unwrap_or(chrono::TimeDelta::hours(12));
    with_db!(db, pool => {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, organization_id, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind(token_hash(&token))
        .bind(user_id)
        .bind(organization_id)
        .bind(created)
        .bind(expires)
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
    })?;
    Ok(token)
}

/// What makes the session for a token live now: the row with the token's hash that has neither
/// passed its absolute expiry nor been idle too long. The caller reads the row (with whatever it
/// joins to it) under [`Liveness::CONDITION`], then [`Liveness::touch`]es it.
pub struct Liveness {
    hash: Vec<u8>,
    at: DateTime<Utc>,
    idle_since: DateTime<Utc>,
    touch_every: chrono::TimeDelta,
}

impl Liveness {
    /// The condition on `sessions s`, with [`Liveness::bind`]'s values as `$1` to `$3`.
    pub const CONDITION: &str = "s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3";

    pub fn of(token: &str, idle_timeout: Duration) -> Liveness {
        let at = now();
        let idle = chrono::TimeDelta::from_std(idle_timeout).unwrap_or(chrono::TimeDelta::minutes(30));
        Liveness {
            hash: token_hash(token),
            at,
            idle_since: at - idle,
            touch_every: TOUCH_EVERY.min(idle / 2),
        }
    }

    /// Binds the condition's values.
    pub fn bind<'q, DB, O>(
        &'q self,
        query: sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments<'q>>,
    ) -> sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments<'q>>
    where
        DB: sqlx::Database,
        &'q [u8]: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        query
            .bind(self.hash.as_slice())
            .bind(self.at)
            .bind(self.idle_since)
    }

    /// Records activity on the live session last seen at `last_seen_at`, at most once every
    /// [`TOUCH_EVERY`]: reads stay reads.
    pub async fn touch(&self, db: &Db, last_seen_at: DateTime<Utc>) -> Result<(), sqlx::Error> {
        if self.at - last_seen_at <= self.touch_every {
            return Ok(());
        }
        with_db!(db, pool => {
            sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1")
                .bind(&self.hash)
                .bind(self.at)
                .execute(pool)
                .await
                .map(drop)
        })
    }
}

/// Ends the session for `token` (a no-op if there is none).
pub async fn destroy(db: &Db, token: &str) -> Result<(), sqlx::Error> {
    with_db!(db, pool => {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash(token))
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
    })?;
    Ok(())
}

/// Removes sessions past their absolute expiry; returns how many.
pub async fn purge_expired(db: &Db) -> Result<u64, sqlx::Error> {
    let result = with_db!(db, pool => {
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now())
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
    })?;
    Ok(result)
}

/// The session token from the request's `Cookie` headers, if any: under the `__Host-` name on a
/// secure connection (the plain name is then ignored), the plain name otherwise.
pub fn token_from(headers: &HeaderMap, secure: bool) -> Option<String> {
    let wanted = cookie_name(secure);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty() && value.len() <= 128)
}

/// `Set-Cookie` for a new session: HttpOnly, SameSite=Lax, Secure when asked.
pub fn cookie(token: &str, max_age: Duration, secure: bool) -> HeaderValue {
    let name = cookie_name(secure);
    let secure = if secure { "; Secure" } else { "" };
    let value = format!(
        "{name}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        max_age.as_secs()
    );
    HeaderValue::from_str(&value).expect("token is URL-safe base64")
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie(secure: bool) -> HeaderValue {
    let name = cookie_name(secure);
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"
    ))
    .expect("static cookie")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_session_token_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; exports_session=abc-123; x=y"),
        );
        assert_eq!(token_from(&headers, false).as_deref(), Some("abc-123"));
        headers.insert(header::COOKIE, HeaderValue::from_static("exports_sessionx=nope"));
        assert_eq!(token_from(&headers, false), None);
    }

    #[test]
    fn over_https_only_the_host_prefixed_cookie_counts() {
        let value = cookie("tok", Duration::from_secs(60), true);
        let value = value.to_str().unwrap();
        assert!(
            value.starts_with("__Host-exports_session=tok; Path=/;"),
            "{value}"
        );
        assert!(!value.contains("Domain"), "{value}");
        assert!(
            clear_cookie(true)
                .to_str()
                .unwrap()
                .starts_with("__Host-exports_session=;")
        );
        let mut headers = HeaderMap::new();
        // A plain-named cookie (say, planted by a sibling subdomain) is not a session over HTTPS.
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("exports_session=planted"),
        );
        assert_eq!(token_from(&headers, true), None);
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("exports_session=planted; __Host-exports_session=real"),
        );
        assert_eq!(token_from(&headers, true).as_deref(), Some("real"));
        assert_eq!(token_from(&headers, false).as_deref(), Some("planted"));
    }

    #[test]
    fn cookies_are_http_only_and_same_site() {
        let value = cookie("tok", Duration::from_secs(60), true);
        let value = value.to_str().unwrap();
        assert!(value.contains("HttpOnly") && value.contains("SameSite=Lax") && value.contains("Secure"));
        assert!(
            !cookie("tok", Duration::from_secs(60), false)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
        assert!(clear_cookie(false).to_str().unwrap().contains("Max-Age=0"));
    }
}
