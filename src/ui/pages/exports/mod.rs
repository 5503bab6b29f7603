//! The Data Exports page at `/settings/exports`: the organisation's export requests, behind the gate.

mod actions;
mod download;
mod header;
mod list;
mod pager;
mod row;
mod table;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use self::{header::PageHeader, list::ExportsList};
use crate::{
    api::exports::{CreateExportRequest, DeleteExportRequest, list_export_requests},
    auth::model::Permission,
    error::AppError,
    exports::model::ExportPage,
    ui::components::permission_gate::PermissionGate,
};

/// One page of the list, as every part of the page reads it.
type ExportsResource = Resource<Result<ExportPage, AppError>>;

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
    let page = page_in_address();
    let create = ServerAction::<CreateExportRequest>::new();
    let delete = ServerAction::<DeleteExportRequest>::new();
    // Keyed on the actions' versions, so every create and delete reloads the list.
    let exports = Resource::new(
        move || (page.get(), create.version().get(), delete.version().get()),
        |(page, ..)| list_export_requests(page),
    );
    view! {
        <section class="page exports">
            <PageHeader exports page create />
            <ExportsList exports page delete />
        </section>
    }
}

/// The list's page number from the address (`?page=N`); 1 when missing or not a number.
fn page_in_address() -> Memo<u32> {
    let query = use_query_map();
    Memo::new(move |_| {
        query
            .read()
            .get("page")
            .and_then(|page| page.parse::<u32>().ok())
            .unwrap_or(1)
            .max(1)
    })
}

/// Reloads the list: in place with JavaScript; without it, it is a plain GET form that reloads
/// the page. Either way the user sees the current state.
#[component]
fn ReloadButton(exports: ExportsResource, page: Memo<u32>, children: Children) -> impl IntoView {
    view! {
        <form method="get" class="inline-form">
            <input type="hidden" name="page" value=page.get_untracked() />
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
