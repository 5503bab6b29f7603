//! `PermissionGate`: shows its children only to users holding a permission.
//!
//! This is for the eye only. Every server function checks the permission again on the server,
//! and a page's data is fetched inside the gate, so nothing is sent to a user without it.

use leptos::prelude::*;

use crate::{
    auth::model::Permission,
    routes::LOGIN_PAGE,
    ui::{
        components::{
            error_message::{ErrorMessage, ErrorPlace},
            icons::LockIcon,
        },
        session::use_session,
    },
};

/// Renders `children` when the signed-in user holds `permission`. Otherwise a lock icon and an
/// access-denied message (or a sign-in prompt), or nothing at all when `quiet`.
#[component]
pub fn PermissionGate(
    permission: Permission,
    /// Render nothing instead of the lock: for buttons and row actions.
    #[prop(optional)]
    quiet: bool,
    children: ChildrenFn,
) -> impl IntoView {
    let session = use_session();
    let children = StoredValue::new(children);
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match session.user.await {
                    Ok(Some(user)) if user.has(permission) => children.with_value(|children| children()).into_any(),
                    _ if quiet => ().into_any(),
                    Ok(Some(_)) => view! {
                        <div class="gate gate-denied" role="alert">
                            <LockIcon />
                            <h2>"Access denied"</h2>
                            <p>
                                "You do not have permission to view this page. Ask an administrator of your organisation for access."
                            </p>
                        </div>
                    }
                        .into_any(),
                    Ok(None) => view! {
                        <div class="gate gate-signin">
                            <LockIcon />
                            <h2>"Please sign in"</h2>
                            <p>"Sign in to see your organisation's data exports."</p>
                            <a class="btn btn-primary" href=LOGIN_PAGE>"Sign in"</a>
                        </div>
                    }
                        .into_any(),
                    Err(error) => view! {
                        <ErrorMessage place=ErrorPlace::Section title="Something went wrong" message=error.to_string() />
                    }
                        .into_any(),
                }
            })}
        </Transition>
    }
}
