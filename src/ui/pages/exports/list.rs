//! The list as the page shows it: loading, why it failed, "No exports yet", or the table and pager,
//! with what the last row action said (a refusal, or where Run again points).

use leptos::prelude::*;

use super::{
    ExportsResource, ReloadButton, RowActionsContext, actions::Viewer, highlight_in_address,
    notice::ActionNotice, pager::Pager, table::ExportsTable,
};
use crate::{
    exports::model::{ExportPage, ListPosition},
    ui::{
        components::error_message::{ErrorMessage, ErrorPlace},
        session::use_session,
    },
};

#[component]
pub(super) fn ExportsList(exports: ExportsResource, page: Memo<ListPosition>) -> impl IntoView {
    let session = use_session();
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading exports…"</p> }>
            <ErrorBoundary fallback=move |errors| view! { <LoadFailed errors page /> }>
                {move || Suspend::new(async move {
                    let viewer = Viewer::of(session.user.await.ok().flatten().as_ref());
                    exports.await.map(|list| view! { <LoadedList list viewer /> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

/// Why the list could not be loaded, and Retry.
#[component]
fn LoadFailed(errors: ArcRwSignal<Errors>, page: Memo<ListPosition>) -> impl IntoView {
    let message = Signal::derive(move || {
        let reason = errors.with(|errors| errors.iter().next().map(|(_, error)| error.to_string()));
        format!("The exports could not be loaded: {}", reason.unwrap_or_default())
    });
    view! {
        <ErrorMessage place=ErrorPlace::Section message>
            <ReloadButton page>"Retry"</ReloadButton>
        </ErrorMessage>
    }
}

#[component]
fn LoadedList(list: ExportPage, viewer: Viewer) -> impl IntoView {
    let highlight = highlight_in_address();
    if list.items.is_empty() {
        return view! {
            <div class="table-state empty-state">
                <h2>"No exports yet"</h2>
                <p>"Exports you request appear here, newest first."</p>
            </div>
        }
        .into_any();
    }
    let (shown, total) = (list.items.len(), list.total);
    let (older, newer) = (list.older.clone(), list.newer.clone());
    view! {
        <ActionNotice highlight />
        <ActionErrors />
        <ExportsTable list viewer highlight=highlight.get_untracked().map(|(id, _)| id) />
        <Pager shown total older newer />
    }
    .into_any()
}

/// Why the last Delete, Cancel or Run again was refused (a form's answer carries it in the
/// address; the dialog says it itself).
#[component]
fn ActionErrors() -> impl IntoView {
    let actions = expect_context::<RowActionsContext>();
    let refused = move || {
        let errors = [
            actions.delete.value().get().and_then(Result::err),
            actions.cancel.value().get().and_then(Result::err),
            actions.run_again.value().get().and_then(Result::err),
        ];
        errors.into_iter().flatten().next()
    };
    move || refused().map(|error| view! { <ErrorMessage message=error.to_string() /> })
}
