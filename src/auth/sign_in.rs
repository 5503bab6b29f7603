//! Signing in (credentials checked under throttling, a fresh session replacing the browser's
//! old one) and signing out. Every attempt is audited.

use uuid::Uuid;

use crate::{
    audit::{self, AuditEntry, AuditEvent},
    auth::{
        accounts,
        guard::user_for_request,
        password,
        request::{client_address, request_parts, secure, set_cookie, throttle_key},
        session, throttle,
    },
    error::AppError,
    state::AppState,
};

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

    let sessions = &state.config.sessions;
    let address = client_address(&parts, sessions.trust_proxy.then_some(sessions.trust_proxy_hops));
    // Throttled by the address's block (an IPv6 client's /64); audited as it came.
    let block = throttle_key(&address);
    let attempt_at = throttle::record_attempt(db, &email, &block).await?;
    if throttle::is_locked(db, &email, &block).await? {
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
    if let Some(previous) = session::token_from(&parts.headers, secure(&state, &parts)) {
        session::destroy(db, &previous).await?;
    }
    let timeout = state.config.sessions.absolute_timeout;
    let token = session::create(db, account.user_id, organization_id, timeout).await?;
    set_cookie(session::cookie(&token, timeout, secure(&state, &parts)));
    throttle::forgive(db, &email, &block, attempt_at).await?;
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
    if let Some(token) = session::token_from(&parts.headers, secure(&state, &parts)) {
        session::destroy(&state.db, &token).await?;
    }
    set_cookie(session::clear_cookie(secure(&state, &parts)));
    Ok(())
}
