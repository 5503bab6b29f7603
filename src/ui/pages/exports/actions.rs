//! A row's actions: Download (completed exports), Delete (with the permission), why a download failed.

use leptos::prelude::*;
use uuid::Uuid;

use super::download::{confirm, download};
use crate::{
    api::exports::DeleteExportRequest,
    auth::model::Permission,
    exports::model::ExportStatus,
    ui::components::{
        error_message::{ErrorMessage, ErrorPlace},
        icons::{DownloadIcon, TrashIcon},
        permission_gate::PermissionGate,
    },
};

#[component]
pub(super) fn RowActions(
    id: Uuid,
    status: ExportStatus,
    delete: ServerAction<DeleteExportRequest>,
) -> impl IntoView {
    let download_failed = RwSignal::new(None::<String>);
    view! {
        <div class="row-actions">
            {(status == ExportStatus::Completed).then(|| view! { <DownloadButton id failed=download_failed /> })}
            <PermissionGate permission=Permission::DeleteExports quiet=true>
                <DeleteButton id delete />
            </PermissionGate>
            {move || {
                download_failed
                    .get()
                    .map(|error| view! { <ErrorMessage place=ErrorPlace::Inline message=error /> })
            }}
        </div>
    }
}

/// Opens the export in a new tab; `failed` gets the reason when no link could be signed.
#[component]
fn DownloadButton(id: Uuid, failed: RwSignal<Option<String>>) -> impl IntoView {
    view! {
        <button type="button" class="btn btn-secondary btn-small" on:click=move |_| download(id, failed)>
            <DownloadIcon />
            "Download"
        </button>
    }
}

/// Deletes the export after the user confirms.
#[component]
fn DeleteButton(id: Uuid, delete: ServerAction<DeleteExportRequest>) -> impl IntoView {
    view! {
        <button
            type="button"
            class="btn btn-danger-ghost btn-small"
            aria-label="Delete export"
            on:click=move |_| {
                if confirm("Delete this export? Its file is removed; your organisation's records are not touched.") {
                    delete.dispatch(DeleteExportRequest { id });
                }
            }
        >
            <TrashIcon />
            "Delete"
        </button>
    }
}
