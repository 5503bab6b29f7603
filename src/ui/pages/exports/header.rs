//! The page's header: its title, how exports work, and its buttons (Refresh, New Export).

use leptos::prelude::*;

use super::{ExportsResource, ReloadButton};
use crate::{
    auth::model::Permission,
    exports::model::ListPosition,
    routes,
    ui::components::{
        export_request_form::NewExportDialog, icons::RefreshIcon, permission_gate::PermissionGate,
    },
    ui::session::Session,
};

/// The element "How exports work" shows and hides.
const HELP_ID: &str = "exports-help";

#[component]
pub(super) fn PageHeader(exports: ExportsResource, page: Memo<ListPosition>) -> impl IntoView {
    view! {
        <div class="page-header">
            <div>
                <h1>"Data Exports"</h1>
                <p class="subtitle">
                    "Request exports of your organisation's records and download them when they are ready."
                </p>
                <TimeZoneNote />
                <PermissionGate permission=Permission::ViewDisclosures quiet=true>
                    <p class="page-links">
                        <a href=routes::DISCLOSURES_PAGE>"Accounting of disclosures"</a>
                    </p>
                </PermissionGate>
            </div>
            <div class="page-actions">
                <HelpToggle />
                <RefreshButton exports page />
                <NewExportButton />
            </div>
        </div>
        <div id=HELP_ID class="callout" hidden>
            <p>
                "An export runs in the background: it is pending, then processing, then completed or failed. "
                "Refresh to see its progress. A completed export downloads through a link that is valid for one hour; "
                "every download is recorded in the audit log."
            </p>
        </div>
    }
}

/// "How exports work": shows and hides the explanation below the header (an island; the
/// explanation itself is the server's HTML).
#[island]
fn HelpToggle() -> impl IntoView {
    let shown = RwSignal::new(false);
    let toggle = move |_| {
        shown.update(|shown| *shown = !*shown);
        if let Some(help) = document().get_element_by_id(HELP_ID) {
            if shown.get_untracked() {
                let _ = help.remove_attribute("hidden");
            } else {
                let _ = help.set_attribute("hidden", "");
            }
        }
    };
    view! {
        <button
            type="button"
            class="btn btn-secondary"
            aria-expanded=move || shown.get().to_string()
            aria-controls=HELP_ID
            on:click=toggle
        >
            "How exports work"
        </button>
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
                            <ReloadButton page>
                                <RefreshIcon />
                                "Refresh"
                            </ReloadButton>
                        }
                    })
            })}
        </Transition>
    }
}

/// New Export, for holders of the permission: the button and the dialog it opens, given the
/// organisation's calendar (its time zone and today's date there) for the dates.
#[component]
fn NewExportButton() -> impl IntoView {
    let session = expect_context::<Session>();
    view! {
        <PermissionGate permission=Permission::CreateExports quiet=true>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    session.user.await.ok().flatten().map(|user| {
                        view! { <NewExportDialog time_zone=user.organization_time_zone today=user.organization_today /> }
                    })
                })}
            </Transition>
        </PermissionGate>
    }
}
