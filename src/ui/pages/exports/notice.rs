//! What Run again did, said above the table: the address names the request (`?highlight=ID`) and
//! its row is highlighted.

use leptos::prelude::*;
use uuid::Uuid;

#[component]
pub(super) fn ActionNotice(highlight: Memo<Option<(Uuid, bool)>>) -> impl IntoView {
    move || {
        highlight.get().map(|(_, already)| {
            let text = if already {
                "An identical export is already waiting or in progress, so nothing new was queued. It is highlighted below."
            } else {
                "Queued again. The new export is highlighted below."
            };
            view! {
                <p class="callout notice" role="status">
                    {text}
                </p>
            }
        })
    }
}
