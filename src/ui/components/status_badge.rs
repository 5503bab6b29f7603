//! The status badge: pending, processing and cancelling animate (CSS only, still under reduced
//! motion); a failed badge reveals its sanitised error on hover and keyboard focus.

use leptos::prelude::*;

use crate::exports::model::ExportStatus;

#[component]
pub fn StatusBadge(
    status: ExportStatus,
    progress: i32,
    error: Option<String>,
    /// Processing, and someone asked to cancel it.
    #[prop(optional)]
    cancelling: bool,
) -> impl IntoView {
    let (class, label) = match status {
        ExportStatus::Processing if cancelling => {
            ("badge badge-cancelling".to_owned(), "Cancelling…".to_owned())
        }
        ExportStatus::Processing if progress > 0 => (
            "badge badge-processing".to_owned(),
            format!("Processing {progress}%"),
        ),
        other => (format!("badge badge-{}", other.key()), other.label().to_owned()),
    };
    match (status, error) {
        (ExportStatus::Failed, Some(error)) => view! {
            // Focusable, so keyboard users can reveal the reason as mouse users do by hovering.
            <span class=class tabindex="0">
                <span class="badge-dot" aria-hidden="true"></span>
                {label}
                <span class="badge-tooltip" role="tooltip">{error}</span>
            </span>
        }
        .into_any(),
        _ => view! {
            <span class=class>
                <span class="badge-dot" aria-hidden="true"></span>
                {label}
            </span>
        }
        .into_any(),
    }
}
