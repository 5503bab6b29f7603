//! What New Export or Run again did, said above the table: the address names the request
//! (`?highlight=ID`) and its row is highlighted.

use leptos::prelude::*;
use uuid::Uuid;

use crate::routes::Highlight;

#[component]
pub(super) fn ActionNotice(highlight: Memo<Option<(Uuid, Highlight)>>) -> impl IntoView {
    move || {
        highlight.get().map(|(_, why)| {
            let text = match why {
                Highlight::Requested => "Export requested. It is highlighted below.",
                Highlight::Queued => "Queued again. The new export is highlighted below.",
                Highlight::AlreadyQueued => {
                    "An identical export is already waiting or in progress, so nothing new was queued. It is highlighted below."
                }
            };
            view! {
                <p class="callout notice" role="status">
                    {text}
                </p>
            }
        })
    }
}
