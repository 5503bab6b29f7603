//! The pager under the table: where the reader is, and links to the pages either side.

use leptos::prelude::*;

#[component]
pub(super) fn Pager(page: u32, page_count: u32, total: u64) -> impl IntoView {
    let link = |to: u32, text: &'static str| {
        view! { <a class="btn btn-secondary btn-small" href=format!("?page={to}")>{text}</a> }
    };
    view! {
        <nav class="pager" aria-label="Pages">
            <span>{format!("Page {page} of {page_count} · {total} exports")}</span>
            {(page > 1).then(|| link(page - 1, "Previous"))}
            {(page < page_count).then(|| link(page + 1, "Next"))}
        </nav>
    }
}
