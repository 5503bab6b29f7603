//! The pages that confirm a row's Delete or Cancel without JavaScript, at
//! `/settings/exports/{id}/delete` and `…/cancel`: what the export is, the question, and a plain
//! form to the server function (which answers with the list). With JavaScript the list confirms
//! in its own dialog and these pages are only reached by address; they work the same.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

use super::export_details::details_in_address;
use crate::{
    api::exports::{CancelExportRequest, DeleteExportRequest},
    auth::model::Permission,
    exports::model::ExportDetails,
    routes,
    ui::components::{
        error_message::{ErrorMessage, ErrorPlace},
        permission_gate::PermissionGate,
    },
};

#[component]
pub fn ConfirmDeletePage() -> impl IntoView {
    // Created inside the routes, so a refusal sent back in the address (`?__err=`) shows here.
    let action = ServerAction::<DeleteExportRequest>::new();
    back_to_the_list_when_done(action);
    view! {
        <Title text="Delete export" />
        <PermissionGate permission=Permission::DeleteExports>
            <ConfirmView
                title="Delete this export?"
                message="Its file is deleted and it leaves the list. Your organisation's records are not touched, and the audit log keeps its history."
                keep="Keep it"
                error=Signal::derive(move || action.value().get().and_then(Result::err).map(|e| e.to_string()))
                form=move |details: &ExportDetails| {
                    let id = details.request.id;
                    view! {
                        <ActionForm action>
                            <input type="hidden" name="id" value=id.to_string() />
                            <button type="submit" class="btn btn-danger">"Delete export"</button>
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
    back_to_the_list_when_done(action);
    view! {
        <Title text="Cancel export" />
        // Its requester may cancel it too: the server decides, and says so if not.
        <PermissionGate permission=Permission::ViewExports>
            <ConfirmView
                title="Cancel this export?"
                message="It stops within seconds and leaves no file. You can run it again later."
                keep="Keep it running"
                error=Signal::derive(move || action.value().get().and_then(Result::err).map(|e| e.to_string()))
                form=move |details: &ExportDetails| {
                    let id = details.request.id;
                    view! {
                        <ActionForm action>
                            <input type="hidden" name="id" value=id.to_string() />
                            <button type="submit" class="btn btn-danger">"Cancel export"</button>
                        </ActionForm>
                    }
                }
            />
        </PermissionGate>
    }
}

/// With JavaScript, a confirmed action returns to the list (without, the server's 303 does).
fn back_to_the_list_when_done<A>(action: ServerAction<A>)
where
    A: leptos::server_fn::ServerFn + Clone + Send + Sync + 'static,
    A::Output: Clone + Send + Sync + 'static,
    A::Error: Clone + Send + Sync + 'static,
    ServerAction<A>: Copy,
{
    let navigate = use_navigate();
    Effect::watch(
        move || action.version().get(),
        move |_, _, _| {
            if matches!(action.value().get_untracked(), Some(Ok(_))) {
                navigate(routes::EXPORTS_PAGE, Default::default());
            }
        },
        false,
    );
}

/// The export in a sentence, the question, the confirming form and the way back.
#[component]
fn ConfirmView<F, V>(
    title: &'static str,
    message: &'static str,
    keep: &'static str,
    error: Signal<Option<String>>,
    /// The confirming form, for the export shown.
    form: F,
) -> impl IntoView
where
    F: Fn(&ExportDetails) -> V + Send + Sync + Copy + 'static,
    V: IntoView + 'static,
{
    let details = details_in_address();
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
                                    {form(&details)}
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
