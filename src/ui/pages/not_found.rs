//! The page for any path the router does not know, answered with HTTP 404.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::routes::EXPORTS_PAGE;

/// "Page not found", with a 404 status when rendered on the server.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }

    view! {
        <Title text="Page not found" />
        <section class="page not-found">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address."</p>
            <p>
                <a href=EXPORTS_PAGE>"Go to Data Exports"</a>
            </p>
        </section>
    }
}
