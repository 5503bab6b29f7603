//! The one server-side guard: every server function resolves the session's user, organisation
//! and permissions here, and gets a typed 401 or 403 when they fall short: a 403 in the audit
//! log, a 401 (nobody signed in) counted in `audit::denials`.

use http::request::Parts;
use uuid::Uuid;

use crate::{
    audit::{
        self, Actor, AuditEntry, AuditEvent,
        denials::{self, Denial},
    },
    auth::{
        model::{CurrentUser, Permission},
        request::{client_of, request_parts, throttle_key},
        session,
    },
    db::with_db,
    error::AppError,
    state::AppState,
};

/// A caller who holds the permission asked for.
#[derive(Debug, Clone)]
pub struct Authorized {
    pub state: AppState,
    pub user: CurrentUser,
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
            // Nobody signed in: counted per source and minute, not logged per request.
            let denial = Denial {
                event: AuditEvent::AccessDenied,
                source: &throttle_key(&client_of(state, parts)),
                permission: Some(permission.key()),
                account: None,
            };
            denials::count(&state.db, denial).await?;
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
    organization_time_zone: String,
    role_key: Option<String>,
}

pub async fn user_for_request(state: &AppState, parts: &Parts) -> Result<CurrentUser, AppError> {
    let secure = crate::auth::request::secure(state, parts);
    let token = session::token_from(&parts.headers, secure).ok_or(AppError::Unauthenticated)?;
    let db = &state.db;
    let session = session::lookup(db, &token, state.config.sessions.idle_timeout)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    // A membership removed since sign-in ends the session's access at once.
    let row: UserRow = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT u.email, u.display_name, o.name AS organization_name, \
                    o.time_zone AS organization_time_zone, m.role_key \
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
    // A zone the database holds is always valid (set through `accounts::time_zone`).
    let zone: chrono_tz::Tz = row.organization_time_zone.parse().unwrap_or(chrono_tz::UTC);
    Ok(CurrentUser {
        organization_today: crate::db::now().with_timezone(&zone).date_naive(),
        user_id: session.user_id,
        email: row.email,
        display_name: row.display_name,
        organization_id: session.organization_id,
        organization_name: row.organization_name,
        organization_time_zone: row.organization_time_zone,
        role: row.role_key,
        permissions,
    })
}

/// A signed-in user acts in the audit log as themselves, in their organisation.
impl Actor for CurrentUser {
    fn organization_id(&self) -> Uuid {
        self.organization_id
    }

    fn user_id(&self) -> Uuid {
        self.user_id
    }
}
