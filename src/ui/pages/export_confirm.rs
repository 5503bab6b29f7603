//! The pages that confirm a row's Delete or Cancel without JavaScript, at
//! `/settings/exports/{id}/delete` and `…/cancel`: what the export is, the question, and a plain
//! form to the server function (which answers with the list). With JavaScript the list confirms
//! in its own dialog and these pages are only reached by address; they work the same, the
//! server's 303 leading back to the list either way.

use leptos::prelude::*;
use leptos_meta::Title;
use uuid::Uuid;

use super::export_details::details_in_address;
use crate::{
    api::exports::{CancelExportRequest, DeleteExportRequest},
    auth::model::Permission,
    routes,
    ui::components::{
        confirm_dialog::Question,
        error_message::{ErrorMessage, ErrorPlace},
        permission_gate::PermissionGate,
    },
};

/// What a row asks to confirm, on its page here or in the list's dialog; one wording for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmable {
    Delete,
    Cancel,
}

impl Confirmable {
    /// How a row's form names it to the list's dialog (`data-confirm`).
    pub fn key(self) -> &'static str {
        match self {
            Confirmable::Delete => "delete",
            Confirmable::Cancel => "cancel",
        }
    }

    pub fn from_key(key: &str) -> Option<Confirmable> {
        [Confirmable::Delete, Confirmable::Cancel]
            .into_iter()
            .find(|what| what.key() == key)
    }

    /// The DOM id of the list's row button that asks it.
    pub fn button_id(self, id: Uuid) -> String {
        match self {
            Confirmable::Delete => format!("delete-{id}"),
            Confirmable::Cancel => format!("cancel-{id}"),
        }
    }

    pub fn question(self) -> Question {
        match self {
            Confirmable::Delete => Question {
                title: "Delete this export?",
                message: "Its file is deleted and it leaves this list. Your organisation's records are not touched, \
                          and the audit log keeps its history.",
                confirm: "Delete export",
                keep: "Keep it",
            },
            Confirmable::Cancel => Question {
                title: "Cancel this export?",
                message: "It stops within seconds and leaves no file. You can run it again later.",
                confirm: "Cancel export",
                keep: "Keep it running",
            },
        }
    }
}

#[component]
pub fn ConfirmDeletePage() -> impl IntoView {
    // Created inside the routes, so a refusal sent back in the address (`?__err=`) shows here.
    let action = ServerAction::<DeleteExportRequest>::new();
    view! {
        <Title text="Delete export" />
        <PermissionGate permission=Permission::DeleteExports>
            <ConfirmView
                what=Confirmable::Delete
                error=Signal::derive(move || action.value().get().and_then(Result::err).map(|e| e.to_string()))
                form=move |id: Uuid, label: &'static str| {
                    view! {
                        <ActionForm action>
                            <input type="hidden" name="id" value=id.to_string() />
                            <button type="submit" class="btn btn-danger">{label}</button>
                        </ActionForm>
                    }
                }
            />
        </PermissionGate>
    }
}

#[component]
pub fn ConfirmCancelPage() -> impl IntoView {
    let action = ServerAction::<CancelExportRequest>::new();
    view! {
        <Title text="Cancel export" />
        // Its requester may cancel it too: the server decides, and says so if not.
        <PermissionGate permission=Permission::ViewExports>
            <ConfirmView
                what=Confirmable::Cancel
                error=Signal::derive(move || action.value().get().and_then(Result::err).map(|e| e.to_string()))
                form=move |id: Uuid, label: &'static str| {
                    view! {
                        <ActionForm action>
                            <input type="hidden" name="id" value=id.to_string() />
                            <button type="submit" class="btn btn-danger">{label}</button>
                        </ActionForm>
                    }
                }
            />
        </PermissionGate>
    }
}

/// The export in a sentence, the question, the confirming form and the way back.
#[component]
fn ConfirmView<F, V>(
    what: Confirmable,
    error: Signal<Option<String>>,
    /// The confirming form, for the export shown (its id) with its button's label.
    form: F,
) -> impl IntoView
where
    F: Fn(Uuid, &'static str) -> V + Send + Sync + Copy + 'static,
    V: IntoView + 'static,
{
    let details = details_in_address();
    let Question {
        title,
        message,
        confirm,
        keep,
    } = what.question();
    view! {
        <section class="page narrow-page confirm-page">
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match details.await {
                        Ok(details) => {
                            let request = &details.request;
                            let summary = format!(
                                "{} · {} · {} · {}",
                                request.export_type.label(),
                                request.export_format.label(),
                                request.entity_types.iter().map(|e| e.label()).collect::<Vec<_>>().join(", "),
                                request.status.label(),
                            );
                            view! {
                                <h1>{title}</h1>
                                <p class="summary">{summary}</p>
                                <p>{message}</p>
                                {move || error.get().map(|message| view! { <ErrorMessage message /> })}
                                <div class="modal-actions">
                                    <a class="btn btn-secondary" href=routes::EXPORTS_PAGE>{keep}</a>
                                    {form(details.request.id, confirm)}
                                </div>
                            }
                                .into_any()
                        }
                        Err(error) => {
                            view! { <ErrorMessage place=ErrorPlace::Section message=error.to_string() /> }
                                .into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}
