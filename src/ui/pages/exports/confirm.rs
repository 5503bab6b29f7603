//! Confirming a row's Delete or Cancel in the app's own dialog: the page's one island for every
//! row, which takes over the submission of the rows' confirm forms (each names its question and
//! request in `data-confirm` and `data-id`). Without JavaScript those forms lead to a
//! confirmation page of their own, `ui::pages::export_confirm`.

use leptos::{html, prelude::*};
use uuid::Uuid;

use crate::ui::components::{
    confirm_dialog::{self, ConfirmDialog},
    error_message::ErrorMessage,
};
pub use crate::ui::pages::export_confirm::Confirmable;

/// The dialog, and why the last confirmed action was refused. A confirmed action reloads the
/// list, which the server renders as it now is.
#[island]
pub fn RowConfirmations() -> impl IntoView {
    let asking = RwSignal::new(None::<(Confirmable, Uuid)>);
    let dialog = NodeRef::<html::Dialog>::new();
    let opener = RwSignal::new(None::<String>);
    let refused = RwSignal::new(None::<String>);
    // Effects run only in the browser: from now on the rows' confirm forms open the dialog.
    Effect::new(move |_| {
        let listening = window_event_listener(leptos::ev::submit, move |event| {
            if let Some((what, id)) = browser::asked(&event) {
                event.prevent_default();
                asking.set(Some((what, id)));
                confirm_dialog::open(dialog, opener, what.button_id(id));
            }
        });
        on_cleanup(move || listening.remove());
    });
    let question = Signal::derive(move || asking.get().map(|(what, _)| what.question()));
    let on_confirm = Callback::new(move |()| {
        if let Some((what, id)) = asking.get_untracked() {
            refused.set(None);
            browser::confirmed(what, id, refused);
        }
    });
    view! {
        {move || refused.get().map(|message| view! { <ErrorMessage message /> })}
        <ConfirmDialog dialog opener question on_confirm />
    }
}

/// What happens in the browser; the server build renders the dialog closed and does nothing.
mod browser {
    use leptos::prelude::*;
    use uuid::Uuid;

    use super::Confirmable;

    /// The question and request a submitted form asks to confirm, if it is a row's confirm form.
    #[cfg(feature = "hydrate")]
    pub fn asked(event: &leptos::ev::SubmitEvent) -> Option<(Confirmable, Uuid)> {
        use leptos::wasm_bindgen::JsCast;
        let form = event.target()?.dyn_into::<leptos::web_sys::HtmlElement>().ok()?;
        let data = form.dataset();
        let what = Confirmable::from_key(&data.get("confirm")?)?;
        let id = data.get("id")?.parse().ok()?;
        Some((what, id))
    }

    #[cfg(not(feature = "hydrate"))]
    pub fn asked(_: &leptos::ev::SubmitEvent) -> Option<(Confirmable, Uuid)> {
        None
    }

    /// Sends the confirmed action; done, reloads the list, or says why it was refused.
    pub fn confirmed(what: Confirmable, id: Uuid, refused: RwSignal<Option<String>>) {
        use crate::api::exports::{cancel_export_request, delete_export_request};
        leptos::task::spawn_local(async move {
            let outcome = match what {
                Confirmable::Delete => delete_export_request(id).await,
                Confirmable::Cancel => cancel_export_request(id).await.map(|_| ()),
            };
            match outcome {
                Ok(()) => reload(),
                Err(error) => refused.set(Some(error.to_string())),
            }
        });
    }

    /// Loads the list again at the same page, as the server now renders it (without what the
    /// address pointed at before: that notice is no longer news).
    fn reload() {
        let location = window().location();
        let search = location.search().unwrap_or_default();
        let position: Vec<&str> = search
            .trim_start_matches('?')
            .split('&')
            .filter(|pair| pair.starts_with("before=") || pair.starts_with("after="))
            .collect();
        let query = if position.is_empty() {
            String::new()
        } else {
            format!("?{}", position.join("&"))
        };
        let _ = location.assign(&format!("{}{query}", crate::routes::EXPORTS_PAGE));
    }
}
