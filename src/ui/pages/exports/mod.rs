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
use leptos_router::hooks::{use_navigate, use_query_map};
use uuid::Uuid;

use self::{confirm::RowConfirmation, header::PageHeader, list::ExportsList, retention::RetentionSetting};
use crate::{
    api::exports::{
        CancelExportRequest, CreateExportRequest, DeleteExportRequest, RunExportAgain, SetExportRetention,
        list_export_requests,
    },
    auth::model::Permission,
    error::AppError,
    exports::model::{ExportPage, ListPosition, RunAgain},
    routes,
    ui::components::permission_gate::PermissionGate,
};

/// One page of the list, as every part of the page reads it.
type ExportsResource = Resource<Result<ExportPage, AppError>>;

/// What a row's actions do, shared by every row through context: the server actions and the
/// confirmation they go through.
#[derive(Clone, Copy)]
struct RowActionsContext {
    delete: ServerAction<DeleteExportRequest>,
    cancel: ServerAction<CancelExportRequest>,
    run_again: ServerAction<RunExportAgain>,
    confirm: RowConfirmation,
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

#[component]
fn ExportsView() -> impl IntoView {
    let page = position_in_address();
    let create = ServerAction::<CreateExportRequest>::new();
    let delete = ServerAction::<DeleteExportRequest>::new();
    let cancel = ServerAction::<CancelExportRequest>::new();
    let run_again = ServerAction::<RunExportAgain>::new();
    let retention = ServerAction::<SetExportRetention>::new();
    // Keyed on the actions' versions, so every change reloads the list.
    let exports = Resource::new(
        move || {
            (
                page.get(),
                create.version().get(),
                delete.version().get(),
                cancel.version().get(),
                run_again.version().get(),
                retention.version().get(),
            )
        },
        |(page, ..)| list_export_requests(page.before, page.after),
    );
    point_at_run_again(run_again);
    let confirm = RowConfirmation::new(delete, cancel);
    provide_context(RowActionsContext {
        delete,
        cancel,
        run_again,
        confirm,
    });
    view! {
        <section class="page exports">
            <PageHeader exports page create />
            <RetentionSetting exports action=retention />
            <ExportsList exports page />
            {confirm.dialog()}
        </section>
    }
}

/// After Run again, the address names the request to look at (`?highlight=ID`, and `already=1`
/// when an identical one was already queued): the same address the form leads to without
/// JavaScript, so both show the same notice and highlighted row.
fn point_at_run_again(run_again: ServerAction<RunExportAgain>) {
    let navigate = use_navigate();
    Effect::watch(
        move || run_again.version().get(),
        move |_, _, _| {
            if let Some(Ok(outcome)) = run_again.value().get_untracked() {
                navigate(&highlight_address(outcome), Default::default());
            }
        },
        false,
    );
}

fn highlight_address(outcome: RunAgain) -> String {
    let already = if matches!(outcome, RunAgain::AlreadyQueued(_)) {
        "&already=1"
    } else {
        ""
    };
    format!("{}?highlight={}{already}", routes::EXPORTS_PAGE, outcome.id())
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

/// The request the address points at (`?highlight=ID`), and whether it was already queued.
fn highlight_in_address() -> Memo<Option<(Uuid, bool)>> {
    let query = use_query_map();
    Memo::new(move |_| {
        let query = query.read();
        let id = query.get("highlight")?.parse::<Uuid>().ok()?;
        Some((id, query.get("already").is_some_and(|already| already == "1")))
    })
}

/// Reloads the list: in place with JavaScript; without it, it is a plain GET form that reloads
/// the page. Either way the user sees the current state.
#[component]
fn ReloadButton(exports: ExportsResource, page: Memo<ListPosition>, children: Children) -> impl IntoView {
    let ListPosition { before, after } = page.get_untracked();
    view! {
        <form method="get" class="inline-form">
            {before.map(|cursor| view! { <input type="hidden" name="before" value=cursor /> })}
            {after.map(|cursor| view! { <input type="hidden" name="after" value=cursor /> })}
            <button
                type="submit"
                class="btn btn-secondary"
                on:click=move |event| {
                    event.prevent_default();
                    exports.refetch();
                }
            >
                {children()}
            </button>
        </form>
    }
}
