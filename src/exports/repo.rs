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
    // A few reads, the first two at once, no transaction: whether anything is active comes with
    // the rows, from the same statement (Refresh must show whenever a row is pending); the count
    // and the retention beside them may be a request apart, which nobody can tell.
    let read_at = now();
    let (page, (counted, active, chosen)) = tokio::try_join!(
        page_rows(db, organization_id, position),
        figures(db, organization_id)
    )?;
    let mut page = page;
    let short = page.rows.len() < PAGE_SIZE as usize;
    let fell_back = position != Position::Newest
        && (page.rows.is_empty() || (short && matches!(position, Position::Newer(_))));
    if fell_back {
        page = page_rows(db, organization_id, Position::Newest).await?;
    }
    let has_active = page.active.unwrap_or(active) > 0;
    let items: Vec<ExportRequest> = page.rows;
    let (first, last) = (items.first().map(Cursor::of), items.last().map(Cursor::of));
    // The page's own read says whether there is more in its direction; the other side is one
    // step along the index, and the newest page has nothing newer.
    let (older, newer) = match position {
        _ if fell_back => (page.more, false),
        Position::Newest => (page.more, false),
        Position::Older(_) => (page.more, any_beyond(db, organization_id, first, ">").await?),
        Position::Newer(_) => (any_beyond(db, organization_id, last, "<").await?, page.more),
    };
    let counted = counted.max(0) as u64;
    Ok(ExportPage {
        items,
        older: last.filter(|_| older).map(Cursor::encode),
        newer: first.filter(|_| newer).map(Cursor::encode),
        total: if counted > COUNT_CAP {
            ExportCount::AtLeast(COUNT_CAP)
        } else {
            ExportCount::Exactly(counted)
        },
        has_active,
        read_at,
        retention: lifecycle::retention_of(chosen, default_retention),
    })
}

/// The organisation's requests that are pending or processing (a partial index, never many).
const ACTIVE_COUNT: &str = "(SELECT COUNT(*) FROM pf_export_requests WHERE organization_id = $1 AND status IN ('pending', 'processing'))";

/// The figures beside the page, in one round trip: the organisation's requests counted up to
/// just past the cap, the active ones, and the retention it chose.
async fn figures(db: &Db, organization_id: Uuid) -> Result<(i64, i64, Option<i32>), sqlx::Error> {
    let sql = format!(
        "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM pf_export_requests WHERE organization_id = $1 \
                                       LIMIT $2) AS capped), \
                {ACTIVE_COUNT}, \
                (SELECT export_retention_secs FROM organizations WHERE id = $1)"
    );
    with_db!(db, pool => {
        sqlx::query_as(&sql)
            .bind(organization_id)
            .bind(COUNT_CAP as i64 + 1)
            .fetch_one(pool)
            .await
    })
}

/// A page's rows, newest first.
struct Page {
    /// With their download counts.
    rows: Vec<ExportRequest>,
    /// Whether there are more beyond them in the direction read (older for the newest and older
    /// pages, newer for a newer page): one row past the page is read to tell.
    more: bool,
    /// The organisation's active requests, counted by the statement that read the rows (`None`
    /// when there were none).
    active: Option<i64>,
}

/// A row of the page, with its download count and the statement's count of active requests.
#[derive(sqlx::FromRow)]
struct Listed {
    #[sqlx(flatten)]
    stored: StoredRequest,
    downloads: i64,
    active_requests: i64,
}

/// How many download links were signed for the row's request, from the audit log (which names
/// the request by its id as text: SQLite keeps ids as 16-byte blobs, Postgres as `uuid`).
fn downloads_of_row(db: &Db) -> String {
    let id = match db {
        Db::Postgres(_) => "pf_export_requests.id::text".to_owned(),
        Db::Sqlite(_) => {
            let hex = "hex(pf_export_requests.id)";
            format!(
                "lower(substr({hex}, 1, 8) || '-' || substr({hex}, 9, 4) || '-' || substr({hex}, 13, 4) || '-' \
                 || substr({hex}, 17, 4) || '-' || substr({hex}, 21, 12))"
            )
        }
    };
    format!(
        "(SELECT COUNT(*) FROM pf_audit_logs WHERE organization_id = $1 AND event = 'export_downloaded' \
          AND target_id = {id})"
    )
}

/// The page's rows at `position`.
async fn page_rows(db: &Db, organization_id: Uuid, position: Position) -> Result<Page, sqlx::Error> {
    let (condition, order, cursor) = match position {
        Position::Newest => ("", "DESC", None),
        Position::Older(cursor) => (" AND (requested_at, id) < ($2, $3)", "DESC", Some(cursor)),
        Position::Newer(cursor) => (" AND (requested_at, id) > ($2, $3)", "ASC", Some(cursor)),
    };
    let sql = format!(
        "SELECT {COLUMNS}, {} AS downloads, {ACTIVE_COUNT} AS active_requests FROM pf_export_requests \
         WHERE organization_id = $1{condition} \
         ORDER BY requested_at {order}, id {order} LIMIT {}",
        downloads_of_row(db),
        PAGE_SIZE + 1
    );
    let mut listed: Vec<Listed> = with_db!(db, pool => {
        let query = sqlx::query_as(&sql).bind(organization_id);
        let query = match cursor {
            Some(cursor) => query.bind(cursor.at).bind(cursor.id),
            None => query,
        };
        query.fetch_all(pool).await
    })?;
    let more = listed.len() > PAGE_SIZE as usize;
    listed.truncate(PAGE_SIZE as usize);
    if order == "ASC" {
        listed.reverse();
    }
    let active = listed.first().map(|row| row.active_requests);
    let rows = listed
        .into_iter()
        .map(|row| ExportRequest {
            downloads: row.downloads.clamp(0, i64::from(u32::MAX)) as u32,
            ..row.stored.request
        })
        .collect();
    Ok(Page { rows, more, active })
}

/// Whether the organisation has a request older (`"<"`) or newer (`">"`) than `cursor` (`None`:
/// an empty page, which has no neighbours): one step along the index. (Not `EXISTS (…)`:
/// Postgres drops the subquery's order and limit, and its generic plan for the row comparison
/// is then a pass over the whole table — 22 ms at 100,000 rows; this is an index-only scan for
/// one entry.)
async fn any_beyond(
    db: &Db,
    organization_id: Uuid,
    cursor: Option<Cursor>,
    side: &str,
) -> Result<bool, sqlx::Error> {
    let Some(cursor) = cursor else {
        return Ok(false);
    };
    let sql = neighbour_sql(side);
    let found: Option<i32> = with_db!(db, pool => {
        sqlx::query_scalar(&sql)
            .bind(organization_id)
            .bind(cursor.at)
            .bind(cursor.id)
            .fetch_optional(pool)
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

/// How many download links were signed for the organisation's request `id`, and the last one:
/// when, and by whom (a user id; `None` if it was not a user).
pub async fn downloads(
    db: &Db,
    organization_id: Uuid,
    id: Uuid,
) -> Result<(u32, Option<(DateTime<Utc>, Option<Uuid>)>), sqlx::Error> {
    // One statement: the count and the last agree.
    let last: Option<(DateTime<Utc>, Option<Uuid>, i64)> = with_db!(db, pool => {
        sqlx::query_as(
            "SELECT occurred_at, actor_id, \
                    (SELECT COUNT(*) FROM pf_audit_logs \
                     WHERE organization_id = $1 AND event = 'export_downloaded' AND target_id = $2) \
             FROM pf_audit_logs \
             WHERE organization_id = $1 AND event = 'export_downloaded' AND target_id = $2 \
             ORDER BY occurred_at DESC, id DESC LIMIT 1",
        )
        .bind(organization_id)
        .bind(id.to_string())
        .fetch_optional(pool)
        .await
    })?;
    Ok(match last {
        Some((at, actor, count)) => (count.clamp(0, i64::from(u32::MAX)) as u32, Some((at, actor))),
        None => (0, None),
    })
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
