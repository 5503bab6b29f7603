//! A row's actions, each a link or a form that works without JavaScript: Download (completed),
//! Cancel (pending or processing; for its requester and holders of the delete permission),
//! Run again (failed, cancelled or expired; with the create permission) and Delete (with the
//! delete permission). With JavaScript, Download (an island) opens the signed link itself and
//! Delete and Cancel confirm in the page's dialog instead of on a page of their own.

use leptos::prelude::*;

use super::{RowActionsContext, confirm::Confirmable, download::download};
use crate::{
    auth::model::{CurrentUser, Permission},
    exports::model::{ExportRequest, ExportStatus},
    routes,
    ui::components::{
        error_message::{ErrorMessage, ErrorPlace},
        icons::{DownloadIcon, TrashIcon},
    },
};

/// What the signed-in user may do to rows (the server checks again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Viewer {
    pub user_id: Option<uuid::Uuid>,
    pub can_create: bool,
    pub can_delete: bool,
}

impl Viewer {
    pub fn of(user: Option<&CurrentUser>) -> Viewer {
        Viewer {
            user_id: user.map(|user| user.user_id),
            can_create: user.is_some_and(|user| user.has(Permission::CreateExports)),
            can_delete: user.is_some_and(|user| user.has(Permission::DeleteExports)),
        }
    }

    fn can_cancel(self, request: &ExportRequest) -> bool {
        request.status.is_active()
            && !request.cancel_requested
            && (self.can_delete || (self.user_id.is_some() && self.user_id == request.requested_by))
    }
}

#[component]
pub(super) fn RowActions(request: ExportRequest, viewer: Viewer) -> impl IntoView {
    let id = request.id;
    let status = request.status;
    view! {
        <div class="row-actions">
            {(status == ExportStatus::Completed).then(|| view! { <DownloadButton id /> })}
            {viewer.can_cancel(&request).then(|| view! { <ConfirmButton id what=Confirmable::Cancel /> })}
            {(viewer.can_create && status.can_run_again()).then(|| view! { <RunAgainButton id /> })}
            {(viewer.can_delete && status != ExportStatus::Processing)
                .then(|| view! { <ConfirmButton id what=Confirmable::Delete /> })}
        </div>
    }
}

/// A form that posts to the download route in a new tab; as an island, the click signs the link
/// itself and shows a refusal beside the button.
#[island]
fn DownloadButton(id: uuid::Uuid) -> impl IntoView {
    let failed = RwSignal::new(None::<String>);
    view! {
        <form
            method="post"
            action=routes::export_download_action(id)
            target="_blank"
            class="inline-form"
            on:submit=move |event| {
                event.prevent_default();
                download(id, failed);
            }
        >
            <button type="submit" class="btn btn-secondary btn-small">
                <DownloadIcon />
                "Download"
            </button>
        </form>
        {move || failed.get().map(|error| view! { <ErrorMessage place=ErrorPlace::Inline message=error /> })}
    }
}

/// Delete or Cancel: a form that opens its confirmation page; once the page's
/// [`RowConfirmations`](super::confirm::RowConfirmations) island is live, its dialog instead.
#[component]
fn ConfirmButton(id: uuid::Uuid, what: Confirmable) -> impl IntoView {
    let (page, label, class) = match what {
        Confirmable::Delete => (
            routes::export_delete_page(id),
            "Delete",
            "btn btn-danger-ghost btn-small",
        ),
        Confirmable::Cancel => (
            routes::export_cancel_page(id),
            "Cancel",
            "btn btn-secondary btn-small",
        ),
    };
    // Named as the confirmation's own button ("Delete export"), for screen readers and tests.
    let name = what.question().confirm;
    view! {
        <form method="get" action=page class="inline-form" data-confirm=what.key() data-id=id.to_string()>
            <button type="submit" id=what.button_id(id) class=class aria-label=name>
                {(what == Confirmable::Delete).then(|| view! { <TrashIcon /> })}
                {label}
            </button>
        </form>
    }
}

/// Run again: a form posting to the server function, which answers with the list, the new
/// request highlighted.
#[component]
fn RunAgainButton(id: uuid::Uuid) -> impl IntoView {
    let actions = expect_context::<RowActionsContext>();
    view! {
        <ActionForm action=actions.run_again attr:class="inline-form">
            <input type="hidden" name="id" value=id.to_string() />
            <button type="submit" class="btn btn-secondary btn-small">
                "Run again"
            </button>
        </ActionForm>
    }
}
