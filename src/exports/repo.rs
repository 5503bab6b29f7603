//! `pf_export_requests` queries for the server functions, always scoped to one organisation.
//! Like every repository, they fail with `sqlx::Error`, which carries its cause; it becomes the
//! user's `AppError` (logged once) where a server function returns it.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use crate::{
    db::{Db, Tx, now, with_db, with_tx},
    exports::{
        catalog::ValidExport,
        lifecycle,
        model::{ExportCount, ExportPage, ExportRequest, ExportStatus},
        stored::{COLUMNS, StoredRequest},
    },
    retry::DEFAULT_MAX_ATTEMPTS,
};

/// Rows per page of the exports table.
pub const PAGE_SIZE: u32 = 25;
/// Requests counted exactly up to this many; past it the page says "1,000+ exports" (counting
/// further would be a pass over the whole history on every page).
pub const COUNT_CAP: u64 = 1_000;

/// Which page of the list: the newest, or the one just older or just newer than a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Newest,
    Older(Cursor),
    Newer(Cursor),
}

/// A request's place in the list's order: its request time, then its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    at: DateTime<Utc>,
    id: Uuid,
}

impl Cursor {
    fn of(request: &ExportRequest) -> Cursor {
        Cursor {
            at: request.requested_at,
            id: request.id,
        }
    }

    /// As a page's address carries it: `<microseconds since 1970>.<id as 32 hex digits>`.
    pub fn encode(self) -> String {
        format!("{}.{}", self.at.timestamp_micros(), self.id.simple())
    }

    /// A cursor [`Cursor::encode`] wrote; `None` for anything else.
    pub fn parse(text: &str) -> Option<Cursor> {
        let (micros, id) = text.split_once('.')?;
        if id.len() != 32 {
            return None;
        }
        Some(Cursor {
            at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: Uuid::try_parse(id).ok()?,
        })
    }
}

/// Queues a new request with the default attempt budget (no limits: for tools and tests; people
/// go through the server function).
pub async fn insert(
    db: &Db,
    organization_id: Uuid,
    requested_by: Uuid,
    export: &ValidExport,
) -> Result<ExportRequest, sqlx::Error> {
    let mut tx = db.begin().await?;
    let created = insert_in(
        &mut tx,
        organization_id,
        requested_by,
        export,
        DEFAULT_MAX_ATTEMPTS,
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

/// What a request runs again: the original's id, and the time zone its dates were read in (so
/// that the same dates mean the same days).
#[derive(Debug, Clone, Copy)]
pub struct RerunOf<'a> {
    pub id: Uuid,
    pub time_zone: &'a str,
}

/// Queues a new request inside `tx`, to be tried at most `max_attempts` times. Its dates are
/// read in the organisation's time zone of this moment (or, run again, the original's), stored
/// with it.
pub async fn insert_in(
    tx: &mut Tx,
    organization_id: Uuid,
    requested_by: Uuid,
    export: &ValidExport,
    max_attempts: i32,
    rerun_of: Option<RerunOf<'_>>,
) -> Result<ExportRequest, sqlx::Error> {
    let id = Uuid::new_v4();
    let at = now();
    let entities: Vec<&str> = export.entity_types.iter().map(|entity| entity.key()).collect();
    let range = export.date_range;
    let disclosure = export.disclosure.as_ref();
    with_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO pf_export_requests \
             (id, organization_id, requested_by, export_type, export_format, entity_types, status, \
              max_attempts, run_at, requested_at, pii_phi_filtered, date_from, date_to, time_zone, \
              chosen_columns, purpose, purpose_detail, recipient, rerun_of) \
             SELECT $1, $2, $3, $4, $5, $6, 'pending', $7, $8, $8, $9, $10, $11, COALESCE($17, time_zone), \
                    $12, $13, $14, $15, $16 \
             FROM organizations WHERE id = $2",
        )
        .bind(id)
        .bind(organization_id)
        .bind(requested_by)
        .bind(export.export_type.key())
        .bind(export.export_format.key())
        .bind(Json(&entities))
        .bind(max_attempts)
        .bind(at)
        .bind(export.export_type.deidentifies())
        .bind(range.map(|range| range.from))
        .bind(range.map(|range| range.to))
        .bind(Json(export.column_names()))
        .bind(disclosure.map(|d| d.purpose.key()))
        .bind(disclosure.and_then(|d| d.purpose_detail.as_deref()))
        .bind(disclosure.map(|d| d.recipient.as_str()))
        .bind(rerun_of.map(|rerun| rerun.id))
        .bind(rerun_of.map(|rerun| rerun.time_zone))
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(ExportRequest {
        id,
        export_type: export.export_type,
        export_format: export.export_format,
        entity_types: export.entity_types.clone(),
        date_range: export.date_range,
        status: ExportStatus::Pending,
        progress: 0,
        row_count: None,
        file_size_bytes: None,
        error: None,
        requested_at: at,
        completed_at: None,
        requested_by: Some(requested_by),
        expires_at: None,
        cancel_requested: false,
        rerun_of: rerun_of.map(|rerun| rerun.id),
        downloads: 0,
    })
}

/// What a user and their organisation have requested lately, for the creation limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecentRequests {
    /// Created by the user in the window (from the audit log: deleting a request does not
    /// give its place back).
    pub by_user: i64,
    /// Created by anyone in the organisation in the window.
    pub by_organization: i64,
    /// The organisation's requests pending or processing now (not those being cancelled).
    pub active: i64,
    /// The bytes its completed files take now.
    pub stored_bytes: i64,
}

/// The organisation's requests created since `$3`, all and by `$2`: answered from the index on
/// (organization_id, event, occurred_at, actor_id) alone.
pub const RECENT_CREATIONS: &str = "SELECT COUNT(CASE WHEN actor_id = $2 THEN 1 END), COUNT(*) FROM pf_audit_logs \
     WHERE organization_id = $1 AND event = 'export_request_created' AND occurred_at >= $3";

/// Counts inside `tx` (begin it with [`Db::begin_serialized`] on the organisation, so that the
/// count and the insert that follows cannot interleave with another request's; a read-only
/// snapshot for a first look that takes no lock).
pub async fn recent_requests(
    tx: &mut Tx,
    organization_id: Uuid,
    user_id: Uuid,
    since: DateTime<Utc>,
) -> Result<RecentRequests, sqlx::Error> {
    let (by_user, by_organization): (i64, i64) = with_tx!(tx, conn => {
        sqlx::query_as(RECENT_CREATIONS)
        .bind(organization_id)
        .bind(user_id)
        .bind(since)
        .fetch_one(conn)
        .await
    })?;
    let (active, stored_bytes): (i64, i64) = with_tx!(tx, conn => {
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM pf_export_requests \
                     WHERE organization_id = $1 AND status IN ('pending', 'processing') \
                     AND cancel_requested_at IS NULL), \
                    (SELECT CAST(COALESCE(SUM(file_size_bytes), 0) AS BIGINT) FROM pf_export_requests \
                     WHERE organization_id = $1 AND status = 'completed')",
        )
        .bind(organization_id)
        .fetch_one(conn)
        .await
    })?;
    Ok(RecentRequests {
        by_user,
        by_organization,
        active,
        stored_bytes,
    })
}

/// One page of the organisation's requests, newest first, at `position`. Each page is a keyset
/// page along the `(organization_id, requested_at DESC, id DESC)` index, and the count stops at
/// [`COUNT_CAP`], so a page costs the same however long the history (no pass over it, no
/// offset to walk). A page older than everything, or newer with too few rows to fill, is the
/// newest page instead. The rows and the counts come from one snapshot: a request finishing in
/// between would otherwise show a processing row on a page that says nothing is active (and so
/// offers no Refresh).
pub async fn list(
    db: &Db,
    organization_id: Uuid,
    position: Position,
    default_retention: std::time::Duration,
) -> Result<ExportPage, sqlx::Error> {
    let retention = lifecycle::retention(db, organization_id, default_retention).await?;
    let mut tx = db.begin_snapshot().await?;
    let read_at = now();
    let mut rows = page_rows(&mut tx, organization_id, position).await?;
    let short = rows.len() < PAGE_SIZE as usize;
    let fell_back = position != Position::Newest
        && (rows.is_empty() || (short && matches!(position, Position::Newer(_))));
    if fell_back {
        rows = page_rows(&mut tx, organization_id, Position::Newest).await?;
    }
    let newest = position == Position::Newest || fell_back;
    let mut items: Vec<ExportRequest> = rows.into_iter().map(|stored| stored.request).collect();
    let older = match items.last().map(Cursor::of) {
        Some(last) if any_beyond(&mut tx, organization_id, last, "<").await? => Some(last.encode()),
        _ => None,
    };
    // The newest page has nothing newer: no need to look.
    let newer = match items.first().map(Cursor::of) {
        Some(first) if !newest && any_beyond(&mut tx, organization_id, first, ">").await? => {
            Some(first.encode())
        }
        _ => None,
    };
    // A count that stops at the cap, and the active ones (a partial index, never many).
    let (counted, active): (i64, i64) = with_tx!(&mut tx, conn => {
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM pf_export_requests WHERE organization_id = $1 \
                                           LIMIT $2) AS capped), \
                    (SELECT COUNT(*) FROM pf_export_requests \
                     WHERE organization_id = $1 AND status IN ('pending', 'processing'))",
        )
        .bind(organization_id)
        .bind(COUNT_CAP as i64 + 1)
        .fetch_one(conn)
        .await
    })?;
    let ids: Vec<Uuid> = items.iter().map(|item| item.id).collect();
    let downloads = download_counts(&mut tx, organization_id, &ids).await?;
    for item in &mut items {
        item.downloads = downloads.get(&item.id).copied().unwrap_or(0);
    }
    tx.rollback().await?;
    let counted = counted.max(0) as u64;
    Ok(ExportPage {
        items,
        older,
        newer,
        total: if counted > COUNT_CAP {
            ExportCount::AtLeast(COUNT_CAP)
        } else {
            ExportCount::Exactly(counted)
        },
        has_active: active > 0,
        read_at,
        retention,
    })
}

/// The page's rows at `position`, newest first.
async fn page_rows(
    tx: &mut Tx,
    organization_id: Uuid,
    position: Position,
) -> Result<Vec<StoredRequest>, sqlx::Error> {
    let (condition, order, cursor) = match position {
        Position::Newest => ("", "DESC", None),
        Position::Older(cursor) => (" AND (requested_at, id) < ($2, $3)", "DESC", Some(cursor)),
        Position::Newer(cursor) => (" AND (requested_at, id) > ($2, $3)", "ASC", Some(cursor)),
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM pf_export_requests WHERE organization_id = $1{condition} \
         ORDER BY requested_at {order}, id {order} LIMIT {PAGE_SIZE}"
    );
    let mut rows: Vec<StoredRequest> = with_tx!(tx, conn => {
        let query = sqlx::query_as(&sql).bind(organization_id);
        let query = match cursor {
            Some(cursor) => query.bind(cursor.at).bind(cursor.id),
            None => query,
        };
        query.fetch_all(conn).await
    })?;
    if order == "ASC" {
        rows.reverse();
    }
    Ok(rows)
}

/// Whether the organisation has a request older (`"<"`) or newer (`">"`) than `cursor`: one
/// step along the index. (Not `EXISTS (…)`: Postgres drops the subquery's order and limit, and
/// its generic plan for the row comparison is then a pass over the whole table — 22 ms at
/// 100,000 rows; this is an index-only scan for one entry.)
async fn any_beyond(
    tx: &mut Tx,
    organization_id: Uuid,
    cursor: Cursor,
    side: &str,
) -> Result<bool, sqlx::Error> {
    let sql = neighbour_sql(side);
    let found: Option<i32> = with_tx!(tx, conn => {
        sqlx::query_scalar(&sql)
            .bind(organization_id)
            .bind(cursor.at)
            .bind(cursor.id)
            .fetch_optional(conn)
            .await
    })?;
    Ok(found.is_some())
}

/// The query [`any_beyond`] asks: the first request on `side` (`"<"` older, `">"` newer) of the
/// organisation `$1`'s request at (`$2`, `$3`).
pub fn neighbour_sql(side: &str) -> String {
    let order = if side == "<" { "DESC" } else { "ASC" };
    format!(
        "SELECT 1 FROM pf_export_requests WHERE organization_id = $1 AND (requested_at, id) {side} ($2, $3) \
         ORDER BY requested_at {order}, id {order} LIMIT 1"
    )
}

/// How many download links were signed for each of `ids` (the organisation's requests), from the
/// audit log.
async fn download_counts(
    tx: &mut Tx,
    organization_id: Uuid,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, u32>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let placeholders: Vec<String> = (0..ids.len()).map(|n| format!("${}", n + 2)).collect();
    let sql = format!(
        "SELECT target_id, COUNT(*) FROM pf_audit_logs \
         WHERE organization_id = $1 AND event = 'export_downloaded' AND target_id IN ({}) \
         GROUP BY target_id",
        placeholders.join(", ")
    );
    let counted: Vec<(String, i64)> = with_tx!(tx, conn => {
        let mut query = sqlx::query_as(&sql).bind(organization_id);
        for id in ids {
            query = query.bind(id.to_string());
        }
        query.fetch_all(conn).await
    })?;
    Ok(counted
        .into_iter()
        .filter_map(|(id, count)| Some((id.parse().ok()?, count.clamp(0, i64::from(u32::MAX)) as u32)))
        .collect())
}

/// How many download links were signed for the organisation's request `id`, and the last one:
/// when, and by whom (a user id; `None` if it was not a user).
pub async fn downloads(
    db: &Db,
    organization_id: Uuid,
    id: Uuid,
) -> Result<(u32, Option<(DateTime<Utc>, Option<Uuid>)>), sqlx::Error> {
    let mut tx = db.begin_snapshot().await?;
    let count = download_counts(&mut tx, organization_id, &[id])
        .await?
        .get(&id)
        .copied()
        .unwrap_or(0);
    let last: Option<(DateTime<Utc>, Option<Uuid>)> = with_tx!(&mut tx, conn => {
        sqlx::query_as(
            "SELECT occurred_at, actor_id FROM pf_audit_logs \
             WHERE organization_id = $1 AND event = 'export_downloaded' AND target_id = $2 \
             ORDER BY occurred_at DESC, id DESC LIMIT 1",
        )
        .bind(organization_id)
        .bind(id.to_string())
        .fetch_optional(conn)
        .await
    })?;
    tx.rollback().await?;
    Ok((count, last))
}

/// The organisation's request `id`; `None` for a missing id or another organisation's
/// (indistinguishable on purpose).
pub async fn find(db: &Db, organization_id: Uuid, id: Uuid) -> Result<Option<StoredRequest>, sqlx::Error> {
    with_db!(db, pool => {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM pf_export_requests WHERE id = $1 AND organization_id = $2"
        ))
        .bind(id)
        .bind(organization_id)
        .fetch_optional(pool)
        .await
    })
}

/// Deletes, inside `tx`, the organisation's request `id` unless a worker is producing it; returns
/// it as it was at that moment, or `None` when nothing was deleted.
pub async fn delete(
    tx: &mut Tx,
    organization_id: Uuid,
    id: Uuid,
) -> Result<Option<StoredRequest>, sqlx::Error> {
    with_tx!(tx, conn => {
        sqlx::query_as(&format!(
            "DELETE FROM pf_export_requests WHERE id = $1 AND organization_id = $2 AND status <> 'processing' \
             RETURNING {COLUMNS}"
        ))
        .bind(id)
        .bind(organization_id)
        .fetch_optional(conn)
        .await
    })
}

/// The organisation's requests pending or processing now and not being cancelled, inside `tx`
/// (for Run again's "is an identical one already queued?").
pub async fn active(tx: &mut Tx, organization_id: Uuid) -> Result<Vec<StoredRequest>, sqlx::Error> {
    with_tx!(tx, conn => {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM pf_export_requests WHERE organization_id = $1 \
             AND status IN ('pending', 'processing') AND cancel_requested_at IS NULL \
             ORDER BY requested_at, id"
        ))
        .bind(organization_id)
        .fetch_all(conn)
        .await
    })
}

/// The organisation's slug, for download file names.
pub async fn organization_slug(db: &Db, organization_id: Uuid) -> Result<String, sqlx::Error> {
    with_db!(db, pool => {
        sqlx::query_scalar("SELECT slug FROM organizations WHERE id = $1")
            .bind(organization_id)
            .fetch_one(pool)
            .await
    })
}

/// "Name <email>" of user `id`, if they still exist.
pub async fn user_label(db: &Db, id: Uuid) -> Result<Option<String>, sqlx::Error> {
    let found: Option<(String, String)> = with_db!(db, pool => {
        sqlx::query_as("SELECT display_name, email FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await
    })?;
    Ok(found.map(|(name, email)| format!("{name} <{email}>")))
}
