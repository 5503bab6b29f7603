//! Signing in (credentials checked under throttling and the password-check bound, a fresh
//! session replacing the browser's old one) and signing out. Every attempt is audited: a success
//! and a sign-out in the audit log, a failure or a refusal counted in `audit::denials`.

use uuid::Uuid;

use crate::{
    audit::{
        self, AuditEntry, AuditEvent,
        denials::{self, Denial},
    },
    auth::{
        accounts,
        guard::user_for_request,
        password,
        request::{client_of, request_parts, secure, set_cookie, throttle_key},
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
    let address = client_of(&state, &parts);
    // Throttled by the address's block (an IPv6 client's /64).
    let block = throttle_key(&address);
    let attempt = throttle::Attempt {
        email: &email,
        block: &block,
        lock_addresses: sessions.trust_proxy,
    };
    let denied = |event, account| Denial {
        event,
        source: &block,
        permission: None,
        account,
    };
    let throttled = || AppError::RateLimited {
        message: format!(
            "Too many failed sign-in attempts. Try again in {} minutes.",
            throttle::WINDOW.num_minutes()
        ),
    };
    // Already locked: refused without writing a failure (a locked flood adds nothing there).
    if throttle::is_locked(db, attempt, false).await? {
        denials::count(db, denied(AuditEvent::LoginThrottled, None)).await?;
        return Err(throttled());
    }
    let attempt_at = throttle::record_attempt(db, attempt).await?;
    // Parallel attempts that all passed the first look: only the first few go on; the rest take
    // their marks back (they checked nothing), so a burst leaves no more rows than the limit.
    if throttle::is_locked(db, attempt, true).await? {
        throttle::withdraw(db, attempt, attempt_at).await?;
        denials::count(db, denied(AuditEvent::LoginThrottled, None)).await?;
        return Err(throttled());
    }

    let account = accounts::find_for_login(db, &email).await?;
    let stored = account.as_ref().map(|account| account.password_hash.clone());
    let matches = match password::verify(password.to_owned(), stored, sessions.password_check_wait).await {
        Ok(matches) => matches,
        Err(busy @ AppError::Busy { .. }) => {
            // Never checked: not a failure.
            throttle::withdraw(db, attempt, attempt_at).await?;
            return Err(busy);
        }
        Err(other) => return Err(other),
    };
    let account = match account {
        Some(account) if matches => account,
        account => {
            let account = account.map(|account| account.user_id);
            denials::count(db, denied(AuditEvent::LoginFailed, account)).await?;
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
    throttle::forgive(db, attempt, attempt_at).await?;
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
