//! `ConfirmDialog`: the app's own confirmation, a native modal `<dialog>` like New Export (focus
//! starts on the safe choice and stays inside, Esc keeps things as they are, focus returns to
//! what opened it), instead of the browser's `window.confirm`.

use leptos::{html, prelude::*};

/// What the dialog asks, in the words of the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub title: &'static str,
    pub message: &'static str,
    /// The button that does it ("Delete export").
    pub confirm: &'static str,
    /// The button that keeps things as they are ("Keep it").
    pub keep: &'static str,
}

/// Opens `dialog` (remembering what had focus, to give it back on close).
pub fn open(
    dialog: NodeRef<html::Dialog>,
    opener: StoredValue<Option<leptos::web_sys::HtmlElement>, LocalStorage>,
) {
    use leptos::wasm_bindgen::JsCast;
    let focused = document()
        .active_element()
        .and_then(|element| element.dyn_into::<leptos::web_sys::HtmlElement>().ok());
    opener.set_value(focused);
    if let Some(dialog) = dialog.get_untracked() {
        let _ = dialog.show_modal();
    }
}

#[component]
pub fn ConfirmDialog(
    dialog: NodeRef<html::Dialog>,
    /// What had focus when it opened: it gets it back.
    opener: StoredValue<Option<leptos::web_sys::HtmlElement>, LocalStorage>,
    question: Signal<Option<Question>>,
    /// Called when the user confirms; the dialog closes.
    on_confirm: Callback<()>,
) -> impl IntoView {
    let close = move || {
        if let Some(dialog) = dialog.get_untracked() {
            dialog.close();
        }
    };
    let text = move |part: fn(&Question) -> &'static str| move || question.with(|q| q.as_ref().map(part));
    view! {
        <dialog
            node_ref=dialog
            class="modal confirm-dialog"
            role="alertdialog"
            aria-labelledby="confirm-title"
            aria-describedby="confirm-message"
            on:close=move |_| {
                if let Some(opener) = opener.get_value() {
                    let _ = opener.focus();
                }
            }
        >
            <div class="modal-body">
                <h2 id="confirm-title">{text(|q| q.title)}</h2>
                <p id="confirm-message">{text(|q| q.message)}</p>
                <div class="modal-actions">
                    <button type="button" class="btn btn-secondary" autofocus on:click=move |_| close()>
                        {text(|q| q.keep)}
                    </button>
                    <button
                        type="button"
                        class="btn btn-danger"
                        on:click=move |_| {
                            close();
                            on_confirm.run(());
                        }
                    >
                        {text(|q| q.confirm)}
                    </button>
                </div>
            </div>
        </dialog>
    }
}
