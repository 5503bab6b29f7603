//! Users, organisations and memberships: creating them (CLI, demo seed) and looking them up.

use uuid::Uuid;

use crate::{
    auth::password,
    db::{Db, now, with_db},
    error::AppError,
};

/// Roles defined by the migrations; a membership may also have none.
pub const ROLES: &[&str] = &["org_admin", "finance_admin", "staff"];

/// An email as stored: trimmed and lower-cased. `None` if it is not plausibly an address.
pub fn normalize_email(email: &str) -> Option<String> {
    let email = email.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let valid = !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    valid.then_some(email)
}

/// Finds or creates the organisation called `name` (its slug is derived from the name).
pub async fn ensure_organization(db: &Db, name: &str) -> Result<Uuid, AppError> {
    let slug = slugify(name);
    let existing: Option<Uuid> = with_db!(db, pool => {
        sqlx::query_scalar("SELECT id FROM organizations WHERE slug = $1")
            .bind(&slug)
            .fetch_optional(pool)
            .await
    })?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let id = Uuid::new_v4();
    with_db!(db, pool => {
        sqlx::query("INSERT INTO organizations (id, name, slug, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(name)
            .bind(&slug)
            .bind(now())
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
    })?;
    Ok(id)
}

/// Reads an IANA time zone name (`Europe/London`); anything else is refused with a message.
pub fn time_zone(name: &str) -> Result<chrono_tz::Tz, AppError> {
    name.trim().parse().map_err(|_| {
        AppError::validation(
            "time_zone",
            format!("{name:?} is not an IANA time zone name (such as America/New_York or Europe/London)."),
        )
    })
}

/// Sets the organisation's time zone, in which its export dates are read.
pub async fn set_time_zone(db: &Db, organization_id: Uuid, name: &str) -> Result<chrono_tz::Tz, AppError> {
    let zone = time_zone(name)?;
    with_db!(db, pool => {
        sqlx::query("UPDATE organizations SET time_zone = $2 WHERE id = $1")
            .bind(organization_id)
            .bind(zone.name())
            .execute(pool)
            .await
            .map(drop)
    })?;
    Ok(zone)
}

/// The organisation's time zone now.
pub async fn organization_time_zone(db: &Db, organization_id: Uuid) -> Result<chrono_tz::Tz, AppError> {
    let name: String = with_db!(db, pool => {
        sqlx::query_scalar("SELECT time_zone FROM organizations WHERE id = $1")
            .bind(organization_id)
            .fetch_one(pool)
            .await
    })?;
    time_zone(&name)
}

/// The organisation whose name or slug is `name_or_slug`.
pub async fn find_organization(db: &Db, name_or_slug: &str) -> Result<Option<Uuid>, AppError> {
    Ok(with_db!(db, pool => {
        sqlx::query_scalar("SELECT id FROM organizations WHERE slug = $1 OR name = $2")
            .bind(slugify(name_or_slug))
            .bind(name_or_slug)
            .fetch_optional(pool)
            .await
    })?)
}

/// Creates the user, or sets the password and name of an existing one with that email.
pub async fn upsert_user(db: &Db, email: &str, display_name: &str, password: &str) -> Result<Uuid, AppError> {
    let email = normalize_email(email)
        .ok_or_else(|| AppError::validation("email", "Enter a valid email address."))?;
    if password.chars().count() < 12 {
        return Err(AppError::validation("password", "Use at least 12 characters."));
    }
    let hash = password::hash(password.to_owned()).await?;
    if let Some(id) = find_user(db, &email).await? {
        with_db!(db, pool => {
            sqlx::query("UPDATE users SET display_name = $2, password_hash = $3 WHERE id = $1")
                .bind(id)
                .bind(display_name)
                .bind(&hash)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        // A new password (after a suspected compromise, say) ends every session at once.
        with_db!(db, pool => {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        return Ok(id);
    }
    let id = Uuid::new_v4();
    with_db!(db, pool => {
        sqlx::query(
            "INSERT INTO users (id, email, display_name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(&email)
        .bind(display_name)
        .bind(&hash)
        .bind(now())
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
    })?;
    Ok(id)
}

/// The id of the user with this email.
pub async fn find_user(db: &Db, email: &str) -> Result<Option<Uuid>, AppError> {
    let Some(email) = normalize_email(email) else {
        return Ok(None);
    };
    Ok(with_db!(db, pool => {
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(&email)
            .fetch_optional(pool)
            .await
    })?)
}

/// Makes the user a member of the organisation with `role` (`None`: a member with no permission).
pub async fn grant(
    db: &Db,
    user_id: Uuid,
    organization_id: Uuid,
    role: Option<&str>,
) -> Result<(), AppError> {
    if let Some(role) = role
        && !ROLES.contains(&role)
    {
        return Err(AppError::validation(
            "role",
            format!("Unknown role {role:?}; the roles are {}.", ROLES.join(", ")),
        ));
    }
    with_db!(db, pool => {
        sqlx::query(
            "INSERT INTO memberships (user_id, organization_id, role_key, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, organization_id) DO UPDATE SET role_key = excluded.role_key",
        )
        .bind(user_id)
        .bind(organization_id)
        .bind(role)
        .bind(now())
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
    })?;
    Ok(())
}

/// What sign-in needs: the password hash and the organisation the session starts in (the
/// oldest membership).
#[derive(Debug, sqlx::FromRow)]
pub struct LoginAccount {
    pub user_id: Uuid,
    pub password_hash: String,
    pub organization_id: Option<Uuid>,
}

pub async fn find_for_login(db: &Db, email: &str) -> Result<Option<LoginAccount>, AppError> {
    Ok(with_db!(db, pool => {
        sqlx::query_as(
            "SELECT u.id AS user_id, u.password_hash, \
                    (SELECT m.organization_id FROM memberships m WHERE m.user_id = u.id \
                     ORDER BY m.created_at, m.organization_id LIMIT 1) AS organization_id \
             FROM users u WHERE u.email = $1",
        )
        .bind(email)
        .fetch_optional(pool)
        .await
    })?)
}

/// `Acme Behavioral Health` → `acme-behavioral-health`.
pub fn slugify(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_rejects_emails() {
        assert_eq!(
            normalize_email("  Admin@Acme.Test ").as_deref(),
            Some("admin@acme.test")
        );
        assert_eq!(normalize_email("no-at-sign"), None);
        assert_eq!(normalize_email("a@b@c"), None);
        assert_eq!(normalize_email("a b@c"), None);
        assert_eq!(normalize_email(&format!("{}@x.test", "a".repeat(300))), None);
    }

    #[test]
    fn slugs_are_lowercase_and_dashed() {
        assert_eq!(slugify("Acme Behavioral Health"), "acme-behavioral-health");
        assert_eq!(slugify("  Globex  Clinic!! "), "globex-clinic");
    }
}
