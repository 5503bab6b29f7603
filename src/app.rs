//! The HTML shell, the router and the routes: what the server renders (the browser hydrates
//! only the islands in it).

use leptos::prelude::*;
#[cfg(feature = "ssr")]
use leptos_meta::MetaTags;
use leptos_meta::{Link, Meta, Title, provide_meta_context};
use leptos_router::{
    SsrMode, StaticSegment,
    components::{Redirect, Route, Router, Routes},
};

use crate::{
    routes,
    ui::{
        layout::AppLayout,
        pages::{
            disclosures::DisclosuresPage,
            export_confirm::{ConfirmCancelPage, ConfirmDeletePage},
            export_details::ExportDetailsPage,
            exports::ExportsPage,
            login::LoginPage,
            not_found::NotFound,
        },
        session::SessionProvider,
    },
};

/// The page around the app, rendered only on the server.
#[cfg(feature = "ssr")]
pub fn shell(options: LeptosOptions) -> impl IntoView {
    content_security_policy();
    only_islands_hydrate();
    let bundle = use_context::<crate::state::AppState>().map(|state| state.config.bundle.clone());
    let stylesheet = bundle.as_ref().map(|bundle| bundle.stylesheet.clone());
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link id="leptos" rel="stylesheet" href=stylesheet />
                <AutoReload options=options.clone() />
                {bundle.map(hydration_script)}
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Loads the bundle at the browser's first idle moment (at the latest two seconds on) and
/// hydrates the page's islands, in document order; then marks `<html data-hydrated>`, so that
/// browser tests (and CSS) can tell a live page from its server-rendered HTML. Unlike Leptos's
/// own `HydrationScripts`, it gives no preload hints: the WASM's bytes start moving only after
/// the server-rendered page has painted, instead of sharing a slow link with the stylesheet and
/// delaying the first paint. Until then every action is a plain form that works without it.
#[cfg(feature = "ssr")]
fn hydration_script(bundle: crate::config::Bundle) -> impl IntoView {
    let script = format!(
        "(function (js, wasm) {{\
           const hydrate = () => import(js).then((mod) =>\
             mod.default({{ module_or_path: wasm }}).then(() => {{\
               mod.hydrate();\
               for (const island of document.querySelectorAll(\"leptos-island\")) {{\
                 mod[island.dataset.component](island);\
               }}\
               document.documentElement.setAttribute(\"data-hydrated\", \"true\");\
             }}));\
           if (\"requestIdleCallback\" in window) {{ requestIdleCallback(hydrate, {{ timeout: 2000 }}); }}\
           else {{ setTimeout(hydrate, 0); }}\
         }})({:?}, {:?});",
        bundle.script, bundle.wasm
    );
    view! { <script type="module" nonce=leptos::nonce::use_nonce()>{script}</script> }
}

/// Renders the page as not hydrating, but for its islands (which switch it on for themselves):
/// what Leptos's `SsrSharedContext::new_islands` sets up, which the axum integration (0.8) does
/// not use. So the resources' values stay on the server instead of being copied into the page
/// as data for a hydration that never comes.
#[cfg(feature = "ssr")]
fn only_islands_hydrate() {
    if let Some(context) = Owner::current_shared_context() {
        context.set_is_hydrating(false);
    }
}

/// Sends the page's Content-Security-Policy, allowing the scripts that carry this response's nonce.
#[cfg(feature = "ssr")]
fn content_security_policy() {
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        // A download form's answer redirects to the store (S3): forms may go there too.
        let store = use_context::<crate::state::AppState>().and_then(|state| state.storage.download_origin());
        let policy = page_policy(&nonce, store.as_deref());
        if let Ok(value) = http::HeaderValue::from_str(&policy) {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
}

/// The Content-Security-Policy of a page: its own scripts (the hydration script carries the
/// request's nonce), WebAssembly compilation, and nothing from anywhere else; forms post to the
/// app, whose download route may redirect to `store`.
#[cfg(feature = "ssr")]
pub fn page_policy(nonce: &str, store: Option<&str>) -> String {
    let store = store.map(|origin| format!(" {origin}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'{store}; frame-ancestors 'none'"
    )
}

/// The application: its routes, stylesheet and favicon.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg" />
        <Meta name="description" content="Asynchronous, audited data exports of your organisation's records." />
        <Title formatter=|page: String| format!("{page} · Exports") />
        <Router>
            <SessionProvider>
            <AppLayout>
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("") view=|| view! { <Redirect path=routes::EXPORTS_PAGE /> } />
                    // Async: the server waits for the page's data and sends complete HTML, so
                    // nothing depends on streaming scripts and the page works without JavaScript.
                    <Route path=routes::LOGIN_ROUTE view=LoginPage ssr=SsrMode::Async />
                    <Route path=routes::EXPORTS_ROUTE view=ExportsPage ssr=SsrMode::Async />
                    <Route path=routes::DISCLOSURES_ROUTE view=DisclosuresPage ssr=SsrMode::Async />
                    <Route path=routes::EXPORT_DETAILS_ROUTE view=ExportDetailsPage ssr=SsrMode::Async />
                    <Route path=routes::EXPORT_DELETE_ROUTE view=ConfirmDeletePage ssr=SsrMode::Async />
                    <Route path=routes::EXPORT_CANCEL_ROUTE view=ConfirmCancelPage ssr=SsrMode::Async />
                </Routes>
            </AppLayout>
            </SessionProvider>
        </Router>
    }
}
