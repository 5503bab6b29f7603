//! The New Export dialog's preview: how many rows each record type would hold and about how big
//! the file would be, counted on the server a moment after the choices stop changing; above the
//! organisation's threshold, the confirmation the request then needs.

use std::time::Duration;

use leptos::prelude::*;

use super::{choice::Choice, fields::FieldError};
use crate::{
    api::exports::{CreateExportRequest, preview_export},
    exports::model::ExportPreview,
    format,
};

/// How long the choices must stay still before the server is asked.
const SETTLE: Duration = Duration::from_millis(300);

#[component]
pub(super) fn PreviewField(choice: Choice, action: ServerAction<CreateExportRequest>) -> impl IntoView {
    let shown = RwSignal::new(None::<ExportPreview>);
    let timer = StoredValue::new(None::<TimeoutHandle>);
    // Which change the newest question answers: an older answer arriving late is dropped.
    let asked = StoredValue::new(0u64);
    // Effects run only in the browser (no resource here: the server-rendered dialog waits on
    // nothing). Each change restarts the wait and voids a confirmation given for other choices.
    Effect::new(move |_| {
        choice.track_scope();
        choice.confirmed.set(false);
        let request = choice.request();
        if let Some(pending) = timer.get_value() {
            pending.clear();
        }
        let ask = move || {
            asked.update_value(|n| *n += 1);
            let this = asked.get_value();
            if untrack(|| choice.covered()).is_empty() {
                shown.set(None);
                return;
            }
            leptos::task::spawn_local(async move {
                let answer = preview_export(request).await.ok();
                if asked.get_value() == this {
                    shown.set(answer);
                }
            });
        };
        timer.set_value(set_timeout_with_handle(ask, SETTLE).ok());
    });
    let shown = move || shown.get();
    view! {
        <div class="preview" aria-live="polite">
            {move || shown().map(|preview| view! { <Estimate preview /> })}
        </div>
        {move || {
            shown()
                .filter(ExportPreview::needs_confirmation)
                .map(|preview| {
                    let text = format!(
                        "I confirm the recipient needs all {} rows.",
                        format::thousands(preview.rows),
                    );
                    view! {
                        <label class="check confirm">
                            <input
                                type="checkbox"
                                prop:checked=move || choice.confirmed.get()
                                on:change=move |event| choice.confirmed.set(event_target_checked(&event))
                            />
                            {text}
                        </label>
                        <FieldError action field="confirmed" />
                    }
                })
        }}
    }
}

/// "About 12,345 rows (Clients 1,000 · Claims 11,345), about 2.1 MB".
#[component]
fn Estimate(preview: ExportPreview) -> impl IntoView {
    let parts: Vec<String> = preview
        .row_counts
        .iter()
        .map(|(entity, rows)| format!("{} {}", entity.label(), format::thousands(*rows)))
        .collect();
    let text = format!(
        "About {} rows ({}), about {}.",
        format::thousands(preview.rows),
        parts.join(" · "),
        format::bytes(preview.estimated_bytes),
    );
    view! { <p class="estimate">{text}</p> }
}
