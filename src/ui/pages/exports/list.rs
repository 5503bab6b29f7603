//! The list as the page shows it: loading, why it failed, "No exports yet", or the table and pager.

use leptos::prelude::*;

use super::{ExportsResource, ReloadButton, pager::Pager, table::ExportsTable};
use crate::{
    api::exports::DeleteExportRequest,
    exports::model::ExportPage,
    ui::components::error_message::{ErrorMessage, ErrorPlace},
};

#[component]
pub(super) fn ExportsList(
    exports: ExportsResource,
    page: Memo<u32>,
    delete: ServerAction<DeleteExportRequest>,
) -> impl IntoView {
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading exports…"</p> }>
            <ErrorBoundary fallback=move |errors| view! { <LoadFailed errors exports page /> }>
                {move || Suspend::new(async move {
                    exports.await.map(|list| view! { <LoadedList list delete /> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

/// Why the list could not be loaded, and Retry.
#[component]
fn LoadFailed(errors: ArcRwSignal<Errors>, exports: ExportsResource, page: Memo<u32>) -> impl IntoView {
    let message = Signal::derive(move || {
        let reason = errors.with(|errors| errors.iter().next().map(|(_, error)| error.to_string()));
        format!("The exports could not be loaded: {}", reason.unwrap_or_default())
    });
    view! {
        <ErrorMessage place=ErrorPlace::Section message>
            <ReloadButton exports page>"Retry"</ReloadButton>
        </ErrorMessage>
    }
}

#[component]
fn LoadedList(list: ExportPage, delete: ServerAction<DeleteExportRequest>) -> impl IntoView {
    if list.items.is_empty() && list.page == 1 {
        return view! {
            <div class="table-state empty-state">
                <h2>"No exports yet"</h2>
                <p>"Exports you request appear here, newest first."</p>
            </div>
        }
        .into_any();
    }
    let delete_failed = move || match delete.value().get() {
        Some(Err(error)) => Some(view! { <ErrorMessage message=error.to_string() /> }),
        _ => None,
    };
    let page_count = list.page_count();
    view! {
        {delete_failed}
        <ExportsTable requests=list.items delete />
        <Pager page=list.page page_count total=list.total />
    }
    .into_any()
}
