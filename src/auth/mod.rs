//! Who the user is and what they may do: permissions, the signed-in user, sign-in and sign-out.
//!
//! Server-only parts: [`accounts`] (users, organisations, memberships), [`password`] (argon2id),
//! [`session`] (database-backed sessions and their cookie), [`throttle`] (failed sign-ins),
//! [`housekeeping`] (removing both once stale) and [`guard`] (the one check every server
//! function makes).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use leptos::prelude::*;

use crate::error::AppError;

#[cfg(feature = "ssr")]
pub mod accounts;
#[cfg(feature = "ssr")]
pub mod guard;
#[cfg(feature = "ssr")]
pub mod housekeeping;
#[cfg(feature = "ssr")]
pub mod password;
#[cfg(feature = "ssr")]
pub mod session;
#[cfg(feature = "ssr")]
pub mod throttle;

/// A permission key, as stored in `role_permissions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Permission {
    ViewExports,
    CreateExports,
    DeleteExports,
}

impl Permission {
    pub fn key(self) -> &'static str {
        match self {
            Permission::ViewExports => "pf.export_requests.view",
            Permission::CreateExports => "pf.export_requests.create",
            Permission::DeleteExports => "pf.export_requests.delete",
        }
    }
}

/// The signed-in user as the client sees them: who, in which organisation, allowed to do what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub organization_id: Uuid,
    pub organization_name: String,
    pub role: Option<String>,
    pub permissions: Vec<String>,
}

impl CurrentUser {
    pub fn has(&self, permission: Permission) -> bool {
        self.permissions.iter().any(|key| key == permission.key())
    }
}

/// The signed-in user, or `None` when there is no valid session.
#[server(name = GetCurrentUser, endpoint = "current_user")]
pub async fn current_user() -> Result<Option<CurrentUser>, AppError> {
    match guard::authenticate().await {
        Ok(user) => Ok(Some(user)),
        Err(AppError::Unauthenticated) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Signs in: checks the password (throttled per account and per address), starts a fresh
/// session (any previous one from this browser is ended), and sends the browser to the exports page.
#[server(endpoint = "login")]
pub async fn login(email: String, password: String) -> Result<(), AppError> {
    let user = guard::sign_in(&email, &password).await?;
    tracing::info!(user_id = %user, "signed in");
    leptos_axum::redirect(crate::routes::EXPORTS_PAGE);
    Ok(())
}

/// Signs out: ends the session on the server and clears the cookie.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    guard::sign_out().await?;
    leptos_axum::redirect(crate::routes::LOGIN_PAGE);
    Ok(())
}
