//! One export request as a table row: what was requested, its status and when, and its actions.

use leptos::prelude::*;

use super::{actions::RowActions, table::COLUMNS};
use crate::{
    exports::{api::DeleteExportRequest, model::ExportRequest},
    ui::components::{local_time::LocalTime, status_badge::StatusBadge},
};

#[component]
pub(super) fn ExportRow(request: ExportRequest, delete: ServerAction<DeleteExportRequest>) -> impl IntoView {
    // Labels, not values: each cell names its column, shown in place of the header on phones.
    let [kind, format, entities, status, requested] = COLUMNS;
    let entity_names: Vec<&str> = request.entity_types.iter().map(|entity| entity.label()).collect();
    view! {
        <tr data-status=request.status.key()>
            <td data-label=kind>{request.export_type.label()}</td>
            <td data-label=format>
                <span class="format">{request.export_format.label()}</span>
            </td>
            <td data-label=entities>{entity_names.join(", ")}</td>
            <td data-label=status>
                <StatusBadge status=request.status progress=request.progress error=request.error />
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
