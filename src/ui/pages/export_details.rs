//! One export request's details at `/settings/exports/{id}`: what it exports, why and for whom,
//! who asked and when, and what its file holds. Rendered on the server, so it needs no JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use uuid::Uuid;

use crate::{
    api::exports::export_request_details,
    auth::model::Permission,
    error::AppError,
    exports::model::{ExportDetails, ExportStatus},
    format::{self, thousands},
    routes,
    ui::components::{
        error_message::{ErrorMessage, ErrorPlace},
        local_time::LocalTime,
        permission_gate::PermissionGate,
        status_badge::StatusBadge,
    },
};

#[component]
pub fn ExportDetailsPage() -> impl IntoView {
    view! {
        <Title text="Export details" />
        <PermissionGate permission=Permission::ViewExports>
            <DetailsView />
        </PermissionGate>
    }
}

/// The details of the request the address names (`…/{id}…`), fetched once per id.
pub fn details_in_address() -> Resource<Result<ExportDetails, AppError>> {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|id| id.parse::<Uuid>().ok()));
    Resource::new(
        move || id.get(),
        |id| async move {
            match id {
                Some(id) => export_request_details(id).await,
                None => Err(AppError::NotFound),
            }
        },
    )
}

#[component]
fn DetailsView() -> impl IntoView {
    let details = details_in_address();
    view! {
        <section class="page export-details">
            <p class="back">
                <a href=routes::EXPORTS_PAGE>"← Data Exports"</a>
            </p>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match details.await {
                        Ok(details) => view! { <Details details /> }.into_any(),
                        Err(error) => {
                            view! { <ErrorMessage place=ErrorPlace::Section message=error.to_string() /> }
                                .into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Details(details: ExportDetails) -> impl IntoView {
    let request = details.request;
    let dates = match request.date_range {
        Some(range) => format!("{} ({})", range.label(), details.time_zone),
        None => "All time".to_owned(),
    };
    let record_types: Vec<&str> = request.entity_types.iter().map(|e| e.label()).collect();
    let columns = details
        .columns
        .into_iter()
        .map(|(entity, names)| view! { <li>{format!("{}: {}", entity.label(), names.join(", "))}</li> })
        .collect_view();
    let not_stated = if details.de_identified {
        "Not needed: de-identified"
    } else {
        "Not stated"
    };
    let file = details.snapshot_at.map(|snapshot_at| {
        let rows = details
            .row_counts
            .into_iter()
            .map(|(entity, rows)| view! { <li>{format!("{}: {}", entity.label(), thousands(rows))}</li> })
            .collect_view();
        let size = request.file_size_bytes.map(|size| {
            let size = size.max(0) as u64;
            format!("{} ({} bytes)", format::bytes(size), thousands(size))
        });
        view! {
            <dt>"Snapshot taken"</dt>
            <dd>
                <LocalTime at=snapshot_at />
            </dd>
            <dt>"Rows"</dt>
            <dd>
                <ul class="plain">{rows}</ul>
            </dd>
            <dt>"Size"</dt>
            <dd>{size}</dd>
            <dt>"SHA-256"</dt>
            <dd>
                <code class="digest">{details.sha256}</code>
            </dd>
        }
    });
    let expiry = request.expires_at.map(|at| {
        let label = if request.status == ExportStatus::Expired {
            "File deleted"
        } else {
            "File expires"
        };
        view! {
            <dt>{label}</dt>
            <dd>
                <LocalTime at />
            </dd>
        }
    });
    let rerun_of = request.rerun_of.map(|original| {
        view! {
            <dt>"Runs again"</dt>
            <dd>
                <a href=routes::export_details_page(original)>"An earlier export"</a>
            </dd>
        }
    });
    let downloads = format::downloads(request.downloads);
    let last_download = details.last_download.map(|(at, by)| {
        let by = by.unwrap_or_else(|| "a user since removed".to_owned());
        view! {
            ", the last by "
            {by}
            ", "
            <LocalTime at />
        }
    });
    view! {
        <h1>{request.export_type.label()}</h1>
        <dl class="details">
            <dt>"Status"</dt>
            <dd>
                <StatusBadge
                    status=request.status
                    progress=request.progress
                    error=request.error
                    cancelling=request.cancel_requested
                />
            </dd>
            <dt>"Format"</dt>
            <dd>{request.export_format.label()}</dd>
            <dt>"Record types"</dt>
            <dd>{record_types.join(", ")}</dd>
            <dt>"Dates"</dt>
            <dd>{dates}</dd>
            <dt>"Columns"</dt>
            <dd>
                <ul class="plain">{columns}</ul>
            </dd>
            <dt>"Purpose"</dt>
            <dd>{details.purpose.unwrap_or_else(|| not_stated.to_owned())}</dd>
            <dt>"Recipient"</dt>
            <dd>{details.recipient.unwrap_or_else(|| not_stated.to_owned())}</dd>
            <dt>"Requested by"</dt>
            <dd>{details.requested_by.unwrap_or_else(|| "A user since removed".to_owned())}</dd>
            <dt>"Requested"</dt>
            <dd>
                <LocalTime at=request.requested_at />
            </dd>
            {file}
            {expiry}
            {rerun_of}
            <dt>"Downloads"</dt>
            <dd>{downloads}{last_download}</dd>
        </dl>
    }
}
