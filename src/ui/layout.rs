//! The frame around every page: the top bar and the main content area.

use leptos::prelude::*;

/// Top bar with the product name, then the routed page.
#[component]
pub fn AppLayout(children: Children) -> impl IntoView {
    view! {
        <header class="topbar">
            <a class="brand" href="/settings/exports">
                <span class="brand-mark" aria-hidden="true">"⇪"</span>
                "Exports"
            </a>
        </header>
        <main class="content">{children()}</main>
    }
}
