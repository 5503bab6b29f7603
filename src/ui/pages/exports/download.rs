//! What a row's Download asks of the browser: the file in a new tab.
//!
//! Clicks happen only in the browser; in the server build these do nothing.

use leptos::prelude::*;
use uuid::Uuid;

/// Downloads a completed export in a new tab (see [`browser::download`]); `error` gets the
/// reason when no link could be signed.
pub(super) fn download(id: Uuid, error: RwSignal<Option<String>>) {
    #[cfg(feature = "hydrate")]
    browser::download(id, error);
    #[cfg(not(feature = "hydrate"))]
    let _ = (id, error);
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::{prelude::*, web_sys::Window};
    use uuid::Uuid;

    use crate::api::exports::sign_download_url;

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
