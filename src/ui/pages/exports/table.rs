//! The table of export requests: its column headers and one row per request.

use leptos::prelude::*;

use super::{
    actions::Viewer,
    row::{COLUMNS, ExportRow},
};
use crate::exports::model::ExportPage;

#[component]
pub(super) fn ExportsTable(list: ExportPage, viewer: Viewer, highlight: Option<uuid::Uuid>) -> impl IntoView {
    let read_at = list.read_at;
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
                    {list
                        .items
                        .into_iter()
                        .map(|request| {
                            let highlighted = highlight == Some(request.id);
                            view! { <ExportRow request viewer read_at highlighted /> }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}
