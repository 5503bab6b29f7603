//! The server functions behind the accounting of disclosures: finding a client, their
//! accounting a page at a time (audited), and the whole of it as a file through a signed link
//! (audited). Each checks the session, `pf.disclosures.view` and the organisation first.

use leptos::prelude::*;
use uuid::Uuid;

use crate::{
    disclosures::model::{Accounting, ClientMatch},
    error::AppError,
};

/// The organisation's clients whose record number is `query` or whose name starts with it.
#[server(endpoint = "find_disclosure_clients")]
pub async fn find_disclosure_clients(query: String) -> Result<Vec<ClientMatch>, AppError> {
    use crate::disclosures::clients;
    let caller = crate::auth::guard::require(crate::auth::model::Permission::ViewDisclosures).await?;
    let query = query.trim();
    if query.is_empty() {
        return Err(AppError::validation("q", "Type a record number or a name."));
    }
    if query.chars().count() > clients::QUERY_CHARS {
        return Err(AppError::validation(
            "q",
            format!("Type at most {} characters.", clients::QUERY_CHARS),
        ));
    }
    Ok(clients::search(&caller.state.db, caller.user.organization_id, query).await?)
}

/// Every export that carried client `client`'s records, completed in the period (`from` and `to`,
/// days of the organisation's zone; by default the last six years), newest first, page `page`.
/// Viewing it is audited (`disclosures_viewed`, with the client's id).
#[server(endpoint = "client_disclosures")]
pub async fn client_disclosures(
    client: Uuid,
    from: Option<String>,
    to: Option<String>,
    page: Option<usize>,
) -> Result<Accounting, AppError> {
    use crate::audit::{self, AuditEntry, AuditEvent};
    let caller = crate::auth::guard::require(crate::auth::model::Permission::ViewDisclosures).await?;
    let found = whole(&caller, client, from.as_deref(), to.as_deref()).await?;
    let (state, user) = (&caller.state, &caller.user);
    let accounting = crate::disclosures::accounting::page(
        found.client,
        found.period,
        found.zone.name(),
        found.rows,
        page.unwrap_or(1),
    );
    audit::record(
        &state.db,
        AuditEntry::new(AuditEvent::DisclosuresViewed)
            .by(user)
            .target("client", client)
            .payload(serde_json::json!({
                "from": accounting.period.from,
                "to": accounting.period.to,
                "page": accounting.page,
                "disclosures": accounting.total,
            })),
    )
    .await?;
    Ok(accounting)
}

/// A link (valid for the configured time, one hour by default) to client `client`'s whole
/// accounting for the period as a file: `format` `csv`, or `letter` (plain text to hand to the
/// client). Audited (`disclosure_accounting_downloaded`); a plain form is answered with a 303 to
/// the link.
#[server(endpoint = "disclosure_accounting")]
pub async fn disclosure_accounting(
    client: Uuid,
    format: String,
    from: Option<String>,
    to: Option<String>,
) -> Result<String, AppError> {
    use crate::{
        audit::{self, AuditEntry, AuditEvent},
        disclosures::accounting,
        storage::ObjectKey,
    };
    let caller = crate::auth::guard::require(crate::auth::model::Permission::ViewDisclosures).await?;
    let (kind, extension, content_type) = match format.as_str() {
        "csv" => ("csv", "csv", "text/csv; charset=utf-8"),
        "letter" => ("letter", "txt", "text/plain; charset=utf-8"),
        _ => return Err(AppError::validation("format", "Choose CSV or a letter.")),
    };
    let found = whole(&caller, client, from.as_deref(), to.as_deref()).await?;
    let (state, user) = (&caller.state, &caller.user);
    let bytes = match kind {
        "csv" => accounting::csv(&found.rows).map_err(|e| AppError::internal("writing an accounting", e))?,
        _ => accounting::letter(
            &user.organization_name,
            &found.client,
            found.period,
            found.zone.name(),
            &found.rows,
            crate::db::now().with_timezone(&found.zone).date_naive(),
        )
        .into_bytes(),
    };
    let file_id = Uuid::new_v4();
    let key = ObjectKey::new(user.organization_id, file_id, &format!("accounting.{extension}"))
        .ok_or_else(|| AppError::internal("an accounting's key", "invalid"))?;
    let ttl = state.config.storage.signed_url_ttl;
    // Deleted once its link has run out, by the same sweep as every other file.
    let due = crate::db::now() + chrono::TimeDelta::from_std(ttl).unwrap_or(chrono::TimeDelta::hours(1));
    crate::exports::deletions::note_later(&state.db, file_id, &key, due).await?;
    let body = futures::stream::iter([Ok::<_, crate::storage::StorageError>(bytes::Bytes::from(bytes))]);
    state
        .storage
        .put_stream(&key, content_type, body)
        .await
        .map_err(|e| AppError::internal("storing an accounting", e))?;
    let today = crate::db::now().with_timezone(&found.zone).format("%Y-%m-%d");
    let name = format!("accounting-of-disclosures-{today}.{extension}");
    let url = state
        .storage
        .signed_get_url(&key, ttl, &name)
        .map_err(|e| AppError::internal("signing an accounting's URL", e))?;
    audit::record(
        &state.db,
        AuditEntry::new(AuditEvent::DisclosureAccountingDownloaded)
            .by(user)
            .target("client", client)
            .payload(serde_json::json!({
                "format": kind,
                "from": found.period.from,
                "to": found.period.to,
                "disclosures": found.rows.len(),
                "ttl_secs": ttl.as_secs(),
            })),
    )
    .await?;
    super::redirect_plain_form(&url);
    Ok(url)
}

/// A client's whole accounting for a period, read from the ledger.
#[cfg(feature = "ssr")]
struct Whole {
    client: ClientMatch,
    period: crate::exports::scope::DateRange,
    zone: chrono_tz::Tz,
    rows: Vec<crate::disclosures::model::DisclosureRow>,
}

/// The caller's organisation's client `client` (a foreign or missing one is audited and "not
/// found") and their disclosures in the period the address gives.
#[cfg(feature = "ssr")]
async fn whole(
    caller: &crate::auth::guard::Authorized,
    client: Uuid,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Whole, AppError> {
    use crate::disclosures::{accounting, clients, ledger, period};
    let (state, user) = (&caller.state, &caller.user);
    let zone = crate::auth::accounts::time_zone(&user.organization_time_zone)?;
    let today = crate::db::now().with_timezone(&zone).date_naive();
    let period = period::parse(from, to, today, state.config.worker.disclosure_retention_days)?;
    let Some(found) = clients::find(&state.db, user.organization_id, client).await? else {
        super::denied(caller, ("client", client), "disclosures", "not_found").await?;
        return Err(AppError::NotFound);
    };
    let (start, end) = period.instants(zone);
    let entries = ledger::for_client(&state.db, user.organization_id, client, start, end).await?;
    let rows = entries.iter().map(|entry| accounting::row(entry, zone)).collect();
    Ok(Whole {
        client: found,
        period,
        zone,
        rows,
    })
}
