//! The pager under the table: how many exports there are, and links to the newer and older
//! pages (keyset cursors in the address, so any page costs what the first does).

use leptos::prelude::*;

use crate::exports::model::ExportCount;

#[component]
pub(super) fn Pager(
    shown: usize,
    total: ExportCount,
    older: Option<String>,
    newer: Option<String>,
) -> impl IntoView {
    let link = |query: String, text: &'static str| {
        view! { <a class="btn btn-secondary btn-small" href=query>{text}</a> }
    };
    view! {
        <nav class="pager" aria-label="Pages">
            <span>{format!("{shown} shown · {}", total.label())}</span>
            {newer.map(|cursor| link(format!("?after={cursor}"), "Newer"))}
            {older.map(|cursor| link(format!("?before={cursor}"), "Older"))}
        </nav>
    }
}
