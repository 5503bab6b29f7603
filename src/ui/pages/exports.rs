//! The Data Exports page at `/settings/exports`.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{auth::Permission, ui::components::permission_gate::PermissionGate};

/// The organisation's data exports.
#[component]
pub fn ExportsPage() -> impl IntoView {
    let show_help = RwSignal::new(false);

    view! {
        <Title text="Data Exports" />
        <PermissionGate permission=Permission::ViewExports>
        <section class="page exports">
            <div class="page-header">
                <div>
                    <h1>"Data Exports"</h1>
                    <p class="subtitle">
                        "Request exports of your organisation's records and download them when they are ready."
                    </p>
                </div>
                <button
                    type="button"
                    class="btn btn-secondary"
                    aria-expanded=move || show_help.get().to_string()
                    aria-controls="exports-help"
                    on:click=move |_| show_help.update(|shown| *shown = !*shown)
                >
                    "How exports work"
                </button>
            </div>
            <div id="exports-help" class="callout" hidden=move || !show_help.get()>
                <p>
                    "An export runs in the background: it is pending, then processing, then completed or failed. "
                    "A completed export is downloaded through a link that is valid for one hour."
                </p>
            </div>
        </section>
        </PermissionGate>
    }
}
