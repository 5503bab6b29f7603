//! The Data Exports page at `/settings/exports`: the organisation's export requests, behind the gate.

mod actions;
mod confirm;
mod download;
mod header;
mod list;
mod notice;
mod pager;
mod retention;
mod row;
mod table;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use uuid::Uuid;

use self::{confirm::RowConfirmations, header::PageHeader, list::ExportsList, retention::RetentionSetting};
use crate::{
    api::exports::{
        CancelExportRequest, DeleteExportRequest, RunExportAgain, SetExportRetention, list_export_requests,
    },
    auth::model::Permission,
    error::AppError,
    exports::model::{ExportPage, ListPosition},
    routes::Highlight,
    ui::components::permission_gate::PermissionGate,
};

/// One page of the list, as every part of the page reads it.
type ExportsResource = Resource<Result<ExportPage, AppError>>;

/// The row actions that post plain forms, shared by every row through context: each answers
/// with this page again, carrying a refusal in the address for the list to show.
#[derive(Clone, Copy)]
struct RowActionsContext {
    delete: ServerAction<DeleteExportRequest>,
    cancel: ServerAction<CancelExportRequest>,
    run_again: ServerAction<RunExportAgain>,
}

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

/// The page as the server renders it; the islands in it (New Export, Download, the
/// confirmation dialog, local times) come alive in the browser, and anything they change
/// reloads the page.
#[component]
fn ExportsView() -> impl IntoView {
    let page = position_in_address();
    // Created here for what a form's answer brings back in the address (a refusal).
    let delete = ServerAction::<DeleteExportRequest>::new();
    let cancel = ServerAction::<CancelExportRequest>::new();
    let run_again = ServerAction::<RunExportAgain>::new();
    let retention = ServerAction::<SetExportRetention>::new();
    let exports = Resource::new(
        move || page.get(),
        |page| list_export_requests(page.before, page.after),
    );
    provide_context(RowActionsContext {
        delete,
        cancel,
        run_again,
    });
    view! {
        <section class="page exports">
            <PageHeader exports page />
            <RetentionSetting exports action=retention />
            <RowConfirmations />
            <ExportsList exports page />
        </section>
    }
}

/// Which page of the list the address asks for: `?before=CURSOR` (older), `?after=CURSOR`
/// (newer), or neither (the newest).
fn position_in_address() -> Memo<ListPosition> {
    let query = use_query_map();
    Memo::new(move |_| {
        let query = query.read();
        ListPosition {
            before: query.get("before"),
            after: query.get("after"),
        }
    })
}

/// The request the address points at (`?highlight=ID`), and why.
fn highlight_in_address() -> Memo<Option<(Uuid, Highlight)>> {
    let query = use_query_map();
    Memo::new(move |_| {
        let query = query.read();
        let id = query.get("highlight")?.parse::<Uuid>().ok()?;
        Some((
            id,
            Highlight::from_flags(|flag| query.get(flag).is_some_and(|value| value == "1")),
        ))
    })
}

/// Reloads the list: a plain GET form for the page in the address, so the user sees the
/// current state (nothing polls).
#[component]
fn ReloadButton(page: Memo<ListPosition>, children: Children) -> impl IntoView {
    let ListPosition { before, after } = page.get_untracked();
    view! {
        <form method="get" class="inline-form">
            {before.map(|cursor| view! { <input type="hidden" name="before" value=cursor /> })}
            {after.map(|cursor| view! { <input type="hidden" name="after" value=cursor /> })}
            <button type="submit" class="btn btn-secondary">
                {children()}
            </button>
        </form>
    }
}
