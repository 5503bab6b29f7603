//! Reading the database in assertions: row counts, and the ids of organisations and users.

use data_exports::{auth::accounts, db::Db, with_db};
use uuid::Uuid;

use super::TestApp;

/// The slug of the demo's first organisation.
pub const ACME: &str = "acme-behavioral-health";

/// Whatever a test reads the database through: an in-process app, or a pool of its own (beside
/// a real server binary).
pub trait HasDb {
    fn db(&self) -> &Db;
}

impl HasDb for TestApp {
    fn db(&self) -> &Db {
        &self.state.db
    }
}

impl HasDb for Db {
    fn db(&self) -> &Db {
        self
    }
}

/// The one number `sql` (a `SELECT COUNT(*) …`) answers.
pub async fn count(on: &impl HasDb, sql: &str) -> i64 {
    with_db!(on.db(), pool => {
        sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
    })
}

/// The one number `sql` answers with `id` as `$1`.
pub async fn count_for(on: &impl HasDb, sql: &str, id: Uuid) -> i64 {
    with_db!(on.db(), pool => {
        sqlx::query_scalar(sql).bind(id).fetch_one(pool).await.unwrap()
    })
}

/// The id of the organisation with this slug.
pub async fn organization_id(on: &impl HasDb, slug: &str) -> Uuid {
    accounts::find_organization(on.db(), slug)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no organisation {slug}"))
}

/// The id of the user with this email.
pub async fn user_id(on: &impl HasDb, email: &str) -> Uuid {
    accounts::find_user(on.db(), email)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no user {email}"))
}

/// The organisation of the user signed in with `cookie`, as `current_user` tells them.
pub async fn organization_of(app: &TestApp, cookie: &str) -> Uuid {
    let user = app.call("current_user", &[], Some(cookie)).await.json();
    user["organization_id"].as_str().unwrap().parse().unwrap()
}
