//! One export request as a table row: what was requested (and for which dates), its status (and,
//! completed, when its file expires) and when, and its actions.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use super::actions::{RowActions, Viewer};
use crate::{
    exports::model::{ExportRequest, ExportStatus},
    format, routes,
    ui::components::{local_time::LocalTime, status_badge::StatusBadge},
};

/// The columns, in order; each cell repeats its column's name for phone widths, where the table
/// becomes stacked cards and the header is hidden.
pub(super) const COLUMNS: [&str; 5] = ["Export type", "Format", "Entity types", "Status", "Requested"];

#[component]
pub(super) fn ExportRow(
    request: ExportRequest,
    viewer: Viewer,
    /// When the list was read: expiry counts from it.
    read_at: DateTime<Utc>,
    highlighted: bool,
) -> impl IntoView {
    // Labels, not values: each cell names its column, shown in place of the header on phones.
    let [kind, format, entities, status, requested] = COLUMNS;
    let entity_names: Vec<&str> = request.entity_types.iter().map(|entity| entity.label()).collect();
    let status_key = request.status.key();
    let actions = view! { <RowActions request=request.clone() viewer /> };
    let expiry = match (request.status, request.expires_at) {
        (ExportStatus::Completed, Some(at)) => Some(view! { <Expiry at read_at /> }.into_any()),
        (ExportStatus::Expired, _) => Some(view! { <span class="row-note">"File deleted"</span> }.into_any()),
        _ => None,
    };
    view! {
        <tr data-status=status_key class:highlighted=highlighted aria-current=highlighted.then_some("true")>
            <td data-label=kind>
                <a href=routes::export_details_page(request.id)>{request.export_type.label()}</a>
            </td>
            <td data-label=format>
                <span class="format">{request.export_format.label()}</span>
            </td>
            <td data-label=entities>
                {entity_names.join(", ")}
                {request.date_range.map(|range| view! { <span class="date-range">{range.label()}</span> })}
            </td>
            <td data-label=status>
                <StatusBadge
                    status=request.status
                    progress=request.progress
                    error=request.error.clone()
                    cancelling=request.cancel_requested
                />
                {(request.status == ExportStatus::Completed)
                    .then(|| view! { <span class="row-note downloads">{format::downloads(request.downloads)}</span> })}
                {expiry}
            </td>
            <td data-label=requested>
                <LocalTime at=request.requested_at />
            </td>
            <td class="actions-cell">
                {actions}
            </td>
        </tr>
    }
}

/// "Expires in 3 days", with the exact time on hover and keyboard focus.
#[component]
fn Expiry(at: DateTime<Utc>, read_at: DateTime<Utc>) -> impl IntoView {
    view! {
        <span class="row-note expiry" tabindex="0">
            {format::expires_in(at, read_at)}
            <span class="badge-tooltip" role="tooltip">
                "Deleted at "
                <LocalTime at />
            </span>
        </span>
    }
}
