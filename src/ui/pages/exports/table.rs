//! The table of export requests: its column headers and one row per request.

use leptos::prelude::*;

use super::row::{COLUMNS, ExportRow};
use crate::{api::exports::DeleteExportRequest, exports::model::ExportRequest};

#[component]
pub(super) fn ExportsTable(
    requests: Vec<ExportRequest>,
    delete: ServerAction<DeleteExportRequest>,
) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="data-table">
                <thead>
                    <tr>
                        {COLUMNS.map(|column| view! { <th scope="col">{column}</th> })}
                        <th scope="col" class="actions-col">
                            <span class="visually-hidden">"Actions"</span>
                        </th>
                    </tr>
                </thead>
                <tbody>
                    {requests.into_iter().map(|request| view! { <ExportRow request delete /> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
