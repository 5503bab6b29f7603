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

/// The session's user as one statement reads them: one row per permission of their role (one
/// row with none when the role has none, or they have no role).
#[derive(sqlx::FromRow)]
struct UserRow {
    user_id: Uuid,
    organization_id: Uuid,
    last_seen_at: chrono::DateTime<chrono::Utc>,
    email: String,
    display_name: String,
    organization_name: String,
    organization_time_zone: String,
    role_key: Option<String>,
    permission: Option<String>,
}

pub async fn user_for_request(state: &AppState, parts: &Parts) -> Result<CurrentUser, AppError> {
    let secure = crate::auth::request::secure(state, parts);
    let token = session::token_from(&parts.headers, secure).ok_or(AppError::Unauthenticated)?;
    let db = &state.db;
    let live = session::Liveness::of(&token, state.config.sessions.idle_timeout);
    // One round trip: the live session, its user, and their membership of the session's
    // organisation (a membership removed since sign-in ends the session's access at once), with
    // the role's permissions.
    let sql = format!(
        "SELECT s.user_id, s.organization_id, s.last_seen_at, u.email, u.display_name, \
                o.name AS organization_name, o.time_zone AS organization_time_zone, m.role_key, \
                p.permission \
         FROM sessions s \
         JOIN users u ON u.id = s.user_id \
         JOIN memberships m ON m.user_id = s.user_id AND m.organization_id = s.organization_id \
         JOIN organizations o ON o.id = s.organization_id \
         LEFT JOIN role_permissions p ON p.role_key = m.role_key \
         WHERE {} \
         ORDER BY p.permission",
        session::Liveness::CONDITION
    );
    let rows: Vec<UserRow> = with_db!(db, pool => {
        live.bind(sqlx::query_as(&sql)).fetch_all(pool).await
    })?;
    let Some(row) = rows.first() else {
        return Err(AppError::Unauthenticated);
    };
    live.touch(db, row.last_seen_at).await?;
    let permissions: Vec<String> = rows.iter().filter_map(|row| row.permission.clone()).collect();
    // A zone the database holds is always valid (set through `accounts::time_zone`).
    let zone: chrono_tz::Tz = row.organization_time_zone.parse().unwrap_or(chrono_tz::UTC);
    Ok(CurrentUser {
        organization_today: crate::db::now().with_timezone(&zone).date_naive(),
        user_id: row.user_id,
        email: row.email.clone(),
        display_name: row.display_name.clone(),
        organization_id: row.organization_id,
        organization_name: row.organization_name.clone(),
        organization_time_zone: row.organization_time_zone.clone(),
        role: row.role_key.clone(),
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
