//! The page's header: its title, how exports work, and its buttons (Refresh, New Export).

use leptos::{html, prelude::*};

use super::{ExportsResource, ReloadButton};
use crate::{
    api::exports::CreateExportRequest,
    auth::model::Permission,
    exports::model::ListPosition,
    ui::components::{
        export_request_form::ExportRequestForm,
        icons::{PlusIcon, RefreshIcon},
        permission_gate::PermissionGate,
    },
    ui::session::Session,
};

#[component]
pub(super) fn PageHeader(
    exports: ExportsResource,
    page: Memo<ListPosition>,
    create: ServerAction<CreateExportRequest>,
) -> impl IntoView {
    let show_help = RwSignal::new(false);
    view! {
        <div class="page-header">
            <div>
                <h1>"Data Exports"</h1>
                <p class="subtitle">
                    "Request exports of your organisation's records and download them when they are ready."
                </p>
                <TimeZoneNote />
            </div>
            <div class="page-actions">
                <button
                    type="button"
                    class="btn btn-secondary"
                    aria-expanded=move || show_help.get().to_string()
                    aria-controls="exports-help"
                    on:click=move |_| show_help.update(|shown| *shown = !*shown)
                >
                    "How exports work"
                </button>
                <RefreshButton exports page />
                <NewExportButton create />
            </div>
        </div>
        <div id="exports-help" class="callout" hidden=move || !show_help.get()>
            <p>
                "An export runs in the background: it is pending, then processing, then completed or failed. "
                "Refresh to see its progress. A completed export downloads through a link that is valid for one hour; "
                "every download is recorded in the audit log."
            </p>
        </div>
    }
}

/// "Dates are in America/New_York": the organisation's time zone, in which export dates are read.
#[component]
fn TimeZoneNote() -> impl IntoView {
    let session = expect_context::<Session>();
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                session.user.await.ok().flatten().map(|user| {
                    let note = format!("Dates are in {}", user.organization_time_zone);
                    view! { <p class="time-zone">{note}</p> }
                })
            })}
        </Transition>
    }
}

/// Refresh, only while some export is pending or processing (nothing polls). Read inside a
/// transition, so the server waits for the list and renders the button too.
#[component]
fn RefreshButton(exports: ExportsResource, page: Memo<ListPosition>) -> impl IntoView {
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let active = exports.await.is_ok_and(|list| list.has_active);
                active
                    .then(|| {
                        view! {
                            <ReloadButton exports page>
                                <RefreshIcon />
                                "Refresh"
                            </ReloadButton>
                        }
                    })
            })}
        </Transition>
    }
}

/// New Export, for holders of the permission, and the dialog it opens.
#[component]
fn NewExportButton(create: ServerAction<CreateExportRequest>) -> impl IntoView {
    let dialog = NodeRef::<html::Dialog>::new();
    let opener = NodeRef::<html::Button>::new();
    view! {
        <PermissionGate permission=Permission::CreateExports quiet=true>
            <button
                type="button"
                class="btn btn-primary"
                node_ref=opener
                on:click=move |_| {
                    if let Some(dialog) = dialog.get() {
                        let _ = dialog.show_modal();
                    }
                }
            >
                <PlusIcon />
                "New Export"
            </button>
            <ExportRequestForm action=create dialog opener />
        </PermissionGate>
    }
}
