//! One export request as a table row: what was requested (and for which dates), its status and
//! when, and its actions.

use leptos::prelude::*;

use super::actions::RowActions;
use crate::{
    api::exports::DeleteExportRequest,
    exports::model::{ExportRequest, ExportStatus},
    format, routes,
    ui::components::{local_time::LocalTime, status_badge::StatusBadge},
};

/// The columns, in order; each cell repeats its column's name for phone widths, where the table
/// becomes stacked cards and the header is hidden.
pub(super) const COLUMNS: [&str; 5] = ["Export type", "Format", "Entity types", "Status", "Requested"];

#[component]
pub(super) fn ExportRow(request: ExportRequest, delete: ServerAction<DeleteExportRequest>) -> impl IntoView {
    // Labels, not values: each cell names its column, shown in place of the header on phones.
    let [kind, format, entities, status, requested] = COLUMNS;
    let entity_names: Vec<&str> = request.entity_types.iter().map(|entity| entity.label()).collect();
    view! {
        <tr data-status=request.status.key()>
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
                <StatusBadge status=request.status progress=request.progress error=request.error />
                {(request.status == ExportStatus::Completed)
                    .then(|| view! { <span class="downloads">{format::downloads(request.downloads)}</span> })}
            </td>
            <td data-label=requested>
                <LocalTime at=request.requested_at />
            </td>
            <td class="actions-cell">
                <RowActions id=request.id status=request.status delete />
            </td>
        </tr>
    }
}
