//! The one server-side guard: every server function resolves the session's user, organisation
//! and permissions here, and gets a typed 401 or 403 (audited) when they fall short.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use http::{HeaderValue, header, request::Parts};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use uuid::Uuid;

use crate::{
    audit::{self, AuditEntry, AuditEvent},
    auth::{CurrentUser, Permission, accounts, password, session, throttle},
    db::with_db,
    error::AppError,
    server::AppState,
};

/// A caller who holds the permission asked for.
#[derive(Debug, Clone)]
pub struct Authorized {
    pub state: AppState,
    pub user: CurrentUser,
}

fn request_parts() -> Result<Parts, AppError> {
    use_context::<Parts>().ok_or_else(|| AppError::internal("guard", "no request in context"))
}

/// The signed-in user, or [`AppError::Unauthenticated`].
pub async fn authenticate() -> Result<CurrentUser, AppError> {
    let state = AppState::from_context()?;
    let parts = request_parts()?;
    user_for_request(&state, &parts).await
}

/// The signed-in user holding `permission`. Denials (401 and 403) are audited.
pub async fn require(permission: Permission) -> Result<Authorized, AppError> {
    let state = AppState::from_context()?;
    let parts = request_parts()?;
    let user = authorize(&state, &parts, permission).await?;
    Ok(Authorized { state, user })
}

/// [`require`] for an explicit state and request.
pub async fn authorize(
    state: &AppState,
    parts: &Parts,
    permission: Permission,
) -> Result<CurrentUser, AppError> {
    match user_for_request(state, parts).await {
        Ok(user) if user.has(permission) => Ok(user),
        Ok(user) => {
            let entry = AuditEntry::new(AuditEvent::AccessDenied)
                .by(&user)
                .payload(serde_json::json!({ "permission": permission.key(), "reason": "forbidden" }));
            audit::record(&state.db, entry).await?;
            Err(AppError::Forbidden {
                permission: permission.key().to_owned(),
            })
        }
        Err(AppError::Unauthenticated) => {
            let entry = AuditEntry::new(AuditEvent::AccessDenied)
                .payload(serde_json::json!({ "permission": permission.key(), "reason": "unauthenticated" }));
            audit::record(&state.db, entry).await?;
            Err(AppError::Unauthenticated)
        }
        Err(other) => Err(other),
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    email: String,
    display_name: String,
    organization_name: String,
    role_key: Option<String>,
}

async fn user_for_request(state: &AppState, parts: &Parts) -> Result<CurrentUser, AppError> {
    let token = session::token_from(&parts.headers).ok_or(AppError::Unauthenticated)?;
    let db = &state.db;
    let session = session::lookup(db, &token, state.config.session_idle_timeout)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    // A membership removed since sign-in ends the session's access at once.
    let row: UserRow = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT u.email, u.display_name, o.name AS organization_name, m.role_key \
             FROM users u \
             JOIN memberships m ON m.user_id = u.id AND m.organization_id = $2 \
             JOIN organizations o ON o.id = m.organization_id \
             WHERE u.id = $1",
        )
        .bind(session.user_id)
        .bind(session.organization_id)
        .fetch_optional(pool)
        .await
    })?
    .ok_or(AppError::Unauthenticated)?;
    let permissions: Vec<String> = match &row.role_key {
        Some(role) => with_db!(db, pool => {
            sqlx::query_scalar("SELECT permission FROM role_permissions WHERE role_key = $1 ORDER BY permission")
                .bind(role)
                .fetch_all(pool)
                .await
        })?,
        None => Vec::new(),
    };
    Ok(CurrentUser {
        user_id: session.user_id,
        email: row.email,
        display_name: row.display_name,
        organization_id: session.organization_id,
        organization_name: row.organization_name,
        role: row.role_key,
        permissions,
    })
}

/// The client's address: the socket's, or the right-most `X-Forwarded-For` hop behind a trusted
/// proxy (the one our proxy appended; anything to its left the client could have written).
fn client_address(parts: &Parts, trust_proxy: bool) -> String {
    let forwarded = trust_proxy
        .then(|| {
            parts
                .headers
                .get("x-forwarded-for")?
                .to_str()
                .ok()?
                .rsplit(',')
                .next()
                .map(str::trim)
        })
        .flatten()
        .filter(|hop| !hop.is_empty());
    match forwarded {
        Some(hop) => hop.to_owned(),
        None => parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string())
            .unwrap_or_else(|| "unknown".to_owned()),
    }
}

/// Whether cookies for this request must be `Secure`.
fn secure(state: &AppState, parts: &Parts) -> bool {
    state.config.secure_cookies
        || parts.uri.scheme_str() == Some("https")
        || parts
            .headers
            .get("x-forwarded-proto")
            .is_some_and(|proto| proto == "https")
}

fn set_cookie(value: HeaderValue) {
    if let Some(response) = use_context::<ResponseOptions>() {
        response.append_header(header::SET_COOKIE, value);
    }
}

/// Checks the credentials and starts a new session, replacing any the browser already had.
/// Returns the user's id.
pub async fn sign_in(email: &str, password: &str) -> Result<Uuid, AppError> {
    let state = AppState::from_context()?;
    let parts = request_parts()?;
    let db = &state.db;

    let email = accounts::normalize_email(email)
        .ok_or_else(|| AppError::validation("email", "Enter your email address."))?;
    if password.is_empty() {
        return Err(AppError::validation("password", "Enter your password."));
    }
    if password.len() > 1024 {
        return Err(AppError::validation("password", "That password is too long."));
    }

    let address = client_address(&parts, state.config.trust_proxy);
    let attempt_at = throttle::record_attempt(db, &email, &address).await?;
    if throttle::is_locked(db, &email, &address).await? {
        audit::record(
            db,
            AuditEntry::new(AuditEvent::LoginThrottled).payload(serde_json::json!({ "address": address })),
        )
        .await?;
        return Err(AppError::RateLimited {
            message: format!(
                "Too many failed sign-in attempts. Try again in {} minutes.",
                throttle::WINDOW.num_minutes()
            ),
        });
    }

    let account = accounts::find_for_login(db, &email).await?;
    let stored = account.as_ref().map(|account| account.password_hash.clone());
    let matches = password::verify(password.to_owned(), stored).await?;
    let account = match account {
        Some(account) if matches => account,
        account => {
            let mut entry =
                AuditEntry::new(AuditEvent::LoginFailed).payload(serde_json::json!({ "address": address }));
            if let Some(account) = account {
                entry = entry.actor(account.user_id);
            }
            audit::record(db, entry).await?;
            return Err(AppError::InvalidCredentials);
        }
    };
    let Some(organization_id) = account.organization_id else {
        return Err(AppError::Forbidden {
            permission: "membership of an organisation".into(),
        });
    };

    // Rotation: whatever session this browser carried ends here; the new one has a new id.
    if let Some(previous) = session::token_from(&parts.headers) {
        session::destroy(db, &previous).await?;
    }
    let timeout = state.config.session_absolute_timeout;
    let token = session::create(db, account.user_id, organization_id, timeout).await?;
    set_cookie(session::cookie(&token, timeout, secure(&state, &parts)));
    throttle::forgive(db, &email, &address, attempt_at).await?;
    audit::record(
        db,
        AuditEntry::new(AuditEvent::LoginSucceeded)
            .organization(organization_id)
            .actor(account.user_id)
            .payload(serde_json::json!({ "address": address })),
    )
    .await?;
    Ok(account.user_id)
}

/// Ends the browser's session (if any) and clears its cookie.
pub async fn sign_out() -> Result<(), AppError> {
    let state = AppState::from_context()?;
    let parts = request_parts()?;
    if let Ok(user) = user_for_request(&state, &parts).await {
        audit::record(&state.db, AuditEntry::new(AuditEvent::Logout).by(&user)).await?;
    }
    if let Some(token) = session::token_from(&parts.headers) {
        session::destroy(&state.db, &token).await?;
    }
    set_cookie(session::clear_cookie(secure(&state, &parts)));
    Ok(())
}
