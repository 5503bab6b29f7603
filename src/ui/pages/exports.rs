//! The Data Exports page at `/settings/exports`: the organisation's export requests, the New
//! Export dialog, downloads and deletion, all behind `PermissionGate`.

use leptos::{html, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use uuid::Uuid;

use crate::{
    auth::Permission,
    exports::{
        api::{CreateExportRequest, DeleteExportRequest, list_export_requests},
        model::{ExportPage, ExportRequest, ExportStatus},
    },
    ui::components::{
        export_request_form::ExportRequestForm,
        icons::{DownloadIcon, PlusIcon, RefreshIcon, TrashIcon},
        local_time::LocalTime,
        permission_gate::PermissionGate,
        status_badge::StatusBadge,
    },
};

/// The organisation's data exports.
#[component]
pub fn ExportsPage() -> impl IntoView {
    view! {
        <Title text="Data Exports" />
        // The list is fetched inside the gate: a user without the permission is sent no data.
        <PermissionGate permission=Permission::ViewExports>
            <ExportsView />
        </PermissionGate>
    }
}

#[component]
fn ExportsView() -> impl IntoView {
    let query = use_query_map();
    let page = Memo::new(move |_| {
        query
            .read()
            .get("page")
            .and_then(|page| page.parse::<u32>().ok())
            .unwrap_or(1)
            .max(1)
    });
    let create = ServerAction::<CreateExportRequest>::new();
    let delete = ServerAction::<DeleteExportRequest>::new();
    let refreshed = RwSignal::new(0u32);
    let exports = Resource::new(
        move || {
            (
                page.get(),
                create.version().get(),
                delete.version().get(),
                refreshed.get(),
            )
        },
        |(page, ..)| list_export_requests(page),
    );
    let dialog = NodeRef::<html::Dialog>::new();
    let opener = NodeRef::<html::Button>::new();
    let show_help = RwSignal::new(false);

    view! {
        <section class="page exports">
            <div class="page-header">
                <div>
                    <h1>"Data Exports"</h1>
                    <p class="subtitle">
                        "Request exports of your organisation's records and download them when they are ready."
                    </p>
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
                    // Read inside a transition, so the server waits for the list and renders the
                    // button too. Without JavaScript it is a plain GET form that reloads the page.
                    <Transition fallback=|| ()>
                        {move || Suspend::new(async move {
                            let active = exports.await.is_ok_and(|list| list.has_active);
                            active
                                .then(|| {
                                    view! {
                                        <form method="get" class="inline-form">
                                            <input type="hidden" name="page" value=page.get_untracked() />
                                            <button
                                                type="submit"
                                                class="btn btn-secondary"
                                                on:click=move |event| {
                                                    event.prevent_default();
                                                    refreshed.update(|n| *n += 1);
                                                }
                                            >
                                                <RefreshIcon />
                                                "Refresh"
                                            </button>
                                        </form>
                                    }
                                })
                        })}
                    </Transition>
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
                        <ExportRequestForm action=create dialog=dialog opener=opener />
                    </PermissionGate>
                </div>
            </div>
            <div id="exports-help" class="callout" hidden=move || !show_help.get()>
                <p>
                    "An export runs in the background: it is pending, then processing, then completed or failed. "
                    "Refresh to see its progress. A completed export downloads through a link that is valid for one hour; "
                    "every download is recorded in the audit log."
                </p>
            </div>
            <Transition fallback=|| view! { <p class="loading">"Loading exports…"</p> }>
                {move || Suspend::new(async move {
                    match exports.await {
                        Ok(list) => view! { <ExportsTable list delete /> }.into_any(),
                        Err(error) => view! {
                            <div class="table-state error-state" role="alert">
                                <p>"The exports could not be loaded: " {error.to_string()}</p>
                                <button
                                    type="button"
                                    class="btn btn-secondary"
                                    on:click=move |_| refreshed.update(|n| *n += 1)
                                >
                                    "Retry"
                                </button>
                            </div>
                        }
                        .into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ExportsTable(list: ExportPage, delete: ServerAction<DeleteExportRequest>) -> impl IntoView {
    if list.items.is_empty() && list.page == 1 {
        return view! {
            <div class="table-state empty-state">
                <h2>"No exports yet"</h2>
                <p>"Exports you request appear here, newest first."</p>
            </div>
        }
        .into_any();
    }
    let delete_error = move || match delete.value().get() {
        Some(Err(error)) => Some(view! { <p class="form-error" role="alert">{error.to_string()}</p> }),
        _ => None,
    };
    let page_count = list.page_count();
    let current = list.page;
    view! {
        {delete_error}
        <div class="table-wrap">
            <table class="data-table">
                <thead>
                    <tr>
                        <th scope="col">"Export type"</th>
                        <th scope="col">"Format"</th>
                        <th scope="col">"Entity types"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Requested"</th>
                        <th scope="col" class="actions-col">
                            <span class="visually-hidden">"Actions"</span>
                        </th>
                    </tr>
                </thead>
                <tbody>
                    {list.items.into_iter().map(|request| view! { <ExportRow request delete /> }).collect_view()}
                </tbody>
            </table>
        </div>
        <nav class="pager" aria-label="Pages">
            <span>{format!("Page {current} of {page_count} · {} exports", list.total)}</span>
            {(current > 1).then(|| view! { <a class="btn btn-secondary btn-small" href=format!("?page={}", current - 1)>"Previous"</a> })}
            {(current < page_count).then(|| view! { <a class="btn btn-secondary btn-small" href=format!("?page={}", current + 1)>"Next"</a> })}
        </nav>
    }
    .into_any()
}

#[component]
fn ExportRow(request: ExportRequest, delete: ServerAction<DeleteExportRequest>) -> impl IntoView {
    let id = request.id;
    let entities: Vec<&str> = request.entity_types.iter().map(|e| e.label()).collect();
    let completed = request.status == ExportStatus::Completed;
    let download_error = RwSignal::new(None::<String>);
    view! {
        <tr data-status=request.status.key()>
            <td data-label="Export type">{request.export_type.label()}</td>
            <td data-label="Format">
                <span class="format">{request.export_format.label()}</span>
            </td>
            <td data-label="Entity types">{entities.join(", ")}</td>
            <td data-label="Status">
                <StatusBadge status=request.status progress=request.progress error=request.error.clone() />
            </td>
            <td data-label="Requested">
                <LocalTime at=request.requested_at />
            </td>
            <td class="actions-cell">
                <div class="row-actions">
                {completed
                    .then(|| {
                        view! {
                            <button
                                type="button"
                                class="btn btn-secondary btn-small"
                                on:click=move |_| download(id, download_error)
                            >
                                <DownloadIcon />
                                "Download"
                            </button>
                        }
                    })}
                <PermissionGate permission=Permission::DeleteExports quiet=true>
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
                </PermissionGate>
                {move || download_error.get().map(|error| view! { <span class="inline-error" role="alert">{error}</span> })}
                </div>
            </td>
        </tr>
    }
}

/// Downloads a completed export in a new tab (see [`browser::download`]). Clicks happen only in
/// the browser; the server build has nothing to do.
fn download(id: Uuid, error: RwSignal<Option<String>>) {
    #[cfg(feature = "hydrate")]
    browser::download(id, error);
    #[cfg(not(feature = "hydrate"))]
    let _ = (id, error);
}

/// Asks the user to confirm; always "no" outside the browser.
fn confirm(message: &str) -> bool {
    #[cfg(feature = "hydrate")]
    return window().confirm_with_message(message).unwrap_or(false);
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = message;
        false
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::{prelude::*, web_sys::Window};
    use uuid::Uuid;

    use crate::exports::api::sign_download_url;

    /// Opens a tab on the click itself (so no popup blocker intervenes), then points it at a
    /// freshly signed URL; closes it again if signing fails.
    pub fn download(id: Uuid, error: RwSignal<Option<String>>) {
        error.set(None);
        let tab = open_blank_tab();
        leptos::task::spawn_local(async move {
            match sign_download_url(id).await {
                Ok(url) => match &tab {
                    // The blank tab has no base URL of its own: give it an absolute one.
                    Some(tab) if url.starts_with('/') => {
                        let origin = window().location().origin().unwrap_or_default();
                        let _ = tab.location().set_href(&format!("{origin}{url}"));
                    }
                    Some(tab) => {
                        let _ = tab.location().set_href(&url);
                    }
                    // The browser refused a new tab: download from this one.
                    None => {
                        let _ = window().location().set_href(&url);
                    }
                },
                Err(failure) => {
                    if let Some(tab) = tab {
                        let _ = tab.close();
                    }
                    error.set(Some(failure.to_string()));
                }
            }
        });
    }

    fn open_blank_tab() -> Option<Window> {
        let tab = window()
            .open_with_url_and_target("about:blank", "_blank")
            .ok()
            .flatten()?;
        // The new tab must not be able to reach back into this page.
        let _ = js_sys::Reflect::set(&tab, &"opener".into(), &wasm_bindgen::JsValue::NULL);
        Some(tab)
    }
}
