//! The server functions, the browser's only way in: each checks the session, the permission and
//! the organisation (through `auth::guard`) before anything else. A layer of its own above the
//! domain, so the domain never depends on them.

pub mod auth;
pub mod disclosures;
pub mod exports;

/// Audits a denial of `target` `id` for `action` (`reason`: `not_found`, `forbidden`, …) by the
/// caller; the server functions answer it as the error they return.
#[cfg(feature = "ssr")]
pub async fn denied(
    caller: &crate::auth::guard::Authorized,
    (target, id): (&'static str, uuid::Uuid),
    action: &str,
    reason: &str,
) -> Result<(), crate::error::AppError> {
    use crate::audit::{self, AuditEntry, AuditEvent};
    audit::record(
        &caller.state.db,
        AuditEntry::new(AuditEvent::AccessDenied)
            .by(&caller.user)
            .target(target, id)
            .payload(serde_json::json!({ "action": action, "reason": reason })),
    )
    .await?;
    Ok(())
}

/// After a server function called by a plain HTML form (JavaScript off: the browser asked for a
/// page, not data), sends the browser to `path` with a 303 instead of back to the form's page.
/// Calls from the app's own client are left alone: they handle the result in place.
#[cfg(feature = "ssr")]
pub fn redirect_plain_form(path: &str) {
    use leptos::prelude::use_context;
    let plain_form = use_context::<http::request::Parts>().is_some_and(|parts| {
        parts
            .headers
            .get(http::header::ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
    });
    if plain_form {
        leptos_axum::redirect(path);
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::SEE_OTHER);
        }
    }
}
