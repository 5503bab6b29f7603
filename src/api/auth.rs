//! The server functions of signing in and out, and of who is signed in.

use leptos::prelude::*;

use crate::{auth::model::CurrentUser, error::AppError};

/// The signed-in user, or `None` when there is no valid session.
#[server(name = GetCurrentUser, endpoint = "current_user")]
pub async fn current_user() -> Result<Option<CurrentUser>, AppError> {
    match crate::auth::guard::authenticate().await {
        Ok(user) => Ok(Some(user)),
        Err(AppError::Unauthenticated) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Signs in: checks the password (throttled per account and per address), starts a fresh
/// session (any previous one from this browser is ended), and sends the browser to the exports page.
#[server(endpoint = "login")]
pub async fn login(email: String, password: String) -> Result<(), AppError> {
    let user = crate::auth::sign_in::sign_in(&email, &password).await?;
    tracing::info!(user_id = %user, "signed in");
    leptos_axum::redirect(crate::routes::EXPORTS_PAGE);
    Ok(())
}

/// Signs out: ends the session on the server and clears the cookie.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    crate::auth::sign_in::sign_out().await?;
    leptos_axum::redirect(crate::routes::LOGIN_PAGE);
    Ok(())
}
