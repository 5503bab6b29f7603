//! The server functions behind the Data Exports page. Each one checks the session, the
//! permission and the organisation through `auth::guard` before anything else.

use leptos::{prelude::*, server_fn::codec::Json};
use uuid::Uuid;

use crate::{
    error::AppError,
    exports::model::{
        Cancelled, ExportDetails, ExportPage, ExportPreview, ExportRequest, NewExport, Retention, RunAgain,
    },
};

/// The organisation's export requests, newest first, a page at a time: the newest, or the one
/// older than `before` or newer than `after` (cursors from an earlier page), with how long its
/// files are kept.
#[server(endpoint = "list_export_requests")]
pub async fn list_export_requests(
    before: Option<String>,
    after: Option<String>,
) -> Result<ExportPage, AppError> {
    use crate::{
        auth::model::Permission,
        exports::repo::{self, Cursor, Position},
    };
    let caller = crate::auth::guard::require(Permission::ViewExports).await?;
    let cursor = |field: &str, text: &str| {
        Cursor::parse(text).ok_or_else(|| {
            AppError::validation(
                field,
                "That page of the list does not exist. Start again from the newest exports.",
            )
        })
    };
    let position = match (before.as_deref(), after.as_deref()) {
        (None | Some(""), None | Some("")) => Position::Newest,
        (Some(before), None | Some("")) => Position::Older(cursor("before", before)?),
        (None | Some(""), Some(after)) => Position::Newer(cursor("after", after)?),
        (Some(_), Some(_)) => {
            return Err(AppError::validation(
                "after",
                "Ask for older or for newer exports, not both.",
            ));
        }
    };
    let retention = caller.state.config.worker.retention;
    Ok(repo::list(&caller.state.db, caller.user.organization_id, position, retention).await?)
}

/// Everything known about one of the organisation's requests: what it exports, why and for
/// whom, who asked and when, and what its file holds.
#[server(endpoint = "export_request_details")]
pub async fn export_request_details(id: Uuid) -> Result<ExportDetails, AppError> {
    use crate::{auth::model::Permission, exports::repo};
    let caller = crate::auth::guard::require(Permission::ViewExports).await?;
    let db = &caller.state.db;
    let mut stored = find_own(&caller, id, "view").await?;
    let label = async |user: Option<Uuid>| match user {
        Some(user) => repo::user_label(db, user).await,
        None => Ok(None),
    };
    let requested_by = label(stored.requested_by).await?;
    let (count, last) = repo::downloads(db, caller.user.organization_id, id).await?;
    stored.request.downloads = count;
    let last_download = match last {
        Some((at, actor)) => Some((at, label(actor).await?)),
        None => None,
    };
    Ok(stored.details(requested_by, last_download))
}

/// What an export would hold if requested now: rows per record type and about how big its file
/// would be, counted by the engine's own filter. For the New Export dialog, as its choices change.
#[server(endpoint = "preview_export", input = Json)]
pub async fn preview_export(request: NewExport) -> Result<ExportPreview, AppError> {
    use crate::{auth::model::Permission, exports::catalog};
    let caller = crate::auth::guard::require(Permission::CreateExports).await?;
    let spec = catalog::spec(&request)?;
    let row_counts = count(&caller, &spec).await?;
    Ok(ExportPreview {
        rows: row_counts.iter().map(|(_, rows)| rows).sum(),
        estimated_bytes: crate::engine::estimated_bytes(&spec, &row_counts),
        row_counts,
        confirm_above: caller.state.config.limits.confirm_rows,
    })
}

/// Queues a new export after checking it against the catalog; one of more rows than the
/// threshold needs `confirmed`. Audited.
#[server(endpoint = "create_export_request", input = Json)]
pub async fn create_export_request(request: NewExport) -> Result<ExportRequest, AppError> {
    use crate::{auth::model::Permission, exports::catalog};
    let caller = crate::auth::guard::require(Permission::CreateExports).await?;
    let valid = catalog::validate(&request)?;
    let state = &caller.state;
    let rows: u64 = count(&caller, &valid).await?.iter().map(|(_, rows)| rows).sum();
    if rows > state.config.limits.confirm_rows && !request.confirmed {
        return Err(AppError::validation(
            "confirmed",
            format!("This export would hold about {rows} rows: confirm that all of them are needed."),
        ));
    }
    match queue_request(&caller, &valid, None).await? {
        Queued::Created(created) => Ok(created),
        Queued::Identical(_) => Err(AppError::internal(
            "create_export_request",
            "a new request matched as a rerun",
        )),
    }
}

/// Runs a failed, cancelled or expired request again: a new request with the same type, format,
/// record types, columns, dates (read in the original's time zone), purpose and recipient, under
/// the same limits, audited as a creation with `rerun_of`. If an identical request is already
/// pending or processing, nothing is queued and that one is named instead.
#[server(endpoint = "run_export_again")]
pub async fn run_export_again(id: Uuid) -> Result<RunAgain, AppError> {
    use crate::{auth::model::Permission, exports::repo, routes};
    let caller = crate::auth::guard::require(Permission::CreateExports).await?;
    let original = find_own(&caller, id, "run_again").await?;
    if !original.request.status.can_run_again() {
        return Err(AppError::Conflict {
            message: "Only a failed, cancelled or expired export can be run again.".into(),
        });
    }
    let rerun = repo::RerunOf {
        id,
        time_zone: original.time_zone.name(),
    };
    let outcome = match queue_request(&caller, &original.spec, Some(rerun)).await? {
        Queued::Created(created) => RunAgain::Queued(created.id),
        Queued::Identical(queued) => RunAgain::AlreadyQueued(queued),
    };
    let why = match outcome {
        RunAgain::Queued(_) => routes::Highlight::Queued,
        RunAgain::AlreadyQueued(_) => routes::Highlight::AlreadyQueued,
    };
    super::redirect_plain_form(&routes::highlighted_export(outcome.id(), why));
    Ok(outcome)
}

/// What [`queue_request`] did.
#[cfg(feature = "ssr")]
enum Queued {
    Created(ExportRequest),
    /// Running a request again, an identical one was already pending or processing: this one.
    Identical(Uuid),
}

/// Checks the limits and queues `valid` for the caller, with its audit entry, then wakes the
/// workers; running a request again, first looks for an identical one already waiting or
/// running. The check, the limits, the insert and its audit entry commit together, one request
/// of the organisation at a time on every process: concurrent requests cannot overshoot a limit
/// or queue the same rerun twice.
#[cfg(feature = "ssr")]
async fn queue_request(
    caller: &crate::auth::guard::Authorized,
    valid: &crate::exports::catalog::ValidExport,
    rerun_of: Option<crate::exports::repo::RerunOf<'_>>,
) -> Result<Queued, AppError> {
    use crate::{
        audit::{self, AuditEntry, AuditEvent},
        exports::{lifecycle, limits, queue, repo},
    };
    let (state, user) = (&caller.state, &caller.user);
    // Read before the transaction: it holds a connection, and waiting for a second one while
    // concurrent requests hold the rest would starve the pool.
    let retention =
        lifecycle::retention(&state.db, user.organization_id, state.config.worker.retention).await?;
    let retention_time = std::time::Duration::from_secs(retention.secs);
    let since = crate::db::now() - chrono::TimeDelta::hours(1);
    // A request over a limit is refused on a plain read: it never takes the organisation's lock
    // (on SQLite, the database's one write lock) just to count. (A rerun goes on: an identical
    // request already queued is the better answer.) The count under the lock below decides.
    let mut snapshot = state.db.begin_snapshot().await?;
    let recent = repo::recent_requests(&mut snapshot, user.organization_id, user.user_id, since).await?;
    snapshot.rollback().await?;
    if let (Err(refused), None) = (
        limits::check(&state.config.limits, &recent, retention_time),
        rerun_of,
    ) {
        return Err(refused);
    }
    let mut tx = state.db.begin_serialized(user.organization_id).await?;
    if let Some(rerun) = rerun_of {
        let identical = repo::active(&mut tx, user.organization_id)
            .await?
            .into_iter()
            .find(|active| &active.spec == valid && active.time_zone.name() == rerun.time_zone);
        if let Some(queued) = identical {
            tx.rollback().await?;
            return Ok(Queued::Identical(queued.id()));
        }
    }
    let recent = repo::recent_requests(&mut tx, user.organization_id, user.user_id, since).await?;
    limits::check(&state.config.limits, &recent, retention_time)?;
    let max_attempts = state.config.worker.retry.max_attempts;
    let created = repo::insert_in(
        &mut tx,
        user.organization_id,
        user.user_id,
        valid,
        max_attempts,
        rerun_of,
    )
    .await?;
    let time_zone = rerun_of.map_or(user.organization_time_zone.as_str(), |rerun| rerun.time_zone);
    audit::record_in(
        &mut tx,
        AuditEntry::new(AuditEvent::ExportRequestCreated)
            .by(user)
            .target("export_request", created.id)
            .payload(serde_json::json!({
                "export_type": valid.export_type.key(),
                "export_format": valid.export_format.key(),
                "entity_types": valid.entity_types.iter().map(|e| e.key()).collect::<Vec<_>>(),
                "scope": valid.scope_payload(time_zone),
                "rerun_of": rerun_of.map(|rerun| rerun.id),
            })),
    )
    .await?;
    tx.commit().await?;
    state.new_requests.notify_one();
    if let Err(error) = queue::announce(&state.db).await {
        tracing::warn!(error = %crate::error::LogSafe(&error), "could not notify workers; they will find the request by polling");
    }
    Ok(Queued::Created(created))
}

/// Cancels a pending request at once, or asks the worker producing one to stop (it does within
/// seconds and leaves no file). For whoever requested it and for holders of the delete
/// permission. Asking twice is harmless; a cancel that arrives after the export finished says so.
#[server(endpoint = "cancel_export_request")]
pub async fn cancel_export_request(id: Uuid) -> Result<Cancelled, AppError> {
    use crate::{
        auth::model::Permission,
        exports::{
            lifecycle::{self, NotCancelled},
            model::ExportStatus,
        },
    };
    let caller = crate::auth::guard::require(Permission::ViewExports).await?;
    let (state, user) = (&caller.state, &caller.user);
    let found = find_own(&caller, id, "cancel").await?;
    if found.requested_by != Some(user.user_id) && !user.has(Permission::DeleteExports) {
        super::denied(&caller, ("export_request", id), "cancel", "forbidden").await?;
        return Err(AppError::Forbidden {
            permission: Permission::DeleteExports.key().to_owned(),
        });
    }
    let cancelled = match lifecycle::cancel(&state.db, user, id).await? {
        Ok(cancelled) => cancelled,
        Err(NotCancelled::Missing) => return Err(AppError::NotFound),
        Err(NotCancelled::Finished(ExportStatus::Completed)) => {
            return Err(AppError::Conflict {
                message:
                    "This export had already finished: its file is ready. Delete it if it is not needed."
                        .into(),
            });
        }
        Err(NotCancelled::Finished(status)) => {
            return Err(AppError::Conflict {
                message: format!(
                    "This export had already ended ({}).",
                    status.label().to_lowercase()
                ),
            });
        }
    };
    super::redirect_plain_form(crate::routes::EXPORTS_PAGE);
    Ok(cancelled)
}

/// Sets how long the organisation keeps completed files (`hours`: 1 to 720), re-dating the files
/// it has now. Audited.
#[server(endpoint = "set_export_retention")]
pub async fn set_export_retention(hours: String) -> Result<Retention, AppError> {
    use crate::{auth::model::Permission, exports::lifecycle};
    let caller = crate::auth::guard::require(Permission::ManageExportSettings).await?;
    let (state, user) = (&caller.state, &caller.user);
    let hours = hours
        .trim()
        .parse::<i64>()
        .map_err(|_| AppError::validation("hours", "Enter a whole number of hours."))
        .and_then(|hours| {
            lifecycle::valid_hours(hours).map_err(|message| AppError::validation("hours", message))
        })?;
    lifecycle::set_retention(&state.db, user.organization_id, hours, Some(user.user_id)).await?;
    Ok(lifecycle::retention(&state.db, user.organization_id, state.config.worker.retention).await?)
}

/// Deletes a request from the history and its stored files. Never touches the organisation's
/// records. Audited.
#[server(endpoint = "delete_export_request")]
pub async fn delete_export_request(id: Uuid) -> Result<(), AppError> {
    use crate::{
        audit::{self, AuditEntry, AuditEvent},
        auth::model::Permission,
        exports::{deletions, model::ExportStatus, repo},
    };
    let caller = crate::auth::guard::require(Permission::DeleteExports).await?;
    let (state, user) = (&caller.state, &caller.user);
    let found = find_own(&caller, id, "delete").await?;
    let being_produced = || AppError::Conflict {
        message: "This export is being produced. Delete it once it has finished.".into(),
    };
    if found.request.status == ExportStatus::Processing {
        return Err(being_produced());
    }
    // The entry goes in one transaction with its audit entry and the notes of its files, so no
    // file holding PHI is ever left without a record of it: the files are deleted right after,
    // or, if the store is down, by the workers' sweep once it is back.
    let mut tx = state.db.begin().await?;
    // Refused if a worker claimed the request in the meantime; otherwise the row as it was then.
    let stored = repo::delete(&mut tx, user.organization_id, id)
        .await?
        .ok_or_else(being_produced)?;
    // Every attempt's key, not only the completed one: a worker killed after its upload leaves a
    // file nobody recorded.
    let keys = stored.every_file_key();
    deletions::note_in(&mut tx, id, &keys).await?;
    audit::record_in(
        &mut tx,
        AuditEntry::new(AuditEvent::ExportRequestDeleted)
            .by(user)
            .target("export_request", id)
            .payload(serde_json::json!({ "had_file": stored.storage_key.is_some() })),
    )
    .await?;
    tx.commit().await?;
    super::redirect_plain_form(crate::routes::EXPORTS_PAGE);
    match deletions::sweep(&state.db, &state.storage, &state.config.worker.retry, Some(id)).await {
        Ok(swept) if swept.deferred > 0 => {
            tracing::warn!(export_request_id = %id, "the store did not answer; the sweep will delete the files")
        }
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(export_request_id = %id, error = %crate::error::LogSafe(&error), "cannot sweep now; the workers' sweep will delete the files")
        }
    }
    Ok(())
}

/// A fresh download URL for a completed export, valid for the configured time (one hour by
/// default). Every call signs anew and is audited; an expired file answers 410.
#[server(endpoint = "sign_download_url")]
pub async fn sign_download_url(id: Uuid) -> Result<String, AppError> {
    let caller = crate::auth::guard::require(crate::auth::model::Permission::ViewExports).await?;
    sign_download(&caller, id).await
}

/// Signs a download link of the caller's organisation's export `id` and audits it: the server
/// function above and the form route that works without JavaScript (`server::downloads`).
#[cfg(feature = "ssr")]
pub async fn sign_download(caller: &crate::auth::guard::Authorized, id: Uuid) -> Result<String, AppError> {
    use crate::{
        audit::{self, AuditEntry, AuditEvent},
        exports::model::ExportStatus,
        storage::ObjectKey,
    };
    let (state, user) = (&caller.state, &caller.user);
    let stored = find_own(caller, id, "sign").await?;
    let expired = stored.request.status == ExportStatus::Expired
        || (stored.request.status == ExportStatus::Completed
            && stored.request.expires_at.is_some_and(|at| at <= crate::db::now()));
    if expired {
        let zone = crate::auth::accounts::time_zone(&user.organization_time_zone)?;
        let on = stored
            .request
            .expires_at
            .map(|at| format!(" on {}", at.with_timezone(&zone).format("%-d %b %Y at %H:%M")))
            .unwrap_or_default();
        return Err(AppError::Gone {
            message: format!(
                "This export's file expired{on} and was deleted. Run the export again to make a new one."
            ),
        });
    }
    if stored.request.status != ExportStatus::Completed {
        return Err(AppError::Conflict {
            message: "This export is not ready to download yet.".into(),
        });
    }
    let key = stored
        .storage_key
        .as_deref()
        .and_then(ObjectKey::parse)
        .filter(|key| key.organization_id() == user.organization_id)
        .ok_or_else(|| {
            AppError::internal("sign_download_url", format_args!("export {id} has no valid key"))
        })?;
    let name = stored.file_name.as_deref().ok_or_else(|| {
        AppError::internal("sign_download_url", format_args!("export {id} has no file name"))
    })?;
    let ttl = state.config.storage.signed_url_ttl;
    let url = state
        .storage
        .signed_get_url(&key, ttl, name)
        .map_err(|e| AppError::internal("signing a download URL", e))?;
    audit::record(
        &state.db,
        AuditEntry::new(AuditEvent::ExportDownloaded)
            .by(user)
            .target("export_request", id)
            .payload(serde_json::json!({
                "ttl_secs": ttl.as_secs(),
                "scope": stored.spec.scope_payload(stored.time_zone.name()),
            })),
    )
    .await?;
    Ok(url)
}

/// The rows `spec` would export for the caller's organisation now, per entity type.
#[cfg(feature = "ssr")]
async fn count(
    caller: &crate::auth::guard::Authorized,
    spec: &crate::exports::catalog::ValidExport,
) -> Result<Vec<(crate::records::EntityType, u64)>, AppError> {
    let zone = crate::auth::accounts::time_zone(&caller.user.organization_time_zone)?;
    Ok(crate::engine::count_rows(&caller.state.db, caller.user.organization_id, spec, zone).await?)
}

/// The caller's organisation's request `id`. Another organisation's id and a missing one get the
/// same 404, and both are audited as a denial (an id that is not yours is worth knowing about).
#[cfg(feature = "ssr")]
async fn find_own(
    caller: &crate::auth::guard::Authorized,
    id: Uuid,
    action: &str,
) -> Result<crate::exports::stored::StoredRequest, AppError> {
    let (state, user) = (&caller.state, &caller.user);
    if let Some(found) = crate::exports::repo::find(&state.db, user.organization_id, id).await? {
        return Ok(found);
    }
    super::denied(caller, ("export_request", id), action, "not_found").await?;
    Err(AppError::NotFound)
}
