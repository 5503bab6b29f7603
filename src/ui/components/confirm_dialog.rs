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

/// Opens `dialog`; `opener` names (by its DOM id) the control that gets the focus back on close.
/// An id, not the element: the page is also rendered on the server, where no element exists and
/// values must be sendable between threads.
pub fn open(dialog: NodeRef<html::Dialog>, opener: RwSignal<Option<String>>, opener_id: String) {
    opener.set(Some(opener_id));
    if let Some(dialog) = dialog.get_untracked() {
        let _ = dialog.show_modal();
    }
}

#[component]
pub fn ConfirmDialog(
    dialog: NodeRef<html::Dialog>,
    /// The DOM id of what opened it: it gets the focus back.
    opener: RwSignal<Option<String>>,
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
                use leptos::wasm_bindgen::JsCast;
                let opener = opener
                    .get_untracked()
                    .and_then(|id| document().get_element_by_id(&id))
                    .and_then(|element| element.dyn_into::<leptos::web_sys::HtmlElement>().ok());
                if let Some(opener) = opener {
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
