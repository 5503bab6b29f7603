//! `ExportRequestForm`: the New Export dialog, a native modal `<dialog>` (focus stays inside,
//! Esc closes, focus returns to the button that opened it), hydrated with its button as the
//! island `NewExportDialog`. Choosing the export type narrows the formats, entity types and
//! columns to what the catalog offers; the dates, columns, purpose and recipient scope the
//! export to what its recipient needs.

mod choice;
mod columns;
mod dates;
mod disclosure;
mod fields;
mod preview;

use chrono::NaiveDate;
use leptos::{html, prelude::*};

use self::{
    choice::Choice,
    columns::ColumnsField,
    dates::DatesField,
    disclosure::DisclosureFields,
    fields::{EntityTypesField, ExportTypeField, FieldError, FormatField},
    preview::PreviewField,
};
use crate::{
    api::exports::CreateExportRequest,
    error::AppError,
    routes::{self, Highlight},
    ui::components::{error_message::ErrorMessage, icons::PlusIcon},
};

/// The organisation's calendar, in which the dates are days.
#[derive(Clone)]
struct Calendar {
    time_zone: String,
    /// Today in that zone: the presets count from it.
    today: NaiveDate,
}

/// New Export: the button and the dialog it opens (an island). A created export leads to the
/// list with its row highlighted.
#[island]
pub fn NewExportDialog(
    /// The organisation's time zone, in which the dates are days.
    time_zone: String,
    /// Today in that zone.
    today: NaiveDate,
) -> impl IntoView {
    let dialog = NodeRef::<html::Dialog>::new();
    let opener = NodeRef::<html::Button>::new();
    view! {
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
        <ExportRequestForm dialog opener calendar=Calendar { time_zone, today } />
    }
}

#[component]
fn ExportRequestForm(
    dialog: NodeRef<html::Dialog>,
    /// Gets focus back when the dialog closes.
    opener: NodeRef<html::Button>,
    calendar: Calendar,
) -> impl IntoView {
    let action = ServerAction::<CreateExportRequest>::new();
    let choice = Choice::new();
    let pending = action.pending();
    let close = move || {
        if let Some(dialog) = dialog.get_untracked() {
            dialog.close();
        }
    };
    // A created export: the list again, its row highlighted (the page is the server's HTML).
    Effect::watch(
        move || action.version().get(),
        move |_, _, _| {
            if let Some(Ok(created)) = action.value().get_untracked() {
                let _ = window()
                    .location()
                    .set_href(&routes::highlighted_export(created.id, Highlight::Requested));
            }
        },
        false,
    );
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if !pending.get_untracked() {
            action.dispatch(CreateExportRequest {
                request: choice.request(),
            });
        }
    };

    view! {
        <dialog
            node_ref=dialog
            class="modal"
            aria-labelledby="new-export-title"
            on:close=move |_| {
                if let Some(opener) = opener.get_untracked() {
                    let _ = opener.focus();
                }
            }
        >
            <form class="modal-body" on:submit=submit novalidate>
                <h2 id="new-export-title">"New export"</h2>
                <ExportTypeField choice />
                <FieldError action field="export_type" />
                <FormatField choice />
                <FieldError action field="export_format" />
                <EntityTypesField choice />
                <FieldError action field="entity_types" />
                <DatesField choice calendar />
                <FieldError action field="date_from" />
                <FieldError action field="date_to" />
                <ColumnsField choice />
                <FieldError action field="columns" />
                <DisclosureFields choice action />
                <PreviewField choice action />
                <FormError action />
                <div class="modal-actions">
                    <button type="button" class="btn btn-secondary" on:click=move |_| close()>
                        "Cancel"
                    </button>
                    <button type="submit" class="btn btn-primary" disabled=move || pending.get()>
                        {move || if pending.get() { "Requesting…" } else { "Request export" }}
                    </button>
                </div>
            </form>
        </dialog>
    }
}
/// Why the request was refused, unless a field's error says it already.
#[component]
fn FormError(action: ServerAction<CreateExportRequest>) -> impl IntoView {
    move || match action.value().get() {
        Some(Err(AppError::Validation { .. })) | Some(Ok(_)) | None => None,
        Some(Err(error)) => Some(view! { <ErrorMessage message=error.to_string() /> }),
    }
}
