//! Confirming a row's Delete or Cancel in the app's own dialog (with JavaScript; without it, the
//! links lead to a confirmation page of their own, `ui::pages::export_confirm`).

use leptos::{html, prelude::*};
use uuid::Uuid;

pub use crate::ui::pages::export_confirm::Confirmable;
use crate::{
    api::exports::{CancelExportRequest, DeleteExportRequest},
    ui::components::confirm_dialog::{self, ConfirmDialog},
};

/// The page's one confirmation dialog and what it is asking about.
#[derive(Clone, Copy)]
pub struct RowConfirmation {
    asking: RwSignal<Option<(Confirmable, Uuid)>>,
    dialog: NodeRef<html::Dialog>,
    opener: RwSignal<Option<String>>,
    delete: ServerAction<DeleteExportRequest>,
    cancel: ServerAction<CancelExportRequest>,
}

impl RowConfirmation {
    pub fn new(delete: ServerAction<DeleteExportRequest>, cancel: ServerAction<CancelExportRequest>) -> Self {
        RowConfirmation {
            asking: RwSignal::new(None),
            dialog: NodeRef::new(),
            opener: RwSignal::new(None),
            delete,
            cancel,
        }
    }

    /// Opens the dialog to confirm `what` on request `id` (asked by the row's button, which gets
    /// the focus back).
    pub fn ask(self, what: Confirmable, id: Uuid) {
        self.asking.set(Some((what, id)));
        confirm_dialog::open(self.dialog, self.opener, what.button_id(id));
    }

    pub fn dialog(self) -> impl IntoView {
        let question = Signal::derive(move || self.asking.get().map(|(what, _)| what.question()));
        let on_confirm = Callback::new(move |()| match self.asking.get_untracked() {
            Some((Confirmable::Delete, id)) => {
                self.delete.dispatch(DeleteExportRequest { id });
            }
            Some((Confirmable::Cancel, id)) => {
                self.cancel.dispatch(CancelExportRequest { id });
            }
            None => {}
        });
        view! { <ConfirmDialog dialog=self.dialog opener=self.opener question on_confirm /> }
    }
}
